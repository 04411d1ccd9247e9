"""KPIs of a station over a range of local dates, their CSV, and their scope."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.core.db import Database
from myhibachi.leads.models import FlowVisit
from myhibachi.payments.models import Payment, Refund
from tests.analytics.conftest import API
from tests.factories import insert_booking

LA = ZoneInfo("America/Los_Angeles")
RANGE = {"start": "2026-11-15", "end": "2026-12-31"}
pytestmark = pytest.mark.usefixtures("clock")  # now: 2026-12-01 08:00 in Los Angeles, frozen before sign-in


def la(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LA).astimezone(UTC)


async def add_payment(db: Database, booking_id: int, station_id: int, amount: int, at: datetime, *,
                      purpose: str = "deposit", status: str = "succeeded",
                      refunds: tuple[tuple[int, datetime], ...] = ()) -> None:
    async with db.transaction() as session:
        payment = Payment(booking_id=booking_id, station_id=station_id, purpose=purpose, method="card",
                          status=status, amount_cents=amount, currency="USD", created_at=at,
                          succeeded_at=at if status == "succeeded" else None)
        session.add(payment)
        await session.flush()
        session.add_all([Refund(payment_id=payment.id, station_id=station_id, amount_cents=cents, method="card",
                                status="succeeded", reason="test", created_at=when) for cents, when in refunds])


async def totals(db: Database, *booking_ids: int) -> list[int]:
    async with db.transaction(write=False) as session:
        rows = {b.id: b.quote["total_cents"] + b.fees_cents
                for b in await session.scalars(select(Booking).where(Booking.id.in_(booking_ids)))}
    return [rows[i] for i in booking_ids]


@pytest.fixture
async def history(zones, db):  # noqa: ANN001, ANN201
    """Bookings of the Los Angeles station in every state, their money, and a Chicago booking that must stay out."""
    lax, chi = zones["LAX"].station, zones["CHI"].station

    async def booking(status: BookingStatus, event: datetime, created: datetime, **fields: int) -> int:
        return await insert_booking(db, lax, event, status=status, created_at=created, **fields)

    ids = {
        "upcoming": await booking(BookingStatus.confirmed, la(2026, 12, 10, 18), la(2026, 11, 29, 23, 59)),
        "completed": await booking(BookingStatus.completed, la(2026, 11, 20, 18), la(2026, 11, 1, 12), adults=12),
        "cancelled": await booking(BookingStatus.cancelled, la(2026, 12, 12, 18), la(2026, 11, 30, 9)),
        "pending": await booking(BookingStatus.pending_deposit, la(2026, 12, 15, 18), la(2026, 12, 1, 7)),
        "expired": await booking(BookingStatus.expired, la(2026, 12, 16, 18), la(2026, 11, 30, 0, 0)),
        "no_show": await booking(BookingStatus.no_show, la(2026, 11, 25, 18), la(2026, 10, 1, 12)),
        "next_year": await booking(BookingStatus.confirmed, la(2027, 1, 5, 18), la(2026, 12, 1, 0, 0)),
    }
    await add_payment(db, ids["upcoming"], lax.id, 10000, la(2026, 11, 29, 12))
    await add_payment(db, ids["completed"], lax.id, 10000, la(2026, 11, 14, 23, 59))  # the day before the range
    await add_payment(db, ids["completed"], lax.id, 50000, la(2026, 11, 20, 21), purpose="balance",
                      refunds=((5000, la(2026, 11, 21, 10)),))
    await add_payment(db, ids["cancelled"], lax.id, 10000, la(2026, 11, 30, 9),
                      refunds=((10000, la(2026, 12, 1, 0, 1)),))
    await add_payment(db, ids["pending"], lax.id, 7777, la(2026, 12, 1, 7), status="failed")
    chicago = await insert_booking(db, chi, datetime(2026, 12, 11, 0, tzinfo=UTC), created_at=la(2026, 12, 1, 1))
    await add_payment(db, chicago, chi.id, 99999, datetime(2026, 12, 1, 2, tzinfo=UTC))
    return ids


async def test_the_kpis_of_a_station(client, boss, zones, history, db):
    response = await client.get(f"{API}/analytics/kpis", headers=boss,
                                params={"station_id": zones["LAX"].station.id, **RANGE})

    assert response.status_code == 200, response.text
    kpis = response.json()
    upcoming_total, completed_total = await totals(db, history["upcoming"], history["completed"])
    assert kpis["bookings_by_status"] == {"pending_deposit": 1, "confirmed": 1, "completed": 1, "no_show": 1,
                                          "cancelled": 1, "expired": 1}
    # since Mon 30 Nov / 1 Dec, local; the setup's own booking (made now, for June) counts too
    assert (kpis["created_this_week"], kpis["created_this_month"]) == (4 + 1, 2 + 1)
    assert kpis["upcoming_events"] == 2 + 1
    assert kpis["guests_served"] == 12
    assert kpis["revenue_cents"] == 10000 + 50000 + 10000 - 5000 - 10000
    assert kpis["deposits_collected_cents"] == 20000
    assert kpis["outstanding_balance_cents"] == (upcoming_total - 10000) + (completed_total - 55000)
    assert kpis["average_booking_value_cents"] == (upcoming_total + completed_total + 1) // 2
    assert kpis["cancellation_rate"] == 0.25
    assert kpis["quote_to_booking_conversion"] is None
    assert kpis["timezone"] == "America/Los_Angeles"


async def test_all_stations_add_up_and_a_station_without_events_shows_zeros(client, boss, zones, history):
    everywhere = (await client.get(f"{API}/analytics/kpis", headers=boss, params=RANGE)).json()
    quiet = (await client.get(f"{API}/analytics/kpis", headers=boss,
                              params={"station_id": zones["NYC"].station.id, **RANGE})).json()

    assert everywhere["station_id"] is None and everywhere["timezone"] is None
    assert everywhere["revenue_cents"] == 55000 + 99999
    assert everywhere["bookings_by_status"]["confirmed"] == 1 + 1  # LAX's and Chicago's (setup ones are in June)
    assert quiet["revenue_cents"] == 0 and quiet["average_booking_value_cents"] is None
    assert quiet["cancellation_rate"] is None and sum(quiet["bookings_by_status"].values()) == 0


async def test_the_kpis_as_csv(client, boss, zones, history):
    response = await client.get(f"{API}/analytics/kpis", headers=boss,
                                params={"station_id": zones["LAX"].station.id, "format": "csv", **RANGE})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["metric", "value"]
    values = dict(rows[1:])
    assert values["revenue_cents"] == "55000" and values["bookings_cancelled"] == "1"
    assert values["quote_to_booking_conversion"] == ""


async def test_quote_to_booking_conversion_is_deposits_over_quotes_in_the_range(client, boss, zones, history, db):
    """Quotes: the site's priced parties (flow visits) in the local range; deposits: bookings confirmed in it."""
    lax, chi = zones["LAX"].station, zones["CHI"].station
    async with db.transaction() as session:
        for n, (station, at) in enumerate([(lax, la(2026, 11, 15, 0, 0)), (lax, la(2026, 11, 20, 12)),
                                           (lax, la(2026, 12, 1, 7)), (lax, la(2026, 12, 31, 23, 59)),
                                           (lax, la(2026, 11, 14, 23, 59)),  # the day before the range
                                           (chi, la(2026, 11, 20, 12))]):  # another station
            session.add(FlowVisit(visitor_key=f"visitor-{n}", station_id=station.id, quoted_at=at))
        await session.execute(update(Booking).where(Booking.id.in_([history["upcoming"], history["completed"]]))
                              .values(confirmed_at=la(2026, 11, 29, 12)))
        await session.execute(update(Booking).where(Booking.id == history["next_year"])
                              .values(confirmed_at=la(2027, 1, 2, 12)))  # after the range
    response = await client.get(f"{API}/analytics/kpis", headers=boss, params={**RANGE, "station_id": lax.id})
    assert response.json()["quote_to_booking_conversion"] == 0.5  # 2 deposits ÷ 4 quotes
    empty = await client.get(f"{API}/analytics/kpis", headers=boss,
                             params={"start": "2025-01-01", "end": "2025-01-31", "station_id": lax.id})
    assert empty.json()["quote_to_booking_conversion"] is None  # no quote: no ratio
