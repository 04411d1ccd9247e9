"""Email and text hygiene of a booking (issue 14, item 8): control characters are refused, a line break is refused
where a line has no room for it (names, venue lines) and kept where it means something (allergies, notes) without
forging lines in the plain-text email, and an email address is matched in its normal form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from myhibachi.bookings.models import Booking
from myhibachi.contacts.models import Contact
from tests.api.test_problems import assert_problem
from tests.bookings.conftest import API, booking_body
from tests.conftest import mail_files, mail_text, read_mails


async def bookings_count(db) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(Booking)) or 0


def with_contact(station_id: int, **contact: str) -> dict:
    body = booking_body(station_id)
    body["customer"] = {**body["customer"], **contact}
    return body


def with_venue(station_id: int, **venue: str) -> dict:
    body = booking_body(station_id)
    body["venue"] = {**body["venue"], **venue}
    return body


@pytest.mark.parametrize(("make_body", "field"), [
    (lambda s: with_contact(s, name="Dana\x00Lee"), "body.customer.name"),
    (lambda s: with_contact(s, name="Dana\x07Lee"), "body.customer.name"),
    (lambda s: with_venue(s, city="Fre\x1bmont"), "body.venue.city"),
    (lambda s: booking_body(s, allergies="nuts\x00"), "body.allergies"),
    (lambda s: booking_body(s, notes="gate\x7f code"), "body.notes"),
    (lambda s: booking_body(s, notes="gate\x85code"), "body.notes"),  # NEL, a C1 control
    (lambda s: with_contact(s, email="dana\x00@example.com"), "body.customer.email"),
], ids=["nul-in-name", "bell-in-name", "escape-in-city", "nul-in-allergies", "delete-in-notes", "c1-in-notes",
        "nul-in-email"])
async def test_control_characters_are_refused_with_a_field_error(client, station, db, settings, make_body, field):
    response = await client.post(f"{API}/bookings", json=make_body(station.id))

    body = assert_problem(response, 422, "validation_error")
    errors = {error["field"]: error["message"] for error in body["errors"]}
    assert list(errors) == [field]
    if field != "body.customer.email":
        assert "control character" in errors[field]
    assert await bookings_count(db) == 0 and not mail_files(settings)


@pytest.mark.parametrize(("make_body", "field"), [
    (lambda s: with_contact(s, name="Dana Lee\r\nBcc: eve@example.com"), "body.customer.name"),
    (lambda s: with_contact(s, name="Dana\nLee"), "body.customer.name"),
    (lambda s: with_venue(s, line1="4100 Mowry Ave\nTotal: $0.00"), "body.venue.line1"),
    (lambda s: with_venue(s, line2="Suite 5\rPaid: $999"), "body.venue.line2"),
    (lambda s: with_venue(s, city="Fremont\u2028Paid"), "body.venue.city"),  # a Unicode line separator
], ids=["crlf-in-name", "lf-in-name", "lf-in-line1", "cr-in-line2", "u2028-in-city"])
async def test_line_breaks_are_refused_in_names_and_venue_lines(client, station, db, make_body, field):
    response = await client.post(f"{API}/bookings", json=make_body(station.id))

    body = assert_problem(response, 422, "validation_error")
    [error] = body["errors"]
    assert error["field"] == field and "one line" in error["message"]
    assert await bookings_count(db) == 0


async def test_a_line_break_at_the_ends_of_a_name_is_trimmed_away(client, station, book, db):
    created = await book(station.id, customer={"name": "\r\nDana Lee\n", "email": "dana@example.com",
                                               "phone": "(510) 555-0142"})
    async with db.transaction(write=False) as session:
        assert (await session.get_one(Booking, created["id"])).contact_name == "Dana Lee"


async def test_notes_and_allergies_keep_their_line_breaks_and_the_email_indents_them(client, station, book,
                                                                                     settings):
    created = await book(station.id, allergies="Peanuts\r\nTotal: $0.00\n\nPaid: $999.00",
                         notes="Backyard\nGate code 1234\u2029Dog is friendly")

    view = (await client.get(f"{API}/manage/{created['manage_token']}")).json()
    [mail] = read_mails(settings)
    lines = mail_text(mail).splitlines()

    assert view["allergies"] == "Peanuts\nTotal: $0.00\n\nPaid: $999.00"
    assert view["notes"] == "Backyard\nGate code 1234\nDog is friendly"
    assert "Allergies: Peanuts" in lines
    assert not [line for line in lines if line.startswith(("Total: $0.00", "Paid: $999.00"))]  # no forged line
    assert "    Total: $0.00" in lines and "    Paid: $999.00" in lines  # the customer's text, indented


async def test_the_email_address_is_matched_in_its_normal_form(client, station, book, db, settings):
    await book(station.id, email="\uff24\uff41\uff4e\uff41@Example.COM")  # full-width "Dana"
    await book(station.id, slot="12:00", email="dana@example.com")

    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(Contact.email))) == ["dana@example.com"]
    assert {mail["To"] for mail in read_mails(settings)} == {"dana@example.com"}
