"""The per-day totals the reports sum (payments/day_totals.py) against a plain-Python recomputation from the raw
ledger: after random writes of every kind (including rows whose old values were never loaded, and time-zone
changes), after each write path of the app, and after the migration's backfill."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, column, insert, select, values
from sqlalchemy.orm import Session

from myhibachi.analytics.queries import _period, period_start
from myhibachi.analytics.schemas import Granularity
from myhibachi.core.db import Database
from myhibachi.core.migrations import alembic_config
from myhibachi.core.outbox import OutboxContext
from myhibachi.payments.day_totals import PaymentDayTotal
from myhibachi.payments.models import Payment, Refund
from myhibachi.payments.webhooks import apply_stripe_event, receive_stripe_event
from myhibachi.stations.models import Station
from tests.analytics.conftest import API, ZONES, Row
from tests.analytics.test_payment_report import METHODS, moments

DayTotals = dict[tuple[int, date, str], tuple[int, int, int, int, int]]
# A half-hour zone and one across the date line, besides the US ones
OTHER_ZONES = [*ZONES.values(), "Asia/Kolkata", "Pacific/Auckland"]


async def expected_day_totals(db: Database) -> DayTotals:
    """(station, local day, method) -> (paid count, paid cents, deposit cents, refunded count, refunded cents)."""
    async with db.transaction(write=False) as session:
        zones = {station_id: ZoneInfo(zone) for station_id, zone in await session.execute(
            select(Payment.station_id, Station.timezone).join(Station, Station.id == Payment.station_id))}
        sums: dict[tuple[int, date, str], list[int]] = defaultdict(lambda: [0] * 5)
        for payment in await session.scalars(select(Payment).where(Payment.status == "succeeded")):
            day = payment.succeeded_at.astimezone(zones[payment.station_id]).date()
            figures = sums[payment.station_id, day, payment.method]
            figures[0] += 1
            figures[1] += payment.amount_cents
            figures[2] += payment.amount_cents if payment.purpose == "deposit" else 0
        for refund in await session.scalars(select(Refund).where(Refund.status == "succeeded")):
            figures = sums[refund.station_id, refund.created_at.astimezone(zones[refund.station_id]).date(),
                           refund.method]
            figures[3] += 1
            figures[4] += refund.amount_cents
    return {key: tuple(figures) for key, figures in sums.items()}


async def stored_day_totals(db: Database) -> DayTotals:
    async with db.transaction(write=False) as session:
        rows = (await session.scalars(select(PaymentDayTotal))).all()
    stored = {(r.station_id, r.local_day, r.method): (r.paid_count, r.paid_cents, r.deposit_cents, r.refunded_count,
                                                      r.refunded_cents) for r in rows}
    return {key: figures for key, figures in stored.items() if any(figures)}  # a day emptied again keeps its row


# --- random writes -------------------------------------------------------------------------------------------


def _random_write(session: Session, data: st.DataObject, stations: list[Station], booking_of: dict[int, int]) -> str:
    """One random change to the ledger (or to a station's zone), in a sync session (run_sync) so that a column set
    after its loaded value was forgotten can load its old value; returns what it did."""
    payments = list(session.scalars(select(Payment).order_by(Payment.id)))
    refunds = list(session.scalars(select(Refund).order_by(Refund.id)))
    if data.draw(st.booleans(), label="forget loaded values"):  # then setting a column must load its old value
        session.expire_all()
    kinds = ["add payment", "add refund", "rezone"] + (["change payment", "delete payment"] if payments else [])
    kinds += ["change refund", "delete refund"] if refunds else []
    kind = data.draw(st.sampled_from(kinds), label="write")
    station = data.draw(st.sampled_from(stations), label="station")
    if kind == "add payment":
        status = data.draw(st.sampled_from(["succeeded", "succeeded", "pending", "failed"]))
        session.add(Payment(booking_id=booking_of[station.id], station_id=station.id, currency="USD",
                            purpose=data.draw(st.sampled_from(["deposit", "balance"])),
                            method=data.draw(st.sampled_from(METHODS)), status=status,
                            amount_cents=data.draw(st.integers(1, 200_000)),
                            succeeded_at=data.draw(moments(station.timezone)) if status == "succeeded" else None))
    elif kind == "change payment":
        _change_payment(data, data.draw(st.sampled_from(payments)), station)
    elif kind == "delete payment":
        payment = data.draw(st.sampled_from(payments))
        for refund in refunds:
            if refund.payment_id == payment.id:
                session.delete(refund)
        session.flush()
        session.delete(payment)
    elif kind == "add refund":
        target = next((p for p in payments if p.status == "succeeded"), None)
        if target is None:
            return "no payment to refund"
        session.add(Refund(payment_id=target.id, station_id=target.station_id, amount_cents=1 + target.id % 900,
                           method=data.draw(st.sampled_from(METHODS)), reason="test",
                           status=data.draw(st.sampled_from(["succeeded", "pending", "failed"])),
                           # None: the column default, now (set during the flush itself)
                           created_at=data.draw(st.none() | moments(station.timezone))))
    elif kind == "change refund":
        data.draw(st.sampled_from(refunds)).status = data.draw(st.sampled_from(["succeeded", "failed", "pending"]))
    elif kind == "delete refund":
        session.delete(data.draw(st.sampled_from(refunds)))
    else:
        session.get_one(Station, station.id).timezone = data.draw(st.sampled_from(OTHER_ZONES))
    return kind


def _change_payment(data: st.DataObject, payment: Payment, station: Station) -> None:
    change = data.draw(st.sampled_from(["succeed", "cancel", "amount", "method", "purpose"]))
    if change == "succeed":
        payment.status, payment.succeeded_at = "succeeded", data.draw(moments(station.timezone))
    elif change == "cancel":
        payment.status = "canceled"
    elif change == "amount":
        payment.amount_cents = data.draw(st.integers(1, 200_000))
    elif change == "method":
        payment.method = data.draw(st.sampled_from(METHODS))
    else:
        payment.purpose = data.draw(st.sampled_from(["deposit", "balance", "fee"]))


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_the_day_totals_equal_a_recomputation_after_any_writes(data, db, zones, ledger_rows):
    stations = [z.station for z in zones.values()]
    booking_of = {z.station.id: z.booking_id for z in zones.values()}
    await ledger_rows([], booking_of)  # hypothesis reuses the database: start from an empty ledger
    async with db.transaction() as session:  # and the stations' own zones
        for station in stations:
            (await session.get_one(Station, station.id)).timezone = station.timezone
    assert await stored_day_totals(db) == {}
    for _ in range(data.draw(st.integers(1, 12), label="writes")):
        async with db.transaction() as session:
            done = await session.run_sync(_random_write, data, stations, booking_of)
        assert await stored_day_totals(db) == await expected_day_totals(db), done


# --- the app's write paths --------------------------------------------------------------------------------------


async def test_manual_payments_and_refunds_keep_the_day_totals(client, db, zones, boss):
    booking_id = zones["NYC"].booking_id
    paid = await client.post(f"{API}/bookings/{booking_id}/payments", headers=boss,
                             json={"method": "zelle", "amount_cents": 10000, "reference": "Z-1"})
    assert paid.status_code == 201, paid.text
    refunded = await client.post(f"{API}/payments/{paid.json()['id']}/refunds", headers=boss,
                                 json={"amount_cents": 2500, "method": "cash", "reason": "too much"})
    assert refunded.status_code == 201, refunded.text

    today = datetime.now(UTC).astimezone(ZoneInfo(ZONES["NYC"])).date()
    station_id = zones["NYC"].station.id
    expected = {(station_id, today, "zelle"): (1, 10000, 10000, 0, 0), (station_id, today, "cash"): (0, 0, 0, 1, 2500)}
    assert await stored_day_totals(db) == await expected_day_totals(db) == expected


async def test_a_card_payment_settled_and_refunded_by_webhooks_keeps_the_day_totals(db, zones, settings, runtime):
    station = zones["LAX"].station
    async with db.transaction() as session:
        session.add(Payment(booking_id=zones["LAX"].booking_id, station_id=station.id, purpose="balance",
                            method="card", status="pending", amount_cents=30000, currency="USD",
                            provider_intent_id="pi_day_totals"))
    # 23:30 on 1 March in Los Angeles is already 2 March in UTC: the day is the station's
    succeeded, refunded = 1772436600, 1772440200  # 2026-03-02T07:30Z, 08:30Z (00:30 on 2 March, local)
    context = OutboxContext(settings=settings, mail=runtime.mail)
    for event_id, event_type, obj, created in (
            ("evt_ok", "payment_intent.succeeded", {"id": "pi_day_totals", "object": "payment_intent"}, succeeded),
            ("evt_refund", "charge.refunded", {"object": "charge", "payment_intent": "pi_day_totals", "refunds": {
                "data": [{"id": "re_day_totals", "amount": 4000, "status": "succeeded"}]}}, refunded)):
        async with db.transaction() as session:
            await receive_stripe_event(session, {"id": event_id, "object": "event", "type": event_type,
                                                 "created": created, "data": {"object": obj}})
        async with db.transaction() as session:
            await apply_stripe_event(session, {"event_id": event_id}, context)

    assert await stored_day_totals(db) == await expected_day_totals(db) == {
        (station.id, date(2026, 3, 1), "card"): (1, 30000, 0, 0, 0),
        (station.id, date(2026, 3, 2), "card"): (0, 0, 0, 1, 4000)}


async def test_a_time_zone_change_moves_the_payments_to_their_new_local_days(client, db, zones, boss, ledger_rows):
    station = zones["LAX"].station
    late = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)  # 23:30 on 2 March in Los Angeles, 02:30 on 3 March in New York
    await ledger_rows([Row(station=station, method="cash", status="succeeded", amount_cents=5000, succeeded_at=late,
                           refunds=[(700, "cash", "succeeded", late)])], {station.id: zones["LAX"].booking_id})
    params = {"station_id": station.id, "start": "2026-03-02", "end": "2026-03-03"}
    before = (await client.get(f"{API}/analytics/payments", headers=boss, params=params)).json()

    moved = await client.patch(f"{API}/stations/{station.id}", headers=boss, json={"timezone": "America/New_York"})
    assert moved.status_code == 200, moved.text

    after = (await client.get(f"{API}/analytics/payments", headers=boss, params=params)).json()
    assert [(b["period_start"], b["net_cents"]) for b in before["buckets"]] == [("2026-03-02", 4300),
                                                                                ("2026-03-03", 0)]
    assert [(b["period_start"], b["net_cents"]) for b in after["buckets"]] == [("2026-03-02", 0),
                                                                               ("2026-03-03", 4300)]
    assert await stored_day_totals(db) == await expected_day_totals(db) == {
        (station.id, date(2026, 3, 3), "cash"): (1, 5000, 5000, 1, 700)}


# --- the backfill ---------------------------------------------------------------------------------------------


async def test_the_migration_backfills_the_day_totals_from_the_ledger(db, zones, database_url):
    """Rows written around the ORM (as before the table existed) are counted once the migration has run."""
    moment = datetime(2026, 11, 1, 8, 59, tzinfo=UTC)  # 01:59 PDT, the hour that happens twice in Los Angeles
    async with db.transaction() as session:
        for code, zone in zones.items():
            payment_ids = (await session.scalars(insert(Payment).returning(Payment.id), [
                {"booking_id": zone.booking_id, "station_id": zone.station.id, "purpose": purpose,
                 "method": method, "status": status, "amount_cents": cents, "currency": "USD",
                 "succeeded_at": moment if status == "succeeded" else None}
                for purpose, method, status, cents in (("deposit", "card", "succeeded", 10000),
                                                       ("balance", "cash", "succeeded", 25000),
                                                       ("balance", "zelle", "failed", 999))])).all()
            await session.execute(insert(Refund), [
                {"payment_id": payment_ids[0], "station_id": zone.station.id, "amount_cents": 1000,
                 "method": "card", "status": status, "reason": code, "created_at": moment}
                for status in ("succeeded", "pending")])
    assert await stored_day_totals(db) == {}  # bulk inserts skip the flush that keeps them
    config = alembic_config(database_url)

    await asyncio.to_thread(command.downgrade, config, "0017")
    await asyncio.to_thread(command.upgrade, config, "head")

    expected = await expected_day_totals(db)
    assert await stored_day_totals(db) == expected and len(expected) == 2 * len(zones)


async def test_a_change_to_a_row_whose_values_were_forgotten_takes_off_what_it_counted(db, zones, ledger_rows):
    """A column set without its old value loaded (expired after a commit elsewhere, say) still takes off the
    row's old contribution: the columns the totals read load their old value when set."""
    station = zones["CHI"].station
    moment = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    await ledger_rows([Row(station=station, method="card", status="succeeded", amount_cents=5000, succeeded_at=moment,
                           refunds=[(700, "card", "succeeded", moment)])], {station.id: zones["CHI"].booking_id})

    def cancel_all(session: Session) -> None:
        payment, refund = session.scalars(select(Payment)).one(), session.scalars(select(Refund)).one()
        session.expire_all()
        payment.status, refund.status = "canceled", "failed"

    async with db.transaction() as session:
        await session.run_sync(cancel_all)
    assert await stored_day_totals(db) == await expected_day_totals(db) == {}


# --- what the reports make of them ------------------------------------------------------------------------------


@pytest.mark.parametrize("granularity", list(Granularity))
async def test_the_database_puts_each_local_day_in_its_period_as_python_does(db, granularity):
    """Every day of three years (a leap year, every weekday of every month) through the SQL that groups the days."""
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(3 * 366)]
    table = values(column("day", Date), name="days").data([(day,) for day in days]).cte("days")
    async with db.transaction(write=False) as session:
        grouped = (await session.execute(select(table.c.day, _period(table.c.day, granularity, db.dialect)))).all()
    assert {day: start for day, start in grouped} == {day: period_start(day, granularity) for day in days}


