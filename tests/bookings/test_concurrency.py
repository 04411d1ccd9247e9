"""Capacity under concurrency: the station-day lock of `locks.py` (PostgreSQL advisory locks, SQLite's
BEGIN IMMEDIATE) serializes the check-then-write of every booking, and the triggers of migration 0004 refuse
over-capacity rows whatever the Python code does (against the rows they can see: on PostgreSQL the committed
ones, so they back the lock up but do not replace it).

The HTTP tests send their requests at once through the in-process client: each request has its own session
(its own connection), so they interleave at every await and queue on the database's lock, not in Python.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from myhibachi.bookings import commands, queries
from myhibachi.bookings.capacity import event_times, local_start
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.schemas import BookingCreate
from myhibachi.chefs.models import Chef
from myhibachi.contacts.models import Contact
from myhibachi.core.db import Database
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station
from tests.bookings.conftest import API, EVENT_DAY, NOW, booking_body
from tests.conftest import PG_URL

CAPACITY = 3  # the `station` fixture's 2 chefs plus one
RACERS = 24
RULES = BusinessRules()
ZONE = ZoneInfo("America/Los_Angeles")


@pytest.fixture
async def station3(station: Station, add_chefs) -> Station:
    await add_chefs(station, CAPACITY - 2)
    return station


async def _count(db: Database, station_id: int, day: date, slot: str) -> int:
    stmt = select(func.count()).select_from(Booking).where(
        Booking.station_id == station_id, Booking.event_date == day, Booking.slot_time == slot)
    async with db.transaction(write=False) as session:
        return await session.scalar(stmt)


async def _race(client, bodies: list[dict[str, Any]], headers: dict[str, str] | None = None) -> list:
    return await asyncio.gather(*(client.post(f"{API}/bookings", json=body, headers=headers) for body in bodies))


def _assert_exactly(responses: list, capacity: int) -> list[dict[str, Any]]:
    statuses = Counter(r.status_code for r in responses)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses if r.status_code >= 500]
    assert statuses == {201: capacity, 409: len(responses) - capacity}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"slot_unavailable"}
    return [r.json() for r in responses if r.status_code == 201]


class _Probe:
    """Watches the requests inside `create_booking`: how many are in flight at once, and what capacity each
    one's check saw for the racing window. `delay` widens the window between the check and the insert, so an
    unguarded check would let every concurrent request through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, delay: float = 0.0, lock: bool = True,
                 barrier: int | None = None) -> None:
        self.in_flight = 0
        self.in_flight_at_check: list[int] = []  # requests inside create_booking when each check ran
        self.seen_remaining: list[int] = []
        self.slot = time(18)
        real_create, real_view, real_lock = commands.create_booking, commands.capacity_view, commands.lock_station_days
        all_checked = asyncio.Event()

        async def create(*args: Any, **kwargs: Any) -> Any:
            self.in_flight += 1
            try:
                return await real_create(*args, **kwargs)
            finally:
                self.in_flight -= 1

        async def locking(session: Any, station_id: int, days: Any) -> None:
            if lock:
                await real_lock(session, station_id, days)

        async def view(session: Any, station: Station, first_day: date, last_day: date, **kwargs: Any) -> Any:
            result = await real_view(session, station, first_day, last_day, **kwargs)
            self.seen_remaining.append(result.remaining(first_day, self.slot, 17))
            self.in_flight_at_check.append(self.in_flight)
            await asyncio.sleep(delay)  # check done, insert not yet: the race window
            if barrier is not None:  # hold every check until `barrier` requests have made theirs (or 5 s)
                if len(self.seen_remaining) >= barrier:
                    all_checked.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_checked.wait(), 5)
            return result

        monkeypatch.setattr(commands, "create_booking", create)
        monkeypatch.setattr(commands, "capacity_view", view)
        monkeypatch.setattr(commands, "lock_station_days", locking)

    def start_round(self, slot: str) -> None:
        self.slot = time.fromisoformat(slot)
        self.seen_remaining.clear()
        self.in_flight_at_check.clear()


