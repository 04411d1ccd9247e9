"""Payment analytics: the one-statement report against a naive ORM loop, and a cache hit against a miss.

Run: .venv/bin/python benchmarks/analytics.py [payments]
Needs PostgreSQL at postgresql+asyncpg://postgres@127.0.0.1:5432/ (or BENCH_PG_URL); uses Redis for the cache when
BENCH_REDIS_URL is set (e.g. redis://127.0.0.1:6379/15, a database it may fill), memory otherwise. Creates a
throwaway database (dropped at the end) with three stations in three time zones and `payments` succeeded
payments (default 100,000) spread over the last two years, 5% of them partly refunded. Then times, for one station
by local day over the two years: the report as the app computes it (one SQL statement over the per-day totals
that `payments.day_totals.rebuild_day_totals` built from the seeded rows, as the migration does), and a naive ORM
loop that runs one query per day for payments and one for refunds; then the cached report, a hit against a miss.
Prints medians and the ratios. Not a test.

Run: .venv/bin/python benchmarks/analytics.py scale [payments, default 10,000,000]
Scale (issue 21): one station-year's report by day at 100,000 payments against the same at `payments`. Two
throwaway databases, seeded in SQL (generate_series, payments evenly over the year in time order, every 20th one
partly refunded), then each station's per-day totals rebuilt from them with `rebuild_day_totals` (timed: what a
station's time-zone change costs): a small one, whose station SMALL has 100,000 payments in the year; and a big one
holding the same SMALL plus a station BIG with the rest of `payments` in the same year. Times the report (the one
statement over the per-day totals, a cache miss) for SMALL in each database (does a bigger table slow a station's
report?) and for BIG (a station-year with 100 times the payments), and prints the ratios against SMALL in the
small database.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from _serving import throwaway_database
from pydantic_core import to_json
from sqlalchemy import insert, select, text

from myhibachi.analytics.queries import ReportRange, _payment_report, payment_report_json, periods
from myhibachi.analytics.schemas import Granularity, PaymentReport
from myhibachi.auth.principal import SYSTEM
from myhibachi.chefs.models import Chef
from myhibachi.core.cache import cache_for
from myhibachi.core.db import Database
from myhibachi.payments.day_totals import rebuild_day_totals
from myhibachi.payments.models import Payment, Refund, payments_tag
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.models import Station
from myhibachi.stations.schemas import Address, StationCreate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for the tests' row factory
from tests.factories import insert_booking  # noqa: E402

ZONES = {"LAX": "America/Los_Angeles", "CHI": "America/Chicago", "NYC": "America/New_York"}
METHODS = ["card", "card", "card", "cash", "zelle", "venmo", "check"]
END = date(2026, 11, 30)
START = END - timedelta(days=730)
REPEATS = 5


async def seed(db: Database, payments: int) -> list[Station]:
    stations = []
    async with db.transaction() as session:
        for code, zone in ZONES.items():
            station, _ = await ensure_station(session, StationCreate(
                code=code, name=code, timezone=zone, latitude=37.5, longitude=-122.0,
                address=Address(line1="1 Main St", city="Fremont", state="CA", zip_code="94538")))
            stations.append(station)
    async with db.transaction() as session:
        session.add_all([Chef(station_id=s.id, name=f"Chef {s.code}", working_weekdays=[0, 1, 2, 3, 4, 5, 6],
                              is_active=True) for s in stations])
    # one booking per station carries its payments
    bookings = {s.id: await insert_booking(db, s, datetime(2027, 6, 1, 1, tzinfo=UTC)) for s in stations}
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    first = datetime.combine(START, datetime.min.time(), UTC)
    span = int((timedelta(days=731)).total_seconds())
    rows = []
    for _ in range(payments):
        station = rng.choice(stations)
        at = first + timedelta(seconds=rng.randrange(span))
        rows.append({"booking_id": bookings[station.id], "station_id": station.id, "purpose": "deposit",
                     "method": rng.choice(METHODS), "status": "succeeded", "amount_cents": rng.randint(5000, 150000),
                     "currency": "USD", "created_at": at, "succeeded_at": at, "updated_at": at})
    rows.sort(key=lambda row: row["succeeded_at"])  # as a live ledger grows: in time order
    async with db.transaction() as session:
        for chunk in range(0, len(rows), 10_000):
            await session.execute(insert(Payment), rows[chunk:chunk + 10_000])
        ids = (await session.execute(select(Payment.id, Payment.station_id))).all()
        refunded = rng.sample(ids, len(ids) // 20)
        await session.execute(insert(Refund), [
            {"payment_id": pid, "station_id": station_id, "amount_cents": 1000, "method": "card",
             "status": "succeeded", "reason": "bench", "created_at": first + timedelta(seconds=rng.randrange(span)),
             "updated_at": first} for pid, station_id in refunded])
    async with db.engine.begin() as conn:  # bulk inserts skip the ORM flush that keeps the totals: as the migration
        await conn.run_sync(rebuild_day_totals)
    # Statistics and the visibility map, as autovacuum would have left them (VACUUM runs outside a transaction).
    async with db.engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))
    return stations


async def naive_report(db: Database, station: Station) -> dict[date, tuple[int, int, int]]:
    """What code without the statement would do: one ORM query per local day for payments, one for refunds."""
    zone = ZoneInfo(station.timezone)
    figures = {}
    async with db.transaction(write=False) as session:
        for day in periods(START, END, Granularity.day):
            since = datetime.combine(day, datetime.min.time(), zone)
            until = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
            payments = (await session.scalars(select(Payment).where(
                Payment.station_id == station.id, Payment.status == "succeeded",
                Payment.succeeded_at >= since, Payment.succeeded_at < until))).all()
            refunds = (await session.scalars(select(Refund).where(
                Refund.station_id == station.id, Refund.status == "succeeded",
                Refund.created_at >= since, Refund.created_at < until))).all()
            gross = sum(p.amount_cents for p in payments)
            figures[day] = (gross, sum(r.amount_cents for r in refunds), len(payments))
    return figures


async def timed(run) -> tuple[float, object]:  # noqa: ANN001
    started = time.perf_counter()
    result = await run()
    return time.perf_counter() - started, result


async def median_of(run, repeats: int = REPEATS) -> tuple[float, object]:  # noqa: ANN001
    results = [await timed(run) for _ in range(repeats)]
    return statistics.median(t for t, _ in results), results[-1][1]


async def main(payments: int) -> None:
    async with throwaway_database() as url:
        db = Database(url)
        try:
            print(f"seeding {payments:,} payments over {START} – {END} across {len(ZONES)} stations…", flush=True)
            stations = await seed(db, payments)
            station = stations[0]
            request = ReportRange(station.id, START, END)
            labels = periods(START, END, Granularity.day)

            async def one_statement() -> bytes:  # what a cache miss computes: the statement, then the JSON
                async with db.transaction(write=False) as session:
                    return to_json(await _payment_report(session, [station], request, Granularity.day, labels))

            report_time, raw = await median_of(one_statement)
            report = PaymentReport.model_validate_json(raw)
            naive_time, naive = await median_of(lambda: naive_report(db, station), repeats=3)
            same = all((b.gross_cents, b.refunds_cents, b.count) == naive[b.period_start] for b in report.buckets)
            print(f"report, one station by day over 2 years ({len(labels)} days, "
                  f"{report.totals.count:,} payments): one statement {report_time * 1000:.1f} ms, "
                  f"naive ORM loop ({2 * len(labels)} queries) {naive_time * 1000:.0f} ms; "
                  f"same figures: {same}")
            print(f"ratio naive / one statement: {naive_time / report_time:.1f}x (goal >= 25x)")

            redis_url = os.environ.get("BENCH_REDIS_URL")
            cache = cache_for(redis_url)
            try:
                async def cached():  # noqa: ANN202
                    async with db.transaction(write=False) as session:
                        return await payment_report_json(session, cache, 300, SYSTEM, request, Granularity.day)

                async def miss():  # noqa: ANN202
                    await cache.invalidate([payments_tag(station.id)])
                    return await cached()

                miss_time, _ = await median_of(miss)
                await cached()
                hit_time, _ = await median_of(cached, repeats=20)
            finally:
                await cache.close()
            print(f"cache ({'Redis' if redis_url else 'memory'}): miss {miss_time * 1000:.1f} ms, "
                  f"hit {hit_time * 1000:.2f} ms; ratio {miss_time / hit_time:.1f}x (goal >= 20x)")
        finally:
            await db.dispose()


YEAR_START, YEAR_END = date(2025, 12, 1), date(2026, 11, 30)
SCALE_SMALL = 100_000
SCALE_CHUNK = 1_000_000  # payments an INSERT: progress to print, and no transaction of hours
SCALE_REPEATS = 11  # a report of a few milliseconds: more runs, so a busy moment of the machine moves the median less


async def seed_station_year(db: Database, station: Station, booking_id: int, payments: int) -> None:
    """`payments` succeeded payments evenly over YEAR_START..YEAR_END (time order), methods and amounts varied."""
    first = datetime.combine(YEAR_START, datetime.min.time(), UTC)
    span = (YEAR_END - YEAR_START + timedelta(days=1)).total_seconds()
    statement = text("""
        INSERT INTO payments (booking_id, station_id, purpose, method, status, amount_cents, currency, created_at,
                              succeeded_at, updated_at)
        SELECT :booking, :station, 'deposit',
               (ARRAY['card', 'card', 'card', 'cash', 'zelle', 'venmo', 'check'])[1 + i % 7], 'succeeded',
               5000 + (i * 7919) % 145000, 'USD', at, at, at
        FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS i,
             LATERAL (SELECT CAST(:first AS timestamptz) + make_interval(secs => i * :step) AS at) AS moment""")
    for low in range(0, payments, SCALE_CHUNK):
        async with db.transaction() as session:
            await session.execute(statement, {"booking": booking_id, "station": station.id, "low": low,
                                              "high": min(low + SCALE_CHUNK, payments) - 1, "first": first,
                                              "step": span / payments})
        if payments > SCALE_CHUNK:
            print(f"  {station.code}: {min(low + SCALE_CHUNK, payments):,} payments", flush=True)
    async with db.transaction() as session:
        await session.execute(text("""
            INSERT INTO refunds (payment_id, station_id, amount_cents, method, status, reason, created_at, updated_at)
            SELECT id, station_id, 1000, 'card', 'succeeded', 'bench', succeeded_at + interval '1 day', succeeded_at
            FROM payments WHERE station_id = :station AND id % 20 = 0"""), {"station": station.id})


async def rebuild_station(db: Database, station: Station) -> float:
    """The station's per-day totals rebuilt from its seeded ledger, as a time-zone change does; the seconds taken."""
    started = time.perf_counter()
    async with db.engine.begin() as conn:
        await conn.run_sync(rebuild_day_totals, [station.id])
    return time.perf_counter() - started


