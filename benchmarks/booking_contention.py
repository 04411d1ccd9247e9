"""Booking under contention: many customers at once for ONE window, against the same number spread over windows.

Run: .venv/bin/python benchmarks/booking_contention.py [requests] [chefs]
Needs PostgreSQL at postgresql+asyncpg://postgres@127.0.0.1:5432/ (or BENCH_PG_URL). Creates a throwaway database
(dropped at the end), serves the app with uvicorn on 127.0.0.1 in a subprocess, and fires the requests at it
concurrently over HTTP. Prints, for the contended window, how many were created / refused (409) / failed and the
throughput; the same for uncontended creates (each on its own station-day, so no two share a lock); and the
ratio. Exactly `chefs` creates must succeed in the contended run. Not a test.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from _serving import Servers, app_env, free_port, local_url, throwaway_database, wait_ready
from sqlalchemy import func, select

from myhibachi.bookings.models import Booking
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef
from myhibachi.core.db import Database
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.schemas import Address, StationCreate

ZONE = "America/Los_Angeles"
REQUEST_TIMEOUT = 60.0  # seconds, per request
PHASE_TIMEOUT = 180.0  # seconds, per phase of `requests` concurrent requests


def _station(code: str) -> StationCreate:
    return StationCreate(code=code, name=f"Bench {code}", timezone=ZONE, latitude=37.5, longitude=-122.0,
                         address=Address(line1="1 Main St", city="Fremont", state="CA", zip_code="94538"))


async def _seed(db: Database, chefs: int) -> tuple[int, int]:
    """Two stations with `chefs` chefs each: one for the contended window, one for the uncontended creates."""
    ids = []
    async with db.transaction() as session:
        for code in ("HOT", "CLD"):
            station, _ = await ensure_station(session, _station(code))
            session.add_all(Chef(station_id=station.id, name=f"Chef {code} {n}", working_weekdays=EVERY_WEEKDAY,
                                 is_active=True) for n in range(chefs))
            ids.append(station.id)
    return ids[0], ids[1]


def _body(station_id: int, day: date, n: int, slot: str = "18:00") -> dict[str, Any]:
    return {
        "station_id": station_id, "adults": 12, "children": 4, "toddlers": 1, "upgrades": {"filet_mignon": 3},
        "addons": {"gyoza": 1}, "event_date": day.isoformat(), "slot_time": slot,
        "venue": {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"},
        "customer": {"name": f"Bench Customer {n}", "email": f"bench{n}@example.com", "phone": "(510) 555-0142"},
        "allergies": "none",
    }


def _client(port: int, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=local_url(port), timeout=REQUEST_TIMEOUT, limits=limits)


@dataclass
class Phase:
    outcomes: Counter[str]
    elapsed: float
    latencies: list[float]


async def _fire(port: int, bodies: list[dict[str, Any]]) -> Phase:
    """All `bodies` at once, each on its own new connection (a fresh client per phase: no stale keep-alives)."""
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
        start = time.perf_counter()
        try:
            response = await client.post("/api/v1/bookings", json=body)
        except httpx.HTTPError as exc:
            return f"error {type(exc).__name__}"
        finally:
            latencies.append(time.perf_counter() - start)
        if response.status_code == 201:
            return "created"
        if response.status_code == 409 and response.json().get("code") == "slot_unavailable":
            return "refused"
        return f"error {response.status_code}"

    async with _client(port, len(bodies)) as client:
        start = time.perf_counter()
        outcomes = await asyncio.wait_for(asyncio.gather(*(one(client, body) for body in bodies)), PHASE_TIMEOUT)
        elapsed = time.perf_counter() - start
    return Phase(Counter(outcomes), elapsed, latencies)


def _report(title: str, phase: Phase) -> float:
    total = sum(phase.outcomes.values())
    errors = {kind: n for kind, n in phase.outcomes.items() if kind.startswith("error")}
    throughput = total / phase.elapsed
    cuts = statistics.quantiles(phase.latencies, n=20)
    print(f"{title}: {total} requests in {phase.elapsed:6.2f} s = {throughput:6.1f} req/s; "
          f"created {phase.outcomes['created']}, refused (409) {phase.outcomes['refused']}, "
          f"errors {sum(errors.values())}{' ' + str(errors) if errors else ''}")
    print(f"{'':30}latency p50 {cuts[9] * 1000:7.1f} ms, p95 {cuts[18] * 1000:7.1f} ms, "
          f"max {max(phase.latencies) * 1000:7.1f} ms")
    return throughput


async def main(requests: int, chefs: int) -> None:
    async with throwaway_database() as url:
        with Servers("booking-contention-") as servers:
            db = Database(url)
            try:
                hot, cold = await _seed(db, chefs)
                port = free_port()
                # REDIS_URL unset (even if the shell sets it): the email jobs run in the server's process, after
                # the response.
                server = servers.start("myhibachi.app:serving_app", port, {
                    **app_env(url, port, servers.folder), "JOBS_INLINE": "false", "REDIS_URL": None})
                today = datetime.now(ZoneInfo(ZONE)).date()
                async with _client(port, 1) as client:
                    await wait_ready(client, server)
                # Warm-up on a window of its own (imports, pools, caches), then the two measured phases.
                warm = await _fire(port, [_body(cold, today + timedelta(days=300), 50_000 + n, "12:00")
                                          for n in range(5)])
                assert warm.outcomes["created"] >= 1, warm
                event_day = today + timedelta(days=7)
                contended = await _fire(port, [_body(hot, event_day, n) for n in range(requests)])
                # One booking per station-day: `requests` distinct days from 4 days ahead, each its own lock.
                uncontended = await _fire(port, [_body(cold, today + timedelta(days=4 + n), 10_000 + n)
                                                 for n in range(requests)])
                async with db.transaction(write=False) as session:
                    in_window = await session.scalar(select(func.count()).select_from(Booking).where(
                        Booking.station_id == hot, Booking.event_date == event_day))
            finally:
                await db.dispose()
            print(f"PostgreSQL, uvicorn (1 process) on 127.0.0.1; {requests} concurrent POST /api/v1/bookings per "
                  f"phase; {chefs} chefs per station")
            hot_rate = _report("contended   (one window)     ", contended)
            cold_rate = _report("uncontended (distinct days)  ", uncontended)
            print(f"bookings in the contended window: {in_window} (capacity {chefs}): "
                  f"{'OK' if in_window == chefs == contended.outcomes['created'] else 'WRONG'}")
            print(f"throughput ratio contended/uncontended: {hot_rate / cold_rate:.3f} "
                  "(a refusal skips the insert, audit row and email job of a create)")


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:3]]
    asyncio.run(main(*(args + [200, 3][len(args):])))
