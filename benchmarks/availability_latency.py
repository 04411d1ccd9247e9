"""Availability latency: a month of slots at a busy station, against a bare Starlette JSON endpoint, with the
database holding `bookings` bookings and again holding `total` bookings.

Run: .venv/bin/python benchmarks/availability_latency.py [requests] [bookings] [total]
Needs PostgreSQL at postgresql+asyncpg://postgres@127.0.0.1:5432/ (or BENCH_PG_URL). Creates a throwaway database
(dropped at the end) holding one station with 120 chefs and `bookings` bookings (default 10,000) over the next 31
days, inserted in bulk past the API but through the capacity triggers. A copy of it (a second throwaway database)
then grows to `total` bookings (default 1,000,000; 0 skips it) with the same load at the busy station in the
measured month: the rest are copies of those bookings at other stations (120 chefs each) and in earlier years
(past ones completed or expired), also at the busy station; copies of what the triggers accepted, at stations
and times of their own, so the capacity backstop (which only checks, it maintains no table) is off while they go
in (with it, a copy of the 7,000 holds at a new station took about two minutes here: per row, its overlap counts
scan the station's held bookings through the index of held bookings). Then serves, with uvicorn
on 127.0.0.1 in subprocesses, the app on each database and a bare Starlette app answering the same JSON document.
Prints the SQL statements one computed availability request runs (counted in-process, for 1 to 92 days, each
request's dates dropped first, as writes on each of them would), then p50/p95 of `requests` sequential
GET /api/v1/stations/{id}/availability (31 days, 10 guests) on each app, three ways: kept (asked before: the dates
the process keeps), after a hold (a customer's hold, not timed, placed first on one date of the month: the dates it
can reach are computed again, the rest kept), and computed (an admin's save of a calendar rule, not timed, placed
first: every date computed, as after any change to those rules, the station's roster or the station, from the held
events each date keeps), and of the bare endpoint, in turn, and the ratios. Last, in-process (no server), the computed
case against a cold one (each date's held events read again too, as after a restart). Not a test.
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
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from _serving import SECRET, Servers, _admin, app_env, free_port, local_url, throwaway_database, wait_ready
from asgi_lifespan import LifespanManager
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import make_url

from myhibachi.app import create_app
from myhibachi.auth.commands import create_user
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.auth.schemas import UserCreate
from myhibachi.bookings.capacity import (
    ChefOnDuty,
    HeldWindow,
    chef_is_free,
    event_times,
    local_start,
    remaining_capacity,
)
from myhibachi.bookings.models import DATES_REACHED, Booking, BookingStatus, booking_day_tag
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef, ChefTimeOff, TimeOffStatus
from myhibachi.contacts.models import Contact
from myhibachi.core.db import Database
from myhibachi.pricing.models import calendar_rules_tag, rules_tag
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
ADMIN = ("bench-admin@example.com", "bench-admin-password-1")  # a super admin seeded to save the rules
REQUEST_TIMEOUT = 30.0
YEARS_BACK = 3  # the copies beyond the busy station's month: its earlier years, and other stations' years
PAYLOAD_ENV = "BENCH_BARE_PAYLOAD"
IN_PROCESS_REQUESTS = 100
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
        await create_user(session, Settings(_env_file=None, secret_key=SECRET), SYSTEM,  # type: ignore[call-arg]
                          UserCreate(email=ADMIN[0], name="Bench Admin", role=Role.super_admin, password=ADMIN[1]))
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
    await _vacuum(db)
    return station_id, made


async def _vacuum(db: Database) -> None:
    """Fresh statistics and visibility map, as autovacuum would soon have (index-only scans depend on it)."""
    async with db.engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))


def _copy_of_bookings() -> str:
    """INSERT … SELECT of the busy station's bookings as copy :copy at station :station, :shift days away (the
    copy's own references and tokens; its chefs by rank at that station; past holds completed or expired)."""
    kinds = {column.name: getattr(column.type, "impl", column.type).python_type for column in Booking.__table__.columns}
    shifted = {name: f"b.{name} + CAST(:shift AS integer)" if kind is date
               else f"b.{name} + make_interval(days => CAST(:shift AS integer))"
               for name, kind in kinds.items() if kind in (date, datetime)}
    made = {  # :copy is text ("007")
        "station_id": ":station",
        "reference": "'C' || :copy || substr(b.reference, 3)",
        "manage_nonce": "md5('n' || :copy || b.reference)",
        "manage_token_hash": "md5(:copy || b.reference) || md5(b.reference || :copy)",
        "chef_id": "CASE WHEN :station = b.station_id THEN b.chef_id ELSE m.new_id END",
        "status": "CASE WHEN CAST(:shift AS integer) >= 0 THEN b.status WHEN b.status = 'confirmed' THEN 'completed' "
                  "WHEN b.status = 'pending_deposit' THEN 'expired' ELSE b.status END",
    }
    columns = [column.name for column in Booking.__table__.columns if column.name != "id"]
    values = ", ".join(made.get(name) or shifted.get(name) or f"b.{name}" for name in columns)
    # Latest first, as the seed: the triggers' overlap counts then meet only the rows of the same window.
    return (f"INSERT INTO bookings ({', '.join(columns)}) SELECT {values} FROM bookings b "  # noqa: S608 - names
            "LEFT JOIN chef_map m ON m.old_id = b.chef_id AND m.station_id = :station "
            "WHERE b.station_id = :busy AND b.reference LIKE 'MH-%' ORDER BY b.busy_start DESC")


