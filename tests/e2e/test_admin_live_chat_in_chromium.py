"""The admin's live chat in Chromium (issue 20, items 6 and 7), with axe-core: a website visitor (a WebSocket client
on /ws/chat, as the site's widget opens it) writes; the staff member's open inbox shows the new conversation and then
the new message without a reload; they take the chat over (the visitor hears the handoff), type (the visitor sees
typing) and reply (the visitor reads it); on another admin page the live chat widget lists the chat, shows the
visitor's next message live, and answers from its own reply box, on a desktop and on a phone-sized screen."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from playwright.async_api import Page, expect
from websockets.asyncio.client import ClientConnection, connect

from myhibachi.core.db import Database
from myhibachi.demo import DEMO_PASSWORD
from myhibachi.inbox.models import Message
from tests.e2e.conftest import SERVED, accessible, sign_in
from tests.e2e.test_admin_on_a_phone_in_chromium import no_sideways_scroll

FREMONT = 1
WAIT = 10  # seconds for a live event to arrive


class Visitor:
    """A website visitor's chat socket: every event it hears is queued (pings answered, as the widget does)."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def listen(self) -> None:
        async for raw in self.socket:
            event = json.loads(raw)
            if event["type"] == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
            else:
                await self.events.put(event)

    async def says(self, body: str) -> int:
        """Sends a message; the id of the message stored (from the server's ack)."""
        client_id = uuid.uuid4().hex
        await self.socket.send(json.dumps({"type": "message", "body": body, "id": client_id}))
        ack = await self.hears(lambda e: e["type"] == "ack" and e["id"] == client_id)
        assert ack["message_id"], ack
        return ack["message_id"]

    async def types(self) -> None:
        await self.socket.send(json.dumps({"type": "typing"}))

    async def hears(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first event from now on that is `wanted` (others, such as the assistant's answers, pass by)."""
        async def first() -> dict[str, Any]:
            while not wanted(event := await self.events.get()):
                pass
            return event

        return await asyncio.wait_for(first(), WAIT)


@asynccontextmanager
async def visitor_chat(live_server: str) -> AsyncIterator[Visitor]:
    """A new visitor on Fremont's site: the cookie from the chat session, then the socket from the site's origin."""
    async with httpx.AsyncClient(base_url=live_server) as site:
        session = await site.get("/api/v1/chat/session")
        assert session.status_code == 200, session.text
        cookie = session.cookies["mh_chat"]
    socket_url = live_server.replace("http://", "ws://") + "/ws/chat?station=FRE"
    async with connect(socket_url, origin=live_server, additional_headers={"Cookie": f"mh_chat={cookie}"}) as socket:  # type: ignore[arg-type]
        visitor = Visitor(socket)
        listening = asyncio.create_task(visitor.listen())
        try:
            history = await visitor.hears(lambda e: e["type"] == "history")
            assert history["messages"] == []
            yield visitor
        finally:
            listening.cancel()


async def conversation_of(message_id: int) -> int:
    db = Database(SERVED["settings"].database_url)
    try:
        async with db.transaction(write=False) as session:
            return (await session.get_one(Message, message_id)).conversation_id
    finally:
        await db.dispose()


async def live(page: Page) -> None:
    """The page's staff socket is open (the widget marks it so on its `ready`)."""
    await expect(page.locator("[data-live-chat][data-connected]")).to_have_count(1, timeout=WAIT * 1000)
    await page.evaluate("window.samePage = true")  # gone if the page reloads


async def same_page(page: Page) -> None:
    assert await page.evaluate("window.samePage === true"), "the page was reloaded"


async def test_staff_see_a_website_chat_live_take_it_over_and_answer_from_the_widget(page, live_server, screenshot):
    tag = uuid.uuid4().hex[:6]
    await sign_in(page, live_server, "admin@example.com")
    await page.goto(f"{live_server}/admin/inbox?station={FREMONT}")
    await live(page)

    async with visitor_chat(live_server) as visitor:
        first = await visitor.says(f"Hi! Is Dec 12 free for 14 people? ({tag})")
        chat = await conversation_of(first)
        link = page.locator(f'#inbox-list a[data-conversation][href^="/admin/inbox/{chat}?"]')  # not a "late" one
        await expect(link).to_be_visible(timeout=WAIT * 1000)  # the new conversation, without a reload
        await same_page(page)

        await link.click()
        await expect(page.locator(".answering")).to_have_text("The assistant is answering. Take over to answer "
                                                              "yourself: it then stays silent.")
        await live(page)
        await visitor.says(f"Also, do you bring the grill? ({tag})")
        await expect(page.locator(".message-in").last).to_contain_text("do you bring the grill?",
                                                                       timeout=WAIT * 1000)
        await same_page(page)
        await accessible(page)

        await page.get_by_role("button", name="Take over").click()
        await expect(page.get_by_role("status").first).to_have_text(
            "You are answering this chat now: the assistant stays silent.")
        await visitor.hears(lambda e: e["type"] == "handoff")
        await expect(page.locator(".answering")).to_have_text("You are answering.")
        await expect(page.get_by_role("button", name="Hand back to the assistant")).to_be_visible()

        await live(page)
        await visitor.types()
        typing_note = page.get_by_text("The visitor is typing…")
        await expect(typing_note).to_be_visible()  # live, beside the reply box
        await expect(typing_note).to_be_hidden(timeout=10_000)  # and gone when they stop
        reply = page.get_by_label("Reply")
        await reply.press_sequentially("Yes, we bring ")
        await visitor.hears(lambda e: e["type"] == "typing")
        await reply.press_sequentially("everything.")
        await page.get_by_role("button", name="Send").click()
        answer = await visitor.hears(lambda e: e["type"] == "message" and e["sender"] == "staff")
        assert answer["body"] == "Yes, we bring everything."
        await accessible(page)
        await screenshot("admin-live-chat-thread")

        # Another admin page: the widget lists the chat now assigned to this staff member.
        await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Bookings").click()
        await live(page)
        launcher = page.get_by_role("button", name=re.compile("^Live chats"))
        await launcher.click()
        await expect(launcher).to_have_attribute("aria-expanded", "true")
        await expect(page.get_by_role("heading", name="Your live chats")).to_be_focused()
        item = page.locator(f'[data-live-chat-open="{chat}"]')
        await expect(item).to_contain_text("You are answering")

        await visitor.says(f"Great, and the sauces? ({tag})")
        await expect(item).to_contain_text("1 unread", timeout=WAIT * 1000)  # live, in the list
        await expect(launcher).to_have_text(re.compile("1 unread"))
        await same_page(page)
        await accessible(page)

        await item.click()
        box = page.get_by_label("Message to ")
        await expect(box).to_be_focused()
        thread = page.locator("[data-live-chat-messages]")
        await expect(thread.locator(".message-in").last).to_contain_text("and the sauces?")
        await expect(launcher).to_have_text("Live chats")  # read: the count is gone
        await visitor.types()
        await expect(page.locator("[data-live-chat-thread]").get_by_text("The visitor is typing…")).to_be_visible()
        await box.press_sequentially("Both, yum yum and ginger.")
        await visitor.hears(lambda e: e["type"] == "typing")
        await box.press("Enter")  # Enter sends
        answer = await visitor.hears(lambda e: e["type"] == "message" and e["sender"] == "staff")
        assert answer["body"] == "Both, yum yum and ginger."
        await expect(thread.locator(".message-out").last).to_contain_text("Both, yum yum and ginger.")
        await expect(thread.locator(".message-out").last.locator(".delivery")).to_have_text("Sent")  # live
        await expect(page.get_by_label("Message to ")).to_be_focused()

        await visitor.says(f"Perfect, thanks! ({tag})")
        await expect(thread.locator(".message-in").last).to_contain_text("Perfect, thanks!", timeout=WAIT * 1000)
        await same_page(page)
        await accessible(page)
        await screenshot("admin-live-chat-widget")

        await page.set_viewport_size({"width": 390, "height": 844})
        await no_sideways_scroll(page)
        await expect(page.get_by_label("Message to ")).to_be_in_viewport()
        await accessible(page)
        await screenshot("admin-live-chat-widget-phone")
        await page.keyboard.press("Escape")
        await expect(launcher).to_be_focused()
        await expect(launcher).to_have_attribute("aria-expanded", "false")
        await expect(page.locator("#live-chat-panel")).to_be_hidden()


async def test_a_colleague_taking_the_chat_over_shows_on_an_open_thread_at_once(page, live_server):
    await sign_in(page, live_server, "admin@example.com")
    async with visitor_chat(live_server) as visitor:
        chat = await conversation_of(await visitor.says("Do you cater weddings?"))
        await page.goto(f"{live_server}/admin/inbox/{chat}?station={FREMONT}")
        await expect(page.get_by_role("button", name="Take over")).to_be_visible()
        await live(page)

        async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:  # Sunny, from another browser
            login = await api.post("/auth/login", json={"email": "support@example.com", "password": DEMO_PASSWORD})
            taken = await api.post(f"/conversations/{chat}/take-over",
                                   headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert taken.status_code == 200, taken.text
        await visitor.hears(lambda e: e["type"] == "handoff")

        await expect(page.locator(".answering")).to_have_text("Sunny Support is answering.", timeout=WAIT * 1000)
        await expect(page.get_by_role("button", name="Take over")).to_have_count(0)
        await expect(page.get_by_role("button", name="Hand back to the assistant")).to_be_visible()
        # the main list's row: the thread may also be listed under "late" by now
        listed = page.locator(f'#inbox-list a[data-conversation][href^="/admin/inbox/{chat}?"]')
        await expect(listed).to_contain_text("Sunny Support")
        await same_page(page)
        await accessible(page)
