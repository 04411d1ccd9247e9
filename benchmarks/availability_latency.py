"""Availability latency: a month of slots at a busy station, against a bare Starlette JSON endpoint.

Run: .venv/bin/python benchmarks/availability_latency.py [requests] [bookings]
Needs PostgreSQL at postgresql+asyncpg://postgres@127.0.0.1:5432/ (or BENCH_PG_URL). Creates a throwaway database
(dropped at the end) holding one station with 120 chefs and `bookings` bookings (default 10,000) over the next 31
days, inserted in bulk past the API but through the capacity triggers; then serves, with uvicorn on 127.0.0.1
in subprocesses, the app and a bare Starlette app answering the same JSON document. Prints the SQL statements one
availability request runs (counted in-process, for 1 to 92 days), then p50/p95 of `requests` sequential
GET /api/v1/stations/{id}/availability (31 days, 10 guests) and of the bare endpoint, alternating, and the
ratios. Not a test.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from _serving import SECRET, Servers, app_env, free_port, local_url, throwaway_database, wait_ready
from asgi_lifespan import LifespanManager
from sqlalchemy import event, insert, select, text

from myhibachi.app import create_app
from myhibachi.bookings.capacity import (
    ChefOnDuty,
    HeldWindow,
    chef_is_free,
    event_times,
    local_start,
    remaining_capacity,
)
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef, ChefTimeOff, TimeOffStatus
from myhibachi.contacts.models import Contact
from myhibachi.core.db import Database
from myhibachi.pricing.quote import PartyOrder, quote_event
from myhibachi.pricing.rules import DEFAULT_RULES
from myhibachi.pricing.schemas import QuoteRead
from myhibachi.settings import Environment, Settings
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.schemas import Address, StationCreate

ZONE = ZoneInfo("America/Los_Angeles")
CHEFS = 120
DAYS = 31
FIRST_DAY_AHEAD = 3  # past the 48 h minimum notice, so every slot of the range is really computed
GUESTS = 10
REQUEST_TIMEOUT = 30.0
PAYLOAD_ENV = "BENCH_BARE_PAYLOAD"
# What becomes of a booking (future events: nothing is completed yet). Holding: confirmed, pending_deposit.
STATUS_WEIGHTS = {BookingStatus.confirmed: 55, BookingStatus.pending_deposit: 15, BookingStatus.cancelled: 20,
                  BookingStatus.expired: 10}


# --- the bare baseline (imported by uvicorn in its own process) -----------------------------------------------


def bare_app():  # noqa: ANN201 - uvicorn factory
    """A Starlette app with one route answering the availability document saved by the benchmark."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    payload = json.loads(Path(os.environ[PAYLOAD_ENV]).read_text())

    async def availability(_request: Any) -> JSONResponse:
        return JSONResponse(payload)

    async def ready(_request: Any) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/availability", availability), Route("/ready", ready)])


# --- database -------------------------------------------------------------------------------------------------


def _quote_document(guests: int) -> dict[str, Any]:
    order = PartyOrder(adults=guests - 2, children=2, toddlers=0, upgrades={"filet_mignon": 2},
                       extra_proteins={}, addons={"gyoza": 1})
    return QuoteRead.of(quote_event(DEFAULT_RULES, order, travel_miles=Decimal("12.4"))).model_dump(mode="json")


