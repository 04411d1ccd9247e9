"""The admin bookings pages in Chromium: a booking made through the public API found in the list and the calendars,
then a chef assigned, the deposit recorded, part of it refunded and the booking cancelled; support asking for a
cancellation and an admin declining it. axe-core on every page passed, and a screenshot of each."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.e2e.conftest import accessible, choose_day, first_free_slot, sign_in, station_today


async def step(page: Page, screenshot: Any, name: str) -> None:
    await accessible(page)
    await screenshot(name)


async def book_through_the_api(live_server: str, days_ahead: int, email: str) -> dict[str, Any]:
    """A booking at Fremont on the first free start time at least `days_ahead` days after the station's today
    (at least 3: the notice)."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        station = next(s for s in (await api.get("/stations")).json() if s["code"] == "FRE")
        today = await station_today(live_server, station["id"])
        day, time = await first_free_slot(live_server, today + timedelta(days=days_ahead), guests=10,
                                          station_id=station["id"])
        created = await api.post("/bookings", json={
            "station_id": station["id"], "adults": 8, "children": 2, "event_date": day, "slot_time": time,
            "venue": {"line1": "1 Admin Test Way", "city": "Fremont", "state": "CA", "zip_code": "94538"},
            "customer": {"name": "Robin Admin-Test", "email": email, "phone": "5105550177"},
            "allergies": "Peanuts (one guest)"})
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_booking_from_the_list_to_its_cancellation(page, live_server, screenshot):
    booking = await book_through_the_api(live_server, 9, "robin@example.com")
    reference, day = booking["reference"], booking["event_start"][:10]
    await sign_in(page, live_server, "admin@example.com")

    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Bookings").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bookings — Fremont CA")
    await page.get_by_label("From").fill(day)
    await page.get_by_label("To").fill(day)
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("link", name=reference)).to_be_visible()
    await step(page, screenshot, "admin-bookings-list")
    await page.get_by_role("button", name="When").click()  # the sortable table's heading
    await expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")

    await page.goto(f"{live_server}/admin/bookings?view=week&day={day}")
    await expect(page.locator(f'td[data-day="{day}"]').get_by_role("link", name=re.compile(reference))).to_be_visible()
    await step(page, screenshot, "admin-bookings-week")
    await page.goto(f"{live_server}/admin/bookings?view=month&month={day[:7]}")
    await expect(page.locator(f'td[data-day="{day}"]').get_by_role("link", name=re.compile(reference))).to_be_visible()
    await step(page, screenshot, "admin-bookings-month")
    await page.get_by_role("link", name="List").click()
    await page.get_by_label("From").fill(day)
    await page.get_by_role("button", name="Show").click()

    await page.get_by_role("link", name=reference).first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Booking {reference}")
    await expect(page.get_by_text("Peanuts (one guest)")).to_be_visible()
    await step(page, screenshot, "admin-booking-detail")

    await page.get_by_role("link", name="Confirm without a payment").click()
    await step(page, screenshot, "admin-booking-confirm")
    await page.get_by_role("link", name="Keep it as it is").click()

    await page.get_by_role("link", name="Assign a chef").click()
    await step(page, screenshot, "admin-booking-assign-chef")
    await page.get_by_role("radio").first.check()
    await page.get_by_role("button", name="Assign this chef").click()
    await expect(page.get_by_role("status").first).to_contain_text("The chef is assigned.")

    await page.get_by_role("link", name="Unassign the chef").click()
    await step(page, screenshot, "admin-booking-unassign-chef")
    await page.get_by_role("link", name="Keep it as it is").click()

    await page.get_by_role("link", name="Reschedule").click()
    await step(page, screenshot, "admin-booking-reschedule")
    await choose_day(page)  # the first day offered, turning the month if it has none left
    await page.locator('input[name="slot_time"]').first.check()
    await page.get_by_role("button", name="Check the terms").last.click()
    await expect(page.get_by_role("heading", name="Check the move")).to_be_visible()
    await step(page, screenshot, "admin-booking-reschedule-preview")
    await page.get_by_role("link", name=f"Back to booking {reference}").click()

    await page.get_by_role("link", name="Change guests or menu").click()
    await page.get_by_label("Adults (13+)").fill("9")
    await page.get_by_role("button", name="Preview the new price").click()
    await expect(page.get_by_role("table", name="The new price in detail")).to_be_visible()
    await step(page, screenshot, "admin-booking-party-preview")
    await page.get_by_role("link", name=f"Back to booking {reference}").click()

    await page.get_by_role("link", name="Record a payment").click()
    await step(page, screenshot, "admin-booking-payment")
    await page.get_by_label("Method").select_option("zelle")
    await page.get_by_label("Reference").fill("ZL-E2E-1")
    await page.get_by_role("button", name="Record the payment").click()
    await expect(page.get_by_role("status").first).to_contain_text("The payment is recorded")
    await expect(page.locator(".booking-facts")).to_contain_text("Confirmed")

    await page.get_by_role("link", name=re.compile("^Refund")).click()
    await step(page, screenshot, "admin-booking-refund")
    await expect(page.get_by_label(re.compile("Amount to refund"))).to_have_value("")
    await page.get_by_label(re.compile("Amount to refund")).fill("40.00")
    await page.get_by_label("Reason").fill("Two guests fewer")
    await page.get_by_role("button", name="Preview the refund").click()
    await expect(page.locator(".refund-sentence")).to_have_text(
        re.compile(r"^Refund \$40\.00 of the \$\d+\.\d\d Zelle payment to the customer by Zelle; "
                   r"they will be emailed\.$"))
    await step(page, screenshot, "admin-booking-refund-preview")
    await page.get_by_role("button", name="Refund $40.00").click()
    await expect(page.get_by_role("status").first).to_contain_text("The refund is recorded")
    await expect(page.locator("table.payments")).to_contain_text("Two guests fewer")

    await page.get_by_role("link", name="Cancel the booking").click()
    await expect(page.locator(".money-facts")).to_contain_text("$60.00")
    await step(page, screenshot, "admin-booking-cancel")
    await page.get_by_label("Reason").fill("The customer's plans changed")
    await page.get_by_role("button", name="Cancel the booking").click()
    await expect(page.get_by_role("status").first).to_contain_text("The booking is cancelled")
    await expect(page.locator("section.cancelled")).to_contain_text("$60.00")
    await step(page, screenshot, "admin-booking-cancelled")


