"""Issue 16 in a real browser, each on a desktop and a phone (390×844) viewport, with axe-core: the venue's ZIP code
picks the station (and it is remembered), every quote error shows beside its field as it is typed, − / + steppers
run by keyboard and named for screen readers, the price stays on screen while step one scrolls on a phone, the
chosen day's times come into view (with and without JavaScript) each with its end and time zone, and the review
states its terms line by line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOTS, accessible, choose_day, first_free_slot, station_today
from tests.e2e.test_booking_in_chromium import fill_details

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
SPAN = re.compile(r"^\d{1,2}:\d{2} [AP]M – \d{1,2}:\d{2} [AP]M P[SD]T$")  # Fremont's: America/Los_Angeles


@pytest_asyncio.fixture(loop_scope="session", params=list(VIEWPORTS))
async def screen(request: pytest.FixtureRequest, browser: Browser) -> AsyncIterator[Page]:
    """A page of a fresh browser context, on a desktop or a phone."""
    context = await browser.new_context(**VIEWPORTS[request.param])
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def in_view(page: Page, selector: str) -> bool:
    """Whether the element is wholly inside the viewport as the page is scrolled now."""
    return await page.locator(selector).evaluate(
        "e => { const box = e.getBoundingClientRect();"
        " return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight; }")


async def party(page: Page, zip_code: str = "94538", adults: str = "10") -> None:
    await page.get_by_label("Venue ZIP code").fill(zip_code)
    await page.get_by_label("Adults (13+)").fill(adults)


async def open_menu(page: Page) -> None:
    if await page.locator("details.menu-choices").get_attribute("open") is None:
        await page.get_by_text("Premium proteins, extras and sides").click()


# --- the station follows the customer; errors as typed ------------------------------------------------------------


async def test_the_instant_quote_says_what_is_wrong_as_it_is_typed(screen, live_server):
    page = screen
    await page.goto(live_server + "/quote")
    await page.evaluate("window.samePage = true")  # gone if the browser loads a new page
    zip_code = page.get_by_label("Venue ZIP code")

    await party(page, zip_code="10001")

    await expect(page.locator("#f-zip_code-error")).to_contain_text("10001 is outside our service area")
    await expect(zip_code).to_have_attribute("aria-invalid", "true")
    await expect(zip_code).to_have_attribute("aria-describedby", "f-zip_code-error")
    await expect(page.locator("#quote-result")).to_contain_text("No price yet")
    await accessible(page, every_impact=True)
    await zip_code.fill("94538")  # Fremont's, though Austin is the first station
    await expect(page.locator("#quote-result tr.total td")).to_have_text(re.compile(r"^\$"))
    await expect(page.locator("#quote-result")).to_contain_text("Priced by our Fremont, CA location")
    await expect(page.locator("#f-zip_code-error")).to_have_count(0)
    assert await zip_code.get_attribute("aria-invalid") is None
    assert await page.evaluate("window.samePage === true")


async def test_step_one_says_what_is_wrong_as_it_is_typed(screen, live_server):
    page = screen
    await page.goto(live_server + "/book")
    await party(page, adults="2")
    await open_menu(page)
    filet = page.get_by_label("Upgrade to Filet mignon")

    await filet.fill("5")

    await expect(page.locator("#f-upgrades-error")).to_have_text("At most 4 proteins can be upgraded for this party")
    await expect(page.locator("#f-upgrades")).to_have_class(re.compile(r"\binvalid\b"))
    await expect(page.locator("#price-bar")).to_contain_text("No price yet: please check Premium proteins")
    await accessible(page, every_impact=True)
    await filet.fill("4")
    await expect(page.locator("#price-bar")).to_contain_text(re.compile(r"Total \$[0-9,.]+ · deposit \$100\.00"))
    await expect(page.locator("#f-upgrades-error")).to_have_count(0)
    await page.get_by_label("Venue ZIP code").fill("10001")
    await expect(page.locator("#f-zip_code-error")).to_contain_text("outside our service area")
    await expect(page.locator("#live-quote")).to_contain_text("No price yet")


async def test_the_zip_code_picks_the_station_and_the_site_remembers_it(screen, live_server):
    page = screen
    await page.goto(live_server + "/book")
    await expect(page.locator("#venue-station")).to_contain_text("those of our Austin, TX location")

    await party(page, zip_code="95814")

    await expect(page.locator("#venue-station")).to_contain_text("served by our Sacramento, CA location")
    await expect(page.locator("#live-quote")).to_contain_text("Priced by our Sacramento, CA location")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["mh_station"]["value"] == "SAC" and cookies["mh_station"]["httpOnly"]
    await page.goto(live_server + "/")
    await expect(page.get_by_text("Prices and times of our Sacramento, CA location")).to_be_visible()
    await accessible(page, every_impact=True)


# --- steppers and the price on screen -------------------------------------------------------------------------------


async def test_steppers_work_by_keyboard_and_are_named_for_screen_readers(screen, live_server):
    page = screen
    await page.goto(live_server + "/book")
    await party(page, adults="10")  # above the party minimum: each adult changes the price
    adults = page.get_by_label("Adults (13+)")
    await expect(page.locator("#price-bar")).to_contain_text("Total $")
    first_total = await page.locator("#price-bar strong").inner_text()

    await adults.focus()
    await page.keyboard.press("Tab")  # the next control after the count: its "one more" button
    await expect(page.get_by_role("button", name="One more adult")).to_be_focused()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Space")

    await expect(adults).to_have_value("12")
    await expect(page.locator("p.visually-hidden[role=status]")).to_have_text("Adults (13+): 12")  # read out
    await expect(page.locator("#price-bar strong")).not_to_have_text(first_total)  # the live quote followed
    less = page.get_by_role("button", name="One less adult")
    await adults.fill("2")
    for _ in range(3):  # never below the rules' minimum
        await less.click()
    await expect(adults).to_have_value("1")
    await page.get_by_role("button", name="One more child").click()
    await expect(page.get_by_label("Children (6–12)")).to_have_value("1")
    await accessible(page, every_impact=True)


async def test_without_javascript_the_counts_are_plain_number_boxes(browser, live_server):
    context = await browser.new_context(java_script_enabled=False, **VIEWPORTS["phone"])
    page = await context.new_page()
    try:
        await page.goto(live_server + "/book")
        assert await page.locator(".stepper button:visible").count() == 0
        await party(page)
        await page.get_by_role("button", name="Continue").click()
        await expect(page.get_by_role("heading", name="Date and start time")).to_be_visible()
    finally:
        await context.close()


async def test_step_ones_price_stays_visible_while_scrolling(screen, live_server):
    page = screen
    await page.goto(live_server + "/book")
    await party(page)
    await open_menu(page)
    bar = page.locator("#price-bar")
    await expect(bar).to_contain_text(re.compile(r"Total \$"))

    for where in ("#f-upgrades", "#f-extra_proteins", "#f-addons", "#f-zip_code"):  # down the long form, and back
        await page.locator(where).scroll_into_view_if_needed()
        assert await in_view(page, "#price-bar"), f"the price is off screen at {where}"
    await page.get_by_label("Gyoza").fill("2")  # far down the form: the price on screen follows
    await expect(bar).not_to_contain_text(await bar.locator("strong").inner_text())
    assert await in_view(page, "#price-bar")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"step-one-{page.viewport_size['width']}px.png"))


# --- the times, the review -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_after_picking_a_day_the_times_are_in_view(browser, live_server, javascript):
    for viewport in VIEWPORTS.values():
        context = await browser.new_context(java_script_enabled=javascript, **viewport)
        page = await context.new_page()
        try:
            await page.goto(live_server + "/book")
            await party(page)
            await page.get_by_role("button", name="Continue").click()
            await choose_day(page)

            assert await in_view(page, "#times"), viewport
            labels = await page.locator("#times label.choice").all_inner_texts()
            assert labels and all(SPAN.match(label.strip()) for label in labels), labels
        finally:
            await context.close()


async def test_the_manage_calendar_brings_the_times_into_view_too(browser, live_server):
    day, time = await first_free_slot(live_server, await station_today(live_server) + timedelta(days=20))
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        made = await api.post("/bookings", json={
            "station_id": 1, "adults": 6, "event_date": day, "slot_time": time, "allergies": "none",
            "venue": {"line1": "1 Main St", "city": "Fremont", "state": "CA", "zip_code": "94538"},
            "customer": {"name": "Pat Doe", "email": "pat@example.com", "phone": "5105550100"}})
    assert made.status_code == 201, made.text
    context = await browser.new_context(**VIEWPORTS["phone"])
    page = await context.new_page()
    try:
        await page.goto(f"{live_server}/manage/{made.json()['manage_token']}/reschedule")
        await choose_day(page)

        assert await in_view(page, "#times")
        assert all(SPAN.match(label.strip()) for label in await page.locator("#times label.choice").all_inner_texts())
        await accessible(page, every_impact=True)
    finally:
        await context.close()


async def test_the_review_states_each_term_and_the_whole_time(screen, live_server):
    page = screen
    await page.goto(live_server + "/book")
    await party(page)
    await page.get_by_role("button", name="Continue").click()
    await choose_day(page)
    await accessible(page, every_impact=True)
    first = page.locator('input[name="slot_time"]').first
    await first.check()
    picked = (await page.locator("#times label.choice").first.inner_text()).strip()
    await page.get_by_role("button", name="Continue").click()
    await fill_details(page)
    await page.get_by_role("button", name="Continue").click()

    await expect(page.get_by_role("heading", name="Before you book")).to_be_visible()
    terms = [line.strip() for line in await page.locator("ul.policies li").all_inner_texts()]
    assert [line.split(":")[0] for line in terms] == ["Hold", "Cancel", "Reschedule", "Changes"]
    assert "24 hours" in terms[0] and "$100.00 deposit" in terms[0] and "96 hours (4 days)" in terms[1]
    when = await page.locator("dt:text-is('When') + dd").inner_text()
    assert when.endswith(picked), (when, picked)
    await accessible(page, every_impact=True)


@pytest.mark.parametrize("path", ["/", "/quote", "/book", "/quote?zip_code=10001&adults=4",
                                  "/book?zip_code=10001&adults=4"])
async def test_no_accessibility_violations_on_a_phone(browser, live_server, path):
    context = await browser.new_context(**VIEWPORTS["phone"])
    page = await context.new_page()
    try:
        await page.goto(live_server + path)
        await accessible(page, every_impact=True)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    finally:
        await context.close()
