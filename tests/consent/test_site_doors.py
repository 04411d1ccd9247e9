"""The site's doors to news and offers: the footer's form on every page (CSRF, honeypot, the same thank-you for
every address) and the booking flow's unticked "Send me news and offers" box, each a grant and a confirmation
email; a booking's own emails never depend on it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from myhibachi.bookings.models import Booking
from tests.bookings.conftest import EVENT_DAY
from tests.conftest import read_mails
from tests.consent.conftest import all_events, confirmation_mails, ledger, link_in
from tests.web.browserless import Page, read, submit

PARTY = {"zip_code": "94538", "adults": "12", "children": "4", "toddlers": "1"}
DETAILS = {"venue_line1": "4100 Mowry Ave", "venue_city": "Fremont", "venue_state": "CA", "name": "Dana Lee",
           "email": "Dana@Example.com", "phone": "(510) 555-0142", "allergies": "none"}


async def footer_subscribe(client, path: str, email: str, **fields: str) -> Page:  # noqa: ANN001
    page = read(await client.get(path))
    [footer] = page.footer
    return await submit(client, page, None, form=footer, email=email, **fields)


@pytest.mark.parametrize("path", ["/", "/menu", "/faq", "/contact", "/privacy", "/book", "/subscribe"])
async def test_every_site_page_has_the_footer_form(client, station, path):
    page = read(await client.get(path))
    [footer] = page.footer
    assert footer.action == "/subscribe" and {"email", "csrf_token", "website"} <= set(footer.fields)
    assert '<label for="f-subscribe-email">' in page.text and page.text.count('id="f-subscribe-email"') == 1


async def test_the_footer_form_grants_and_emails_and_thanks_everyone_alike(client, db, settings, station):
    first = await footer_subscribe(client, "/menu", "dana@example.com")
    assert first.response.status_code == 200 and str(first.response.url).endswith("/subscribe/sent")
    assert "Please check your inbox" in first.text and "dana@example.com" not in first.text
    [granted] = await all_events(db)
    assert (granted.source, granted.station_id, granted.ip) == ("footer_form", station.id, "203.0.113.7")
    await client.get(link_in(confirmation_mails(settings, "dana@example.com")[0]))

    again = await footer_subscribe(client, "/", "dana@example.com")  # confirmed already
    other = await footer_subscribe(client, "/", "ari@example.com")

    assert again.text == other.text  # the same words whatever the address
    assert len(confirmation_mails(settings, "dana@example.com")) == 1
    assert len(confirmation_mails(settings, "ari@example.com")) == 1
    assert await ledger(db, "dana@example.com") == [("granted", "footer_form"), ("confirmed", "confirmation_link")]


async def test_a_refused_footer_post_keeps_nothing(client, db, settings, station):
    expired = await footer_subscribe(client, "/", "dana@example.com", csrf_token="x" * 43)
    bot = await footer_subscribe(client, "/", "dana@example.com", website="http://spam.example")
    typo = await footer_subscribe(client, "/", "dana-at-example")

    assert (expired.response.status_code, bot.response.status_code, typo.response.status_code) == (403, 422, 422)
    assert "This form had expired" in expired.text
    assert typo.errors == {"email": "Please enter your email address, like name@example.com."}
    assert typo.form.fields["email"] == "dana-at-example"  # shown again as typed
    assert await all_events(db) == [] and read_mails(settings) == []


async def to_review(client, news: bool) -> Page:  # noqa: ANN001
    page = await submit(client, read(await client.get("/book")), **PARTY)
    page = await submit(client, page, ("go", f"day:{EVENT_DAY}"))
    page = await submit(client, page, slot_time="18:00")
    assert "news" not in page.form.fields  # not on this step
    page = await submit(client, page, **DETAILS)
    assert "Before you book" in page.text, page.errors
    return page


async def details_step(client) -> Page:  # noqa: ANN001
    page = await submit(client, read(await client.get("/book")), **PARTY)
    page = await submit(client, page, ("go", f"day:{EVENT_DAY}"))
    return await submit(client, page, slot_time="18:00")


async def test_the_booking_flows_news_box_is_unticked_and_unticked_asks_nothing(client, db, settings, station):
    page = await details_step(client)
    assert 'type="checkbox" name="news" value="yes"' in page.text and "Send me news and offers" in page.text
    assert "news" not in page.form.fields  # unticked

    review = await submit(client, page, **DETAILS)
    done = await submit(client, review, ("go", "book"))

    assert done.response.status_code == 200
    assert await all_events(db) == []
    assert confirmation_mails(settings, "dana@example.com") == []
    assert any(m["To"] == "dana@example.com" for m in read_mails(settings))  # the booking's own email went


async def test_the_ticked_news_box_grants_and_emails_once_the_booking_is_made(client, db, settings, station):
    page = await details_step(client)
    page.form.fields["news"] = "yes"  # the visitor ticks the box
    review = await submit(client, page, **DETAILS)
    assert review.form.fields["news"] == "yes"  # carried to the review
    assert await all_events(db) == []  # nothing before the booking is made

    await submit(client, review, ("go", "book"))

    async with db.transaction(write=False) as session:
        booking = await session.scalar(select(Booking))
    [granted] = await all_events(db)
    assert (granted.contact_id, granted.source, granted.station_id, granted.action) == (
        booking.customer_id, "booking_flow", station.id, "granted")
    [mail] = confirmation_mails(settings, "dana@example.com")
    await client.get(link_in(mail))
    assert await ledger(db, "dana@example.com") == [("granted", "booking_flow"), ("confirmed", "confirmation_link")]


async def test_unticking_the_box_on_the_way_back_asks_nothing(client, db, settings, station):
    page = await details_step(client)
    page.form.fields["news"] = "yes"
    review = await submit(client, page, **DETAILS)
    details = await submit(client, review, ("go", "back"))
    assert details.form.fields.get("news") == "yes"  # shown ticked, as chosen
    del details.form.fields["news"]  # unticked
    review = await submit(client, details)
    await submit(client, review, ("go", "book"))
    assert await all_events(db) == [] and confirmation_mails(settings, "dana@example.com") == []
