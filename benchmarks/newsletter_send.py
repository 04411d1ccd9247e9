"""Campaign sending throughput: a 10,000-recipient campaign through the real job path against raw aiosmtplib, to
the same local SMTP sink, in the same run.

Run: .venv/bin/python benchmarks/newsletter_send.py [recipients] [connections] [--database-url URL] [--redis-url URL]
`--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_newsletter`: on PostgreSQL (production's database)
instead of a SQLite file; the benchmark creates that database (its name must start with `bench`) and drops it at the
end. `--redis-url redis://127.0.0.1:6379/N` (with a PostgreSQL URL): the worker is `myhibachi worker` consuming the
Redis queue (the production path: each batch queues the next through Redis) instead of the in-process broker.
An aiosmtpd sink (its own process, 127.0.0.1, a free port) accepts and drops every message. First, raw aiosmtplib
sends `recipients` copies of one rendered campaign message over `connections` connections (default 10,000 and
NEWSLETTER_SMTP_CONNECTIONS' default, 4). Then a worker process (its own, so its peak memory is its own) runs the job
queue (taskiq's in-process broker: the same outbox handler, follow-up and batches `myhibachi worker` runs),
unthrottled, on a SQLite file (or the PostgreSQL database, then ANALYZEd as autovacuum would have it) seeded with a
station, `recipients` confirmed subscribers and a campaign; it is kicked as the campaign commands kick it and timed
until the campaign is `sent`: fixing its recipients, each person's consent re-checked, rendering with tracked links,
and the commits around each SMTP end-of-data included. Prints messages/s of both, their ratio (goal ≥ 0.5), the
worker's peak RSS and (in-process queue) how busy its CPU was. Every phase has a time limit; everything stops by
itself. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
from redis.asyncio import Redis
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from myhibachi import tasks  # noqa: F401 - every outbox handler and follow-up, as in a worker
from myhibachi.consent.models import ConsentEvent
from myhibachi.contacts.models import Contact
from myhibachi.core.db import Database, utcnow
from myhibachi.core.migrations import upgrade_to_head
from myhibachi.core.runtime import Runtime
from myhibachi.newsletters.models import Campaign, CampaignRecipient, CampaignStatus, RecipientState, Segment
from myhibachi.newsletters.rendering import Brand, markdown_links
from myhibachi.newsletters.sending import Claimed, Letter, kick_campaign
from myhibachi.settings import Environment, Settings
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.schemas import Address, StationCreate

HOST = "127.0.0.1"  # loopback only
SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105 - a throwaway database
PHASE_SECONDS = int(os.environ.get("BENCH_PHASE_SECONDS", "600"))  # no phase may take longer than this
BODY = ("# Summer is here\n\nBook a [backyard party](https://example.com/book?utm=summer) this month, or read "
        "[our menu](https://example.com/menu).\n\n| party | from |\n|---|---|\n| 10 adults | $550 |\n\nSee you soon!")
SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Drop:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
controller = Controller(Drop(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()  # until the benchmark closes it
controller.stop()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def settings_for(database_url: str, port: int, connections: int, mail_dir: Path) -> Settings:
    return Settings(_env_file=None, environment=Environment.test, secret_key=SECRET,  # type: ignore[call-arg]
                    database_url=database_url, smtp_url=f"smtp://{HOST}:{port}?timeout=30", mail_dir=mail_dir,
                    base_url="https://hibachi.example", newsletter_messages_per_second=0,
                    newsletter_smtp_connections=connections, outbox_sweep_seconds=3600)


async def seed(database_url: str, recipients: int) -> int:
    """A station, `recipients` people who confirmed its news (written in bulk), a segment of everyone and a
    `sending` campaign to it; its id."""
    db = Database(database_url)
    now = utcnow()
    try:
        async with db.transaction() as session:
            station, _ = await ensure_station(session, StationCreate(
                code="FRE", name="Fremont CA", timezone="America/Los_Angeles", latitude=37.5, longitude=-122.0,
                address=Address(line1="1 Main St", city="Fremont", state="CA", zip_code="94538")))
            await session.execute(insert(Contact), [{"name": f"Fan {n}", "email": f"fan{n}@example.com",
                                                     "created_at": now, "updated_at": now}
                                                    for n in range(recipients)])
            ids = list(await session.scalars(select(Contact.id).order_by(Contact.id)))
            await session.execute(insert(ConsentEvent), [
                {"contact_id": contact_id, "channel": "email", "purpose": "marketing", "action": action,
                 "source": "footer_form", "station_id": station.id, "at": now}
                for contact_id in ids for action in ("granted", "confirmed")])
            segment = Segment(station_id=station.id, name="Everyone", rules={})
            session.add(segment)
            await session.flush()
            campaign = Campaign(station_id=station.id, name="Summer", subject="Summer parties", body_markdown=BODY,
                                segment_id=segment.id, status=CampaignStatus.sending.value)
            session.add(campaign)
            await session.flush()
        if db.dialect == "postgresql":  # planner statistics, as autovacuum has them on a database in use
            async with db.engine.connect() as connection:
                await (await connection.execution_options(isolation_level="AUTOCOMMIT")).execute(text("ANALYZE"))
        return campaign.id
    finally:
        await db.dispose()


def sample_message(settings: Settings) -> bytes:
    """One recipient's message as the job path renders it (tracked links, headers), flattened as SMTP sends it."""
    links = markdown_links(BODY)
    letter = Letter(1, 1, "Summer parties", BODY, Brand.of(settings, "Fremont CA", "1 Main St, Fremont, CA 94538"),
                    links, tracking=True)
    return letter.message_for(settings, Claimed(1, 1, "fan0@example.com", 0, "x")).data


