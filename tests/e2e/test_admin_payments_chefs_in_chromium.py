"""The admin payments and chefs pages in a real browser, with axe-core on every page: an admin finds a payment,
downloads the CSV and refunds part of it; a chef asks for time off and a manager approves it."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import accessible, first_free_slot, sign_in, station_today


async def step(page: Page, screenshot: Any, name: str) -> None:
    await accessible(page)
    await screenshot(name)


async def paid_booking(live_server: str, reference: str) -> tuple[int, int]:
    """A booking made through the public API on the first free time, and its deposit recorded by staff as a Zelle
    transfer; returns (booking id, payment id)."""
    day, time = await first_free_slot(live_server, await station_today(live_server) + timedelta(days=5), guests=4)
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        booked = await api.post("/bookings", json={
            "station_id": 1, "adults": 4, "event_date": day, "slot_time": time, "allergies": "none",
            "venue": {"line1": "1 Main St", "city": "Fremont", "state": "CA", "zip_code": "94538"},
            "customer": {"name": "Pat Payer", "email": "pat@example.com", "phone": "5105550100"}})
        assert booked.status_code == 201, booked.text
        login = await api.post("/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        paid = await api.post(f"/bookings/{booked.json()['id']}/payments", headers=headers, json={
            "method": "zelle", "amount_cents": booked.json()["quote"]["deposit_cents"], "reference": reference})
        assert paid.status_code == 201, paid.text
        return booked.json()["id"], paid.json()["id"]


async def test_an_admin_exports_payments_and_refunds_part_of_one(page, live_server, screenshot):
    reference = f"ZELLE-{uuid.uuid4().hex[:8]}"
    booking_id, payment_id = await paid_booking(live_server, reference)
    await sign_in(page, live_server, "admin@example.com")

    await page.get_by_role("link", name="Payments").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Payments — Fremont CA")
    named = page.locator(f'a[href="/admin/payments/{payment_id}"]')  # "$100.00 Zelle payment of MH-…"
    await expect(named).to_have_text(re.compile(r"^\$100\.00 Zelle payment of MH-[A-Z0-9]{6}$"))
    await step(page, screenshot, "admin-payments-list")

    await page.get_by_label("Method").select_option("zelle")
    await page.get_by_role("button", name="Show").click()
    await expect(named).to_be_visible()
    assert "method=zelle" in page.url
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download CSV").click()
    download = await downloading.value
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert download.suggested_filename == "payments-fre.csv"
    assert {r["method"] for r in rows} == {"zelle"}
    [mine] = [r for r in rows if r["reference"] == reference]
    assert (mine["amount"], mine["amount_cents"]) == ("100.00", "10000")

    await named.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("$100.00 Zelle payment of MH-")
    assert await page.get_by_role("link", name=re.compile(r"^MH-")).get_attribute("href") == \
        f"/admin/bookings/{booking_id}"
    await step(page, screenshot, "admin-payment-detail")

    await page.get_by_role("link", name="Refund", exact=True).click()
    await expect(page.get_by_label("Amount to refund (USD)")).to_have_value("")  # nothing pre-filled
    await step(page, screenshot, "admin-payment-refund")
    await page.get_by_label("Amount to refund (USD)").fill("250.00")
    await page.get_by_label("Reason").fill("Goodwill")
    await page.get_by_role("button", name="Preview the refund").click()
    await expect(page.get_by_role("alert")).to_contain_text("At most $100.00 of this payment can be refunded.")
    await expect(page.get_by_label("Amount to refund (USD)")).to_have_attribute("aria-invalid", "true")
    await step(page, screenshot, "admin-payment-refund-too-much")

    await page.get_by_label("Amount to refund (USD)").fill("25.00")
    await page.get_by_label("Reason").fill("Two guests fewer than booked")
    await page.get_by_role("button", name="Preview the refund").click()
    await expect(page.locator(".refund-sentence")).to_have_text(
        "Refund $25.00 of the $100.00 Zelle payment to the customer by Zelle; they will be emailed.")
    await step(page, screenshot, "admin-payment-refund-preview")
    await page.get_by_role("button", name="Refund $25.00").click()
    await expect(page.get_by_role("status").filter(has_text="refund is recorded")).to_be_visible()
    refunds = page.get_by_role("table", name=re.compile("Refunds of this payment"))
    await expect(refunds).to_contain_text("$25.00")
    await expect(refunds).to_contain_text("Two guests fewer than booked")
    await expect(page.get_by_text("$75.00 can still be refunded")).to_be_visible()
    await step(page, screenshot, "admin-payment-refunded")


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()


async def test_a_manager_approves_time_off_a_chef_asked_for(page, live_server, screenshot):
    reason = f"Family visit {uuid.uuid4().hex[:6]}"
    # Far off (other tests book soon dates), counted from the station's today.
    first = await station_today(live_server) + timedelta(days=300 + uuid.uuid4().int % 30)
    await sign_in(page, live_server, "chef@example.com")

    await page.get_by_role("link", name="My time off").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("My time off")
    my_events = page.locator("#main").get_by_role("link", name="My events")
    await expect(my_events).to_have_attribute("href", "/admin/bookings")
    await step(page, screenshot, "admin-chef-my-time-off")
    await page.get_by_label("First day off").fill((first + timedelta(days=2)).isoformat())
    await page.get_by_label("Last day off").fill(first.isoformat())
    await page.get_by_role("button", name="Ask for this time off").click()
    await expect(page.get_by_text("The last day must be on or after the first day.")).to_be_visible()
    await page.get_by_label("First day off").fill(first.isoformat())
    await page.get_by_label("Last day off").fill((first + timedelta(days=2)).isoformat())
    await page.get_by_label("Reason (optional)").fill(reason)
    await page.get_by_role("button", name="Ask for this time off").click()
    await expect(page.get_by_role("status").filter(has_text="request is sent")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=reason)).to_contain_text("Awaiting a decision")
    await step(page, screenshot, "admin-chef-time-off-requested")
    await sign_out(page)

    await sign_in(page, live_server, "manager@example.com")
    await page.get_by_role("link", name="Chefs").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Chefs — Fremont CA")
    await step(page, screenshot, "admin-chefs-roster")
    await page.get_by_role("row").filter(has_text=reason).get_by_role("link", name=re.compile("^Approve")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Approve time off of Chen Chef")
    await step(page, screenshot, "admin-chefs-approve")
    await page.get_by_role("button", name="Approve this time off").click()
    await expect(page.get_by_role("status").filter(has_text="Time-off approved")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=reason)).to_contain_text("Approved")

    await page.get_by_role("link", name="Chen Chef", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Edit Chen Chef")
    await expect(page.get_by_label("Thursday")).to_be_checked()
    await step(page, screenshot, "admin-chefs-edit")
    await page.get_by_role("link", name="Time off of Chen Chef").click()
    await expect(page.get_by_role("row").filter(has_text=reason)).to_contain_text("Approved")
    await step(page, screenshot, "admin-chefs-time-off")
    await page.goto(live_server + "/admin/chefs/new")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Add a chef")
    await step(page, screenshot, "admin-chefs-add")
