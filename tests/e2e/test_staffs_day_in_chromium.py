"""The staff's day in Chromium, on a desktop and on a phone (390x844): the header's search finds a booking by the
customer's phone typed any way and opens it; the week's run sheet shows the event with its chef, map link, allergies
and what to collect; the chef's landing page is their event card with big tap targets. No sideways scroll on the
phone, and axe-core finds no serious violation on any of these pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest_asyncio
from playwright.async_api import Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, accessible, sign_in, station_today
from tests.e2e.test_admin_on_a_phone_in_chromium import PHONE, no_sideways_scroll, phone_page

DESKTOP = {"width": 1280, "height": 800}
MAP = re.compile(r"^https://www\.google\.com/maps/search/\?api=1&query=\d+\+Run\+Sheet\+Way%2C\+Fremont%2C\+CA"
                 r"\+94538$")


async def free_times(api: httpx.AsyncClient, station_id: int, first: date, last: date) -> list[tuple[str, str]]:
    response = await api.get(f"/stations/{station_id}/availability", params={
        "start": first.isoformat(), "end": last.isoformat(), "guests": 8})
    assert response.status_code == 200, response.text
    return [(d["date"], s["time"]) for d in response.json()["days"] for s in d["slots"] if s["available"]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def event(live_server: str) -> AsyncIterator[dict[str, Any]]:
    """A confirmed Fremont event 3 to 6 days ahead (within the week's run sheet) with a customer of its own,
    cooked by the demo chef, at a station whose chefs collect balances while this module runs."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        login = await api.post("/auth/login", json={"email": "superadmin@example.com", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        station = next(s for s in (await api.get("/stations")).json() if s["code"] == "FRE")
        users = {u["email"]: u for u in (await api.get("/users", headers=headers)).json()["items"]}
        chefs = (await api.get(f"/stations/{station['id']}/chefs", headers=headers)).json()
        [chef] = [c for c in chefs if c["user_id"] == users["chef@example.com"]["id"]]
        today = await station_today(live_server, station["id"])
        tag = uuid.uuid4().int % 9000 + 1000
        phone = f"510555{tag}"
        booking = None
        for day, time in await free_times(api, station["id"], today + timedelta(days=3), today + timedelta(days=6)):
            booked = await api.post("/bookings", json={
                "station_id": station["id"], "adults": 6, "children": 2, "event_date": day, "slot_time": time,
                "venue": {"line1": f"{tag} Run Sheet Way", "city": "Fremont", "state": "CA", "zip_code": "94538"},
                "customer": {"name": f"Morgan Daybook {tag}", "email": f"morgan{tag}@example.com", "phone": phone},
                "allergies": "Shellfish (two guests)"})
            assert booked.status_code == 201, booked.text
            booking = booked.json()
            assigned = await api.post(f"/bookings/{booking['id']}/assign-chef", headers=headers,
                                      json={"chef_id": chef["id"]})
            if assigned.status_code == 200:
                break
            # The demo chef cooks elsewhere then (another test's event): free the time and try the next one.
            await api.post(f"/bookings/{booking['id']}/cancel", headers=headers, json={"reason": "Test: chef busy"})
            booking = None
        assert booking is not None, "the demo chef has no free time in the coming week"
        confirmed = await api.post(f"/bookings/{booking['id']}/confirm", headers=headers)
        assert confirmed.status_code == 200, confirmed.text
        collecting = await api.patch(f"/stations/{station['id']}", headers=headers,
                                     json={"chefs_collect_balance": True})
        assert collecting.status_code == 200, collecting.text
        try:
            yield {**booking, "tag": tag, "phone": phone, "chef": chef["name"], "station": station}
        finally:
            await api.patch(f"/stations/{station['id']}", headers=headers, json={"chefs_collect_balance": False})


async def checked(page: Page, name: str, *, phone: bool) -> None:
    """No sideways scroll on a phone, no serious axe violation, and a screenshot (artifacts/screenshots)."""
    if phone:
        await no_sideways_scroll(page)
    await accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def search_from_the_header(page: Page, typed: str) -> None:
    box = page.get_by_role("searchbox", name="Find a booking")
    await box.fill(typed)
    await box.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Search bookings")


async def test_the_header_search_finds_a_booking_by_phone_and_name(browser, live_server, event):
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        async with phone_page(browser, viewport=viewport) as page:
            await sign_in(page, live_server, "admin@example.com")
            spaced = f"({event['phone'][:3]}) {event['phone'][3:6]}-{event['phone'][6:]}"
            await search_from_the_header(page, spaced)
            result = page.get_by_role("link", name=event["reference"])
            await expect(result).to_be_visible()
            await expect(page.locator("main").get_by_role("status")).to_contain_text(f"1 booking matches “{spaced}”")
            await checked(page, f"admin-search-{name}", phone=name == "phone")

            await search_from_the_header(page, f"morgan daybook {event['tag']}")
            await expect(page.get_by_role("link", name=event["reference"])).to_be_visible()
            await search_from_the_header(page, "nobody by this name")
            await expect(page.get_by_text("No booking matches “nobody by this name”")).to_be_visible()
            await checked(page, f"admin-search-empty-{name}", phone=name == "phone")

            await search_from_the_header(page, event["reference"].lower())
            await page.get_by_role("link", name=event["reference"]).click()
            await expect(page.get_by_role("heading", level=1)).to_have_text(f"Booking {event['reference']}")


async def test_the_week_run_sheet_shows_what_the_day_needs(browser, live_server, event):
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        async with phone_page(browser, viewport=viewport) as page:
            await sign_in(page, live_server, "manager@example.com")
            await page.goto(f"{live_server}/admin/today?station={event['station']['id']}")
            await expect(page.get_by_role("heading", level=1)).to_have_text("Today — Fremont CA")
            await page.get_by_role("navigation", name="Days shown").get_by_role("link", name="This week").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("This week — Fremont CA")
            card = page.get_by_role("article").filter(has_text=event["reference"])
            await expect(card).to_contain_text(event["chef"])
            await expect(card).to_contain_text("Shellfish (two guests)")
            await expect(card).to_contain_text("To collect")
            await expect(card.locator(".badge")).to_have_text("Confirmed")
            await expect(card.get_by_role("link", name=re.compile("^Map"))).to_have_attribute("href", MAP)
            await checked(page, f"admin-run-sheet-week-{name}", phone=name == "phone")


async def test_a_chef_on_a_phone_lands_on_their_event_card(browser, live_server, event):
    async with phone_page(browser, viewport=PHONE) as page:
        await sign_in(page, live_server, "chef@example.com")
        await page.goto(f"{live_server}/admin?station={event['station']['id']}")
        card = page.get_by_role("article").filter(has_text=event["reference"])
        await expect(card).to_be_visible()
        await expect(card).to_contain_text("Shellfish (two guests)")
        await expect(card).to_contain_text(f"{event['tag']} Run Sheet Way")
        await expect(card.locator(".card-collect")).to_contain_text("$")
        for target in (card.get_by_role("link", name=re.compile("^Map")), card.get_by_role("link", name=re.compile(
                "^Call"))):
            box = await target.bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 44, box  # a thumb's tap target
        await expect(card.get_by_role("link", name=re.compile("^Call"))).to_have_attribute(
            "href", f"tel:+1{event['phone']}")
        await checked(page, "admin-chef-card-phone", phone=True)

        await page.get_by_role("button", name="Menu").click()
        await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Today").click()
        await page.get_by_role("navigation", name="Days shown").get_by_role("link", name="This week").click()
        await expect(page.get_by_role("article").filter(has_text=event["reference"])).to_be_visible()
        await checked(page, "admin-chef-run-sheet-phone", phone=True)
