"""The admin panel's shell in Chromium: signing in (and a wrong password), each role's menu, the dashboard
without accessibility violations, and a new booking appearing on an open dashboard without a reload."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in


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


@pytest.mark.parametrize(("email", "expected"), [
    ("superadmin@example.com", ["Dashboard", "Bookings", "Payments", "Chefs", "Stations and rules", "Users",
                                "Audit log", "My account"]),
    ("admin@example.com", ["Dashboard", "Bookings", "Payments", "Chefs", "Stations and rules", "Users", "Audit log",
                           "My account"]),
    ("manager@example.com", ["Dashboard", "Bookings", "Payments", "Chefs", "Users", "My account"]),
    ("support@example.com", ["Dashboard", "Bookings", "Payments", "My account"]),
    ("chef@example.com", ["Dashboard", "My events", "My time off", "My account"]),
])
async def test_each_role_sees_its_menu(page, live_server, email, expected):
    await sign_in(page, live_server, email)

    menu = await page.get_by_role("navigation", name="Admin").get_by_role("link").all_inner_texts()

    assert menu == expected


async def test_a_new_booking_appears_on_an_open_dashboard(page, live_server, screenshot):
    await sign_in(page, live_server, "admin@example.com")
    await page.evaluate("window.samePage = true")  # gone if the page reloads
    day = (date.today() + timedelta(days=5)).isoformat()
    body = {"station_id": 1, "adults": 9, "event_date": day, "allergies": "none",
            "venue": {"line1": "1 Live Update Way", "city": "Fremont", "state": "CA", "zip_code": "94538"},
            "customer": {"name": "Lee Live", "email": "live@example.com", "phone": "5105550101"}}
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        availability = (await api.get("/stations/1/availability", params={"start": day, "end": day})).json()
        slot = next(s["time"] for s in availability["days"][0]["slots"] if s["available"])
        await page.wait_for_timeout(300)  # the page's event stream is open
        created = await api.post("/bookings", json={**body, "slot_time": slot})
    assert created.status_code == 201, created.text

    await expect(page.get_by_role("link", name=created.json()["reference"])).to_be_visible(timeout=10_000)
    assert await page.evaluate("window.samePage === true")
    await expect(page.locator("#live-status")).to_have_text(re.compile("Updated at"))
    await screenshot("admin-dashboard-live")