async def scale_database(url: str, sizes: dict[str, int]) -> tuple[dict[str, Station], dict[str, float]]:
    """The stations, and the seconds each one's rebuild of its per-day totals took."""
    db = Database(url)
    try:
        stations = {}
        async with db.transaction() as session:
            for code in sizes:
                stations[code], _ = await ensure_station(session, StationCreate(
                    code=code, name=code, timezone="America/Los_Angeles", latitude=37.5, longitude=-122.0,
                    address=Address(line1="1 Main St", city="Fremont", state="CA", zip_code="94538")))
        async with db.transaction() as session:  # a chef free for the booking that carries the payments
            session.add_all([Chef(station_id=s.id, name=f"Chef {s.code}", working_weekdays=[0, 1, 2, 3, 4, 5, 6],
                                  is_active=True) for s in stations.values()])
        rebuilt = {}
        for code, payments in sizes.items():
            booking = await insert_booking(db, stations[code], datetime(2027, 6, 1, 1, tzinfo=UTC))
            await seed_station_year(db, stations[code], booking, payments)
            rebuilt[code] = await rebuild_station(db, stations[code])
        async with db.engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))
        return stations, rebuilt
    finally:
        await db.dispose()


async def station_year_report(url: str, station: Station) -> tuple[float, int]:
    """Median time of the report a cache miss computes (statement + JSON), and the payments it counted."""
    db = Database(url)
    try:
        request = ReportRange(station.id, YEAR_START, YEAR_END)
        labels = periods(YEAR_START, YEAR_END, Granularity.day)

        async def one_statement() -> bytes:
            async with db.transaction(write=False) as session:
                return to_json(await _payment_report(session, [station], request, Granularity.day, labels))

        await one_statement()  # a warm cache of pages, as on a server that has been up a while
        seconds, raw = await median_of(one_statement, repeats=SCALE_REPEATS)
        return seconds, PaymentReport.model_validate_json(raw).totals.count
    finally:
        await db.dispose()


