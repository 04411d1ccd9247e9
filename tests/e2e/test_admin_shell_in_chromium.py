"""The admin panel's shell in Chromium: signing in (and a wrong password), each role's menu, the dashboard
without accessibility violations, and a new booking appearing on an open dashboard without a reload."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import first_free_slot, sign_in, station_today


async def no_serious_violations(page: Page) -> None:
    results = await Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == [], (page.url, serious)


async def test_sign_in_and_a_wrong_password(page, live_server, screenshot):
    await page.goto(live_server + "/admin")
    assert page.url.startswith(live_server + "/admin/login")
    await no_serious_violations(page)
    await page.get_by_label("Email").fill("admin@example.com")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("The email or the password is wrong.")
    await screenshot("admin-wrong-password")

    await page.get_by_label("Password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    await no_serious_violations(page)
    await screenshot("admin-dashboard")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_contain_text("You have signed out.")


# What every office role's menu begins with: the day, the bookings, the CRM and the money.
WORK = ["Dashboard", "Today", "Bookings", "Kitchen prep", "Leads", "Inbox", "Campaigns", "Automations",
        "Subscribers", "Payments"]


@pytest.mark.parametrize(("email", "expected"), [
    ("superadmin@example.com", [*WORK, "Chefs", "Stations and rules", "Users", "Audit log", "My account"]),
    ("admin@example.com", [*WORK, "Chefs", "Stations and rules", "Users", "Audit log", "My account"]),
    ("manager@example.com", [*WORK, "Chefs", "Users", "My account"]),
    ("support@example.com", [*WORK, "My account"]),
    ("chef@example.com", ["Dashboard", "Today", "My events", "Kitchen prep", "My time off", "My account"]),
])
async def test_each_role_sees_its_menu(page, live_server, email, expected):
    await sign_in(page, live_server, email)

    menu = await page.get_by_role("navigation", name="Admin").get_by_role("link").all_inner_texts()

    assert menu == expected


async def listening_for_changes(page: Page) -> asyncio.Event:
    """Set once the page's event stream has sent its first bytes: the server sends them after subscribing to the
    changes (the response's headers come before that, so `EventSource.onopen` would be too early)."""
    cdp = await page.context.new_cdp_session(page)
    streams: set[str] = set()
    subscribed = asyncio.Event()

    def response(event: dict) -> None:
        if event["response"]["url"].endswith("/admin/events"):
            streams.add(event["requestId"])

    def data(event: dict) -> None:
        if event["requestId"] in streams and event.get("dataLength", 0) > 0:
            subscribed.set()

    cdp.on("Network.responseReceived", response)
    cdp.on("Network.dataReceived", data)
    await cdp.send("Network.enable")
    return subscribed


async def test_a_new_booking_appears_on_an_open_dashboard(page, live_server, screenshot):
    subscribed = await listening_for_changes(page)
    await sign_in(page, live_server, "admin@example.com")
    await page.evaluate("window.samePage = true")  # gone if the page reloads
    # Inside the dashboard's 14 days ahead, after the notice: counted from the station's today.
    today = await station_today(live_server)
    day, slot = await first_free_slot(live_server, today + timedelta(days=3), guests=9, days=12)
    body = {"station_id": 1, "adults": 9, "event_date": day, "allergies": "none",
            "venue": {"line1": "1 Live Update Way", "city": "Fremont", "state": "CA", "zip_code": "94538"},
            "customer": {"name": "Lee Live", "email": "live@example.com", "phone": "5105550101"}}
    await asyncio.wait_for(subscribed.wait(), timeout=10)  # the page's event stream is open
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        created = await api.post("/bookings", json={**body, "slot_time": slot})
    assert created.status_code == 201, created.text

    await expect(page.get_by_role("link", name=created.json()["reference"])).to_be_visible(timeout=10_000)
    assert await page.evaluate("window.samePage === true")
    await expect(page.locator("#live-status")).to_have_text(re.compile("Updated at"))
    await screenshot("admin-dashboard-live")
