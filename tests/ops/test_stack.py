"""`make stack` (README "Running in production"): the documented command starts the production shape — app processes,
a taskiq worker and the scheduler from the Procfile, under honcho — and it serves: a quote is priced, a booking's email
goes out through the queue and the worker, and a lapsed hold expires through the scheduler (the only process that
maintains, PERIODIC_IN_SCHEDULER). On the PostgreSQL pass the stack gets a database it must create and migrate itself;
on the SQLite pass, the test's SQLite file (several processes on one file, as a small install may run). Its Redis is
TEST_REDIS_URL's, or one the test starts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.engine import make_url

from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef
from myhibachi.core.db import Database
from myhibachi.core.migrations import create_database_if_missing
from myhibachi.stations.commands import ensure_station
from tests.conftest import PG_URL, TEST_SECRET, _pg_admin, station_data
from tests.factories import insert_booking

# A Redis server for the processes (TEST_REDIS_URL's database, or one started on a free loopback port).
from tests.newsletters.delivery.test_killed_worker import free_port, redis_for_workers  # noqa: F401

pytestmark = pytest.mark.processes
REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180  # install check, migrations and four Python processes, on a 2-core machine shared with others
JOB_SECONDS = 60


@pytest.fixture
async def stack_database_url(database_url: str) -> AsyncIterator[str]:
    """On PostgreSQL a database that does not exist yet (`make stack` creates it), dropped afterwards."""
    if not PG_URL:
        yield database_url
        return
    url = make_url(database_url)
    name = f"{url.database}_stack"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    await _pg_admin(drop, PG_URL)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(drop, PG_URL)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, stack: subprocess.Popen[bytes]) -> bool:
    for _ in range(int(seconds * 5)):
        assert stack.poll() is None, "the stack stopped"
        with suppress(httpx.TransportError):
            if await check():
                return True
        await asyncio.sleep(0.2)
    return False


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`make stack` in a process group of its own, as a person would type it in the checkout."""
    with log.open("wb") as out:
        return subprocess.Popen(["make", "--no-print-directory", "stack"], cwd=REPO, env=env,  # noqa: S607
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(stack: subprocess.Popen[bytes]) -> None:
    """SIGTERM to make and honcho; honcho stops the processes it started (each in a session of its own)."""
    if stack.poll() is None:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait(timeout=10)


async def test_make_stack_serves_and_its_worker_and_scheduler_do_their_jobs(
        stack_database_url: str, redis_for_workers: str, tmp_path: Path):  # noqa: F811
    port = free_port()
    mail = tmp_path / "mail"
    env = {**os.environ, "DATABASE_URL": stack_database_url, "REDIS_URL": redis_for_workers, "PORT": str(port),
           "APP_PROCESSES": "2", "ENVIRONMENT": "test", "SECRET_KEY": TEST_SECRET, "MAIL_DIR": str(mail),
           "OUTBOX_DIR": str(tmp_path / "outbox"), "OUTBOX_SWEEP_SECONDS": "1", "LOG_FORMAT": "console"}
    for name in ("SMTP_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "BASE_URL"):  # nothing of `make test`'s own make
        env.pop(name, None)
    log = tmp_path / "stack.log"
    stack = _start(env, log)
    base = f"http://127.0.0.1:{port}"
    db = Database(stack_database_url)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            async def healthy() -> bool:
                return (await http.get("/health")).status_code == 200

            assert await _until(healthy, STARTUP_SECONDS, stack), f"no /health:\n{log.read_text()[-3000:]}"

            async with db.transaction() as session:
                station, _ = await ensure_station(session, station_data("FRE"))
                session.add(Chef(station_id=station.id, name="Chef One", working_weekdays=EVERY_WEEKDAY,
                                 is_active=True))
            lapsed = await insert_booking(db, station, datetime.now(UTC) + timedelta(days=20),
                                          status=BookingStatus.pending_deposit,
                                          hold_expires_at=datetime.now(UTC) - timedelta(minutes=1))

            quote = await http.post("/api/v1/quotes", json={"station_id": station.id, "zip_code": "94538",
                                                             "adults": 12})
            assert quote.status_code == 200, quote.text
            assert quote.json()["total_cents"] > 0

            day = datetime.now(ZoneInfo(station.timezone)).date() + timedelta(days=10)
            booked = await http.post("/api/v1/bookings", json={
                "station_id": station.id, "adults": 12, "event_date": day.isoformat(), "slot_time": "18:00",
                "venue": {"line1": "4100 Mowry Ave", "city": "Fremont", "state": "CA", "zip_code": "94538"},
                "customer": {"name": "Dana Lee", "email": "dana@example.com", "phone": "(510) 555-0142"},
                "allergies": "none"})
            assert booked.status_code == 201, booked.text

            async def mailed() -> bool:  # the app queued it in Redis; only the worker sends
                return any("dana@example.com" in path.read_text(errors="replace") for path in mail.glob("*.eml"))

            async def expired() -> bool:  # only the scheduler's rounds, run by the worker, expire holds
                async with db.transaction(write=False) as session:
                    return (await session.get_one(Booking, lapsed)).status == BookingStatus.expired

            assert await _until(mailed, JOB_SECONDS, stack), f"no email:\n{log.read_text()[-3000:]}"
            assert await _until(expired, JOB_SECONDS, stack), f"the hold did not expire:\n{log.read_text()[-3000:]}"
    finally:
        await db.dispose()
        _stop(stack)
    text = log.read_text(errors="replace")
    for process in ("web.1", "worker.1", "scheduler.1"):
        assert f"{process} started" in text
    assert text.count("Application startup complete") == 2  # APP_PROCESSES app processes
    assert ("Created the database" in text) is bool(PG_URL)


async def test_migrate_creates_a_missing_postgresql_database_once(stack_database_url: str):
    """`migrate --create-database` (what `make stack` runs first): on PostgreSQL the database is made when missing and
    left alone when there; SQLite makes its own file, so nothing is done."""
    first = await create_database_if_missing(stack_database_url)
    assert first is bool(PG_URL)
    assert await create_database_if_missing(stack_database_url) is False
    db = Database(stack_database_url)
    try:
        async with db.engine.connect() as conn:  # it exists and answers
            assert (await conn.exec_driver_sql("SELECT 1")).scalar() == 1
    finally:
        await db.dispose()