async def test_support_asks_and_an_admin_declines(page, live_server, screenshot):
    booking = await book_through_the_api(live_server, 12, "sam@example.com")
    await sign_in(page, live_server, "support@example.com")

    await page.goto(f"{live_server}/admin/bookings/{booking['id']}")
    await expect(page.get_by_role("link", name="Cancel the booking")).to_have_count(0)
    await page.get_by_role("link", name="Ask an admin to cancel").click()
    await step(page, screenshot, "admin-booking-cancel-request")
    await page.get_by_label("Reason").fill("The customer called to cancel")
    await page.get_by_role("button", name="Send the request").click()
    await expect(page.get_by_role("status").first).to_contain_text("Cancellation requested")
    await page.get_by_role("button", name="Sign out").click()

    await sign_in(page, live_server, "admin@example.com")
    await page.goto(f"{live_server}/admin/bookings/{booking['id']}")
    await expect(page.locator("section.request")).to_contain_text("The customer called to cancel")
    await page.get_by_role("link", name="Decline the cancellation request").click()
    await step(page, screenshot, "admin-booking-decline")
    await page.get_by_role("button", name="Decline the request").click()
    await expect(page.get_by_role("status").first).to_contain_text("declined")
    await expect(page.get_by_role("link", name="Approve the cancellation")).to_have_count(0)
