"""Issue 14, items 4 and 8 through the pages: the staff and manage pages show a booking's own contact details,
and the booking form and the staff invite refuse control characters, line breaks where a line has no room for
them, and addresses that mix scripts, beside the field."""

from __future__ import annotations

from sqlalchemy import select

from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from tests.bookings.conftest import API, booking_body
from tests.web.browserless import read, submit
from tests.web.test_booking_pages import DETAILS, bookings_count, to_calendar

DANA = {"name": "Dana Lee", "email": "dana@example.com", "phone": "(510) 555-0142"}
MALLORY = {"name": "Mallory Evil", "email": "dana@example.com", "phone": "(408) 555-0199"}


async def two_bookings_one_address(client, station_id: int) -> list[dict]:  # noqa: ANN001
    """Dana books, then someone else books with Dana's address."""
    created = []
    for contact, slot in ((DANA, "12:00"), (MALLORY, "18:00")):
        response = await client.post(f"{API}/bookings", json=booking_body(station_id, slot=slot, customer=contact))
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


async def test_the_staff_page_shows_the_bookings_own_contact(client, station, make_user, admin_sign_in):
    first, second = await two_bookings_one_address(client, station.id)
    await make_user("admin@example.com", Role.admin, station)
    await admin_sign_in("admin@example.com")

    theirs = await client.get(f"/admin/bookings/{second['id']}")
    danas = await client.get(f"/admin/bookings/{first['id']}")

    assert theirs.status_code == 200 and "Mallory Evil" in theirs.text and "+14085550199" in theirs.text
    assert "Dana Lee" not in theirs.text and "+15105550142" not in theirs.text
    assert "Dana Lee" in danas.text and "+15105550142" in danas.text and "Mallory" not in danas.text


async def test_the_manage_page_shows_the_bookings_own_contact(client, station):
    first, second = await two_bookings_one_address(client, station.id)

    theirs = await client.get(f"/manage/{second['manage_token']}")
    danas = await client.get(f"/manage/{first['manage_token']}")

    assert theirs.status_code == 200 and "Mallory Evil" in theirs.text and "+14085550199" in theirs.text
    assert "Dana Lee" not in theirs.text and "+15105550142" not in theirs.text
    assert "Dana Lee" in danas.text and "Mallory" not in danas.text


async def details_step(client):  # noqa: ANN001, ANN201
    calendar = await to_calendar(client)
    return await submit(client, await submit(client, calendar, ("go", "day:2026-12-10")), slot_time="18:00")


async def test_the_booking_form_refuses_line_breaks_and_control_characters_beside_the_field(client, station, db):
    page = await submit(client, await details_step(client), **{
        **DETAILS, "name": "Dana\r\nBcc: x@example.com", "venue_line1": "4100 Mowry\nAve", "allergies": "nuts\x00",
        "notes": "gate\x1b[31m code"})

    assert page.response.status_code == 422
    assert set(page.errors) == {"name", "venue_line1", "allergies", "notes"}
    assert "one line" in page.errors["name"] and "one line" in page.errors["venue_line1"]
    assert "control character" in page.errors["allergies"] and "control character" in page.errors["notes"]
    assert await bookings_count(db) == 0


async def test_the_booking_form_keeps_line_breaks_in_notes(client, station, db):
    review = await submit(client, await details_step(client), **{**DETAILS, "notes": "Backyard\r\nGate code 1234"})
    assert review.response.status_code == 200 and "Before you book" in review.text, review.errors

    done = await submit(client, review, ("go", "book"))

    token = str(done.response.url).split("/")[-2]
    assert (await client.get(f"{API}/manage/{token}")).json()["notes"] == "Backyard\nGate code 1234"


async def test_an_invite_to_a_mixed_script_address_is_refused_beside_the_field(client, station, make_user,
                                                                                admin_sign_in, db):
    await make_user("admin@example.com", Role.admin, station)
    await admin_sign_in("admin@example.com")
    form = read(await client.get("/admin/users/new"))

    refused = await submit(client, form, ("go", "confirm"), name="Kenji Tanaka", email="kenji@ex\u0430mple.com",
                           role="chef")  # a Cyrillic "а"

    assert refused.response.status_code == 422
    assert "mixes alphabets" in refused.errors["email"]
    async with db.session() as session:
        assert list(await session.scalars(select(User.email).where(User.name == "Kenji Tanaka"))) == []