async def raw_send(port: int, count: int, connections: int, message: bytes) -> float:
    """`count` messages over `connections` aiosmtplib connections, each sending its share one after another."""
    async def one_connection(share: int) -> None:
        async with aiosmtplib.SMTP(hostname=HOST, port=port, timeout=30) as smtp:
            for n in range(share):
                await smtp.sendmail("bookings@myhibachi.local", [f"fan{n}@example.com"], message)

    shares = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one_connection(share) for share in shares)), PHASE_SECONDS)
    return time.perf_counter() - started


async def wait_until_sent(db: Database, campaign_id: int, started: float) -> dict[str, Any]:
    """Polls until the campaign is `sent` (or the phase's time is up): the seconds since `started` and how many
    recipients are `sent`."""
    deadline = started + PHASE_SECONDS
    while time.perf_counter() < deadline:
        async with db.transaction(write=False) as session:
            if await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) == "sent":
                break
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    async with db.transaction(write=False) as session:
        sent = await session.scalar(select(func.count()).select_from(CampaignRecipient).where(
            CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == RecipientState.sent.value))
    return {"seconds": seconds, "sent": sent}


async def job_path(database_url: str, port: int, connections: int, campaign_id: int, mail_dir: str) -> dict[str, Any]:
    """In the worker process: the job queue sends the campaign; timed from the kick to `sent`."""
    runtime = Runtime(settings_for(database_url, port, connections, Path(mail_dir)))
    await runtime.jobs.broker.startup()
    try:
        started = time.perf_counter()
        async with runtime.jobs.unit_of_work() as session:
            await kick_campaign(session, campaign_id)
        cpu_before = time.process_time()
        result = await wait_until_sent(runtime.db, campaign_id, started)
        return result | {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                         "cpu_seconds": time.process_time() - cpu_before}
    finally:
        await runtime.jobs.broker.shutdown()
        await runtime.db.dispose()


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(child) for child in children.read_text().split()] if children.exists() else []
    return found + [grandchild for child in found for grandchild in _descendants(child)]


