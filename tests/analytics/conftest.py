"""Analytics fixtures: stations in four time zones with one booking each, a super admin, and raw ledger rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.bookings.models import BookingStatus
from myhibachi.core.db import Database
from myhibachi.payments.models import Payment, Refund
from myhibachi.stations.models import Station
from tests.bookings.conftest import add_chefs, book, clock, station  # noqa: F401 - fixtures
from tests.factories import insert_booking

API = "/api/v1"
ZONES = {"LAX": "America/Los_Angeles", "CHI": "America/Chicago", "NYC": "America/New_York",
         "HNL": "Pacific/Honolulu"}


@dataclass
class Zone:
    station: Station
    booking_id: int


@pytest.fixture
async def zones(make_station, add_chefs, db: Database) -> dict[str, Zone]:  # noqa: F811
    made = {}
    for code, timezone in ZONES.items():
        made_station = await make_station(code, timezone)
        await add_chefs(made_station, 1)
        booking_id = await insert_booking(db, made_station, datetime(2027, 6, 1, 1, 0, tzinfo=UTC),
                                          status=BookingStatus.confirmed)
        made[code] = Zone(made_station, booking_id)
    return made


@pytest.fixture
async def boss(make_user, login) -> dict[str, str]:
    await make_user("boss@example.com", Role.super_admin)
    return await login("boss@example.com")


@dataclass
class Row:
    """A payment as the oracle sees it, with its refunds as (amount, status, created_at)."""
    station: Station
    method: str
    status: str
    amount_cents: int
    succeeded_at: datetime | None
    purpose: str = "deposit"
    refunds: list[tuple[int, str, str, datetime]] | None = None


@pytest.fixture
def ledger_rows(db: Database) -> Callable[..., Awaitable[None]]:
    """Replace every payment and refund with these rows, through the ORM (so cached figures are invalidated)."""

    async def write(rows: list[Row], booking_of: dict[int, int]) -> None:
        async with db.transaction() as session:
            for refund in await session.scalars(select(Refund)):
                await session.delete(refund)
            await session.flush()
            for payment in await session.scalars(select(Payment)):
                await session.delete(payment)
            await session.flush()
            for row in rows:
                payment = Payment(booking_id=booking_of[row.station.id], station_id=row.station.id,
                                  purpose=row.purpose, method=row.method, status=row.status,
                                  amount_cents=row.amount_cents, currency="USD", succeeded_at=row.succeeded_at,
                                  created_at=row.succeeded_at or datetime(2026, 1, 1, tzinfo=UTC))
                session.add(payment)
                await session.flush()
                for amount, method, status, created_at in row.refunds or []:
                    session.add(Refund(payment_id=payment.id, station_id=row.station.id, amount_cents=amount,
                                       method=method, status=status, reason="test", created_at=created_at))
            await session.flush()

    return write


def report_params(**params: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items() if v is not None}
