"""The customer site in a real browser: no accessibility violation on any page (axe-core), and the instant quote
done with the keyboard alone."""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from myhibachi.web.site.pages import PAGES

SITE_PAGES = [*PAGES, "/locations/fre", "/quote?zip_code=9&adults=x", "/locations/nowhere",
              "/no-such-page"]


@pytest.mark.parametrize("path", SITE_PAGES)
async def test_no_accessibility_violations(page, live_server, path):
    await page.goto(live_server + path)

    results = await Axe().run(page)

    problems = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]
    assert results.violations_count == 0, problems


async def test_a_quote_with_the_keyboard_alone(page, live_server, screenshot):
    await page.goto(live_server + "/quote")
    reached = []
    for _ in range(20):  # Tab from the top of the page until the ZIP code has focus
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if reached[-1] == "f-zip_code":
            break
    assert reached[0] == "Skip to content" and reached[-1] == "f-zip_code", reached
    await page.keyboard.type("94536")  # Fremont's: it picks the Fremont station
    await page.keyboard.press("Tab")  # the adults' "one less" button
    await page.keyboard.press("Tab")
    await page.keyboard.type("12")
    await page.keyboard.press("Tab")  # "one more"
    await page.keyboard.press("Enter")  # 13 adults
    await page.keyboard.press("Tab")  # the children's "one less"
    await page.keyboard.press("Tab")
    await page.keyboard.type("3")
    await page.keyboard.press("Enter")

    await page.wait_for_selector("text=Your quote")
    await screenshot("quote-result")
    total = await page.locator("tr.total td").inner_text()
    assert total.startswith("$") and await page.locator("#f-zip_code").input_value() == "94536"
    assert await page.locator("#f-adults").input_value() == "13" and "adults=13" in page.url
    assert "Priced by our Fremont, CA location" in await page.locator("#quote-result").inner_text()


async def test_a_mistake_is_announced_beside_its_field(page, live_server, screenshot):
    await page.goto(live_server + "/quote?station_id=1&zip_code=123&adults=10")

    alert = page.get_by_role("alert")
    field = page.get_by_label("Venue ZIP code")

    assert "Please check 1 field" in await alert.inner_text()
    assert await field.get_attribute("aria-invalid") == "true"
    described_by = await field.get_attribute("aria-describedby")
    assert await page.locator(f"#{described_by}").inner_text() == "Please enter 5 digits."
    await screenshot("quote-error")


async def test_the_quote_updates_as_the_form_is_filled_in(page, live_server, screenshot):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto(live_server + "/quote")
    await page.evaluate("window.samePage = true")  # gone if the browser loads a new page

    await page.get_by_label("Venue ZIP code").fill("94536")
    await page.get_by_label("Adults (13+)").fill("20")
    await page.wait_for_selector("#quote-result >> text=Your quote")
    first_total = await page.locator("tr.total td").inner_text()
    await page.get_by_label("Adults (13+)").fill("30")
    await expect(page.locator("tr.total td")).not_to_have_text(first_total)  # (the CSP forbids eval'd waits)

    assert await page.evaluate("window.samePage === true")
    assert "adults=30" in page.url  # the address still gives this quote when shared or reloaded
    assert errors == [], errors  # htmx runs under the strict CSP (no inline styles, no eval)
    await screenshot("quote-live")
