"""The one place bookings take locks: a station-day lock around every capacity check and the write after it.

PostgreSQL: transaction-scoped advisory locks, one per (station, local date) the busy windows touch, taken in
ascending order so two writers never deadlock. SQLite: a write transaction already began with BEGIN IMMEDIATE,
which serializes writers for the whole transaction. On both, triggers (migration 0004) refuse what no check
may ever let through: more overlapping events than the station has active chefs, or a chef in two places.

The order, for every writer of a booking (payments and webhooks included): its station days, then its row (both
through `lock_booking`), then its payment rows. Nobody locks a booking row any other way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.models import Booking
from myhibachi.core.errors import NotFound
from myhibachi.stations.models import Station

_KEY_SPACE = 2**63


def station_day_key(station_id: int, day: date) -> int:
    """A signed 64-bit advisory-lock key, unique per station and date (date ordinals stay below 2**20)."""
    key = (station_id << 20) + day.toordinal()
    return key - _KEY_SPACE * 2 if key >= _KEY_SPACE else key


async def lock_station_days(session: AsyncSession, station_id: int, days: Iterable[date]) -> None:
    if session.bind.dialect.name != "postgresql":
        return  # BEGIN IMMEDIATE holds SQLite's single write lock until commit
    for day in sorted(set(days)):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": station_day_key(station_id, day)})


def booking_days(zone: ZoneInfo, booking: Booking) -> set[date]:
    """The station-local dates the booking's busy window touches: the days a writer of it must lock."""
    return {booking.event_date, booking.busy_start.astimezone(zone).date(), booking.busy_end.astimezone(zone).date()}


async def _read_booking(session: AsyncSession, booking_id: int, *, for_update: bool = False) -> Booking:
    stmt = select(Booking).where(Booking.id == booking_id).execution_options(populate_existing=True)
    booking = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if booking is None:
        raise NotFound("No such booking.")
    return booking


async def lock_booking(session: AsyncSession, booking_id: int, extra_days: Iterable[date] = ()) -> Booking:
    """Lock the booking's station days (and `extra_days`), then its row; NotFound if there is no such booking.

    The days are re-read once held: a reschedule that committed before we held them may have moved the booking,
    and it cannot move again while we hold the days it is on. The row lock comes only after that."""
    booking, extra = await _read_booking(session, booking_id), set(extra_days)
    zone = ZoneInfo(await session.scalar(select(Station.timezone).where(Station.id == booking.station_id)))
    claimed: set[date] = set()
    while not (wanted := booking_days(zone, booking) | extra) <= claimed:
        await lock_station_days(session, booking.station_id, wanted - claimed)
        claimed |= wanted
        booking = await _read_booking(session, booking_id)
    return await _read_booking(session, booking_id, for_update=True)
