"""The booking journey in a real browser: quote → book → deposit → manage → reschedule → cancel, with axe-core
on every page it passes, a screenshot of each step, the same booking with JavaScript off and with the keyboard
alone, and a slot taken by someone else mid-flow.

Card payments: Stripe.js and the Payment Element load from Stripe's servers, unreachable here, so the card form
cannot run in this browser; the deposit is paid by the manual method (recorded by staff, as for Zelle), and the
card page's server side is tested against the Stripe emulator in tests/web/test_checkout_pages.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, accessible, choose_day, station_today

DETAILS = {"Street address": "4100 Mowry Ave", "City": "Fremont", "State": "CA", "Your name": "Dana Lee",
           "Email": "dana@example.com", "Mobile phone": "(510) 555-0142", "Allergies": "Shellfish (one guest)"}


async def step(page: Page, screenshot: Any, name: str) -> None:
    """Every page of the journey: no accessibility violation, and a screenshot."""
    await accessible(page, every_impact=True)
    await screenshot(name)


async def fill_party(page: Page, adults: str = "12") -> None:
    await page.get_by_label("Venue ZIP code").fill("94538")  # Fremont's: it picks the Fremont station
    await page.get_by_label("Adults (13+)").fill(adults)
    menu = page.locator("details.menu-choices")
    if await menu.get_attribute("open") is None:
        await page.get_by_text("Premium proteins, extras and sides").click()
    await page.get_by_label("Upgrade to Filet mignon").fill("2")


async def pick_first_free_time(page: Page) -> tuple[str, str]:
    """The first day the calendar offers (in a later month if this one has none left) and its first time."""
    chosen_day = await choose_day(page)
    first_time = page.locator('input[name="slot_time"]').first
    await first_time.check()
    return chosen_day, await first_time.get_attribute("value")


async def fill_details(page: Page) -> None:
    for label, value in DETAILS.items():
        await page.get_by_label(label, exact=True).fill(value)


async def book_to_the_deposit(page: Page, live_server: str, screenshot: Any = None) -> tuple[str, str]:
    """From the quote page to the deposit page; returns the manage token and the booked (day, time)."""
    async def shot(name: str) -> None:
        if screenshot:
            await step(page, screenshot, name)

    await page.goto(live_server + "/quote?station_id=1&zip_code=94538&adults=12")
    await shot("journey-0-quote")
    await page.get_by_role("link", name="Book this party").click()
    await fill_party(page)
    await expect(page.locator("#live-quote tr.total td")).to_have_text(re.compile(r"^\$"))
    await shot("journey-1-party")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Date and start time")).to_be_visible()
    day, time = await pick_first_free_time(page)
    await shot("journey-2-date-and-time")
    await page.get_by_role("button", name="Continue").click()
    await fill_details(page)
    await shot("journey-3-venue-and-contact")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Before you book")).to_be_visible()
    await shot("journey-4-review")
    await page.get_by_role("button", name="Hold my date and pay the deposit").click()
    await expect(page.get_by_role("heading", name="Pay the deposit")).to_be_visible()
    await shot("journey-5-deposit")
    return page.url.split("/manage/")[1].removesuffix("/pay"), (day, time)


async def record_deposit_as_staff(live_server: str, token: str) -> None:
    """The Zelle transfer arrives and staff record it (through the API; the admin panel comes later)."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        login = await api.post("/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        mine = (await api.get(f"/manage/{token}")).json()
        pending = {"status": "pending_deposit", "limit": 200}
        listed = (await api.get("/bookings", headers=headers, params=pending)).json()
        [booking] = [b for b in listed["items"] if b["reference"] == mine["reference"]]
        paid = await api.post(f"/bookings/{booking['id']}/payments", headers=headers,
                        json={"method": "zelle", "amount_cents": mine["quote"]["deposit_cents"],
                              "reference": "ZELLE-1"})
        assert paid.status_code == 201, paid.text


async def test_the_whole_journey(page, live_server, screenshot):
    token, (day, time) = await book_to_the_deposit(page, live_server, screenshot)
    held = await page.get_by_role("status").inner_text()
    assert "held for you until" in held
    assert "Zelle" in await page.content()

    await record_deposit_as_staff(live_server, token)
    await page.get_by_role("link", name="See my booking").click()
    await expect(page.get_by_role("heading", name="You're booked!")).to_be_visible()
    await step(page, screenshot, "journey-6-confirmed")

    await page.get_by_role("link", name="Manage my booking").click()
    await expect(page.get_by_text("Add to calendar")).to_be_visible()
    await step(page, screenshot, "journey-7-manage")
    ics = await page.get_by_role("link", name=re.compile("Add to calendar")).get_attribute("href")
    async with httpx.AsyncClient() as http:
        assert (await http.get(live_server + ics)).text.startswith("BEGIN:VCALENDAR")

    await page.get_by_role("link", name="Change guests or menu").click()
    await step(page, screenshot, "journey-7b-change-party")
    await page.get_by_label("Adults (13+)").fill("14")
    await page.get_by_role("button", name="Preview the new price").click()
    await expect(page.get_by_role("button", name="Confirm change")).to_be_visible()
    await step(page, screenshot, "journey-7c-change-party-terms")
    await page.get_by_role("link", name=re.compile("Back to your booking")).click()

    await page.get_by_role("link", name="Reschedule").click()
    await expect(page.locator("#cal-title")).to_be_visible()
    await step(page, screenshot, "journey-8-reschedule")
    # A day far enough ahead for the whole deposit back when cancelled (96 hours' notice): a week after the
    # station's today, in this month or a later one.
    await choose_day(page, await station_today(live_server) + timedelta(days=7))
    await page.locator('input[name="slot_time"]').first.check()
    await page.get_by_role("button", name="Check the terms").click()
    await step(page, screenshot, "journey-9-reschedule-terms")
    await expect(page.get_by_text(re.compile("free|fee", re.I)).first).to_be_visible()
    await page.get_by_role("button", name="Confirm the move").click()
    await expect(page.get_by_role("status")).to_contain_text(re.compile("moved|rescheduled", re.I))

    await page.get_by_role("link", name=re.compile("^Cancel", re.I)).click()
    await expect(page.get_by_text(re.compile(r"refunds the \$"))).to_be_visible()  # shown before confirming
    await step(page, screenshot, "journey-10-cancel-terms")
    await page.get_by_role("button", name="Cancel my booking").click()
    await expect(page.get_by_role("status")).to_contain_text(re.compile("cancelled", re.I))
    assert re.search(r"refund", await page.content(), re.I)
    await step(page, screenshot, "journey-11-cancelled")
    async with httpx.AsyncClient() as api:
        final = (await api.get(f"{live_server}/api/v1/manage/{token}")).json()
    assert final["status"] == "cancelled" and final["refund_owed_cents"] == final["quote"]["deposit_cents"]