async def test_many_concurrent_bookings_for_one_window_take_exactly_the_capacity(client, station3, db, settings):
    bodies = [booking_body(station3.id, email=f"racer{n}@example.com") for n in range(RACERS)]

    responses = await _race(client, bodies)

    created = _assert_exactly(responses, CAPACITY)
    assert len({b["id"] for b in created}) == CAPACITY
    assert await _count(db, station3.id, EVENT_DAY, "18:00") == CAPACITY
    # The window is full for anyone asking afterwards, and other windows are untouched.
    availability = await client.get(f"{API}/stations/{station3.id}/availability",
                                     params={"start": str(EVENT_DAY), "end": str(EVENT_DAY), "guests": 17})
    slots = {s["time"]: s["remaining"] for s in availability.json()["days"][0]["slots"]}
    assert slots == {"12:00": CAPACITY, "15:00": CAPACITY, "18:00": 0, "21:00": CAPACITY}


async def test_the_lock_not_luck_refuses_the_losers(client, station3, db, monkeypatch):
    """Several rounds on fresh windows, with a pause between each check and its insert: the requests really
    are in flight together, yet every check sees the bookings committed before it (remaining counts down
    k, k-1, ..., 1, then 0 for everyone else), which only a lock around check-and-write gives."""
    probe = _Probe(monkeypatch, delay=0.02)
    racers = 12
    for n, slot in enumerate(("18:00", "12:00", "15:00", "21:00")):
        day = EVENT_DAY + timedelta(days=n)
        probe.start_round(slot)
        bodies = [booking_body(station3.id, day, slot, email=f"r{n}-{m}@example.com") for m in range(racers)]

        responses = await _race(client, bodies)

        _assert_exactly(responses, CAPACITY)
        assert await _count(db, station3.id, day, slot) == CAPACITY
        assert probe.seen_remaining == list(range(CAPACITY, 0, -1)) + [0] * (racers - CAPACITY)
        # While each check ran, other requests were already inside create_booking, waiting on the lock.
        assert max(probe.in_flight_at_check) > CAPACITY, probe.in_flight_at_check


async def test_without_locks_py_the_database_still_holds_the_line(client, station3, monkeypatch):
    """The control experiment for the test above, with `lock_station_days` disabled.

    PostgreSQL: nothing stops the requests from all making their check before any of them writes (the probe holds
    each check until all have made theirs, which with the lock would only time out), so every one sees the window
    free: the count-down above is the lock's doing. The trigger still takes the same station-day locks and counts
    what is committed, so exactly the capacity is created. SQLite: BEGIN IMMEDIATE alone serializes the writers,
    so the checks count down as with the lock (a barrier would only stall them one after another)."""
    racers = 8
    probe = _Probe(monkeypatch, lock=False, barrier=racers if PG_URL else None)
    probe.start_round("18:00")

    responses = await _race(client, [booking_body(station3.id, email=f"c{n}@example.com") for n in range(racers)])

    _assert_exactly(responses, CAPACITY)
    counted_down = list(range(CAPACITY, 0, -1)) + [0] * (racers - CAPACITY)
    assert probe.seen_remaining == ([CAPACITY] * racers if PG_URL else counted_down)


async def test_concurrent_retries_with_one_idempotency_key_make_one_booking(client, station3, db, settings):
    body = booking_body(station3.id)
    headers = {"Idempotency-Key": "concurrent-retry-7f3a"}

    responses = await _race(client, [body] * 5, headers)

    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert all(r.json()["code"] == "conflict" for r in responses if r.status_code == 409)
    ok = [r for r in responses if r.status_code == 201]
    assert ok, [r.text for r in responses]
    assert len({r.json()["id"] for r in ok}) == 1
    assert len({r.json()["manage_token"] for r in ok}) == 1
    # Exactly one request made the booking; every other 201 is a replay of it.
    assert [r.headers.get("Idempotent-Replayed") for r in ok].count(None) == 1, [dict(r.headers) for r in ok]
    assert all(r.headers.get("Idempotent-Replayed") in (None, "true") for r in ok)
    assert await _count(db, station3.id, EVENT_DAY, "18:00") == 1


