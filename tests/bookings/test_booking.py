"""Booking a date: the contract of POST /bookings, validation, idempotency, and capacity."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select

from myhibachi.bookings.models import Booking
from myhibachi.contacts.models import Contact
from myhibachi.settings import Settings
from tests.bookings.conftest import API, EVENT_DAY, NOW, booking_body
from tests.conftest import mail_files, mail_text, read_mails


async def test_booking_holds_a_chef_and_answers_the_contract(client, station, settings):
    response = await client.post(f"{API}/bookings", json=booking_body(station.id))

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "pending_deposit"
    assert created["reference"].startswith("MH-") and len(created["reference"]) == 9
    assert created["event_start"] == "2026-12-10T18:00:00-08:00"
    assert created["deposit_due_by"] == "2026-12-02T08:00:00-08:00"  # 24 h hold from the frozen now
    assert len(created["manage_token"]) >= 40
    assert created["quote"]["total_cents"] > created["quote"]["deposit_cents"] == 10000
    [mail] = read_mails(settings)
    assert created["reference"] in mail["Subject"]
    text = mail_text(mail)
    assert f"http://testserver/manage/{created['manage_token']}" in text
    assert "Thursday, December 10, 2026 at 6:00 PM PST" in text


async def test_the_booking_is_priced_like_the_quote(client, station, book):
    body = booking_body(station.id)
    quote = await client.post(f"{API}/quotes", json={k: body[k] for k in (
        "station_id", "adults", "children", "toddlers", "upgrades", "addons")} | {"zip_code": "94538"})
    created = await book(station.id)
    assert created["quote"] == quote.json()


async def test_two_chefs_take_two_parties_and_the_third_is_refused(client, station, book, db):
    await book(station.id, email="a@example.com")
    await book(station.id, email="b@example.com")

    third = await client.post(f"{API}/bookings", json=booking_body(station.id, email="c@example.com"))

    assert third.status_code == 409
    assert third.json()["code"] == "slot_unavailable"
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 2


async def test_same_idempotency_key_and_body_give_the_same_booking(client, station, db, settings):
    headers = {"Idempotency-Key": "retry-me-1"}
    first = await client.post(f"{API}/bookings", json=booking_body(station.id), headers=headers)
    again = await client.post(f"{API}/bookings", json=booking_body(station.id), headers=headers)
    other = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="12:00"), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 1
    assert len(mail_files(settings)) == 1


async def test_customer_is_found_by_email_whatever_its_case(client, station, book, db):
    await book(station.id, email="Dana@Example.com")
    await book(station.id, slot="12:00", email="dana@example.com")
    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(Contact.email))) == ["dana@example.com"]


async def test_every_field_is_validated_with_a_field_error(client, station, db):
    body = booking_body(station.id, allergies="  ", customer={"name": "", "email": "not-an-email",
                                                               "phone": "12"}, slot="6pm")
    body["venue"]["state"] = "California"

    response = await client.post(f"{API}/bookings", json=body)

    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"body.allergies", "body.customer.name", "body.customer.email", "body.customer.phone",
            "body.slot_time", "body.venue.state"} <= fields
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 0


async def test_allergies_none_is_an_answer_and_phone_is_stored_e164(client, station, book, db):
    created = await book(station.id, allergies="None")
    async with db.transaction(write=False) as session:
        booking = await session.get_one(Booking, created["id"])
        customer = await session.get_one(Contact, booking.customer_id)
    assert booking.allergies == "None" and customer.phone == "+15105550142"


async def test_slot_must_be_one_of_the_station_start_times(client, station):
    response = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="13:00"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.slot_time"


async def test_unknown_station_and_zip_are_refused(client, station):
    unknown = await client.post(f"{API}/bookings", json=booking_body(999))
    body = booking_body(station.id)
    body["venue"]["zip_code"] = "00000"
    bad_zip = await client.post(f"{API}/bookings", json=body)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.station_id"
    assert bad_zip.status_code == 422 and bad_zip.json()["code"] == "unknown_zip"


async def test_event_day_fixture_is_inside_the_booking_window():
    assert EVENT_DAY.isoformat() == "2026-12-10"


class TestHoldsPerClient:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"booking_holds_per_ip": 2})

    async def test_one_client_may_hold_only_so_many_dates_an_hour(self, app, client, station, db):
        first = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="12:00"),
                                  headers={"Idempotency-Key": "first"})
        await client.post(f"{API}/bookings", json=booking_body(station.id, slot="15:00"))
        third = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="18:00"))
        transport = ASGITransport(app=app, client=("198.51.100.9", 50000))
        async with AsyncClient(transport=transport, base_url="http://testserver") as neighbour:
            elsewhere = await neighbour.post(f"{API}/bookings", json=booking_body(station.id, slot="18:00"))

        assert first.status_code == 201
        assert third.status_code == 429 and third.json()["code"] == "rate_limited"
        assert int(third.headers["Retry-After"]) > 0
        assert elsewhere.status_code == 201  # counted per client address
        async with db.transaction(write=False) as session:
            assert await session.scalar(select(func.count()).select_from(Booking)) == 3

    async def test_a_request_that_holds_nothing_new_is_not_counted(self, app, client, station, db):
        transport = ASGITransport(app=app, client=("198.51.100.9", 50000))
        async with AsyncClient(transport=transport, base_url="http://testserver") as neighbour:
            for email in ("a@example.com", "b@example.com"):  # both chefs at 18:00
                taken = await neighbour.post(f"{API}/bookings", json=booking_body(station.id, email=email))
                assert taken.status_code == 201
        first = booking_body(station.id, slot="12:00")

        refused = [await client.post(f"{API}/bookings", json=booking_body(station.id, slot="18:00")),
                   await client.post(f"{API}/bookings", json=booking_body(station.id, NOW.date() + timedelta(days=1))),
                   await client.post(f"{API}/bookings", json={**first, "adults": 0})]
        held = await client.post(f"{API}/bookings", json=first, headers={"Idempotency-Key": "k"})
        replayed = await client.post(f"{API}/bookings", json=first, headers={"Idempotency-Key": "k"})
        second = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="15:00"))
        third = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="21:00"))

        assert [r.json()["code"] for r in refused] == ["slot_unavailable", "insufficient_notice", "validation_error"]
        assert (held.status_code, replayed.headers.get("Idempotent-Replayed"), second.status_code) == (201, "true", 201)
        assert third.status_code == 429
        async with db.transaction(write=False) as session:
            assert await session.scalar(select(func.count()).select_from(Booking)) == 4


class TestSimultaneousHolds:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"booking_holds_per_ip": 10})  # the default

    async def test_fifteen_at_once_from_one_client_hold_exactly_the_limit(self, client, station, db):
        """The hold is counted in the step that admits it, not after the booking is written."""
        bodies = [booking_body(station.id, EVENT_DAY + timedelta(days=n)) for n in range(15)]

        responses = await asyncio.gather(*(client.post(f"{API}/bookings", json=body) for body in bodies))

        assert Counter(r.status_code for r in responses) == {201: 10, 429: 5}
        async with db.transaction(write=False) as session:
            assert await session.scalar(select(func.count()).select_from(Booking)) == 10
