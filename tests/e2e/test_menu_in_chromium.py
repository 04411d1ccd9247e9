"""The menu in Chromium (issue 16, item 8): every price on /menu equals the unit price of the quote line for the same
item (each item quoted alone through `POST /api/v1/quotes`), with the same label, for each demo station, on a desktop
and on a phone, with no serious accessibility violation and no sideways scroll; and the booking flow's live check of
the base proteins as they are typed."""

from __future__ import annotations

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, expect

from tests.e2e.conftest import SCREENSHOTS

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STATION_ZIPS = {"fre": "94538", "sac": "95814", "aus": "78701"}  # the demo stations' own ZIP codes
GROUPS = {"upgrade": "upgrades", "extra": "extra_proteins", "addon": "addons"}


def cents(price: str) -> int:
    """"$1,025.00" → 102500; "Free" → 0."""
    if price == "Free":
        return 0
    dollars, _, part = price.removeprefix("$").replace(",", "").partition(".")
    return int(dollars) * 100 + int(part)


def quote_body(station_id: int, zip_code: str, line: str) -> dict:
    """A party with the one item of `line` ("adult", "extra:salmon", …) once."""
    body: dict = {"station_id": station_id, "zip_code": zip_code, "adults": 1}
    kind, _, code = line.partition(":")
    if code:
        body[GROUPS[kind]] = {code: 1}
    elif kind != "adult":
        body[{"child": "children", "toddler": "toddlers"}[kind]] = 1
    return body


async def serious_violations(page) -> list:  # noqa: ANN001
    results = await Axe().run(page)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("station", sorted(STATION_ZIPS))
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_every_price_on_the_menu_is_its_quote_lines(browser: Browser, live_server, station, viewport):
    context = await browser.new_context(viewport=viewport)
    try:
        page = await context.new_page()
        await page.goto(f"{live_server}/menu?station={station}")
        await expect(page.locator("h1")).to_have_text("Menu and prices")
        await expect(page.locator(".station-shown")).to_contain_text("station")
        items = await page.locator("tr[data-line]").evaluate_all("""rows => rows.map(row => ({
            line: row.dataset.line, label: row.querySelector('.item-label').innerText.trim(),
            price: row.querySelector('td.price').innerText.trim()}))""")
        href = await page.get_by_role("link", name="Price your party").get_attribute("href")
        station_id = int(href.rsplit("=", 1)[1])

        assert len(items) >= 3 + 1 + 2 + 1, items  # guests, an upgrade, base and premium extras, a side
        assert {item["line"].partition(":")[0] for item in items} == {"adult", "child", "toddler", *GROUPS}
        async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
            for item in items:
                response = await api.post("/quotes", json=quote_body(station_id, STATION_ZIPS[station], item["line"]))
                assert response.status_code == 200, (item, response.text)
                [line] = [q for q in response.json()["lines"] if q["code"] == item["line"]]
                assert (line["label"], line["unit_cents"]) == (item["label"], cents(item["price"])), item

        width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width  # no sideways scroll
        assert await serious_violations(page) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"menu-{station}-{viewport['width']}.png"), full_page=True)
    finally:
        await context.close()


async def test_the_booking_flow_counts_the_proteins_as_they_are_typed(page, live_server, screenshot):
    await page.goto(live_server + "/book")
    await page.get_by_label("Venue ZIP code").fill("94538")
    await page.get_by_label("Adults (13+)").fill("2")
    check = page.locator("#proteins-check")
    await expect(check).to_have_text("Choose 4 proteins (two per adult and child, one per toddler), now or later.")

    await page.get_by_label("Chicken", exact=True).fill("3")
    await expect(check).to_have_text("3 of 4 proteins chosen: 1 to go.")
    await page.get_by_label("Tofu", exact=True).fill("1")
    await expect(check).to_have_text("All 4 proteins chosen.")
    await page.get_by_label("Adults (13+)").fill("3")  # the party grows: the count follows
    await expect(check).to_have_text("4 of 6 proteins chosen: 2 to go.")

    assert await serious_violations(page) == []
    await screenshot("book-proteins-live-check")
