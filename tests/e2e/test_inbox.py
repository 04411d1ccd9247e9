"""The inbox page in Chromium (issue 19, item 6), with axe-core: the list and a thread, the keyboard shortcuts
(j/k to move, a to take it, e to resolve, r to reply; none of them while typing), a reply sent through htmx, new
messages appearing without a reload through the change feed, and the page on a phone: the list, then the thread."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
from playwright.async_api import Page, expect

from myhibachi.contacts.models import HandleKind
from myhibachi.core.db import Database
from myhibachi.demo import DEMO_PASSWORD
from myhibachi.inbox import commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel
from tests.e2e.conftest import SERVED, accessible, sign_in
from tests.e2e.test_admin_on_a_phone_in_chromium import no_sideways_scroll
from tests.e2e.test_admin_shell_in_chromium import listening_for_changes

FREMONT = 1


async def received(channel: Channel, body: str, name: str, *, conversation_id: int | None = None) -> int:
    """A message from a new person at Fremont, stored as a channel's webhook stores it; its conversation's id."""
    key = uuid.uuid4().hex[:10]
    identity = {"phone": f"+1510555{int(key, 16) % 10000:04d}"} if channel == Channel.sms else \
        {"handle": (HandleKind(channel.value), f"psid-{key}")}
    db = Database(SERVED["settings"].database_url)
    try:
        async with db.transaction() as session:
            message = await commands.receive(session, Inbound(
                channel=channel, provider_message_id=f"e2e-{key}", body=body, name=name, station_id=FREMONT,
                conversation_id=conversation_id, **identity))  # type: ignore[arg-type]
            assert message is not None
            return message.conversation.id
    finally:
        await db.dispose()


async def colleague_replies(live_server: str, conversation_id: int, body: str) -> None:
    """Sunny (support) answers the thread through the API, from another browser of the office."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        login = await api.post("/auth/login", json={"email": "support@example.com", "password": DEMO_PASSWORD})
        sent = await api.post(f"/conversations/{conversation_id}/messages", json={"body": body},
                              headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert sent.status_code == 201, sent.text


def conversation_link(page: Page, name: str):  # noqa: ANN201
    return page.locator("[data-conversation]", has_text=name)


async def test_the_inbox_by_keyboard_with_a_reply_and_live_messages(page, live_server, screenshot):
    tag = uuid.uuid4().hex[:6]
    texter, dm = f"Tess Text {tag}", f"Mo Messenger {tag}"
    await received(Channel.sms, "Do you cater on Sunday?", texter)
    dm_id = await received(Channel.messenger, "Price for 12 adults?", dm)
    subscribed = await listening_for_changes(page)
    await sign_in(page, live_server, "admin@example.com")
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Inbox").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Inbox — "))
    await expect(conversation_link(page, dm)).to_be_visible()
    await expect(conversation_link(page, texter)).to_contain_text("1 unread")
    await accessible(page)
    await screenshot("inbox-list")

    links = page.locator("[data-conversation]")
    first, second = await links.nth(0).get_attribute("href"), await links.nth(1).get_attribute("href")
    await page.keyboard.press("j")
    await page.wait_for_url(live_server + (first or ""))
    await page.keyboard.press("j")
    await page.wait_for_url(live_server + (second or ""))
    await page.keyboard.press("k")
    await page.wait_for_url(live_server + (first or ""))

    await conversation_link(page, dm).click()
    await expect(page.get_by_role("heading", level=2, name=dm, exact=True)).to_be_visible()
    await expect(page.locator(".message-in")).to_have_text(re.compile("Price for 12 adults?"))
    await expect(page.get_by_text("the 24-hour reply window is open until")).to_be_visible()
    await accessible(page)
    await page.keyboard.press("a")
    await expect(page.get_by_role("status").first).to_have_text("It is yours now.")
    await page.keyboard.press("r")
    reply = page.get_by_label("Reply")
    await expect(reply).to_be_focused()
    await page.keyboard.type("jak: from $660 for 12.")  # typed into the box: no shortcut fires
    await expect(reply).to_have_value("jak: from $660 for 12.")
    assert f"/admin/inbox/{dm_id}" in page.url
    await page.evaluate("window.samePage = true")  # gone if the page reloads
    await page.get_by_role("button", name="Send").click()  # htmx: the thread comes back, the page stays
    await expect(page.locator(".message-out").last).to_contain_text("jak: from $660 for 12.")
    await expect(page.get_by_role("status").first).to_have_text("Sent: it is on its way.")
    await expect(page.get_by_label("Reply")).to_have_value("")

    await asyncio.wait_for(subscribed.wait(), timeout=10)  # the page's event stream is open
    await received(Channel.messenger, "Can we add two kids?", dm, conversation_id=dm_id)
    await colleague_replies(live_server, dm_id, "Sure, kids are half price.")
    await expect(page.locator(".message-in").last).to_have_text(re.compile("Can we add two kids?"),
                                                                timeout=10_000)
    await expect(page.locator(".message-out").last).to_contain_text("Sure, kids are half price.")
    await expect(page.locator("#live-status")).to_have_text(re.compile("Updated at"))
    assert await page.evaluate("window.samePage === true")

    await expect(page.get_by_label("Reply")).to_be_focused()  # where the sent reply left the keyboard
    await page.keyboard.press("e")  # typed: no shortcut
    await expect(page.get_by_label("Reply")).to_have_value("e")
    await page.get_by_label("Reply").fill("")
    await page.keyboard.press("Escape")
    await page.keyboard.press("e")
    await expect(page.get_by_role("status").first).to_have_text("Resolved.")
    await expect(page.locator(".thread-facts")).to_contain_text("Resolved")
    await page.get_by_role("group").get_by_text("Keyboard shortcuts").click()
    await expect(page.get_by_text("Next / previous conversation")).to_be_visible()
    await accessible(page)
    await screenshot("inbox-thread")