async def _seed(db: Database, bookings: int, first_day: date) -> tuple[int, Counter[str]]:
    """One station, its chefs (some on 5-day weeks, some on leave), customers, and `bookings` bookings placed
    the way the app would: a holding booking only where a chef is free, a chef assigned only when free."""
    rng = random.Random(20261201)  # noqa: S311 - reproducible data, not secrets
    now = datetime.now(ZONE)
    async with db.transaction() as session:
        station, _ = await ensure_station(session, StationCreate(
            code="BUSY", name="Bench Busy", timezone=str(ZONE), latitude=37.5, longitude=-122.0,
            address=Address(line1="1 Main St", city="Fremont", state="CA", zip_code="94538")))
        chefs = [Chef(station_id=station.id, name=f"Chef {n:03d}", is_active=True, max_events_per_day=4,
                      working_weekdays=EVERY_WEEKDAY if n % 5 else [1, 2, 3, 4, 5]) for n in range(CHEFS)]
        session.add_all(chefs)
        await session.flush()
        leave = {chef.id: (first_day + timedelta(days=rng.randrange(DAYS)), rng.randrange(1, 8))
                 for chef in rng.sample(chefs, 10)}
        session.add_all(ChefTimeOff(chef_id=chef_id, first_day=start, last_day=start + timedelta(days=length - 1),
                                    reason="leave", status=TimeOffStatus.approved.value)
                        for chef_id, (start, length) in leave.items())
        await session.execute(insert(Contact), [
            {"email": f"guest{n}@example.com", "name": f"Guest {n}", "phone": "+15105550142",
             "created_at": now, "updated_at": now} for n in range(bookings // 2)])
        customers = list(await session.scalars(select(Contact.id)))
        station_id = station.id

    def on_duty(day: date) -> list[ChefOnDuty]:
        return [ChefOnDuty(chef.id, 4) for chef in chefs if chef.works_on(day) and not (
            chef.id in leave and leave[chef.id][0] <= day < leave[chef.id][0] + timedelta(days=leave[chef.id][1]))]

    quotes = {guests: _quote_document(guests) for guests in range(8, 31)}
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    rows: list[dict[str, Any]] = []
    held: dict[date, list[HeldWindow]] = {}
    degree: dict[int, int] = {}  # holds overlapping each hold
    made: Counter[str] = Counter()
    for n in range(bookings):
        day = first_day + timedelta(days=n % DAYS)
        slot = DEFAULT_RULES.slot_times[(n // DAYS) % len(DEFAULT_RULES.slot_times)]
        guests = rng.choice([8, 10, 12, 14, 16, 18]) if rng.random() < 0.9 else rng.choice([20, 25, 30])
        start = local_start(ZONE, day, slot)
        assert start is not None
        times = event_times(DEFAULT_RULES, start, guests)
        status = rng.choices(statuses, weights)[0]
        chef_id = None
        roster, today_held = on_duty(day), held.setdefault(day, [])
        if status in (BookingStatus.confirmed, BookingStatus.pending_deposit):
            # What the app's check allows, and what the trigger of migration 0004 allows whatever the insertion
            # order: it counts every hold overlapping the new one (stricter than the check when a long event
            # spans two events one chef can both do), so no hold may overlap as many holds as there are chefs.
            neighbours = [other.booking_id for other in today_held if times.overlaps(other.busy_start, other.busy_end)]
            if (remaining_capacity(roster, today_held, day, times) < 1 or len(neighbours) >= CHEFS - 1
                    or any(degree[other] >= CHEFS - 1 for other in neighbours)):
                status = BookingStatus.cancelled  # the app would have refused it: a cancelled request instead
            elif status is BookingStatus.confirmed and rng.random() < 0.8:
                free = [chef for chef in roster if chef_is_free(chef, today_held, day, times)]
                chef_id = rng.choice(free).id if free else None
        if status in (BookingStatus.confirmed, BookingStatus.pending_deposit):
            today_held.append(HeldWindow(n, chef_id, day, times.busy_start, times.busy_end))
            degree[n] = len(neighbours)
            for other in neighbours:
                degree[other] += 1
        made[status.value] += 1
        created = now - timedelta(days=rng.randrange(1, 60))
        token = hashlib.sha256(f"bench-{n}".encode()).hexdigest()
        rows.append({
            "reference": f"MH-{n:06d}", "station_id": station_id, "customer_id": rng.choice(customers),
            "status": status.value, "event_date": day, "slot_time": slot.strftime("%H:%M"),
            "event_start": times.start, "event_end": times.end, "busy_start": times.busy_start,
            "busy_end": times.busy_end, "chef_id": chef_id, "adults": guests - 2, "children": 2, "toddlers": 0,
            "upgrades": {"filet_mignon": 2}, "extra_proteins": {}, "addons": {"gyoza": 1}, "quote": quotes[guests],
            "fees_cents": 0, "venue_line1": f"{100 + n} Mowry Ave", "venue_line2": None, "venue_city": "Fremont",
            "venue_state": "CA", "venue_zip": "94538", "allergies": "none", "notes": None,
            "manage_nonce": token[:32], "manage_token_hash": token,
            "hold_expires_at": now + timedelta(hours=20) if status is BookingStatus.pending_deposit else (
                created + timedelta(hours=24) if status is BookingStatus.expired else None),
            "confirmed_at": created if status is BookingStatus.confirmed else None, "reschedule_count": 0,
            "cancelled_at": created if status is BookingStatus.cancelled else None,
            "closed_at": created if status is BookingStatus.expired else None,
            "created_at": created, "updated_at": created,
        })
    # Latest first: the triggers' overlap count then only meets the rows of the same window (see migration 0004).
    rows.sort(key=lambda row: row["busy_start"], reverse=True)
    async with db.transaction() as session:
        for chunk in range(0, len(rows), 1000):
            await session.execute(insert(Booking), rows[chunk:chunk + 1000])
    async with db.engine.begin() as conn:  # fresh statistics, as autovacuum would soon have
        await conn.execute(text("ANALYZE"))
    return station_id, made


# --- counting statements in-process ---------------------------------------------------------------------------


async def _count_queries(url: str, folder: Path, station_id: int,
                         first_day: date) -> tuple[dict[int, list[int]], bytes]:
    """Statements per availability request for several range lengths (3 requests each), and the 31-day body."""
    settings = Settings(_env_file=None, environment=Environment.development, secret_key=SECRET, database_url=url,
                        mail_dir=folder / "mail", log_level="WARNING")
    app = create_app(settings)
    statements: list[str] = []
    event.listen(app.state.runtime.db.engine.sync_engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_: statements.append(statement))
    counts: dict[int, list[int]] = {}
    body = b""
    async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                       base_url="http://bench") as client:
        for days in (1, 7, 31, 92):
            for _ in range(3):
                statements.clear()
                response = await client.get(f"/api/v1/stations/{station_id}/availability", params={
                    "start": first_day.isoformat(), "end": (first_day + timedelta(days=days - 1)).isoformat(),
                    "guests": GUESTS})
                assert response.status_code == 200, response.text
                counts.setdefault(days, []).append(len(statements))
                if days == DAYS:
                    body = response.content
    return counts, body


# --- serving and timing ---------------------------------------------------------------------------------------


async def _timed_get(client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None) -> float:
    start = time.perf_counter()
    response = await client.get(path, params=params)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    return elapsed


def _p(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=20)
    return cuts[9] * 1000, cuts[18] * 1000


async def main(requests: int, bookings: int) -> None:
    first_day = datetime.now(ZONE).date() + timedelta(days=FIRST_DAY_AHEAD)
    last_day = first_day + timedelta(days=DAYS - 1)
    async with throwaway_database() as url:
        with Servers("availability-latency-") as servers:
            folder = servers.folder
            db = Database(url)
            try:
                started = time.perf_counter()
                station_id, made = await _seed(db, bookings, first_day)
                seeded_s = time.perf_counter() - started
            finally:
                await db.dispose()
            counts, body = await _count_queries(url, folder, station_id, first_day)
            (folder / "payload.json").write_bytes(body)

            app_port, bare_port = free_port(), free_port()
            app_server = servers.start("myhibachi.app:create_app", app_port, app_env(url, app_port, folder))
            bare_server = servers.start("availability_latency:bare_app", bare_port,
                                        {PAYLOAD_ENV: str(folder / "payload.json")})
            path = f"/api/v1/stations/{station_id}/availability"
            params = {"start": first_day.isoformat(), "end": last_day.isoformat(), "guests": GUESTS}
            timings: dict[str, list[float]] = {"app": [], "bare": []}
            async with httpx.AsyncClient(base_url=local_url(app_port), timeout=REQUEST_TIMEOUT) as app_client, \
                    httpx.AsyncClient(base_url=local_url(bare_port), timeout=REQUEST_TIMEOUT) as bare_client:
                await wait_ready(app_client, app_server)
                await wait_ready(bare_client, bare_server)
                served = (await app_client.get(path, params=params)).content
                bare = (await bare_client.get("/availability")).content
                for _ in range(20):  # warm-up
                    await _timed_get(app_client, path, params)
                    await _timed_get(bare_client, "/availability")
                for _ in range(requests):  # alternating, one at a time: both see the same machine load
                    timings["app"].append(await _timed_get(app_client, path, params))
                    timings["bare"].append(await _timed_get(bare_client, "/availability"))

            holding = made["confirmed"] + made["pending_deposit"]
            print(f"PostgreSQL; station with {CHEFS} chefs; {bookings} bookings {first_day}..{last_day} "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(made.items()))}; {holding} holding a chef), "
                  f"seeded in {seeded_s:.1f} s")
            print("SQL statements per availability request (3 requests per range): "
                  + ", ".join(f"{days} day{'s' if days > 1 else ''}: {c}" for days, c in counts.items()))
            print(f"response bodies: app {len(served)} bytes, bare {len(bare)} bytes "
                  f"({DAYS} days x {len(DEFAULT_RULES.slot_times)} slots)")
            app_p50, app_p95 = _p(timings["app"])
            bare_p50, bare_p95 = _p(timings["bare"])
            print(f"{requests} sequential requests each, alternating, uvicorn (1 process) on 127.0.0.1:")
            print(f"  GET availability ({DAYS} days, {GUESTS} guests): p50 {app_p50:7.2f} ms   p95 {app_p95:7.2f} ms")
            print(f"  bare Starlette JSON (same body):       p50 {bare_p50:7.2f} ms   p95 {bare_p95:7.2f} ms")
            print(f"  ratio app/bare: p50 {app_p50 / bare_p50:.2f}   p95 {app_p95 / bare_p95:.2f}")


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:3]]
    asyncio.run(main(*(args + [200, 10_000][len(args):])))
