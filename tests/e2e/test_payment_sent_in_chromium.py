"""From a held date to "I've sent it" in a real browser, on a desktop and on a phone (390 × 844): the confirmation
page shows how to pay (amount, deadline in the station's zone, the handles to copy, the reference for the memo), the
Copy button puts the handle on the clipboard, "I've sent it" is acknowledged, axe finds no serious violation, and a
staff member then sees the customer's word on the booking's admin page."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, sign_in
from tests.e2e.test_booking_in_chromium import book_to_the_deposit

ZELLE = "payments@myhibachi.local"  # the live server runs on the default settings
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


async def no_serious_violations(page: Page) -> None:
    results = await Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == [], (page.url, serious)


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def options_of(live_server: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        response = await api.get(f"/manage/{token}/payment-options")
    assert response.status_code == 200, response.text
    return response.json()


async def booking_id_of(live_server: str, reference: str) -> int:
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        login = await api.post("/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        listed = (await api.get("/bookings", headers=headers, params={"status": "pending_deposit", "limit": 200}))
    [booking] = [b for b in listed.json()["items"] if b["reference"] == reference]
    return booking["id"]


async def held_to_sent(page: Page, live_server: str, name: str, reference_typed: str) -> dict[str, Any]:
    """Books through the site, opens the confirmation page, copies the Zelle handle and says it was sent."""
    token, _ = await book_to_the_deposit(page, live_server)
    options = await options_of(live_server, token)
    assert re.fullmatch(r".+ at \d{1,2}:\d\d [AP]M P[SD]T", options["due_by_text"]), options["due_by_text"]

    await page.get_by_role("link", name="See my booking").click()
    await expect(page.get_by_role("heading", name="Your date is held")).to_be_visible()
    how = page.locator("section.how-to-pay")
    await expect(how).to_contain_text(f"Due now: $100.00 — pay the deposit by {options['due_by_text']}")
    await expect(page.get_by_role("textbox", name="Send by Zelle to")).to_have_value(ZELLE)
    await expect(page.get_by_label("Booking reference, for the memo or note")).to_have_value(options["reference"])
    await expect(how).to_contain_text(f"write {options['reference']} in the memo")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing sideways
    await no_serious_violations(page)
    await shot(page, f"{name}-1-confirmation")

    await page.get_by_role("button", name="Copy the Zelle handle").click()
    await expect(page.locator("[data-copy-status]")).to_have_text(f"Copied {ZELLE}")
    assert await page.evaluate("navigator.clipboard.readText()") == ZELLE

    await page.get_by_label("Confirmation number or memo (optional)").fill(reference_typed)
    await page.get_by_role("button", name="I've sent it").click()
    await expect(page.get_by_role("status")).to_contain_text("We have told our team your payment is on its way")
    await expect(page.locator(".sent-notice")).to_contain_text(
        re.compile(rf"You told us you sent \$100\.00 by Zelle \(ref {reference_typed}\) on .+; we'll confirm"))
    await expect(page.get_by_text("Held for you")).to_be_visible()  # still not paid
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await no_serious_violations(page)
    await shot(page, f"{name}-2-sent")
    return options


@pytest.mark.parametrize("device", ["desktop", "phone"])
async def test_from_the_confirmation_to_i_have_sent_it_and_staff_see_it(browser: Browser, live_server: str,
                                                                        device: str):
    context = await browser.new_context(**(PHONE if device == "phone" else {}))
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    customer = await context.new_page()
    try:
        options = await held_to_sent(customer, live_server, f"payment-sent-{device}", f"ZL-{device.upper()}-1")
    finally:
        await context.close()

    staff_context = await browser.new_context(**(PHONE if device == "phone" else {}))
    staff = await staff_context.new_page()
    try:
        await sign_in(staff, live_server)
        await staff.goto(f"{live_server}/admin/bookings/{await booking_id_of(live_server, options['reference'])}")
        said = staff.locator("section[aria-labelledby='said-sent-title']")
        await expect(said).to_contain_text(
            re.compile(rf"The customer says they sent \$100\.00 by Zelle, ref ZL-{device.upper()}-1, on "))
        await expect(said.get_by_role("link", name="record the payment")).to_be_visible()
        await no_serious_violations(staff)
        await shot(staff, f"payment-sent-{device}-3-staff")
    finally:
        await staff_context.close()
