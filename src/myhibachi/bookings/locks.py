"""The one place bookings take locks: a station-day lock around every capacity check and the write after it.

PostgreSQL: transaction-scoped advisory locks, one per (station, local date) the busy windows touch, taken in
ascending order so two writers never deadlock. SQLite: a write transaction already began with BEGIN IMMEDIATE,
which serializes writers for the whole transaction. On both, triggers (migration 0004) refuse what no check
may ever let through: more overlapping events than the station has active chefs, or a chef in two places.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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