async def test_the_kpis_count_money_on_the_first_and_last_local_day_of_the_range_only(client, db, zones, boss):
    """Received, deposits and refunds: a payment a minute inside each end of the range counts, one a minute outside
    does not (Honolulu's days)."""
    station, zone = zones["HNL"].station, ZoneInfo(ZONES["HNL"])
    first, last = date(2026, 5, 1), date(2026, 5, 31)
    inside = [datetime(2026, 5, 1, 0, 1, tzinfo=zone), datetime(2026, 5, 31, 23, 59, tzinfo=zone)]
    outside = [datetime(2026, 4, 30, 23, 59, tzinfo=zone), datetime(2026, 6, 1, 0, 1, tzinfo=zone)]
    rows = [Row(station=station, method="venmo", status="succeeded", amount_cents=cents, succeeded_at=moment,
                purpose=purpose, refunds=[(cents // 10, "venmo", "succeeded", moment)])
            for moments_, cents in ((inside, 10000), (outside, 777)) for moment in moments_
            for purpose in ("deposit", "balance")]
    async with db.transaction() as session:
        for row in rows:
            payment = Payment(booking_id=zones["HNL"].booking_id, station_id=station.id, purpose=row.purpose,
                              method=row.method, status=row.status, amount_cents=row.amount_cents, currency="USD",
                              succeeded_at=row.succeeded_at.astimezone(UTC))
            session.add(payment)
            await session.flush()
            session.add(Refund(payment_id=payment.id, station_id=station.id, amount_cents=row.amount_cents // 10,
                               method="venmo", status="succeeded", reason="test",
                               created_at=row.succeeded_at.astimezone(UTC)))

    kpis = await client.get(f"{API}/analytics/kpis", headers=boss,
                            params={"station_id": station.id, "start": first.isoformat(), "end": last.isoformat()})

    assert kpis.status_code == 200, kpis.text
    assert (kpis.json()["revenue_cents"], kpis.json()["deposits_collected_cents"]) == (4 * 10000 - 4 * 1000,
                                                                                       2 * 10000)
