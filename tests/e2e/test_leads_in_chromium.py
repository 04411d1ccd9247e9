"""The leads pages in a real browser, with axe-core on every page: a card dragged to the next column and moved with
the keyboard, a drag the pipeline refuses (said on the board), the lead's page (factors, a note, a follow-up) and
the dashboard's funnel."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.async_api import Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import accessible, sign_in


async def new_lead(live_server: str, name: str) -> int:
    """A lead entered by staff at Fremont through the API."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        login = await api.post("/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        made = await api.post("/leads", headers=headers, json={
            "station_id": 1, "name": name, "email": f"{uuid.uuid4().hex[:10]}@example.com", "guests": 14,
            "zip_code": "94538", "message": "Backyard birthday"})
        assert made.status_code == 201, made.text
        return made.json()["id"]


def card(page: Page, lead_id: int) -> Any:
    return page.locator(f'[data-lead-id="{lead_id}"]')


def column(page: Page, status: str) -> Any:
    return page.locator(f'[data-drop-status="{status}"]')


async def drag(page: Page, lead_id: int, status: str) -> None:
    """The card dragged onto the column with the mouse: the drag starts on the card before the page scrolls to the
    column (Playwright's `drag_to` scrolls first, and the drag then starts from whatever card the scroll brought
    under the pointer)."""
    source = card(page, lead_id)
    await source.scroll_into_view_if_needed()
    box = await source.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x + 12, y + 12, steps=3)  # past Chromium's drag threshold: this card is dragged
    await column(page, status).hover()
    await page.mouse.up()


async def test_the_board_moves_cards_by_drag_and_by_keyboard(page, live_server, screenshot):
    name = f"Drag Person {uuid.uuid4().hex[:6]}"
    lead_id = await new_lead(live_server, name)
    await sign_in(page, live_server, "admin@example.com")
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Leads").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Leads — Fremont CA")
    await expect(column(page, "new").locator(f'[data-lead-id="{lead_id}"]')).to_be_visible()
    await accessible(page)
    await screenshot("leads-board")

    await drag(page, lead_id, "contacted")  # the browser's own drag and drop
    await expect(page.get_by_role("status").first).to_have_text("The lead is moved.")
    await expect(column(page, "contacted").locator(f'[data-lead-id="{lead_id}"]')).to_be_visible()

    button = page.get_by_role("button", name=f"Move to qualified: {name}")
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").first).to_have_text("The lead is moved.")
    await expect(column(page, "qualified").locator(f'[data-lead-id="{lead_id}"]')).to_be_visible()

    await drag(page, lead_id, "won")  # only a paid deposit wins a lead
    await expect(page.get_by_role("alert")).to_contain_text("deposit paid")
    await expect(column(page, "qualified").locator(f'[data-lead-id="{lead_id}"]')).to_be_visible()
    await accessible(page)

    await drag(page, lead_id, "lost")  # asks why
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Mark {name} lost")
    await accessible(page)
    await page.get_by_label("Price").check()
    await page.get_by_role("button", name="Mark lost").click()
    await expect(page.get_by_role("status").first).to_have_text("The lead is marked lost.")
    await expect(column(page, "lost").locator(f'[data-lead-id="{lead_id}"]')).to_be_visible()


async def test_the_lead_page_and_the_dashboard_funnel(page, live_server, screenshot):
    name = f"Page Person {uuid.uuid4().hex[:6]}"
    lead_id = await new_lead(live_server, name)
    await sign_in(page, live_server, "admin@example.com")
    await page.goto(f"{live_server}/admin/leads/{lead_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    start = await page.get_by_role("link", name="Start a booking").get_attribute("href")
    assert start is not None and start.startswith("/book?station_id=1&zip_code=94538&adults=14&name="), start
    await accessible(page)
    await screenshot("lead-page")

    await page.get_by_label("Call").check()
    await page.get_by_label("What happened").fill("Called; they want the 16th.")
    await page.get_by_role("button", name="Add to the timeline").click()
    await expect(page.get_by_role("status").first).to_have_text("Added to the timeline.")
    await expect(page.locator(".timeline")).to_contain_text("Called; they want the 16th.")

    await page.get_by_label("Follow up by").fill("2030-01-15T09:30")
    await page.get_by_role("button", name="Save follow-up").click()
    await expect(page.get_by_role("status").first).to_have_text("The follow-up is saved.")
    await expect(page.get_by_label("Follow up by")).to_have_value("2030-01-15T09:30")
    await accessible(page)

    await page.goto(f"{live_server}/admin?station=1")
    funnel = page.locator("section", has=page.locator("#funnel-title"))
    await expect(funnel.get_by_role("img")).to_be_visible()
    await expect(funnel.get_by_role("row", name="Leads")).to_be_visible()
    await accessible(page)
    await screenshot("dashboard-funnel")
