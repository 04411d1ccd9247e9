"""Unsubscribing and the preference page in a real browser, axe-clean (no violation at all), with the keyboard
alone: the link only shows the button, Enter on it unsubscribes; the preference page keeps a choice and offers to
subscribe again. The subscriber is found on the admin's subscribers page, which is checked too."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from myhibachi.consent.commands import UNSUBSCRIBE_LINK
from myhibachi.consent.tokens import sign_contact
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import sign_in


async def axe_clean(page: Page) -> None:
    results = await Axe().run(page)
    problems = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]
    assert results.violations_count == 0, (page.url, problems)


async def subscribed_contact(page: Page, live_server: str) -> int:
    """A new footer-form subscriber of Fremont, found by an admin on /admin/subscribers: its contact id."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        assert (await api.post("/subscribe", json={"email": email, "station_id": 1})).status_code == 202
    await sign_in(page, live_server, "admin@example.com")
    await page.goto(f"{live_server}/admin/subscribers?q={email}")
    await axe_clean(page)
    link = page.get_by_role("row").filter(has_text=email).get_by_role("link")
    contact_id = int(re.search(r"/admin/contacts/(\d+)", await link.get_attribute("href"))[1])
    await page.context.clear_cookies()  # the person is not signed in anywhere
    return contact_id


async def tab_to(page: Page, name: str, presses: int = 40) -> None:
    for _ in range(presses):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("(document.activeElement.innerText || document.activeElement.labels?.[0]"
                                      "?.innerText || '').trim()")
        if focused == name:
            return
    raise AssertionError(f"{name!r} was never reached with Tab")


async def test_unsubscribe_then_choose_with_the_keyboard(page, live_server, screenshot):
    contact_id = await subscribed_contact(page, live_server)
    token = sign_contact(TEST_SECRET, UNSUBSCRIBE_LINK, contact_id, datetime.now(UTC))

    await page.goto(f"{live_server}/unsubscribe/{token}")
    await expect(page.get_by_role("heading", name="Unsubscribe from our emails?")).to_be_visible()
    await axe_clean(page)
    await screenshot("unsubscribe-ask")
    await tab_to(page, "Unsubscribe")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    await axe_clean(page)

    await page.get_by_role("link", name="Choose what you get").click()
    await expect(page.get_by_role("heading", name="Your email preferences")).to_be_visible()
    await expect(page.get_by_role("heading", name="You get no news or offers from us")).to_be_visible()
    await axe_clean(page)
    news = page.get_by_role("checkbox", name="News and offers")
    await expect(news).to_be_checked()
    await news.focus()
    await page.keyboard.press("Space")
    await tab_to(page, "Save my choices")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    await expect(page.get_by_role("checkbox", name="News and offers")).not_to_be_checked()
    await expect(page.get_by_role("checkbox", name="Notes about your quotes and events")).to_be_checked()
    await axe_clean(page)
    await screenshot("preferences-saved")

    await page.get_by_role("button", name="Send me a link to subscribe again").click()
    await expect(page.get_by_role("status").filter(has_text="Open it to confirm")).to_be_visible()
    await axe_clean(page)


async def test_a_bad_link_says_so_accessibly(page, live_server):
    await page.goto(f"{live_server}/unsubscribe/1.2.forged")
    await expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    await axe_clean(page)
