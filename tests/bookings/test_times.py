"""Wall-clock times across daylight-saving changes: a station-local slot keeps its local time, its offset is the
one in force that day, and the stored instant is the matching UTC one (America/Los_Angeles, 2026: clocks spring
forward on March 8 at 02:00 and fall back on November 1 at 02:00)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import icalendar
import pytest

from myhibachi.bookings.capacity import local_start, local_starts
from myhibachi.bookings.models import Booking
from tests.bookings.conftest import API

LA = ZoneInfo("America/Los_Angeles")
SLOTS = ["12:00", "15:00", "18:00", "21:00"]
BEFORE_SPRING = datetime(2026, 2, 1, 17, 0, tzinfo=UTC)  # five weeks ahead: inside notice and horizon
BEFORE_FALL = datetime(2026, 10, 15, 17, 0, tzinfo=UTC)

CASES = [
    # clock, event date, expected local start, expected stored UTC start
    pytest.param(BEFORE_SPRING, "2026-03-07", "2026-03-07T18:00:00-08:00", datetime(2026, 3, 8, 2, tzinfo=UTC),
                 id="day-before-spring-forward"),
    pytest.param(BEFORE_SPRING, "2026-03-08", "2026-03-08T18:00:00-07:00", datetime(2026, 3, 9, 1, tzinfo=UTC),
                 id="spring-forward"),
    pytest.param(BEFORE_FALL, "2026-10-31", "2026-10-31T18:00:00-07:00", datetime(2026, 11, 1, 1, tzinfo=UTC),
                 id="day-before-fall-back"),
    pytest.param(BEFORE_FALL, "2026-11-01", "2026-11-01T18:00:00-08:00", datetime(2026, 11, 2, 2, tzinfo=UTC),
                 id="fall-back"),
]


@pytest.mark.parametrize(("now", "day", "local", "utc"), CASES)
async def test_an_evening_slot_has_the_offset_of_its_day(client, station, book, db, clock, now, day, local, utc):
    clock.move_to(now)

    created = await book(station.id, day=day, slot="18:00")

    assert created["event_start"] == local
    async with db.transaction(write=False) as session:
        booking = await session.get_one(Booking, created["id"])
    assert booking.event_start == utc
    assert booking.event_start.utcoffset().total_seconds() == 0
    assert booking.event_start.astimezone(LA).strftime("%Y-%m-%d %H:%M") == f"{day} 18:00"
    assert (booking.event_end - booking.event_start).total_seconds() == 90 * 60

    manage = await client.get(f"{API}/manage/{created['manage_token']}")
    assert manage.json()["event_start"] == local
    ics = await client.get(f"{API}/manage/{created['manage_token']}/calendar.ics")
    [event] = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "America/Los_Angeles"
    assert event["DTSTART"].dt.isoformat() == local


@pytest.mark.parametrize(("now", "day"), [
    pytest.param(BEFORE_SPRING, "2026-03-08", id="spring-forward"),
    pytest.param(BEFORE_FALL, "2026-11-01", id="fall-back"),
])
async def test_availability_on_a_change_day_lists_the_usual_four_slots(client, station, clock, now, day):
    clock.move_to(now)

    response = await client.get(f"{API}/stations/{station.id}/availability", params={"start": day, "end": day})

    assert response.status_code == 200, response.text
    [listed] = response.json()["days"]
    assert listed["date"] == day
    assert listed["slots"] == [{"time": slot, "available": True, "remaining": 2} for slot in SLOTS]


async def test_a_booking_on_the_change_day_takes_only_its_own_slot(client, station, book, clock):
    clock.move_to(BEFORE_SPRING)
    await book(station.id, day="2026-03-08", slot="18:00")

    response = await client.get(f"{API}/stations/{station.id}/availability",
                                params={"start": "2026-03-07", "end": "2026-03-09"})

    remaining = {(d["date"], s["time"]): s["remaining"] for d in response.json()["days"] for s in d["slots"]}
    assert remaining.pop(("2026-03-08", "18:00")) == 1
    assert set(remaining.values()) == {2}


def test_local_start_of_a_wall_time_in_the_spring_forward_gap_is_none():
    assert local_start(LA, date(2026, 3, 8), time(2, 30)) is None  # 02:00-03:00 does not exist that night
    assert local_start(LA, date(2026, 3, 8), time(2, 0)) is None


def test_local_start_keeps_the_wall_time_with_the_offset_of_the_day():
    spring = local_start(LA, date(2026, 3, 8), time(18))
    fall = local_start(LA, date(2026, 11, 1), time(18))
    assert spring is not None and fall is not None
    assert spring.isoformat() == "2026-03-08T18:00:00-07:00"
    assert fall.isoformat() == "2026-11-01T18:00:00-08:00"
    assert spring.astimezone(UTC) == datetime(2026, 3, 9, 1, tzinfo=UTC)
    assert fall.astimezone(UTC) == datetime(2026, 11, 2, 2, tzinfo=UTC)
    assert local_start(LA, date(2026, 3, 8), time(3)).isoformat() == "2026-03-08T03:00:00-07:00"  # just after
    assert local_start(LA, date(2026, 3, 8), time(1, 59)).isoformat() == "2026-03-08T01:59:00-08:00"  # just before


def test_local_start_of_a_repeated_wall_time_is_the_first_one():
    """01:30 on the fall-back night happens twice; the earlier (still daylight) one is meant."""
    start = local_start(LA, date(2026, 11, 1), time(1, 30))
    assert start is not None
    assert start.utcoffset().total_seconds() == -7 * 3600
    assert start.astimezone(UTC) == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "America/Havana", "Asia/Beirut", "Australia/Lord_Howe",
                                  "Europe/London", "UTC"])
def test_the_starts_of_a_date_are_its_slots_own_starts_every_day_of_the_year(zone):
    """`local_starts` checks a date for a DST change once; each start must still be the moment of its own
    `local_start` (given in UTC), on change days too: at 02:00 (Los Angeles), at midnight (Havana, Beirut) and by
    half an hour (Lord Howe)."""
    tz, slots = ZoneInfo(zone), [time(0), time(0, 30), time(1, 30), time(2, 30), time(12), time(18), time(23, 30)]
    for offset in range(366):
        day = date.fromordinal(date(2026, 1, 1).toordinal() + offset)
        starts = local_starts(tz, day, slots)
        own_starts = [local_start(tz, day, slot) for slot in slots]
        assert starts == [own.astimezone(UTC) if own else None for own in own_starts]
        assert all(start is None or start.tzinfo is UTC for start in starts)
