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
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from myhibachi.bookings.models import Booking
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef
from myhibachi.core.db import Database, create_engine
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.schemas import Address, StationCreate

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105 - a throwaway server
ZONE = "America/Los_Angeles"
REQUEST_TIMEOUT = 60.0  # seconds, per request
PHASE_TIMEOUT = 180.0  # seconds, per phase of `requests` concurrent requests


async def _admin(sql: str) -> None:
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def _start_server(url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET, "ENVIRONMENT": "development",
           "MAIL_DIR": str(folder / "mail"), "JOBS_INLINE": "false", "LOG_LEVEL": "WARNING",
           "BASE_URL": f"http://127.0.0.1:{port}"}
    env.pop("REDIS_URL", None)
    log = (folder / "server.log").open("wb")
    # cwd: the temp folder, so no .env of the checkout leaks into the settings.
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "uvicorn", "myhibachi.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def _wait_ready(port: int, server: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    until = time.monotonic() + deadline
    async with _client(port, 1) as client:
        while time.monotonic() < until:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}")
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _client(port: int, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT, limits=limits)


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
    name = f"myhibachi_bench_{os.getpid()}"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="booking-contention-"))
    server: subprocess.Popen[bytes] | None = None
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        try:
            hot, cold = await _seed(db, chefs)
            port = _free_port()
            server = _start_server(url, port, folder)
            today = datetime.now(ZoneInfo(ZONE)).date()
            await _wait_ready(port, server)
            # Warm-up on a window of its own (imports, pools, caches), then the two measured phases.
            warm = await _fire(port, [_body(cold, today + timedelta(days=300), 50_000 + n, "12:00") for n in range(5)])
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
        print(f"PostgreSQL, uvicorn (1 process) on 127.0.0.1; {requests} concurrent POST /api/v1/bookings per phase; "
              f"{chefs} chefs per station")
        hot_rate = _report("contended   (one window)     ", contended)
        cold_rate = _report("uncontended (distinct days)  ", uncontended)
        print(f"bookings in the contended window: {in_window} (capacity {chefs}): "
              f"{'OK' if in_window == chefs == contended.outcomes['created'] else 'WRONG'}")
        print(f"throughput ratio contended/uncontended: {hot_rate / cold_rate:.3f} "
              "(a refusal skips the insert, audit row and email job of a create)")
    finally:
        if server is not None:
            _stop_server(server)
            log = (folder / "server.log").read_text(errors="replace").strip()
            if log:
                print("server log (last lines):", *log.splitlines()[-20:], sep="\n  ")
        shutil.rmtree(folder, ignore_errors=True)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:3]]
    asyncio.run(main(*(args + [200, 3][len(args):])))
