"""Exactly once after a killed worker (issue 18 item 10): a real `myhibachi worker` process sends a throttled
campaign to the loopback SMTP server, is SIGKILLed once some but not all of it went out, in the middle of a message's
SMTP transaction, and a second worker started afterwards finishes it. Every recipient gets exactly one message:
nobody none, nobody two.

The kill comes while the server holds back its answer to a RCPT (the worker's one connection waits there, its batch
claimed): a moment the test can choose. The design leaves one window a kill could still fall in, between the commit
of `sent` and the write of the end-of-data (no I/O between them, but a few microseconds — or milliseconds on a
loaded machine): a message killed there is recorded `sent` and never arrives. A test killing at random would
sometimes hit it; mailer.py says why the window is where it is. The other way to die mid-message, after its body
and before its commit, is tests/newsletters/test_sending.py's (the server discards it; it is sent again).

The workers share the test's database (a SQLite file, or the PostgreSQL database) and a Redis: TEST_REDIS_URL's on
the PostgreSQL pass; on the SQLite pass, where the suite has no Redis, one this test starts on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from myhibachi.core.db import Database
from myhibachi.newsletters.models import CampaignRecipient, CampaignStatus, RecipientState
from myhibachi.stations.commands import ensure_station
from tests.conftest import TEST_SECRET, station_data
from tests.newsletters.delivery.conftest import Sink, campaign_row, make_campaign, recipients, subscribers, wait_until

pytestmark = pytest.mark.processes
PEOPLE = 40
RATE = 10  # a second: the campaign takes about 4 s, long enough to kill a worker in the middle of it
CLAIM_SECONDS = 5  # the least the setting allows: how long the dead worker's claims and lease hold others off


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_for_workers(redis_url: str | None, tmp_path: Path) -> Iterator[str]:
    if redis_url:
        yield redis_url
        return
    port = free_port()
    server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",  # noqa: S607
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The test's database without an app: nothing in this process sends or sweeps."""
    database = Database(database_url)
    yield database
    await database.dispose()


class Worker:
    """`myhibachi worker` (taskiq's process manager and its worker process), in a process group of its own so that
    one signal reaches both."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        command = Path(sys.executable).with_name("myhibachi")
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen([str(command), "worker"], env=env, cwd=log.parent,  # noqa: S603
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


async def test_a_killed_worker_leaves_nobody_without_and_nobody_with_two(db, database_url, redis_for_workers,
                                                                        sink: Sink, tmp_path: Path):
    async with db.transaction() as session:
        station, _ = await ensure_station(session, station_data("FRE"))
    await subscribers(db, station, PEOPLE)
    # `sending` with nobody sending it: the worker's periodic task kicks it (as after a lost job), the queue runs it.
    campaign_id = await make_campaign(db, station, status=CampaignStatus.sending)
    redis = Redis.from_url(redis_for_workers)
    await wait_until(lambda: redis.ping(), 10)
    await redis.aclose()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database_url,
           "REDIS_URL": redis_for_workers, "SMTP_URL": sink.url, "SECRET_KEY": TEST_SECRET, "ENVIRONMENT": "test",
           "BASE_URL": "http://testserver", "MAIL_DIR": str(tmp_path / "mail"), "OUTBOX_SWEEP_SECONDS": "0.3",
           "NEWSLETTER_MESSAGES_PER_SECOND": str(RATE), "NEWSLETTER_CLAIM_SECONDS": str(CLAIM_SECONDS),
           "NEWSLETTER_SMTP_CONNECTIONS": "1", "LOG_FORMAT": "console"}
    log = tmp_path / "workers.log"

    sink.hold_at_rcpt = 9  # the 9th recipient's RCPT: 8 messages have gone out
    first = Worker(env, log)
    try:
        held = await asyncio.to_thread(sink.holding.wait, 60)
        first.kill()
    finally:
        first.stop()
        sink.release.set()
    assert held, f"the first worker did not get to the 9th recipient:\n{log.read_text()[-3000:]}"
    at_kill = len(sink.messages)
    assert at_kill == 8
    in_flight = await _count(db, campaign_id, RecipientState.sending)

    second = Worker(env, log)
    try:
        finished = await wait_until(lambda: _finished(db, campaign_id), 90)
    finally:
        second.stop()

    assert finished, f"the campaign was not finished:\n{log.read_text()[-3000:]}"
    expected = {f"fan{n}@example.com": 1 for n in range(PEOPLE)}
    assert sink.received_by() == expected  # each once: nobody got none, nobody got two
    rows = await recipients(db, campaign_id)
    assert {r.state for r in rows} == {RecipientState.sent}
    assert sorted(str(m["Message-ID"]) for m in sink.messages) == sorted(r.message_id for r in rows)
    assert in_flight > 1  # the killed worker left the 9th and the rest of its batch claimed, for the second one


async def _count(db: Database, campaign_id: int, state: RecipientState) -> int:
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(CampaignRecipient).where(
            CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == state.value))


async def _finished(db: Database, campaign_id: int) -> bool:
    return (await campaign_row(db, campaign_id)).status == CampaignStatus.sent
