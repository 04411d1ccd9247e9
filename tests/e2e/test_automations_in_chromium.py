"""The automations editor and the private feedback form in a real browser, axe-core clean: a sequence's step
edited, previewed as its email in the frame, a step added and saved; a customer's 2-star feedback and the thank-you
page that shows everyone the public review links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect
from sqlalchemy import select

from myhibachi.bookings.models import BookingStatus
from myhibachi.core.db import Database
from myhibachi.reviews.commands import feedback_url
from myhibachi.reviews.models import Feedback
from myhibachi.stations.models import Station
from tests.e2e.conftest import SERVED, accessible, sign_in
from tests.factories import insert_booking


async def test_an_admin_edits_previews_and_saves_a_sequence(page: Page, live_server: str, screenshot):  # noqa: ANN001
    await sign_in(page, live_server)
    await page.get_by_role("link", name="Automations").first.click()
    await expect(page.get_by_role("heading", name="Automations", level=1)).to_be_visible()
    await accessible(page)
    await page.get_by_role("link", name="Thank you and review request").click()
    await expect(page.get_by_role("heading", name="Thank you and review request")).to_be_visible()
    await accessible(page)

    step = page.locator("#step-1")
    await step.get_by_label("Subject").fill("A big thank-you from {station}")
    await page.get_by_role("button", name="Preview step 1").click()
    frame = page.frame_locator('iframe[name="preview"]')
    await expect(frame.get_by_text("Thank you for having us!")).to_be_visible()
    await expect(frame.get_by_text("Share your feedback")).to_be_visible()

    await page.get_by_role("button", name="Add a step").click()
    await expect(page.locator("p.notice")).to_contain_text("Nothing is saved until you press Save")
    second = page.locator("#step-2")
    await second.get_by_label("Wait before it").fill("7")
    await second.get_by_label("Subject").fill("Did you see our review pages?")
    await second.get_by_label("Body (markdown)").fill("Hi {first_name}, {review_links}")
    await accessible(page)
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("p.notice")).to_contain_text("Saved.")
    await expect(page.locator("#step-1").get_by_label("Subject")).to_have_value("A big thank-you from {station}")
    await expect(page.locator("#step-2").get_by_label("Subject")).to_have_value("Did you see our review pages?")
    await screenshot("automations-editor")
    await accessible(page)


async def completed_party(email: str) -> int:
    settings = SERVED["settings"]
    db = Database(settings.database_url)
    try:
        async with db.transaction(write=False) as session:
            station = await session.scalar(select(Station).order_by(Station.id))
        start = datetime.now(UTC) - timedelta(days=2)
        return await insert_booking(db, station, start, status=BookingStatus.completed, email=email)
    finally:
        await db.dispose()


async def test_a_customer_rates_privately_and_is_shown_the_review_pages(page: Page, live_server: str,
                                                                      screenshot):  # noqa: ANN001
    booking_id = await completed_party("rater@example.com")
    await page.goto(feedback_url(SERVED["settings"], booking_id))
    await expect(page.get_by_role("heading", name="How was your party?")).to_be_visible()
    await accessible(page)

    await page.get_by_role("button", name="Send my feedback").click()  # no rating chosen: said beside it
    await expect(page.get_by_role("alert")).to_contain_text("nothing was sent")
    await page.get_by_label("2 stars — Poor").check()
    await page.get_by_label("Anything you would like to tell us? (optional)").fill("The chef came late.")
    await accessible(page)
    await page.get_by_role("button", name="Send my feedback").click()
    await expect(page.get_by_role("heading", name="Thank you for your feedback")).to_be_visible()
    await screenshot("feedback-thanks")
    await accessible(page)

    db = Database(SERVED["settings"].database_url)
    try:
        async with db.transaction(write=False) as session:
            feedback = await session.scalar(select(Feedback).where(Feedback.booking_id == booking_id))
    finally:
        await db.dispose()
    assert (feedback.rating, feedback.comment) == (2, "The chef came late.")
