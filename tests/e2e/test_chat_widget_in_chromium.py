"""The website's chat widget in Chromium (issue 20, item 1), with axe-core: the launcher loads the panel, a message
sent is shown and stored once, staff's reply, typing and the handoff arrive live; a dropped connection comes back with
the history shown once and what was not acked (or was typed offline) delivered once; on a phone the panel fills the
screen and works by keyboard."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute, expect
from sqlalchemy import select
from websockets.asyncio.client import connect

from myhibachi.contacts.models import ContactHandle, HandleKind
from myhibachi.core.db import Database
from myhibachi.demo import DEMO_PASSWORD
from myhibachi.inbox.models import Conversation, Message
from tests.e2e.conftest import SCREENSHOTS, SERVED, accessible, sign_in
from tests.e2e.test_inbox import colleague_replies

FREMONT = 1
HANDOFF = "A person from our team has joined the chat."


def chat(page: Page):  # noqa: ANN201
    return page.get_by_role("dialog", name="Chat with us")


def in_the_log(page: Page, kind: str, text: str):  # noqa: ANN201
    """One message in the chat's log: `kind` is visitor, bot or staff."""
    return page.get_by_role("log").locator(f".chat-{kind}", has_text=text)


async def open_chat(page: Page, url: str) -> None:
    await page.goto(url)
    await page.get_by_role("button", name="Chat with us").click()
    await expect(chat(page)).to_be_visible()
    await chat(page).evaluate("panel => Promise.all(panel.getAnimations().map(a => a.finished))")  # faded in
    await expect(page.get_by_label("Your message")).to_be_focused()
    await expect(page.get_by_role("status").filter(has_text="Connecting")).to_have_count(0)


async def send(page: Page, text: str) -> None:
    """Types a message and sends it with Enter; returns once the server has acked it."""
    await page.get_by_label("Your message").fill(text)
    await page.keyboard.press("Enter")
    sent = in_the_log(page, "visitor", text)
    await expect(sent).to_have_count(1)
    await expect(sent.locator(".chat-state")).to_have_count(0)  # "Sending…" gone: acked


