"""Booking fixtures: a station with chefs, a clock frozen at a known instant, and a booking request builder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine

from myhibachi.chefs.models import EVERY_WEEKDAY, Chef
from myhibachi.core.db import Database
from myhibachi.stations.models import Station

API = "/api/v1"
# Tuesday 2026-12-01 08:00 in Fremont (16:00 UTC): far enough from DST changes that local offsets are -08:00.
NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
EVENT_DAY = date(2026, 12, 10)


@pytest.fixture
def clock():
    """The frozen clock; `clock.move_to(...)` jumps it. Bookings compare against this "now" everywhere."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def add_chefs(db: Database) -> Callable[..., Awaitable[list[int]]]:
    async def add(station: Station, count: int = 2, **fields: Any) -> list[int]:
        async with db.transaction() as session:
            chefs = [Chef(station_id=station.id, name=f"Chef {station.code} {n}",
                          working_weekdays=fields.get("working_weekdays", EVERY_WEEKDAY),
                          max_events_per_day=fields.get("max_events_per_day"), is_active=True)
                     for n in range(1, count + 1)]
            session.add_all(chefs)
            await session.flush()
            return [chef.id for chef in chefs]

    return add


@pytest.fixture
async def station(clock, make_station, add_chefs) -> Station:
    station = await make_station("FRE")
    await add_chefs(station, 2)
    return station


def booking_body(station_id: int, day: date | str = EVENT_DAY, slot: str = "18:00", *, email: str = "dana@example.com",
                 **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "station_id": station_id, "adults": 12, "children": 4, "toddlers": 1, "upgrades": {"filet_mignon": 3},
        "addons": {"gyoza": 1}, "event_date": str(day), "slot_time": slot,
        "venue": {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"},
        "customer": {"name": "Dana Lee", "email": email, "phone": "(510) 555-0142"},
        "allergies": "none",
    }
    body.update(fields)
    return body


@pytest.fixture
def book(client) -> Callable[..., Awaitable[dict[str, Any]]]:
    """POST /bookings expecting 201; returns the created booking."""

    async def create(station_id: int, day: date | str = EVENT_DAY, slot: str = "18:00", **fields: Any) -> dict:
        response = await client.post(f"{API}/bookings", json=booking_body(station_id, day, slot, **fields))
        assert response.status_code == 201, response.text
        return response.json()

    return create
