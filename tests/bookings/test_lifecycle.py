"""The booking lifecycle through the staff API: each command, its policy boundaries (time frozen), its audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.chefs.models import Chef
from tests.bookings.conftest import API, booking_body

START = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # 2026-12-10 18:00 in Fremont, the default booking


@pytest.fixture
async def admin(station, make_user, login):
    await make_user("admin@example.com", Role.admin, station)
    return await login("admin@example.com")


@pytest.fixture
async def support(station, make_user, login):
    await make_user("support@example.com", Role.support, station)
    return await login("support@example.com")


@pytest.fixture
def act(client, admin, login):
    """POST (or PATCH) a staff action as the admin unless other headers are given; returns the response.
    The admin signs in afresh each time: tests move the clock past the access token's 15 minutes."""

    async def call(booking_id: int, action: str, json=None, headers=None, method: str = "POST"):  # noqa: ANN001
        path = f"{API}/bookings/{booking_id}" + (f"/{action}" if action else "")
        return await client.request(method, path, json=json, headers=headers or await login("admin@example.com"))

    return call


async def test_confirm_moves_a_hold_to_confirmed_once(client, station, book, act, admin):
    created = await book(station.id)
    confirmed = await act(created["id"], "confirm")
    again = await act(created["id"], "confirm")

    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["hold_expires_at"] is None
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    detail = (await client.get(f"{API}/bookings/{created['id']}", headers=admin)).json()
    assert [h["action"] for h in detail["history"]] == ["bookings.create", "bookings.confirm"]
    assert detail["history"][1]["before"] == {"status": "pending_deposit"}


@pytest.mark.parametrize(("late_by", "expected"), [(timedelta(0), 201), (timedelta(seconds=1), 422)])
async def test_minimum_notice_is_exactly_48_hours(client, station, clock, late_by, expected):
    clock.move_to(datetime(2026, 12, 3, 20, 0, tzinfo=UTC) - timedelta(hours=48) + late_by)  # 12:00 local on the 3rd
    response = await client.post(f"{API}/bookings", json=booking_body(station.id, "2026-12-03", "12:00"))
    assert response.status_code == expected, response.text
    if expected == 422:
        assert response.json()["code"] == "insufficient_notice"


async def test_bookings_beyond_the_horizon_are_refused(client, station):
    inside = await client.post(f"{API}/bookings", json=booking_body(station.id, "2027-12-01"))
    beyond = await client.post(f"{API}/bookings", json=booking_body(station.id, "2027-12-02"))
    assert inside.status_code == 201
    assert beyond.status_code == 422 and beyond.json()["code"] == "beyond_horizon"


@pytest.mark.parametrize(("late_by", "refund"), [(timedelta(0), 10000), (timedelta(seconds=1), 0)])
async def test_deposit_refund_is_full_until_exactly_96_hours_before(client, station, book, act, clock, late_by,
                                                                    refund):
    created = await book(station.id)
    paid = await act(created["id"], "payments", json={"method": "zelle", "amount_cents": 10000, "reference": "Z-1"})
    assert paid.status_code == 201, paid.text
    clock.move_to(START - timedelta(hours=96) + late_by)

    response = await act(created["id"], "cancel", json={"reason": "Customer called"})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["refund_owed_cents"] == refund


async def test_cancelling_an_unpaid_hold_owes_nothing_and_needs_a_reason(station, book, act):
    created = await book(station.id)
    without_reason = await act(created["id"], "cancel", json={"reason": " "})
    cancelled = await act(created["id"], "cancel", json={"reason": "Duplicate"})
    again = await act(created["id"], "cancel", json={"reason": "Duplicate"})
    assert without_reason.status_code == 422
    assert cancelled.json()["refund_owed_cents"] == 0
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"


