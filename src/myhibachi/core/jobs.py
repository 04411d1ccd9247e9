"""The job queue (taskiq): in-process by default, Redis-backed when REDIS_URL is set.

Jobs are enqueued only after the unit of work that wrote them commits; the outbox sweeper re-enqueues
anything still pending, so a crash between commit and enqueue loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import AsyncBroker, InMemoryBroker, TaskiqEvents, TaskiqScheduler, TaskiqState
from taskiq.schedule_sources import LabelScheduleSource
from taskiq_redis import ListQueueBroker

from myhibachi.core.db import Database
from myhibachi.core.outbox import OutboxContext, due_message_ids, process_outbox_message, take_pending_ids
from myhibachi.settings import Settings

log = structlog.get_logger(__name__)

# Periodic maintenance (expiring holds, due reminders): each task finds its work in the database, so a restart
# loses nothing, and must be safe to run in several processes at once. Domains register them by name.
PeriodicTask = Callable[["JobQueue"], Awaitable[int]]
_periodic_tasks: dict[str, PeriodicTask] = {}


def periodic_task(name: str) -> Callable[[PeriodicTask], PeriodicTask]:
    def register(task: PeriodicTask) -> PeriodicTask:
        _periodic_tasks[name] = task
        return task

    return register


# Work too long for one transaction (a campaign's batch commits once per message) starts from an outbox message like
# any side effect, and runs after that message's handler has committed, with the queue itself (database, settings,
# mail, enqueue), like a periodic task. The message is processed by then: work a dying process leaves unfinished
# must be found again in the database by a periodic task.
OutboxFollowUp = Callable[["JobQueue", dict[str, Any]], Awaitable[None]]
_outbox_follow_ups: dict[str, OutboxFollowUp] = {}


def outbox_follow_up(topic: str) -> Callable[[OutboxFollowUp], OutboxFollowUp]:
    def register(follow_up: OutboxFollowUp) -> OutboxFollowUp:
        _outbox_follow_ups[topic] = follow_up
        return follow_up

    return register


MAINTENANCE_LOCK = "myhibachi:maintenance"
MAINTENANCE_LOCK_SECONDS = 600  # longer than any round takes: a dead holder's lock lapses after this


class RedisJobBroker(ListQueueBroker):
    """taskiq_redis's list queue, waiting for jobs at most `wait_seconds` at a time. Its own BRPOP waits for ever,
    but redis-py (since 6) reads with a 5 s socket timeout by default: a worker with no new job for 5 s — idle, or
    busy with a campaign batch — got a TimeoutError there, and taskiq killed and restarted the worker process,
    jobs in flight included (a campaign then waited NEWSLETTER_CLAIM_SECONDS to be resumed)."""

    wait_seconds = 2.0  # under the socket timeout: an empty wait answers before the read times out

    async def listen(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    popped = await redis.brpop([self.queue_name], timeout=self.wait_seconds)
            except (ConnectionError, RedisConnectionError) as lost:
                log.warning("redis_queue_unreachable", error=str(lost))
                await asyncio.sleep(1)
                continue
            if popped is not None:
                yield popped[1]


class JobQueue:
    def __init__(self, settings: Settings, db: Database, context: OutboxContext) -> None:
        self.settings = settings
        self.db = db
        self.context = context
        self.broker: AsyncBroker = (
            RedisJobBroker(settings.redis_url, queue_name="myhibachi:jobs")
            if settings.redis_url and not settings.jobs_inline
            else InMemoryBroker(await_inplace=settings.jobs_inline)
        )

        async def process_outbox(message_id: int) -> bool:
            return await process_outbox_message(db, context, message_id, self.enqueue_outbox, self._follow_up)

        self._process = self.broker.register_task(process_outbox, task_name="outbox.process")
        # What the sweeper does each time, as a job too: `myhibachi scheduler` queues it on this schedule (taskiq's
        # intervals are whole seconds), and whichever worker takes it runs it.
        async def maintain() -> dict[str, int] | None:
            return await self.maintain_alone()

        self._maintain = self.broker.register_task(
            maintain, task_name="maintenance.run",
            schedule=[{"interval": max(1, round(settings.outbox_sweep_seconds)), "schedule_id": "maintenance"}])
        self._sweeper: asyncio.Task[None] | None = None

    async def _follow_up(self, topic: str, payload: dict[str, Any]) -> None:
        follow_up = _outbox_follow_ups.get(topic)
        if follow_up is None:
            return
        try:
            await follow_up(self, payload)
        except Exception as exc:  # its message is processed: the periodic task that finds such work takes it up
            log.error("outbox_follow_up_failed", topic=topic, exc_info=exc)

    @property
    def runs_in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    async def enqueue_outbox(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            try:
                await self._process.kiq(message_id)
            except Exception as exc:  # the sweeper will pick it up
                log.warning("enqueue_failed", message_id=message_id, error=str(exc))

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A job's transaction: commit at the end, then enqueue the outbox messages it wrote."""
        async with self.db.transaction() as session:
            yield session
        await self.enqueue_outbox(take_pending_ids(session))

    async def run_periodic_tasks(self) -> dict[str, int]:
        """Run every registered periodic task once; a failing task is logged and does not stop the others."""
        done: dict[str, int] = {}
        for name, task in _periodic_tasks.items():
            try:
                done[name] = await task(self)
            except Exception as exc:
                log.warning("periodic_task_failed", task=name, error=str(exc))
        return done

    async def sweep_once(self, older_than_seconds: float | None = None) -> int:
        ids = await due_message_ids(self.db, self.settings.outbox_sweep_seconds
                                    if older_than_seconds is None else older_than_seconds)
        await self.enqueue_outbox(ids)
        return len(ids)

    async def maintain(self) -> dict[str, int]:
        """One round of maintenance: re-enqueue the outbox messages left pending, then every periodic task."""
        try:
            await self.sweep_once()
        except Exception as exc:
            log.warning("outbox_sweep_failed", error=str(exc))
        return await self.run_periodic_tasks()

    async def maintain_alone(self) -> dict[str, int] | None:
        """`maintain`, unless another worker of the stack still runs the previous round (a round slower than the
        schedule's interval would otherwise overlap the next): then nothing (None). A lock in Redis, which expires in
        case its holder dies."""
        async with Redis(connection_pool=self.broker.connection_pool) as redis:
            lock = redis.lock(MAINTENANCE_LOCK, timeout=MAINTENANCE_LOCK_SECONDS, blocking=False)
            if not await lock.acquire():
                log.info("maintenance_skipped", reason="the previous round is still running")
                return None
            try:
                return await self.maintain()
            finally:
                with contextlib.suppress(LockError):  # it expired meanwhile
                    await lock.release()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.outbox_sweep_seconds)
            await self.maintain()

    @property
    def scheduler_maintains(self) -> bool:
        """True when `myhibachi scheduler` queues the maintenance, so this process must not run its own sweeper."""
        return self.settings.periodic_in_scheduler and not self.runs_in_process

    def start_sweeper(self) -> None:
        if not self.scheduler_maintains:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="outbox-sweeper")

    async def stop_sweeper(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def start(self) -> None:
        await self.broker.startup()
        self.start_sweeper()

    async def stop(self) -> None:
        await self.stop_sweeper()
        await self.broker.shutdown()


def worker_broker() -> AsyncBroker:
    """The broker a `myhibachi worker` process consumes (REDIS_URL must be set)."""
    from myhibachi.core.runtime import Runtime
    from myhibachi.settings import get_settings

    runtime = Runtime(get_settings())
    broker = runtime.jobs.broker

    @broker.on_event(TaskiqEvents.WORKER_STARTUP)
    async def _startup(_: TaskiqState) -> None:
        runtime.jobs.start_sweeper()

    @broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
    async def _shutdown(_: TaskiqState) -> None:
        await runtime.jobs.stop_sweeper()
        await runtime.db.dispose()

    return broker


def maintenance_scheduler() -> TaskiqScheduler:
    """What `myhibachi scheduler` runs (REDIS_URL must be set): taskiq's scheduler, queueing `maintenance.run` every
    OUTBOX_SWEEP_SECONDS for the workers. One per stack: with PERIODIC_IN_SCHEDULER, no other process sweeps."""
    from myhibachi.core.runtime import Runtime
    from myhibachi.settings import get_settings

    broker = Runtime(get_settings()).jobs.broker
    return TaskiqScheduler(broker, [LabelScheduleSource(broker)])