def _peak_rss_mb(pid: int) -> float:
    """The largest peak resident size (VmHWM) of `pid` and its descendants, in MB."""
    peaks = []
    for each in [pid, *_descendants(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        peaks += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
    return max(peaks, default=0.0)


def start_worker(database_url: str, redis_url: str, port: int, connections: int,
                 folder: str) -> subprocess.Popen[bytes]:
    """`myhibachi worker` (its own process, consuming the Redis queue) with the benchmark's settings."""
    settings = settings_for(database_url, port, connections, Path(folder))
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SMTP_URL": settings.smtp_url or "",
                        "SECRET_KEY": SECRET, "ENVIRONMENT": "test", "BASE_URL": settings.base_url,
                        "MAIL_DIR": folder, "NEWSLETTER_MESSAGES_PER_SECOND": "0",
                        "NEWSLETTER_SMTP_CONNECTIONS": str(connections), "OUTBOX_SWEEP_SECONDS": "3600",
                        "LOG_LEVEL": "WARNING"}
    log = (Path(folder) / "worker.log").open("wb")  # shown if the campaign was not all sent
    return subprocess.Popen([str(Path(sys.executable).with_name("myhibachi")), "worker"], env=env,  # noqa: S603
                            cwd=folder, stdout=log, stderr=subprocess.STDOUT)


async def _until_listening(redis_url: str) -> None:
    """Until a client of Redis waits on a list (the worker's BRPOP): its start (imports) is not timed."""
    client = Redis.from_url(redis_url)
    try:
        for _ in range(PHASE_SECONDS * 10):
            if any(c.get("cmd") in ("brpop", "blpop", "blmove") for c in await client.client_list()):
                return
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()


async def redis_job_path(database_url: str, redis_url: str, port: int, connections: int, campaign_id: int,
                         folder: str, worker_pid: int) -> dict[str, Any]:
    """The campaign kicked through the Redis queue, sent by the `myhibachi worker` process `worker_pid`; timed from
    the kick to `sent`."""
    settings = settings_for(database_url, port, connections, Path(folder))
    runtime = Runtime(settings.model_copy(update={"redis_url": redis_url}))
    await runtime.jobs.broker.startup()
    try:
        await _until_listening(redis_url)
        started = time.perf_counter()
        async with runtime.jobs.unit_of_work() as session:
            await kick_campaign(session, campaign_id)
        result = await wait_until_sent(runtime.db, campaign_id, started)
        return result | {"peak_rss_mb": _peak_rss_mb(worker_pid)}
    finally:
        await runtime.jobs.broker.shutdown()
        await runtime.db.dispose()


async def _admin(database_url: str, sql: str) -> None:
    """CREATE / DROP DATABASE, from the server's `postgres` database (they cannot run in a transaction)."""
    engine = create_async_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def bench_database(url: str | None, folder: str) -> Iterator[str]:
    """The database to run on, migrated: a SQLite file in `folder`, or the PostgreSQL database `url` names,
    created now and dropped at the end (also on failure)."""
    if url is None:
        url = f"sqlite+aiosqlite:///{folder}/bench.sqlite"
        upgrade_to_head(url)
        yield url
        return
    name = make_url(url).database or ""
    if not url.startswith("postgresql") or not name.startswith("bench"):
        raise SystemExit("--database-url: a PostgreSQL URL whose database name starts with `bench` (it is dropped)")
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(_admin(url, drop))  # the leftover of a run that died
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        upgrade_to_head(url)
        yield url
    finally:
        asyncio.run(_admin(url, drop))


def main(count: int, connections: int, database_url: str | None, redis_url: str | None) -> None:
    if redis_url and not (database_url or "").startswith("postgresql"):
        raise SystemExit("--redis-url needs --database-url (PostgreSQL): a worker process shares the database")
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE,  # noqa: S603
                            stdout=subprocess.PIPE,
                            text=True)
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as folder, \
                bench_database(database_url, folder) as url:
            started = time.perf_counter()
            campaign_id = asyncio.run(seed(url, count))
            where = make_url(url).get_backend_name() + (" + Redis queue" if redis_url else "")
            print(f"{where}: seeded {count} confirmed subscribers and a campaign in "
                  f"{time.perf_counter() - started:.1f} s")

            message = sample_message(settings_for(url, port, connections, Path(folder)))
            raw_seconds = asyncio.run(raw_send(port, count, connections, message))
            raw_rate = count / raw_seconds
            print(f"raw aiosmtplib:  {count} messages ({len(message)} bytes) over {connections} connections in "
                  f"{raw_seconds:.1f} s = {raw_rate:.0f} messages/s")

            if redis_url:
                worker = start_worker(url, redis_url, port, connections, folder)
                try:
                    result = asyncio.run(redis_job_path(url, redis_url, port, connections, campaign_id, folder,
                                                        worker.pid))
                finally:
                    worker.terminate()
                    try:
                        worker.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        worker.kill()
                        worker.wait(timeout=10)
            else:
                done = subprocess.run([sys.executable, __file__, "--worker", url, str(port),  # noqa: S603
                                       str(connections), str(campaign_id), folder], capture_output=True,
                                      text=True, timeout=PHASE_SECONDS + 60, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["sent"] < count and (log := Path(folder) / "worker.log").exists():
                print(log.read_text()[-3000:])
            job_rate = result["sent"] / result["seconds"]
            busy = f", its CPU {result['cpu_seconds'] / result['seconds']:.0%} busy" if "cpu_seconds" in result else ""
            print(f"job path:        {result['sent']} of {count} sent in {result['seconds']:.1f} s = "
                  f"{job_rate:.0f} messages/s; the worker's peak RSS {result['peak_rss_mb']:.0f} MB{busy}")
            print(f"ratio job path / raw: {job_rate / raw_rate:.2f} (goal ≥ 0.5)")
    finally:
        if sink.stdin:
            sink.stdin.close()
        try:
            sink.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sink.kill()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        url, port, connections, campaign, folder = sys.argv[2:7]
        print(json.dumps(asyncio.run(job_path(url, int(port), int(connections), int(campaign), folder))))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("recipients", type=int, nargs="?", default=10_000)
        parser.add_argument("connections", type=int, nargs="?", default=4)
        parser.add_argument("--database-url", help="postgresql+asyncpg://…/bench_… (created and dropped)")
        parser.add_argument("--redis-url", help="redis://127.0.0.1:6379/N: a `myhibachi worker` consumes it")
        args = parser.parse_args()
        main(args.recipients, args.connections, args.database_url, args.redis_url)