@pytest.mark.parametrize(("late_by", "fee"), [(timedelta(0), 0), (timedelta(seconds=1), 20000)])
async def test_first_reschedule_is_free_until_exactly_24_hours_before(station, book, act, clock, late_by, fee):
    created = await book(station.id)
    await act(created["id"], "confirm")  # else the unpaid hold lapses long before
    clock.move_to(START - timedelta(hours=24) + late_by)

    moved = await act(created["id"], "reschedule", json={"event_date": "2026-12-12", "slot_time": "15:00"})

    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["event_start"], body["fees_cents"]) == ("2026-12-12T15:00:00-08:00", fee)
    assert body["total_due_cents"] == body["quote"]["total_cents"] + fee


async def test_second_reschedule_adds_the_fee(station, book, act):
    created = await book(station.id)
    first = await act(created["id"], "reschedule", json={"event_date": "2026-12-12", "slot_time": "15:00"})
    second = await act(created["id"], "reschedule", json={"event_date": "2026-12-13", "slot_time": "15:00"})
    assert first.json()["fees_cents"] == 0
    assert second.json()["fees_cents"] == 20000 and second.json()["reschedule_count"] == 2


async def test_reschedule_needs_a_free_chef_and_changes_nothing_when_refused(client, station, book, act, admin):
    created = await book(station.id)
    await book(station.id, "2026-12-12", "15:00", email="a@example.com")
    await book(station.id, "2026-12-12", "15:00", email="b@example.com")

    refused = await act(created["id"], "reschedule", json={"event_date": "2026-12-12", "slot_time": "15:00"})

    assert refused.status_code == 409 and refused.json()["code"] == "slot_unavailable"
    still = (await client.get(f"{API}/bookings/{created['id']}", headers=admin)).json()
    assert (still["event_date"], still["slot_time"], still["reschedule_count"]) == ("2026-12-10", "18:00", 0)


@pytest.mark.parametrize(("hours_before", "guests_ok", "menu_ok"), [
    (24, True, True), (24 - 1 / 3600, False, True), (12, False, True), (12 - 1 / 3600, False, False)])
async def test_guest_and_menu_change_windows(station, book, act, clock, hours_before, guests_ok, menu_ok):
    created = await book(station.id)
    await act(created["id"], "confirm")
    clock.move_to(START - timedelta(hours=hours_before))

    guests = await act(created["id"], "", json={"adults": 13}, method="PATCH")
    menu = await act(created["id"], "", json={"addons": {"gyoza": 2}}, method="PATCH")

    assert guests.status_code == (200 if guests_ok else 409), guests.text
    assert menu.status_code == (200 if menu_ok else 409), menu.text
    if not guests_ok:
        assert guests.json()["code"] == "illegal_transition" and "24 hours" in guests.json()["detail"]


async def test_changing_the_party_requotes(station, book, act):
    created = await book(station.id)
    changed = await act(created["id"], "", json={"adults": 13, "addons": {}}, method="PATCH")
    body = changed.json()
    assert body["party"]["adults"] == 13 and body["party"]["addons"] == {}
    assert body["quote"]["food_subtotal_cents"] == created["quote"]["food_subtotal_cents"] + 5500 - 1000


async def test_a_party_growing_into_a_longer_event_needs_a_chef_for_the_longer_window(station, book, act):
    created = await book(station.id, slot="12:00")
    await book(station.id, slot="15:00", email="a@example.com")
    await book(station.id, slot="15:00", email="b@example.com")
    grown = await act(created["id"], "", json={"adults": 20, "children": 0, "toddlers": 0, "upgrades": {}},
                      method="PATCH")
    assert grown.status_code == 409 and grown.json()["code"] == "slot_unavailable"


async def test_support_asks_and_an_admin_decides(station, book, act, support):
    created = await book(station.id)
    refused = await act(created["id"], "cancel", json={"reason": "Customer called"}, headers=support)
    asked = await act(created["id"], "cancel-request", json={"reason": "Customer called"}, headers=support)
    twice = await act(created["id"], "cancel-request", json={"reason": "Again"}, headers=support)
    declined = await act(created["id"], "cancel-request/decline")
    asked_again = await act(created["id"], "cancel-request", json={"reason": "Really"}, headers=support)
    approved = await act(created["id"], "cancel", json={"reason": "Approved: customer called"})

    assert refused.status_code == 403
    assert asked.status_code == 200 and asked.json()["cancel_request"]["reason"] == "Customer called"
    assert asked.json()["status"] == "pending_deposit"
    assert twice.status_code == 409
    assert declined.json()["cancel_request"] is None
    assert asked_again.status_code == 200
    assert approved.json()["status"] == "cancelled"