async def test_the_inbox_on_a_phone_is_the_list_then_the_thread(page, live_server, screenshot):
    name = f"Pia Phone {uuid.uuid4().hex[:6]}"
    await received(Channel.sms, "Is 20 guests too many?", name)
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, live_server, "support@example.com")
    await page.goto(f"{live_server}/admin/inbox?station={FREMONT}")
    await expect(conversation_link(page, name)).to_be_visible()
    await no_sideways_scroll(page)
    await accessible(page)

    await conversation_link(page, name).click()
    await expect(page.get_by_role("heading", level=2, name=name, exact=True)).to_be_visible()
    await expect(page.locator("#inbox-list")).to_be_hidden()
    await expect(page.get_by_role("link", name="← All conversations")).to_be_visible()
    await no_sideways_scroll(page)
    await accessible(page)
    await screenshot("inbox-phone-thread")
    await page.get_by_role("link", name="← All conversations").click()
    await expect(conversation_link(page, name)).to_be_visible()


async def test_a_canned_reply_a_label_and_a_quote_from_the_thread(page, live_server, screenshot):
    name = f"Cam Canned {uuid.uuid4().hex[:6]}"
    conversation_id = await received(Channel.sms, "Do you charge for travel to Pleasanton?", name)
    await sign_in(page, live_server, "support@example.com")
    await page.goto(f"{live_server}/admin/inbox/{conversation_id}?station={FREMONT}")
    await page.evaluate("window.samePage = true")

    await page.get_by_text("Canned replies").click()
    await page.get_by_role("link", name="Travel", exact=True).click()  # into the box, no page load
    reply = page.get_by_label("Reply")
    await expect(reply).to_be_focused()
    await expect(reply).to_have_value(re.compile(r"^Travel is free for the first \d+ miles, then \$\d"))
    assert await page.evaluate("window.samePage === true") and "{" not in await reply.input_value()

    await page.get_by_label("Add a label").fill("VIP")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.get_by_role("status").first).to_have_text("Labels saved.")
    await expect(page.locator(".thread-labels .label-chip")).to_have_text(["vip"])

    await page.get_by_text("Send a quote (and hold a date)").click()
    await page.get_by_label("Venue ZIP code").fill("94538")
    await page.get_by_label("Adults").fill("10")
    await accessible(page)
    await screenshot("inbox-quote-form")
    await page.get_by_role("button", name="Send the quote").click()
    await expect(page.get_by_role("status").first).to_have_text("Quote sent: it is on its way.")
    await expect(page.locator(".message-out").last).to_contain_text("10 adults")
    await page.get_by_role("button", name="Remove the label vip").click()
    await expect(page.locator(".thread-labels .label-chip")).to_have_count(0)
