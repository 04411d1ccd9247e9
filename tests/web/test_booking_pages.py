"""The booking flow at /book as a browser without JavaScript uses it: steps that keep what was typed, errors
beside their fields, the calendar offering only free start times, a slot taken meanwhile, CSRF, the honeypot,
rate limits, and the deposit page it ends on."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from myhibachi.bookings.models import Booking
from tests.bookings.conftest import API, EVENT_DAY, booking_body
from tests.web.browserless import Page, read, submit

PARTY = {"zip_code": "94538", "adults": "12", "children": "4", "toddlers": "1", "upgrades.filet_mignon": "3",
         "addons.gyoza": "1"}
DETAILS = {"venue_line1": "4100 Mowry Ave", "venue_city": "Fremont", "venue_state": "CA", "name": "Dana Lee",
           "email": "dana@example.com", "phone": "(510) 555-0142", "allergies": "none"}


async def bookings_count(db) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(Booking)) or 0


async def to_calendar(client) -> Page:  # noqa: ANN001
    start = read(await client.get("/book"))
    page = await submit(client, start, **PARTY)
    assert page.response.status_code == 200 and "Date and start time" in page.text, page.errors
    return page


async def to_review(client, day: str = str(EVENT_DAY), slot: str = "18:00") -> Page:  # noqa: ANN001
    calendar = await to_calendar(client)
    page = await submit(client, calendar, ("go", f"day:{day}"))
    page = await submit(client, page, slot_time=slot)
    assert "Venue and contact" in page.text, page.errors
    page = await submit(client, page, **DETAILS)
    assert page.response.status_code == 200 and "Before you book" in page.text, page.errors
    return page


async def test_the_whole_flow_without_javascript_holds_the_date_and_asks_for_the_deposit(client, station, db):
    review = await to_review(client)
    assert "Thursday, December 10, 2026, 6:00 PM – 7:30 PM PST" in review.text
    assert "$100.00" in review.text and "96 hours" in review.text  # deposit and refund window, from the rules

    done = await submit(client, review, ("go", "book"))

    assert done.response.status_code == 200
    assert re.search(r"/manage/[A-Za-z0-9_-]{20,}/pay$", str(done.response.url))
    assert "Pay the deposit" in done.text and "held for you until" in done.text
    assert "Zelle" in done.text and "Venmo" in done.text
    token = str(done.response.url).split("/")[-2]
    booking = (await client.get(f"{API}/manage/{token}")).json()
    assert booking["status"] == "pending_deposit" and booking["slot_time"] == "18:00"
    party = booking["party"]
    assert (party["adults"], party["children"], party["toddlers"]) == (12, 4, 1)
    assert party["upgrades"] == {"filet_mignon": 3} and party["addons"] == {"gyoza": 1}
    assert booking["quote"]["total_cents"] > 0 and booking["customer"]["email"] == "dana@example.com"


async def test_the_confirmation_page_shows_the_booking_only_to_the_browser_that_made_it(client, station, app):
    done = await submit(client, await to_review(client), ("go", "book"))
    reference = re.search(r"MH-[A-Z0-9]+", done.text).group(0)

    mine = await client.get(f"/bookings/{reference}/confirmed")
    client.cookies.clear()
    theirs = await client.get(f"/bookings/{reference}/confirmed")

    assert mine.status_code == 200 and "Your date is held" in mine.text and "4100 Mowry Ave" in mine.text
    assert theirs.status_code == 200 and "4100 Mowry Ave" not in theirs.text and reference in theirs.text


async def test_back_keeps_what_was_entered(client, station):
    review = await to_review(client)

    details = await submit(client, review, ("go", "back"))
    calendar = await submit(client, details, ("go", "back"))
    party = await submit(client, calendar, ("go", "back"))

    assert details.form.fields["email"] == "dana@example.com" and details.form.fields["allergies"] == "none"
    assert calendar.form.fields["slot_time"] == "18:00" and calendar.form.fields["event_date"] == str(EVENT_DAY)
    assert party.form.fields["adults"] == "12" and party.form.fields["upgrades.filet_mignon"] == "3"
    forward = await submit(client, party)
    assert forward.form.fields["slot_time"] == "18:00"  # and forward again, nothing lost


async def test_errors_are_shown_beside_their_fields_and_keep_the_input(client, station, db):
    start = read(await client.get("/book"))

    page = await submit(client, start, zip_code="9453", adults="twelve", children="2")

    assert page.response.status_code == 422
    assert page.errors["zip_code"] == "Please enter 5 digits."
    assert page.errors["adults"] == "Please enter a whole number."
    assert page.form.fields["children"] == "2" and page.form.fields["zip_code"] == "9453"
    assert 'aria-invalid="true" aria-describedby="f-zip_code-error"' in page.text


async def test_details_are_checked_before_the_review(client, station, db):
    calendar = await to_calendar(client)
    page = await submit(client, await submit(client, calendar, ("go", f"day:{EVENT_DAY}")), slot_time="18:00")

    page = await submit(client, page, **{**DETAILS, "email": "dana", "phone": "12", "allergies": " ", "venue_state":
                                         "California"})

    assert page.response.status_code == 422
    assert set(page.errors) == {"email", "phone", "allergies", "venue_state"}
    assert page.errors["venue_state"] == "Please enter the 2-letter state code, like CA."
    assert await bookings_count(db) == 0


async def test_the_calendar_offers_only_free_times(client, station, book):
    for _ in range(2):  # both chefs busy at 18:00 on the event day
        await book(station.id, EVENT_DAY, "18:00", email=f"x{_}@example.com")
    calendar = await to_calendar(client)

    day = await submit(client, calendar, ("go", f"day:{EVENT_DAY}"))

    assert "18:00" not in day.form.radios["slot_time"] and day.form.radios["slot_time"]
    assert ("go", "day:2026-12-02") not in calendar.form.buttons  # inside the 48-hour notice
    assert ("go", "day:2026-12-04") in calendar.form.buttons
    not_offered = await submit(client, day, slot_time="18:00")
    assert not_offered.response.status_code == 422 and "not free" in not_offered.errors["slot_time"]


async def test_a_slot_taken_meanwhile_gives_fresh_options_not_an_error(client, station, book, db):
    review = await to_review(client, slot="18:00")
    for n in range(2):
        await book(station.id, EVENT_DAY, "18:00", email=f"other{n}@example.com")

    page = await submit(client, review, ("go", "book"))

    assert page.response.status_code == 409
    assert "someone has just booked" in page.text and "Date and start time" in page.text
    assert "18:00" not in page.form.radios.get("slot_time", []) and page.form.radios["slot_time"]
    assert page.form.fields["email"] == "dana@example.com"  # the rest of the input is kept
    assert await bookings_count(db) == 2
    again = await submit(client, await submit(client, page, slot_time="15:00"), **{})
    done = await submit(client, again, ("go", "book"))
    assert "/pay" in str(done.response.url)


async def test_pressing_book_twice_books_once(client, station, db):
    review = await to_review(client)

    first = await submit(client, review, ("go", "book"))
    second = await submit(client, review, ("go", "book"))

    assert str(first.response.url) == str(second.response.url)
    assert await bookings_count(db) == 1


async def test_a_post_without_the_csrf_token_changes_nothing(client, station, db):
    review = await to_review(client)
    review.form.fields["csrf_token"] = "forged-token-forged-token"

    page = await submit(client, review, ("go", "book"))

    assert page.response.status_code == 403 and "expired" in page.text
    assert await bookings_count(db) == 0
    assert page.form.fields["email"] == "dana@example.com"
    assert (await submit(client, page, ("go", "book"))).response.status_code == 200  # the fresh form works


async def test_the_honeypot_turns_bots_away(client, station, db):
    review = await to_review(client)

    page = await submit(client, review, ("go", "book"), website="http://spam.example")

    assert page.response.status_code == 422 and "could not be sent" in page.text
    assert await bookings_count(db) == 0


async def test_too_many_posts_from_one_address_are_refused(client, station, runtime, monkeypatch):
    from myhibachi.core.ratelimit import Throttle

    runtime.public_form_posts_by_ip = Throttle(runtime.public_form_posts_by_ip.storage, "test-form", 3, 60)
    start = read(await client.get("/book"))
    statuses = [(await submit(client, start, **PARTY)).response.status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    refused = await submit(client, start, **PARTY)
    assert "Too many tries" in refused.text and refused.form.fields["adults"] == "12"


async def test_holds_per_address_are_limited(client, station, settings, runtime):
    from myhibachi.core.ratelimit import Throttle

    runtime.booking_holds_by_ip = Throttle(runtime.booking_holds_by_ip.storage, "test-hold", 1, 3600)
    await submit(client, await to_review(client, slot="18:00"), ("go", "book"))

    page = await submit(client, await to_review(client, slot="15:00"), ("go", "book"))

    assert page.response.status_code == 429 and "held several dates" in page.text


async def test_holds_through_the_api_and_the_site_share_one_count(client, station, runtime):
    from myhibachi.core.ratelimit import Throttle

    runtime.booking_holds_by_ip = Throttle(runtime.booking_holds_by_ip.storage, "test-hold-shared", 1, 3600)
    held = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="18:00"))

    page = await submit(client, await to_review(client, slot="15:00"), ("go", "book"))

    assert held.status_code == 201
    assert page.response.status_code == 429 and "held several dates" in page.text


async def test_the_quote_page_leads_into_the_booking_with_the_party_filled_in(client, station):
    quote = await client.get("/quote", params={"station_id": station.id, "zip_code": "94538", "adults": "10"})
    link = re.search(r'href="(/book\?[^"]+)"', quote.text).group(1).replace("&amp;", "&")

    start = read(await client.get(link))

    assert start.form.fields["adults"] == "10" and start.form.fields["zip_code"] == "94538"
    assert "Your price so far" in start.text


async def test_the_live_quote_follows_the_party(client, station):
    response = await client.post("/book/quote", data={"station_id": station.id, **PARTY})
    bigger = await client.post("/book/quote", data={"station_id": station.id, **PARTY, "adults": "20"})

    totals = [re.search(r'class="total"><th scope="row">Total</th><td>([^<]+)<', r.text).group(1)
              for r in (response, bigger)]
    assert totals[0] != totals[1] and all(t.startswith("$") for t in totals)
    half = await client.post("/book/quote", data={"station_id": station.id, "zip_code": "945"})
    assert half.status_code == 200 and "appears here" in half.text


@pytest.mark.parametrize("path", ["/manage/not-a-real-token-at-all-xxxxx/pay", "/manage/short/pay"])
async def test_an_unknown_pay_link_is_a_page_not_found(client, station, path):
    response = await client.get(path)

    assert response.status_code == 404 and "could not find" in response.text


async def test_the_pay_page_of_a_confirmed_booking_asks_for_the_balance(client, station, book, make_user, login):
    from myhibachi.auth.permissions import Role

    created = await book(station.id)
    await make_user("cashier@example.com", Role.admin, station)
    staff = await login("cashier@example.com")
    paid = await client.post(f"{API}/bookings/{created['id']}/payments", headers=staff,
                             json={"method": "zelle", "amount_cents": 10000, "reference": "Z1"})
    assert paid.status_code == 201, paid.text

    page = await client.get(f"/manage/{created['manage_token']}/pay")

    balance = created["quote"]["total_cents"] - 10000
    assert page.status_code == 200 and "Pay the deposit" not in page.text
    assert f"${balance // 100:,}.{balance % 100:02d}" in page.text