async def test_assigning_chefs_never_double_books_one(client, station, book, act, admin, add_chefs, make_station):
    first, second = await book(station.id, email="a@example.com"), await book(station.id, email="b@example.com")
    chefs = (await client.get(f"{API}/stations/{station.id}/chefs", headers=admin)).json()
    chef_id = chefs[0]["id"]
    other_station_chef = (await add_chefs(await make_station("SAC"), 1))[0]

    assigned = await act(first["id"], "assign-chef", json={"chef_id": chef_id})
    clash = await act(second["id"], "assign-chef", json={"chef_id": chef_id})
    foreign = await act(second["id"], "assign-chef", json={"chef_id": other_station_chef})
    unassigned = await act(first["id"], "unassign-chef")
    unassigned_twice = await act(first["id"], "unassign-chef")
    now_free = await act(second["id"], "assign-chef", json={"chef_id": chef_id})

    assert assigned.status_code == 200 and assigned.json()["chef_id"] == chef_id
    assert clash.status_code == 409 and clash.json()["code"] == "chef_unavailable"
    assert foreign.status_code == 422
    assert unassigned.json()["chef_id"] is None
    assert unassigned_twice.status_code == 409
    assert now_free.status_code == 200


async def test_an_assigned_chef_follows_a_reschedule_when_free(client, station, book, act, admin):
    created = await book(station.id)
    chef_id = (await client.get(f"{API}/stations/{station.id}/chefs", headers=admin)).json()[0]["id"]
    await act(created["id"], "assign-chef", json={"chef_id": chef_id})
    moved = await act(created["id"], "reschedule", json={"event_date": "2026-12-12", "slot_time": "12:00"})
    assert moved.json()["chef_id"] == chef_id


@pytest.mark.parametrize("outcome", ["complete", "no-show"])
async def test_events_close_only_once_started_and_confirmed(station, book, act, clock, outcome):
    pending = await book(station.id, email="a@example.com")
    created = await book(station.id)
    await act(created["id"], "confirm")
    early = await act(created["id"], outcome)
    clock.move_to(START)
    closed = await act(created["id"], outcome)
    unconfirmed = await act(pending["id"], outcome)

    assert early.status_code == 409
    assert closed.status_code == 200 and closed.json()["status"] == outcome.replace("-", "_").replace("complete",
                                                                                                         "completed")
    assert unconfirmed.status_code == 409 and unconfirmed.json()["code"] == "illegal_transition"


async def test_actions_on_a_missing_booking_are_404(station, act):
    response = await act(999, "confirm")
    assert response.status_code == 404


async def test_assigning_a_chef_never_strands_another_booking_of_the_day(client, db, station, act):
    async with db.transaction() as session:
        busy, one_event = await session.scalars(select(Chef).where(Chef.station_id == station.id).order_by(Chef.id))
        busy.max_events_per_day, one_event.max_events_per_day = 2, 1
        busy_chef, one_event_chef = busy.id, one_event.id
    bookings = [await client.post(f"{API}/bookings", json=booking_body(station.id, slot=slot, email=f"{n}@example.com"))
                for n, slot in enumerate(("12:00", "12:00", "18:00"))]
    noon, other_noon, evening = (b.json()["id"] for b in bookings)

    # Both chefs are needed at noon, so the one-event chef must not be spent on the evening.
    stranding = await act(evening, "assign-chef", json={"chef_id": one_event_chef})
    fitting = await act(evening, "assign-chef", json={"chef_id": busy_chef})
    noon_ok = await act(noon, "assign-chef", json={"chef_id": one_event_chef})

    assert stranding.status_code == 409 and stranding.json()["code"] == "chef_unavailable"
    assert "another booking that day" in stranding.json()["detail"]
    assert fitting.status_code == 200 and noon_ok.status_code == 200
    assert other_noon  # still unassigned: the busy chef can take it