async def scale(big: int) -> None:
    started = time.perf_counter()
    async with throwaway_database() as small_url:
        print(f"small database: SMALL with {SCALE_SMALL:,} payments in {YEAR_START} – {YEAR_END}…", flush=True)
        small_stations, small_rebuilt = await scale_database(small_url, {"SMALL": SCALE_SMALL})
        small = small_stations["SMALL"]
        base, base_count = await station_year_report(small_url, small)
    async with throwaway_database() as big_url:
        print(f"big database: SMALL ({SCALE_SMALL:,}) and BIG ({big - SCALE_SMALL:,}), {big:,} payments…", flush=True)
        stations, rebuilt = await scale_database(big_url, {"SMALL": SCALE_SMALL, "BIG": big - SCALE_SMALL})
        beside, beside_count = await station_year_report(big_url, stations["SMALL"])
        large, large_count = await station_year_report(big_url, stations["BIG"])
    print(f"one station-year by day, the report a cache miss computes (median of {SCALE_REPEATS}):")
    print(f"  {base_count:>10,} payments, table of {SCALE_SMALL:,}: {base * 1000:8.1f} ms")
    print(f"  {beside_count:>10,} payments, table of {big:,}: {beside * 1000:8.1f} ms  ratio {beside / base:.2f}x")
    print(f"  {large_count:>10,} payments, table of {big:,}: {large * 1000:8.1f} ms  ratio {large / base:.2f}x "
          f"(goal <= 2x)")
    print(f"rebuilding a station's per-day totals from its ledger (a time-zone change): {SCALE_SMALL:,} payments "
          f"{small_rebuilt['SMALL']:.2f} s, {big - SCALE_SMALL:,} payments {rebuilt['BIG']:.1f} s")
    print(f"(seeding and timing took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["scale"]:
        asyncio.run(scale(int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