async def test_concurrent_bookings_through_the_commands_also_hold(station3, db, settings):
    """The same guarantee one layer down: `create_booking` in separate transactions at once."""
    async def attempt(n: int) -> str:
        data = BookingCreate.model_validate(booking_body(station3.id, slot="12:00", email=f"cmd{n}@example.com"))
        try:
            async with db.transaction() as session:
                await commands.create_booking(session, settings, data)
        except commands.SlotUnavailable:
            return "refused"
        return "created"

    results = Counter(await asyncio.gather(*(attempt(n) for n in range(16))))

    assert results == {"created": CAPACITY, "refused": 16 - CAPACITY}
    assert await _count(db, station3.id, EVENT_DAY, "12:00") == CAPACITY


# --- the database backstop on its own -------------------------------------------------------------------------


async def _customer(db: Database) -> int:
    async with db.transaction() as session:
        customer = Contact(email="backstop@example.com", name="Back Stop", phone="+15105550142")
        session.add(customer)
        await session.flush()
        return customer.id


def _row(station_id: int, customer_id: int, n: int, *, day: date = EVENT_DAY, slot: str = "18:00",
         status: BookingStatus = BookingStatus.confirmed, chef_id: int | None = None,
         guests: int = 10) -> Booking:
    """A booking row with every required column, built by hand: no capacity check runs."""
    start = local_start(ZONE, day, time.fromisoformat(slot))
    assert start is not None
    times = event_times(RULES, start, guests)
    now = NOW
    return Booking(
        reference=f"MH-BS{n:04d}", station_id=station_id, customer_id=customer_id, status=status.value,
        event_date=day, slot_time=slot, event_start=times.start, event_end=times.end,
        busy_start=times.busy_start, busy_end=times.busy_end, chef_id=chef_id,
        adults=guests, children=0, toddlers=0, upgrades={}, extra_proteins={}, addons={}, quote={},
        fees_cents=0, venue_line1="1 Main St", venue_line2=None, venue_city="Fremont", venue_state="CA",
        venue_zip="94538", contact_name="Guest", contact_email="backstop@example.com", contact_phone="+15105550142",
        allergies="none", notes=None, manage_nonce=f"{n:032d}", manage_token_hash=f"{n:064d}",
        hold_expires_at=now + timedelta(hours=24) if status is BookingStatus.pending_deposit else None,
        confirmed_at=now if status is BookingStatus.confirmed else None, reschedule_count=0,
        created_at=now, updated_at=now,
    )


async def _insert(db: Database, *rows: Booking) -> None:
    async with db.transaction() as session:
        session.add_all(rows)
        await session.flush()


async def _chef_ids(db: Database, station: Station) -> list[int]:
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(Chef.id).where(Chef.station_id == station.id).order_by(Chef.id)))


async def test_backstop_refuses_more_overlapping_holds_than_active_chefs(station, db):
    customer = await _customer(db)
    await _insert(db, _row(station.id, customer, 1),
                  _row(station.id, customer, 2, status=BookingStatus.pending_deposit))

    with pytest.raises(IntegrityError, match="slot_unavailable"):
        await _insert(db, _row(station.id, customer, 3))
    # An event whose busy window only partly overlaps the full one counts too (19:30 starts inside 18:00's).
    with pytest.raises(IntegrityError, match="slot_unavailable"):
        await _insert(db, _row(station.id, customer, 4, slot="19:30"))
    # Back to back is not overlapping: 15:00 (busy until 16:45) next to 18:00 (busy from 17:00).
    await _insert(db, _row(station.id, customer, 5, slot="15:00"), _row(station.id, customer, 6, slot="15:00"))
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 4


async def test_backstop_counts_only_active_chefs(station, db):
    customer = await _customer(db)
    first, _ = await _chef_ids(db, station)
    async with db.transaction() as session:
        await session.execute(update(Chef).where(Chef.id == first).values(is_active=False))
    await _insert(db, _row(station.id, customer, 1))

    with pytest.raises(IntegrityError, match="slot_unavailable"):
        await _insert(db, _row(station.id, customer, 2))