async def _grow(db: Database, busy_id: int, bookings: int, total: int) -> int:
    """Copies of the busy station's bookings until about `total`: the busy station's earlier years first, then
    other stations (with as many chefs), this year and earlier ones. Returns the bookings now in the database."""
    copies = total // bookings - 1
    others = -(-max(0, copies - YEARS_BACK) // YEARS_BACK)
    async with db.transaction() as session:
        stations = [(await ensure_station(session, StationCreate(
            code=f"BENCH-{n:02d}", name=f"Bench {n:02d}", timezone=str(ZONE), latitude=37.5, longitude=-122.0,
            address=Address(line1=f"{n} Main St", city="Fremont", state="CA", zip_code="94538"))))[0].id
            for n in range(others)]
        await session.execute(text(
            "INSERT INTO chefs (station_id, name, is_active, max_events_per_day, working_weekdays, created_at, "
            "updated_at) SELECT s.id, c.name, c.is_active, c.max_events_per_day, c.working_weekdays, c.created_at, "
            "c.updated_at FROM unnest(CAST(:stations AS bigint[])) AS s(id) CROSS JOIN chefs c "
            "WHERE c.station_id = :busy ORDER BY s.id, c.id"), {"stations": stations, "busy": busy_id})
    plan = [(busy_id, -364 * (year + 1)) for year in range(min(copies, YEARS_BACK))]
    plan += [(stations[n % others], -364 * (n // others)) for n in range(copies - len(plan))]
    insert_copy = text(_copy_of_bookings())
    async with db.engine.connect() as conn:
        await conn.execute(text(
            "CREATE TEMP TABLE chef_map AS SELECT o.id AS old_id, n.station_id, n.id AS new_id FROM "
            "(SELECT id, row_number() OVER (ORDER BY id) AS r FROM chefs WHERE station_id = :busy) AS o JOIN "
            "(SELECT id, station_id, row_number() OVER (PARTITION BY station_id ORDER BY id) AS r FROM chefs "
            "WHERE station_id <> :busy) AS n USING (r)"), {"busy": busy_id})
        await conn.execute(text("CREATE INDEX ON chef_map (old_id, station_id)"))
        await conn.execute(text("ALTER TABLE bookings DISABLE TRIGGER bookings_capacity_backstop"))
        await conn.commit()
        for copy, (station, shift) in enumerate(plan, start=1):  # one transaction each
            await conn.execute(insert_copy, {"copy": f"{copy:03d}", "station": station, "shift": shift,
                                             "busy": busy_id})
            await conn.commit()
        await conn.execute(text("ALTER TABLE bookings ENABLE TRIGGER bookings_capacity_backstop"))
        await conn.commit()
        count = await conn.scalar(text("SELECT count(*) FROM bookings"))
    await _vacuum(db)
    return count


# --- counting statements in-process ---------------------------------------------------------------------------


async def _count_queries(url: str, folder: Path, station_id: int,
                         first_day: date) -> tuple[dict[int, list[int]], bytes, dict[str, list[float]]]:
    """Statements per computed availability request for several range lengths (3 requests each, each after its
    dates were dropped, as writes on each would drop them: none is kept), the 31-day body, and `_time_in_process`."""
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
            dates = [first_day + timedelta(days=offset) for offset in range(days)]
            for _ in range(3):
                await app.state.runtime.cache.invalidate([booking_day_tag(station_id, day) for day in dates])
                statements.clear()
                response = await client.get(f"/api/v1/stations/{station_id}/availability", params={
                    "start": first_day.isoformat(), "end": dates[-1].isoformat(), "guests": GUESTS})
                assert response.status_code == 200, response.text
                counts.setdefault(days, []).append(len(statements))
                if days == DAYS:
                    body = response.content
        in_process = await _time_in_process(client, app.state.runtime.cache, station_id, first_day)
    return counts, body, in_process


async def _time_in_process(client: httpx.AsyncClient, cache: Any, station_id: int,
                           first_day: date) -> dict[str, list[float]]:
    """The month computed after a calendar rule's change (the held events of its dates kept) and cold (each date's
    held events read again too, as after a restart or a booking on every date), in-process with no HTTP server:
    times of `IN_PROCESS_REQUESTS` requests each, in turn."""
    near = [first_day + timedelta(days=offset) for offset in range(-DATES_REACHED, DAYS + DATES_REACHED)]
    saved_rules = [rules_tag(station_id), calendar_rules_tag(station_id)]  # what an admin's save drops
    drops = {"computed": saved_rules, "cold": [*saved_rules, *(booking_day_tag(station_id, day) for day in near)]}
    params = {"start": first_day.isoformat(), "end": near[-1 - DATES_REACHED].isoformat(), "guests": GUESTS}
    times: dict[str, list[float]] = {case: [] for case in drops}
    for _ in range(IN_PROCESS_REQUESTS):
        for case, tags in drops.items():
            await cache.invalidate(tags)
            times[case].append(await _timed_get(client, f"/api/v1/stations/{station_id}/availability", params))
    return times


# --- serving and timing ---------------------------------------------------------------------------------------


async def _timed_get(client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None) -> float:
    start = time.perf_counter()
    response = await client.get(path, params=params)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    return elapsed


async def _sign_in(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _hold(client: httpx.AsyncClient, station_id: int, day: date, slot: str, mail: Path) -> None:
    """A customer's hold (refused when that start is full: nothing kept changes then), and its email sent: the app
    runs its jobs in-process, so the next visitor is timed on availability, not on the hold's confirmation."""
    sent = _emails(mail)
    response = await client.post("/api/v1/bookings", json={
        "station_id": station_id, "adults": GUESTS - 2, "children": 2, "event_date": day.isoformat(),
        "slot_time": slot, "venue": {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"},
        "customer": {"name": "Dana Lee", "email": "dana@example.com", "phone": "(510) 555-0142"}, "allergies": "none"})
    assert response.status_code in (201, 409), response.text
    for _ in range(2500 if response.status_code == 201 else 0):  # at most ~5 s
        if _emails(mail) > sent:
            break
        await asyncio.sleep(0.002)


def _emails(mail: Path) -> int:
    return len(list(mail.glob("*.eml"))) if mail.exists() else 0


async def _save_rules(client: httpx.AsyncClient, station_id: int, admin: dict[str, str]) -> None:
    """An admin's save of a rule calendars are computed from (the clean-up after an event nudged by a minute and
    back; a price would keep them): every kept date dropped."""
    path = f"/api/v1/stations/{station_id}/rules"
    rules = (await client.get(path, headers=admin)).json()
    rules["busy_after_minutes"] += 1 if rules["busy_after_minutes"] % 2 == 0 else -1
    response = await client.put(path, json=rules, headers=admin)
    assert response.status_code == 200, response.text


def _p(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=20)
    return cuts[9] * 1000, cuts[18] * 1000


@asynccontextmanager
async def _copy_database(url: str) -> AsyncIterator[str]:
    """A throwaway copy of the database at `url` (which nobody may be connected to), dropped on exit."""
    source = make_url(url).database
    name = f"{source}_grown"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    await _admin(drop)
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(drop)


async def main(requests: int, bookings: int, total: int) -> None:
    first_day = datetime.now(ZONE).date() + timedelta(days=FIRST_DAY_AHEAD)
    last_day = first_day + timedelta(days=DAYS - 1)
    async with throwaway_database() as url, AsyncExitStack() as stack:
        db = Database(url)
        try:
            started = time.perf_counter()
            station_id, made = await _seed(db, bookings, first_day)
            seeded_s = time.perf_counter() - started
        finally:
            await db.dispose()
        urls = {f"{bookings:,}": url}
        grown_s, grown = 0.0, bookings
        if total > bookings:
            big_url = await stack.enter_async_context(_copy_database(url))
            big = Database(big_url)
            try:
                started = time.perf_counter()
                grown = await _grow(big, station_id, bookings, total)
                grown_s = time.perf_counter() - started
            finally:
                await big.dispose()
            urls[f"{grown:,}"] = big_url
        servers = stack.enter_context(Servers("availability-latency-"))  # stopped before the databases go
        folder = servers.folder
        counts, in_process = {}, {}
        for label, db_url in urls.items():
            counts[label], body, in_process[label] = await _count_queries(db_url, folder, station_id, first_day)
        (folder / "payload.json").write_bytes(body)

        ports = {label: free_port() for label in urls}
        apps = {label: servers.start("myhibachi.app:serving_app", port, app_env(db_url, port, folder))
                for (label, db_url), port in zip(urls.items(), ports.values(), strict=True)}
        bare_port = free_port()
        bare_server = servers.start("availability_latency:bare_app", bare_port,
                                    {PAYLOAD_ENV: str(folder / "payload.json")})
        path = f"/api/v1/stations/{station_id}/availability"
        params = {"start": first_day.isoformat(), "end": last_day.isoformat(), "guests": GUESTS}
        clients = {label: await stack.enter_async_context(httpx.AsyncClient(
            base_url=local_url(port), timeout=REQUEST_TIMEOUT)) for label, port in ports.items()}
        bare_client = await stack.enter_async_context(httpx.AsyncClient(base_url=local_url(bare_port),
                                                                        timeout=REQUEST_TIMEOUT))
        for label, client in clients.items():
            await wait_ready(client, apps[label])
        await wait_ready(bare_client, bare_server)
        served = {label: (await client.get(path, params=params)).content for label, client in clients.items()}
        bare = (await bare_client.get("/availability")).content
        admins = {label: await _sign_in(client) for label, client in clients.items()}
        rng = random.Random(7)  # noqa: S311 - where the holds go, reproducibly
        cases = ("kept", "after a hold", "computed")
        timings: dict[str, list[float]] = {f"{label} {case}": [] for label in clients for case in cases}
        timings["bare"] = []
        for rounds in (20, requests):  # warm-up, then measured: in turn, one at a time, so all see the same load
            for label in timings:
                timings[label].clear()
            for _ in range(rounds):
                day = first_day + timedelta(days=rng.randrange(DAYS))
                slot = rng.choice(DEFAULT_RULES.slot_times).strftime("%H:%M")
                for label, client in clients.items():
                    timings[f"{label} kept"].append(await _timed_get(client, path, params))
                    await _hold(client, station_id, day, slot, folder / "mail")
                    timings[f"{label} after a hold"].append(await _timed_get(client, path, params))
                    await _save_rules(client, station_id, admins[label])
                    timings[f"{label} computed"].append(await _timed_get(client, path, params))
                timings["bare"].append(await _timed_get(bare_client, "/availability"))

        holding = made["confirmed"] + made["pending_deposit"]
        print(f"PostgreSQL; station with {CHEFS} chefs; {bookings} bookings {first_day}..{last_day} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(made.items()))}; {holding} holding a chef), "
              f"seeded in {seeded_s:.1f} s")
        if grown > bookings:
            print(f"grown copy: {grown:,} bookings (the same {bookings:,} at the busy station's month; the rest at "
                  f"{max(0, -(-(total // bookings - 1 - YEARS_BACK) // YEARS_BACK))} other stations and in "
                  f"{YEARS_BACK} earlier years), grown in {grown_s:.1f} s")
        for label, by_range in counts.items():
            print(f"SQL statements per computed availability request at {label} bookings (3 per range): "
                  + ", ".join(f"{days} day{'s' if days > 1 else ''}: {c}" for days, c in by_range.items()))
        same = all(body == bare for body in served.values())
        print(f"response bodies: {', '.join(f'{label}: {len(body)} bytes' for label, body in served.items())}, "
              f"bare {len(bare)} bytes ({DAYS} days x {len(DEFAULT_RULES.slot_times)} slots; "
              f"{'identical' if same else 'DIFFERENT'})")
        print(f"{requests} sequential requests each, in turn, uvicorn (1 process each) on 127.0.0.1:")
        figures = {label: _p(values) for label, values in timings.items()}
        bare_p50, bare_p95 = figures["bare"]
        for label in clients:
            for case in cases:
                p50, p95 = figures[f"{label} {case}"]
                print(f"  GET availability ({DAYS} days, {case:>12}), {label:>9} bookings: p50 {p50:7.2f} ms   "
                      f"p95 {p95:7.2f} ms   (app/bare: p50 {p50 / bare_p50:.2f}, p95 {p95 / bare_p95:.2f})")
        print(f"  bare Starlette JSON (same body):{'':>32} p50 {bare_p50:7.2f} ms   p95 {bare_p95:7.2f} ms")
        print(f"{IN_PROCESS_REQUESTS} requests each, in turn, in-process (no HTTP server, no client):")
        for label, times in in_process.items():
            (computed_p50, computed_p95), (cold_p50, cold_p95) = _p(times["computed"]), _p(times["cold"])
            print(f"  {label:>9} bookings: computed p50 {computed_p50:.2f} ms p95 {computed_p95:.2f} ms; cold (each "
                  f"date's bookings read again too) p50 {cold_p50:.2f} ms p95 {cold_p95:.2f} ms; cold / computed: "
                  f"p50 {cold_p50 / computed_p50:.2f}, p95 {cold_p95 / computed_p95:.2f}")
        if len(clients) == 2:
            small, large = clients
            for case in cases:
                ratio = figures[f"{large} {case}"][1] / figures[f"{small} {case}"][1]
                print(f"  ratio p95 {large} / {small} bookings, {case}: {ratio:.2f}")


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:4]]
    asyncio.run(main(*(args + [200, 10_000, 1_000_000][len(args):])))