async def test_booking_with_javascript_off(live_server, browser: Browser):
    context = await browser.new_context(java_script_enabled=False)
    nojs = await context.new_page()
    try:
        await nojs.goto(live_server + "/book")
        await fill_party(nojs, adults="6")
        await nojs.get_by_role("button", name="Continue").click()
        await pick_first_free_time(nojs)
        await nojs.get_by_role("button", name="Continue").click()
        await nojs.get_by_role("button", name="Continue").click()  # nothing filled in: errors beside the fields
        await expect(nojs.get_by_role("alert")).to_contain_text("Please check")
        assert await nojs.get_by_label("Email", exact=True).get_attribute("aria-invalid") == "true"
        await fill_details(nojs)
        await nojs.get_by_role("button", name="Continue").click()
        await nojs.get_by_role("button", name="Hold my date and pay the deposit").click()

        await expect(nojs.get_by_role("heading", name="Pay the deposit")).to_be_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await nojs.screenshot(path=str(SCREENSHOTS / "nojs-deposit.png"), full_page=True)
        assert "/pay" in nojs.url
    finally:
        await context.close()


async def test_a_slot_taken_by_someone_else_mid_flow(page, live_server, screenshot):
    await page.goto(live_server + "/book")
    await fill_party(page, adults="4")
    await page.get_by_role("button", name="Continue").click()
    day, time = await pick_first_free_time(page)
    await page.get_by_role("button", name="Continue").click()
    await fill_details(page)
    await page.get_by_role("button", name="Continue").click()
    # Meanwhile, others take every chef at that time.
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        for n in range(10):
            body = {"station_id": 1, "adults": 4, "event_date": day, "slot_time": time, "allergies": "none",
                    "venue": {"line1": "1 Main St", "city": "Fremont", "state": "CA", "zip_code": "94538"},
                    "customer": {"name": f"Other {n}", "email": f"other{n}@example.com", "phone": "5105550100"}}
            if (await api.post("/bookings", json=body)).status_code == 409:
                break

    await page.get_by_role("button", name="Hold my date and pay the deposit").click()

    await expect(page.get_by_role("alert")).to_contain_text("someone has just booked")
    await step(page, screenshot, "slot-taken")
    offered = await page.locator('input[name="slot_time"]').evaluate_all("inputs => inputs.map(i => i.value)")
    assert time not in offered
    assert await page.get_by_label("Email", exact=True).count() == 0  # still the calendar step, input kept:
    assert await page.locator('#main input[name="email"]').get_attribute("value") == "dana@example.com"


async def tab_to(page: Page, description: str, limit: int = 80) -> None:
    """Presses Tab until the focused element's label, text, value or type contains `description`."""
    seen = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "(() => { const e = document.activeElement;"
            " return [e.labels && e.labels[0] ? e.labels[0].textContent : '', e.getAttribute('aria-label') || '',"
            " e.textContent, e.value || '', e.type || ''].join(' | '); })()")
        seen.append(focused)
        if description in focused:
            return
    raise AssertionError(f"never reached {description!r} by Tab: {seen[-10:]}")


async def test_booking_with_the_keyboard_only(page, live_server, screenshot):
    await page.goto(live_server + "/book")
    await tab_to(page, "Venue ZIP code")
    await page.keyboard.type("94538")
    await tab_to(page, "Adults")
    await page.keyboard.type("8")
    await page.keyboard.press("Enter")  # Enter sends the step, as the Continue button would

    await expect(page.get_by_role("heading", name="Date and start time")).to_be_visible()
    await page.wait_for_load_state("domcontentloaded")
    while await page.locator("button.day").count() == 0:  # none left this month: the next one, by keyboard
        shown = await page.locator("#cal-title").inner_text()
        await tab_to(page, "Next month")
        await page.keyboard.press("Enter")
        await expect(page.locator("#cal-title")).not_to_have_text(shown)
        await page.wait_for_load_state("domcontentloaded")
    await tab_to(page, "start time")  # the first free day's button
    await page.keyboard.press("Enter")
    await expect(page.locator('input[name="slot_time"]').first).to_be_visible()
    await tab_to(page, "radio")  # the first free start time
    await page.keyboard.press("Space")
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", name="Venue and contact")).to_be_visible()
    for label, value in DETAILS.items():
        await tab_to(page, label)
        await page.keyboard.type(value)
    await tab_to(page, "Continue")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Before you book")).to_be_visible()
    await tab_to(page, "Hold my date")
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", name="Pay the deposit")).to_be_visible()
    await screenshot("keyboard-deposit")
