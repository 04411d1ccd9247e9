"""A public form never rewrites a person (issue 14, item 4): a booking keeps the name and phone it was made with,
the customer found by its email keeps what it had, and whoever books with someone else's address learns nothing
of that person from the email, the API answer or the manage link."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.contacts.models import Contact
from tests.bookings.conftest import API, booking_body
from tests.conftest import mail_text, read_mails

DANA = {"name": "Dana Lee", "email": "dana@example.com", "phone": "(510) 555-0142"}
MALLORY = {"name": "Mallory Evil", "email": "DANA@example.com", "phone": "(408) 555-0199"}


@pytest.fixture
async def admin(make_user, login, station) -> dict[str, str]:
    await make_user("admin@example.com", Role.admin, station)
    return await login("admin@example.com")


async def book_as(client, station_id: int, contact: dict[str, str], slot: str) -> dict:  # noqa: ANN001
    response = await client.post(f"{API}/bookings", json=booking_body(station_id, slot=slot, customer=contact))
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_second_booking_with_the_same_email_leaves_the_customer_as_stored(client, station, db, admin):
    first = await book_as(client, station.id, DANA, "12:00")
    second = await book_as(client, station.id, MALLORY, "18:00")

    async with db.transaction(write=False) as session:
        [customer] = list(await session.scalars(select(Contact)))
    assert (customer.email, customer.name, customer.phone) == ("dana@example.com", "Dana Lee", "+15105550142")
    staff_first = (await client.get(f"{API}/bookings/{first['id']}", headers=admin)).json()
    staff_second = (await client.get(f"{API}/bookings/{second['id']}", headers=admin)).json()
    assert staff_first["customer"] == {"name": "Dana Lee", "email": "dana@example.com", "phone": "+15105550142"}
    assert staff_second["customer"] == {"name": "Mallory Evil", "email": "dana@example.com", "phone": "+14085550199"}


async def test_the_manage_link_shows_the_bookings_own_contact_not_the_stored_one(client, station):
    first = await book_as(client, station.id, DANA, "12:00")
    second = await book_as(client, station.id, MALLORY, "18:00")

    theirs = (await client.get(f"{API}/manage/{second['manage_token']}")).json()
    danas = (await client.get(f"{API}/manage/{first['manage_token']}")).json()

    assert theirs["customer"] == {"name": "Mallory Evil", "email": "dana@example.com", "phone": "+14085550199"}
    assert "Dana Lee" not in str(theirs) and "+15105550142" not in str(theirs)
    assert danas["customer"] == {"name": "Dana Lee", "email": "dana@example.com", "phone": "+15105550142"}


async def test_the_email_to_a_borrowed_address_shows_only_that_booking(client, station, settings):
    first = await book_as(client, station.id, DANA, "12:00")
    second = await book_as(client, station.id, MALLORY, "18:00")

    [mail] = [m for m in read_mails(settings) if second["reference"] in m["Subject"]]
    text, html = mail_text(mail), mail.get_body(("html",)).get_content()

    assert mail["To"] == "dana@example.com"  # the address's owner learns of the booking made with it
    assert "Mallory Evil" in text and "+14085550199" in text  # ... and who made it
    for body in (text, html):
        for leak in ("Dana Lee", "+15105550142", first["reference"], first["manage_token"]):
            assert leak not in body