async def stored_messages(context: BrowserContext) -> list[tuple[str, str, int, int]]:
    """(sender, body, conversation id, station id) of every message of this browser's chat visitor, oldest first."""
    cookie = next(c["value"] for c in await context.cookies() if c["name"] == "mh_chat")
    visitor = cookie.rsplit(".", 1)[0]
    db = Database(SERVED["settings"].database_url)
    try:
        async with db.transaction(write=False) as session:
            rows = await session.execute(
                select(Message.sender, Message.body, Conversation.id, Conversation.station_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(ContactHandle, ContactHandle.contact_id == Conversation.contact_id)
                .where(ContactHandle.kind == HandleKind.web_chat.value, ContactHandle.value == visitor)
                .order_by(Message.id))
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        await db.dispose()


@asynccontextmanager
async def staff_socket(browser: Browser, live_server: str) -> AsyncIterator:
    """The admin's live inbox socket (`/ws/staff`), as their browser opens it, signed in as the demo admin."""
    context = await browser.new_context()
    try:
        await sign_in(await context.new_page(), live_server)
        cookie = next(c["value"] for c in await context.cookies() if c["name"] == "mh_admin")
        async with connect(live_server.replace("http", "ws", 1) + "/ws/staff", origin=live_server,  # type: ignore[arg-type]
                           additional_headers={"Cookie": f"mh_admin={cookie}"}) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            yield ws
    finally:
        await context.close()


async def take_over(live_server: str, conversation_id: int) -> None:
    """Sunny (support) takes the chat over from the assistant through the API, as the inbox's button does."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        login = await api.post("/auth/login", json={"email": "support@example.com", "password": DEMO_PASSWORD})
        taken = await api.post(f"/conversations/{conversation_id}/take-over",
                               headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert taken.status_code == 200, taken.text


async def test_a_visitor_chats_with_staff_who_type_and_take_over(page, browser, live_server, screenshot):
    tag = uuid.uuid4().hex[:6]
    question, answer = f"Do you come to Oakland? ({tag})", f"Yes, Oakland is in our area. ({tag})"
    await open_chat(page, live_server + "/locations/fre")
    await expect(page.get_by_role("button", name="Chat with us")).to_have_attribute("data-station", "FRE")
    await expect(page.get_by_role("button", name="Chat with us")).to_have_attribute("aria-expanded", "true")
    await accessible(page)

    await send(page, question)
    await expect(in_the_log(page, "visitor", question)).to_contain_text("You")
    automated = in_the_log(page, "bot", "automated assistant")  # the assistant answers first, and says what it is
    await expect(automated).to_have_count(1)
    await expect(automated.locator(".chat-who")).to_have_text(re.compile("^Assistant \\(automated\\)"))
    await expect(page.get_by_text("The assistant is writing…")).to_be_hidden()  # its answer came
    stored = await stored_messages(page.context)
    assert [(sender, body, station) for sender, body, _, station in stored][0] == ("contact", question, FREMONT)
    assert [sender for sender, *_ in stored] == ["contact", "bot"]
    conversation_id, bot_answer = stored[0][2], stored[1][1]
    async with staff_socket(browser, live_server) as staff:
        await staff.send(json.dumps({"type": "typing", "conversation_id": conversation_id}))
        await expect(page.get_by_text("Someone from our team is typing…")).to_be_visible()
        await expect(page.get_by_text("Someone from our team is typing…")).to_be_hidden(timeout=10_000)  # it clears
        await page.get_by_label("Your message").press_sequentially("Great")  # the visitor writing: staff hear it
        heard = json.loads(await asyncio.wait_for(staff.recv(), 10))
        while heard["type"] != "typing":
            heard = json.loads(await asyncio.wait_for(staff.recv(), 10))
        assert (heard["sender"], heard["conversation_id"]) == ("visitor", conversation_id)
        await page.get_by_label("Your message").fill("")
    await take_over(live_server, conversation_id)
    await expect(page.get_by_role("log").get_by_text(HANDOFF)).to_be_visible()
    await colleague_replies(live_server, conversation_id, answer)
    reply = in_the_log(page, "staff", answer)
    await expect(reply).to_be_visible()
    await expect(reply.locator(".chat-who")).to_have_text(re.compile("^Staff"))
    await accessible(page)
    await screenshot("chat-desktop")

    await page.goto(live_server + "/faq")  # left open: the next page opens it again, with the history once
    await expect(chat(page)).to_be_visible()
    await expect(in_the_log(page, "staff", tag)).to_have_count(1)
    await expect(in_the_log(page, "visitor", question)).to_have_count(1)
    await expect(page.get_by_role("button", name="Close chat")).not_to_be_focused()  # restored: focus left alone
    await page.get_by_label("Your message").focus()
    await page.keyboard.press("Escape")
    await expect(chat(page)).to_be_hidden()
    await expect(page.get_by_role("button", name="Chat with us")).to_be_focused()
    await expect(page.get_by_role("button", name="Chat with us")).to_have_attribute("aria-expanded", "false")
    await page.goto(live_server + "/menu")  # closed: stays closed, and the widget is not even loaded
    await expect(page.get_by_role("button", name="Chat with us")).to_be_visible()
    assert await page.locator("#chat-panel, script[src*='chat']").count() == 0
    assert [(sender, body) for sender, body, _, _ in await stored_messages(page.context)] == [
        ("contact", question), ("bot", bot_answer), ("staff", answer)]


class Relay:
    """Stands between the page and /ws/chat (Playwright's WebSocket routing): passes the frames both ways, and can
    drop the server's answers, cut the open connection as a network drop would, and refuse new ones."""

    def __init__(self) -> None:
        self.open: list[WebSocketRoute] = []
        self.deaf = False  # the server's frames are lost on the way to the page
        self.refusing = False  # new connections fail at once
        self.connections = 0

    async def route(self, page_side: WebSocketRoute) -> None:
        if self.refusing:
            await page_side.close()
            return
        self.connections += 1
        server_side = page_side.connect_to_server()
        page_side.on_message(server_side.send)
        server_side.on_message(lambda frame: None if self.deaf else page_side.send(frame))
        self.open.append(page_side)

    async def cut(self) -> None:
        for page_side in self.open:
            await page_side.close()
        self.open.clear()


async def test_after_a_drop_the_history_shows_once_and_waiting_messages_are_delivered_once(page, live_server):
    tag = uuid.uuid4().hex[:6]
    first, unacked, offline = f"First ({tag})", f"Lost ack ({tag})", f"Typed offline ({tag})"
    relay = Relay()
    await page.route_web_socket(re.compile(r"/ws/chat"), relay.route)
    await open_chat(page, live_server + "/")
    await send(page, first)

    relay.deaf = True  # the server stores the next one, but its ack never reaches the page
    await page.get_by_label("Your message").fill(unacked)
    await page.keyboard.press("Enter")
    await expect(in_the_log(page, "visitor", unacked).locator(".chat-state")).to_have_text("Sending…")
    relay.refusing = True
    await relay.cut()
    await expect(page.get_by_role("status")).to_contain_text("Reconnecting…")
    await page.get_by_label("Your message").fill(offline)
    await page.keyboard.press("Enter")
    await expect(in_the_log(page, "visitor", offline).locator(".chat-state")).to_have_text(
        "Waiting for the connection…")

    relay.deaf, relay.refusing = False, False  # back: the next try gets through
    for text in (first, unacked, offline):
        message = in_the_log(page, "visitor", text)
        await expect(message.locator(".chat-state")).to_have_count(0, timeout=15_000)
        await expect(message).to_have_count(1)
    await expect(page.get_by_text("Reconnecting…")).to_be_hidden()
    assert relay.connections >= 2
    visitors = [(sender, body) for sender, body, _, _ in await stored_messages(page.context) if sender == "contact"]
    assert visitors == [("contact", first), ("contact", unacked), ("contact", offline)]  # the assistant answers too


async def test_on_a_phone_the_chat_fills_the_screen_and_works_by_keyboard(browser, live_server):
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                        reduced_motion="reduce")
    try:
        page = await context.new_page()
        await page.goto(live_server + "/book")
        launcher = page.get_by_role("button", name="Chat with us")
        await launcher.focus()
        await page.keyboard.press("Enter")
        await expect(chat(page)).to_be_visible()
        assert await chat(page).evaluate("panel => panel.getAnimations().length") == 0  # reduced motion: no slide
        box = await chat(page).bounding_box()
        assert box is not None and {key: round(value) for key, value in box.items()} == {
            "x": 0, "y": 0, "width": 390, "height": 844}
        await expect(chat(page)).to_have_attribute("aria-modal", "true")
        message = page.get_by_label("Your message")
        await expect(message).to_be_focused()

        await page.keyboard.type("Two lines:")
        await page.keyboard.press("Shift+Enter")  # a new line, not sent
        await page.keyboard.type("adults and kids")
        await expect(message).to_have_value("Two lines:\nadults and kids")
        await page.keyboard.press("Enter")
        sent = in_the_log(page, "visitor", "adults and kids")
        await expect(sent.locator(".chat-body")).to_have_text("Two lines:\nadults and kids")
        await expect(sent.locator(".chat-state")).to_have_count(0)
        await expect(message).to_have_value("")

        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Send")).to_be_focused()
        await page.keyboard.press("Tab")  # full-screen: Tab stays in the panel
        await expect(page.get_by_role("button", name="Close chat")).to_be_focused()
        await page.keyboard.press("Shift+Tab")
        await expect(page.get_by_role("button", name="Send")).to_be_focused()
        await accessible(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "chat-phone.png"))
        await page.keyboard.press("Escape")
        await expect(chat(page)).to_be_hidden()
        await expect(launcher).to_be_focused()
    finally:
        await context.close()