async def test_backstop_refuses_a_chef_in_two_overlapping_events(station, db):
    customer = await _customer(db)
    chef, other = await _chef_ids(db, station)
    await _insert(db, _row(station.id, customer, 1, chef_id=chef))

    with pytest.raises(IntegrityError, match="chef_double_booked"):
        await _insert(db, _row(station.id, customer, 2, chef_id=chef, status=BookingStatus.pending_deposit))
    # Assigning by UPDATE is guarded the same way.
    await _insert(db, _row(station.id, customer, 3, chef_id=other))
    with pytest.raises(IntegrityError, match="chef_double_booked"):
        async with db.transaction() as session:
            await session.execute(update(Booking).where(Booking.reference == "MH-BS0003").values(chef_id=chef))
    # The same chef at a non-overlapping time is fine.
    await _insert(db, _row(station.id, customer, 4, chef_id=chef, slot="12:00"))


async def test_backstop_ignores_closed_bookings(station, db):
    customer = await _customer(db)
    chef, _ = await _chef_ids(db, station)
    closed = [BookingStatus.cancelled, BookingStatus.expired, BookingStatus.completed, BookingStatus.no_show]
    await _insert(db, *(_row(station.id, customer, n, status=status, chef_id=chef) for n, status in enumerate(closed)))

    # Four closed rows in the window, one of them the chef's: two holds still fit, the chef still free.
    await _insert(db, _row(station.id, customer, 10, chef_id=chef),
                  _row(station.id, customer, 11, status=BookingStatus.pending_deposit))

    # Reopening a closed row when the window is full is an UPDATE the trigger refuses.
    with pytest.raises(IntegrityError, match="slot_unavailable|chef_double_booked"):
        async with db.transaction() as session:
            await session.execute(update(Booking).where(Booking.reference == "MH-BS0000")
                                  .values(status=BookingStatus.confirmed.value))
    async with db.transaction(write=False) as session:
        holding = await session.scalar(select(func.count()).select_from(Booking).where(
            Booking.status.in_([BookingStatus.confirmed.value, BookingStatus.pending_deposit.value])))
    assert holding == 2


async def test_backstop_refusal_maps_to_409_through_the_command(client, station, db, monkeypatch):
    """With the Python check fooled into seeing room, the trigger's refusal is still a 409, never a 500."""
    customer = await _customer(db)
    await _insert(db, _row(station.id, customer, 1), _row(station.id, customer, 2))

    class AlwaysRoom(queries.CapacityView):
        def remaining(self, day: date, slot: time, guests: int) -> int:
            return 1

    real_view = commands.capacity_view

    async def fooled(*args: Any, **kwargs: Any) -> queries.CapacityView:
        view = await real_view(*args, **kwargs)
        return AlwaysRoom(rules=view.rules, zone=view.zone, roster=view.roster, load=view.load, now=view.now,
                          held=view.held)

    monkeypatch.setattr(commands, "capacity_view", fooled)
    response = await client.post(f"{API}/bookings", json=booking_body(station.id, email="late@example.com"))

    assert response.status_code == 409 and response.json()["code"] == "slot_unavailable"
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 2



async def test_backstop_allows_what_one_free_chef_can_take(client, station, db, settings):
    chef, _ = await _chef_ids(db, station)
    large = {"adults": 20, "children": 0, "toddlers": 0}  # >= 20 guests: a 150-minute event
    early = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="15:00", **large))
    late = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="21:00", email="l@example.com"))
    for created in (early, late):  # one chef does both: busy 14:00-17:45 and 20:00-22:45
        assert created.status_code == 201, created.text
        async with db.transaction() as session:
            await commands.assign_chef(session, settings, commands.SYSTEM_ACTOR, created.json()["id"], chef)
    availability = await client.get(f"{API}/stations/{station.id}/availability",
                                     params={"start": str(EVENT_DAY), "end": str(EVENT_DAY), "guests": 20})
    assert {s["time"]: s["remaining"] for s in availability.json()["days"][0]["slots"]}["18:00"] == 1

    # The other chef is free from 17:00 to 20:45, the busy window of an 18:00 large party.
    response = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="18:00", email="m@example.com",
                                                                        **large))

    assert response.status_code == 201, response.text
