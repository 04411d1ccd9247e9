"""The transactional outbox and the job queue: nothing sent for a rollback, once after commit, retried with
backoff after a failure, and recovered by the sweeper when the enqueue was lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.audit.models import AuditEntry
from myhibachi.core.db import Database, utcnow
from myhibachi.core.errors import Conflict, DomainError
from myhibachi.core.jobs import JobQueue
from myhibachi.core.outbox import (
    MAX_ATTEMPTS,
    OutboxContext,
    OutboxMessage,
    add_outbox_message,
    outbox_handler,
    process_outbox_message,
)
from myhibachi.core.runtime import Runtime
from myhibachi.core.web import unit_of_work
from tests.conftest import REDIS_URL  # this worker's Redis database under xdist

TOPIC = "tests.recorder"
calls: list[dict[str, Any]] = []
failing_keys: set[str] = set()


@outbox_handler(TOPIC)
async def _record_call(session: AsyncSession, payload: dict[str, Any], _context: OutboxContext) -> None:
    """Writes an audit row (a database effect of the handler), then fails if told to."""
    await record_audit(session, actor_user_id=None, action="tests.handled", target_type="test",
                       target_id=payload["key"])
    if payload["key"] in failing_keys:
        raise RuntimeError(f"handler failed for {payload['key']}")
    calls.append(payload)


@pytest.fixture(autouse=True)
def reset_recorder():
    calls.clear()
    failing_keys.clear()
    yield
    calls.clear()
    failing_keys.clear()


async def _write_message(db: Database, key: str) -> int:
    """Commit a message without enqueueing it: what a crash between commit and enqueue leaves behind."""
    async with db.transaction() as session:
        message = await add_outbox_message(session, TOPIC, {"key": key})
        return message.id


async def _message(db: Database, message_id: int) -> OutboxMessage:
    async with db.transaction(write=False) as session:
        return await session.get_one(OutboxMessage, message_id)


async def _count(db: Database, model: type, *where: Any) -> int:
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


def _request(method: str = "POST") -> Any:
    return SimpleNamespace(method=method)


async def test_unknown_topic_is_refused(db: Database):
    async with db.session() as session:
        with pytest.raises(ValueError, match="no outbox handler"):
            await add_outbox_message(session, "tests.nobody-handles-this", {})


async def test_message_of_rolled_back_unit_of_work_is_never_sent(runtime: Runtime, db: Database):
    uow = unit_of_work(_request(), runtime)
    session = await anext(uow)
    await add_outbox_message(session, TOPIC, {"key": "rolled-back"})
    with pytest.raises(RuntimeError, match="handler crashed"):
        await uow.athrow(RuntimeError("handler crashed"))

    assert session.info.get("outbox_pending_ids") is None  # the enqueue buffer was cleared too
    assert await _count(db, OutboxMessage) == 0
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 0
    assert calls == []


async def test_domain_error_rolls_back_the_outbox_message(runtime: Runtime, db: Database):
    uow = unit_of_work(_request(), runtime)
    session = await anext(uow)
    await add_outbox_message(session, TOPIC, {"key": "conflict"})
    with pytest.raises(Conflict):
        await uow.athrow(Conflict("no"))
    assert await _count(db, OutboxMessage) == 0
    assert calls == []


async def test_domain_error_that_keeps_changes_still_sends(runtime: Runtime, db: Database):
    class KeptError(DomainError):
        keeps_changes = True

    uow = unit_of_work(_request(), runtime)
    session = await anext(uow)
    await add_outbox_message(session, TOPIC, {"key": "kept"})
    with pytest.raises(KeptError):
        await uow.athrow(KeptError("kept"))
    assert calls == [{"key": "kept"}]
    assert await _count(db, OutboxMessage, OutboxMessage.processed_at.is_not(None)) == 1


async def test_committed_message_is_processed_once(runtime: Runtime, db: Database):
    uow = unit_of_work(_request(), runtime)
    session = await anext(uow)
    message = await add_outbox_message(session, TOPIC, {"key": "once"})
    assert calls == []  # nothing runs before the commit
    with pytest.raises(StopAsyncIteration):
        await anext(uow)  # the request ends: commit, then enqueue (run inline in tests)

    assert calls == [{"key": "once"}]
    stored = await _message(db, message.id)
    assert stored.processed_at is not None
    assert stored.attempts == 1
    assert stored.last_error is None

    # A duplicate delivery (the queue retried, or the sweeper raced the worker) does nothing.
    assert await process_outbox_message(db, runtime.jobs.context, message.id) is False
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 0
    assert calls == [{"key": "once"}]
    assert await _count(db, AuditEntry, AuditEntry.action == "tests.handled") == 1
    assert (await _message(db, message.id)).processed_at == stored.processed_at


async def test_failed_handler_records_the_error_and_backs_off(runtime: Runtime, db: Database):
    failing_keys.add("flaky")
    message_id = await _write_message(db, "flaky")

    before = utcnow()
    assert await process_outbox_message(db, runtime.jobs.context, message_id) is False
    failed = await _message(db, message_id)
    assert failed.processed_at is None
    assert failed.attempts == 1
    assert failed.last_error == "RuntimeError: handler failed for flaky"
    assert failed.available_at >= before + timedelta(seconds=9)  # 2**1 * 5 s
    # The handler's own database effects were rolled back with it.
    assert await _count(db, AuditEntry, AuditEntry.action == "tests.handled") == 0
    # Not due yet: the sweeper leaves it alone.
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 0

    # A second failure backs off further.
    assert await process_outbox_message(db, runtime.jobs.context, message_id) is False
    again = await _message(db, message_id)
    assert again.attempts == 2
    assert again.available_at > failed.available_at

    # Once the backoff has passed and the handler recovers, the sweeper delivers it.
    failing_keys.clear()
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                              .values(available_at=utcnow() - timedelta(seconds=1)))
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 1
    done = await _message(db, message_id)
    assert done.processed_at is not None
    assert done.attempts == 3
    assert calls == [{"key": "flaky"}]


async def test_sweeper_gives_up_after_max_attempts(runtime: Runtime, db: Database):
    message_id = await _write_message(db, "hopeless")
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                              .values(attempts=MAX_ATTEMPTS))
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 0
    assert calls == []


async def test_sweeper_recovers_messages_whose_enqueue_was_lost(runtime: Runtime, db: Database):
    first = await _write_message(db, "lost-1")
    second = await _write_message(db, "lost-2")
    assert calls == []  # committed, never enqueued: as if the process died right after the commit

    # Too recent for the default grace period (the request's own enqueue may still be on its way).
    assert await runtime.jobs.sweep_once() == 0
    assert calls == []

    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 2
    assert sorted(call["key"] for call in calls) == ["lost-1", "lost-2"]
    for message_id in (first, second):
        assert (await _message(db, message_id)).processed_at is not None
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 0
    assert len(calls) == 2


async def test_enqueue_failure_is_not_raised_and_sweeper_recovers(runtime: Runtime, db: Database,
                                                                  monkeypatch: pytest.MonkeyPatch):
    async def broken_kiq(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("queue is down")

    monkeypatch.setattr(runtime.jobs._process, "kiq", broken_kiq)
    uow = unit_of_work(_request(), runtime)
    session = await anext(uow)
    message = await add_outbox_message(session, TOPIC, {"key": "queue-down"})
    with pytest.raises(StopAsyncIteration):
        await anext(uow)  # the request still succeeds
    assert calls == []
    assert (await _message(db, message.id)).processed_at is None

    monkeypatch.undo()
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 1
    assert calls == [{"key": "queue-down"}]


if REDIS_URL:  # the Redis-backed broker exists only where Redis does (TEST_REDIS_URL)

    async def test_redis_broker_delivers_to_a_worker(settings, db: Database):
        from redis.asyncio import Redis
        from taskiq.receiver import Receiver
        from taskiq_redis import ListQueueBroker

        redis_settings = settings.model_copy(update={"jobs_inline": False})
        context = OutboxContext(settings=redis_settings, mail=SimpleNamespace())  # type: ignore[arg-type]
        producer = JobQueue(redis_settings, db, context)
        assert isinstance(producer.broker, ListQueueBroker)
        assert not producer.runs_in_process
        queue_name = producer.broker.queue_name
        redis = Redis.from_url(REDIS_URL, socket_timeout=5)
        await redis.delete(queue_name)
        await producer.broker.startup()
        try:
            message_id = await _write_message(db, "via-redis")
            await producer.enqueue_outbox([message_id])
            assert await redis.llen(queue_name) == 1
            assert calls == []  # the web process only enqueued it

            # The worker side: a separate JobQueue (as in `myhibachi worker`) reads the queue once and runs it.
            worker = JobQueue(redis_settings, db, context)
            await worker.broker.startup()
            listener = worker.broker.listen()
            try:
                delivery = await asyncio.wait_for(anext(listener), timeout=5)
                receiver = Receiver(worker.broker, run_startup=False, max_async_tasks=1)
                await asyncio.wait_for(receiver.callback(delivery, raise_err=True), timeout=10)
            finally:
                await listener.aclose()
                await worker.broker.shutdown()

            assert calls == [{"key": "via-redis"}]
            assert (await _message(db, message_id)).processed_at is not None
            assert await redis.llen(queue_name) == 0
        finally:
            await producer.broker.shutdown()
            await redis.aclose()


    async def test_a_worker_waits_for_jobs_longer_than_the_redis_socket_timeout():
        """redis-py reads with a socket timeout (5 s by default); a worker with no job for longer must keep
        waiting, not fail (taskiq then restarted the worker process, killing the jobs it ran)."""
        from redis.asyncio import Redis

        from myhibachi.core.jobs import RedisJobBroker

        broker = RedisJobBroker(REDIS_URL, queue_name="myhibachi:test-long-wait", socket_timeout=1)
        broker.wait_seconds = 0.5
        await broker.startup()
        listener = broker.listen()
        try:
            waiting = asyncio.ensure_future(anext(listener))
            await asyncio.sleep(2)  # twice the socket timeout with nothing queued
            assert not waiting.done()
            async with Redis(connection_pool=broker.connection_pool) as redis:
                await redis.lpush(broker.queue_name, b"job")
            assert await asyncio.wait_for(waiting, timeout=5) == b"job"
        finally:
            await listener.aclose()
            await broker.shutdown()


    async def test_a_maintenance_round_queued_while_the_last_one_runs_is_skipped(settings, db: Database, monkeypatch):
        """`myhibachi scheduler` queues a round every OUTBOX_SWEEP_SECONDS; a round slower than that must not run
        beside the next one, which another worker may take."""
        from myhibachi.core import jobs

        started, release = asyncio.Event(), asyncio.Event()

        async def slow(_: JobQueue) -> int:
            started.set()
            await release.wait()
            return 1

        monkeypatch.setattr(jobs, "_periodic_tasks", {"tests.slow": slow})
        redis_settings = settings.model_copy(update={"jobs_inline": False})
        context = OutboxContext(settings=redis_settings, mail=SimpleNamespace())  # type: ignore[arg-type]
        first, second = JobQueue(redis_settings, db, context), JobQueue(redis_settings, db, context)
        for queue in (first, second):
            await queue.broker.startup()
        try:
            running = asyncio.ensure_future(first.maintain_alone())
            await asyncio.wait_for(started.wait(), timeout=10)
            assert await asyncio.wait_for(second.maintain_alone(), timeout=5) is None  # skipped: the first still runs
            release.set()
            assert await asyncio.wait_for(running, timeout=10) == {"tests.slow": 1}
            assert await second.maintain_alone() == {"tests.slow": 1}  # the next round runs again
        finally:
            release.set()
            for queue in (first, second):
                await queue.broker.shutdown()


async def test_the_scheduler_queues_one_maintenance_round_every_sweep_interval(monkeypatch, tmp_path):
    """`myhibachi scheduler` runs taskiq's scheduler on `maintenance_scheduler()`: its one schedule is the
    maintenance task, every OUTBOX_SWEEP_SECONDS (in whole seconds, the least taskiq takes)."""
    from myhibachi.core.jobs import maintenance_scheduler
    from myhibachi.settings import get_settings

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'scheduler.sqlite'}")
    monkeypatch.setenv("OUTBOX_SWEEP_SECONDS", "12.4")
    get_settings.cache_clear()
    try:
        scheduler = maintenance_scheduler()
    finally:
        get_settings.cache_clear()
    [source] = scheduler.sources
    await source.startup()
    schedules = await source.get_schedules()
    assert [(s.task_name, s.interval) for s in schedules] == [("maintenance.run", 12)]
    assert scheduler.broker.find_task("maintenance.run") is not None


@pytest.mark.parametrize("scheduler_maintains", [False, True])
async def test_the_worker_entry_point_consumes_redis_and_runs_the_sweeper(monkeypatch, tmp_path,
                                                                         scheduler_maintains: bool):
    """`myhibachi worker` runs taskiq on `myhibachi.worker:broker`: a Redis broker with the outbox task, whose
    worker start-up starts the outbox sweeper and whose shutdown stops it (no connection is made here)."""
    from taskiq import TaskiqEvents, TaskiqState
    from taskiq_redis import ListQueueBroker

    from myhibachi.core.jobs import worker_broker
    from myhibachi.settings import get_settings

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite'}")
    monkeypatch.setenv("PERIODIC_IN_SCHEDULER", str(scheduler_maintains))
    get_settings.cache_clear()
    try:
        broker = worker_broker()
    finally:
        get_settings.cache_clear()
    assert isinstance(broker, ListQueueBroker)
    assert broker.find_task("outbox.process") is not None

    tasks_before = {t.get_name() for t in asyncio.all_tasks()}
    for handler in broker.event_handlers[TaskiqEvents.WORKER_STARTUP]:
        await handler(TaskiqState())
    # with `myhibachi scheduler` in the stack, the worker runs the rounds it queues and no sweeper of its own
    assert ("outbox-sweeper" in {t.get_name() for t in asyncio.all_tasks()} - tasks_before) is not scheduler_maintains
    for handler in broker.event_handlers[TaskiqEvents.WORKER_SHUTDOWN]:
        await handler(TaskiqState())
    await asyncio.sleep(0)
    assert "outbox-sweeper" not in {t.get_name() for t in asyncio.all_tasks() if not t.done()}
