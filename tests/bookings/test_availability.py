"""GET /stations/{id}/availability: chef-aware start times, notice and horizon, in a bounded number of queries."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import event, select, update

from myhibachi.bookings.models import Booking
from myhibachi.chefs.models import Chef, ChefTimeOff, TimeOffStatus
from tests.bookings.conftest import API, EVENT_DAY, booking_body

SLOTS = ["12:00", "15:00", "18:00", "21:00"]


async def db_chef_ids(db, station_id: int) -> list[int]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(Chef.id).where(Chef.station_id == station_id).order_by(Chef.id)))


async def remaining(client, station_id: int, day: date = EVENT_DAY, guests: int = 10) -> dict[str, int]:
    response = await client.get(f"{API}/stations/{station_id}/availability",
                                params={"start": str(day), "end": str(day), "guests": guests})
    assert response.status_code == 200, response.text
    [only] = response.json()["days"]
    assert only["date"] == str(day)
    return {slot["time"]: slot["remaining"] for slot in only["slots"] if slot["available"] == (slot["remaining"] > 0)}


async def test_every_start_time_of_an_open_day_has_every_chef(client, station):
    response = await client.get(f"{API}/stations/{station.id}/availability",
                                params={"start": "2026-12-10", "end": "2026-12-12"})
    body = response.json()
    assert body["station_id"] == station.id and body["timezone"] == "America/Los_Angeles"
    assert [d["date"] for d in body["days"]] == ["2026-12-10", "2026-12-11", "2026-12-12"]
    for day in body["days"]:
        assert day["slots"] == [{"time": t, "available": True, "remaining": 2} for t in SLOTS]


async def test_a_held_booking_takes_one_chef_for_its_window_only(client, station, book):
    await book(station.id, slot="18:00")
    assert await remaining(client, station.id) == {"12:00": 2, "15:00": 2, "18:00": 1, "21:00": 2}


async def test_a_big_party_is_longer_and_its_window_reaches_the_next_start(client, station, book):
    # 20+ guests: 150 min. 12:00–14:30 plus 15 min clean-up overlaps the 15:00 window (travel from 14:00).
    await book(station.id, slot="12:00", adults=20, children=0, toddlers=0, upgrades={})
    assert await remaining(client, station.id) == {"12:00": 1, "15:00": 1, "18:00": 2, "21:00": 2}


async def test_small_parties_back_to_back_do_not_overlap(client, station, book):
    await book(station.id, slot="12:00", email="a@example.com")
    await book(station.id, slot="12:00", email="b@example.com")
    assert await remaining(client, station.id) == {"12:00": 0, "15:00": 2, "18:00": 2, "21:00": 2}


async def test_chef_daily_limit_closes_the_day(client, station, book, add_chefs, make_station):
    other = await make_station("SAC")
    await add_chefs(other, 1, max_events_per_day=2)
    await book(other.id, slot="12:00", email="a@example.com")
    assert await remaining(client, other.id) == {"12:00": 0, "15:00": 1, "18:00": 1, "21:00": 1}
    await book(other.id, slot="18:00", email="b@example.com")
    assert await remaining(client, other.id) == {"12:00": 0, "15:00": 0, "18:00": 0, "21:00": 0}


async def test_station_limit_of_three_events_per_chef(client, station, book):
    for n, slot in enumerate(["12:00", "15:00", "18:00"] * 2):
        await book(station.id, slot=slot, email=f"guest{n}@example.com")
    # Six events for two chefs at three a day: 21:00 is closed although no window overlaps it.
    assert await remaining(client, station.id) == {"12:00": 0, "15:00": 0, "18:00": 0, "21:00": 0}


async def test_chefs_off_or_not_working_that_weekday_do_not_count(client, db, clock, make_station, add_chefs):
    other = await make_station("AUS", "America/Chicago")
    weekday_chef, _ = await add_chefs(other, 2, working_weekdays=[1, 2, 3, 4, 5])
    async with db.transaction() as session:
        session.add(ChefTimeOff(chef_id=weekday_chef, first_day=EVENT_DAY, last_day=EVENT_DAY,
                                status=TimeOffStatus.approved.value))
        session.add(ChefTimeOff(chef_id=weekday_chef, first_day=EVENT_DAY + timedelta(days=1),
                                last_day=EVENT_DAY + timedelta(days=1), status=TimeOffStatus.requested.value))
    saturday = date(2026, 12, 12)
    assert await remaining(client, other.id, EVENT_DAY) == dict.fromkeys(SLOTS, 1)  # one chef has the day off
    # A requested (undecided) day off keeps the chef on duty; nobody works Saturdays.
    assert await remaining(client, other.id, EVENT_DAY + timedelta(days=1)) == dict.fromkeys(SLOTS, 2)
    assert await remaining(client, other.id, saturday) == dict.fromkeys(SLOTS, 0)


async def test_cancelled_bookings_free_their_chef(client, station, book):
    created = await book(station.id)
    await book(station.id, email="b@example.com")
    cancelled = await client.post(f"/api/v1/manage/{created['manage_token']}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    assert (await remaining(client, station.id))["18:00"] == 1


async def test_notice_and_horizon_close_start_times(client, station, clock):
    # Now: Tuesday 2026-12-01 08:00 local. 48 h notice → from Thursday 08:00; 365 days → until 2027-12-01.
    assert await remaining(client, station.id, date(2026, 12, 2)) == dict.fromkeys(SLOTS, 0)
    assert await remaining(client, station.id, date(2026, 12, 3)) == dict.fromkeys(SLOTS, 2)
    assert await remaining(client, station.id, date(2027, 12, 1)) == dict.fromkeys(SLOTS, 2)
    assert await remaining(client, station.id, date(2027, 12, 2)) == dict.fromkeys(SLOTS, 0)


async def test_range_and_station_are_validated(client, station):
    too_long = await client.get(f"{API}/stations/{station.id}/availability",
                                params={"start": "2026-12-01", "end": "2027-03-03"})
    backwards = await client.get(f"{API}/stations/{station.id}/availability",
                                 params={"start": "2026-12-10", "end": "2026-12-09"})
    unknown = await client.get(f"{API}/stations/999/availability", params={"start": "2026-12-10", "end": "2026-12-10"})
    ok = await client.get(f"{API}/stations/{station.id}/availability",
                          params={"start": "2026-12-01", "end": "2027-03-02"})
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "query.end"
    assert backwards.status_code == 422
    assert unknown.status_code == 404
    assert ok.status_code == 200 and len(ok.json()["days"]) == 92


async def test_availability_takes_one_query_for_one_day_or_a_quarter(client, station, book, db):
    """README: "One query whatever the range": the held windows. The station, its rules and its roster come
    from the cache (any earlier request warms it; a cold one adds their reads). Transaction control (SQLite's
    BEGIN) is not a query. The ranges counted were not asked before: the answers are computed, not kept ones."""
    for n in range(3):
        await book(station.id, slot="12:00" if n < 2 else "15:00", email=f"guest{n}@example.com")
    path = f"{API}/stations/{station.id}/availability"
    warm = await client.get(path, params={"start": "2026-12-11", "end": "2026-12-11"})
    assert warm.status_code == 200, warm.text
    statements: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001, ANN002
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    async def queries_for(start: str, end: str, days: int) -> list[str]:
        statements.clear()
        response = await client.get(path, params={"start": start, "end": end})
        assert response.status_code == 200, response.text
        assert len(response.json()["days"]) == days
        return list(statements)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        one_day = await queries_for("2026-12-10", "2026-12-10", 1)
        quarter = await queries_for("2026-12-03", "2027-03-04", 92)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(one_day) == len(quarter) == 1, (one_day, quarter)


async def test_chefs_assigned_to_one_window_are_each_busy_and_count_against_their_limit(client, station, book, db,
                                                                                        add_chefs):
    third, _fourth = await add_chefs(station, 2, max_events_per_day=1)  # four chefs: two of them one event a day
    first, _second = (await db_chef_ids(db, station.id))[:2]
    for n, chef_id in enumerate([first, third, None]):
        created = await book(station.id, slot="12:00", email=f"guest{n}@example.com")
        async with db.transaction() as session:
            await session.execute(update(Booking).where(Booking.id == created["id"]).values(chef_id=chef_id))
    # 12:00: the second and fourth chefs are free, less the unassigned event. Later: every chef but the third (at
    # their limit); the day still has 2 + 3 + 0 + 1 events left, less the unassigned one.
    assert await remaining(client, station.id) == {"12:00": 1, "15:00": 3, "18:00": 3, "21:00": 3}


async def test_a_chef_or_time_off_added_after_a_reading_counts_at_once(client, db, station, add_chefs):
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 2)  # the roster and the answer are kept now
    [added] = await add_chefs(station, 1)
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 3)
    async with db.transaction() as session:
        session.add(ChefTimeOff(chef_id=added, first_day=EVENT_DAY, last_day=EVENT_DAY,
                                status=TimeOffStatus.approved.value))
    assert await remaining(client, station.id) == dict.fromkeys(SLOTS, 2)


async def test_what_availability_offers_can_be_booked(client, station, book):
    offered = await remaining(client, station.id)
    assert offered["21:00"] == 2
    response = await client.post(f"{API}/bookings", json=booking_body(station.id, slot="21:00"))
    assert response.status_code == 201
