"""What just changed, for open admin pages: after each commit the unit of work's cache tags (``bookings:3``,
``payments:3``, …) are published; pages listening through server-sent events refresh what those tags cover.
In-process by default; through Redis pub/sub when REDIS_URL is set, so every app process hears every change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)
CHANNEL = "myhibachi:changes"  # Redis pub/sub ignores database numbers: the channel carries the one in use


class LocalChanges:
    """Subscribers in this process only."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[frozenset[str]]] = set()

    async def publish(self, tags: set[str]) -> None:
        for queue in self._queues:
            queue.put_nowait(frozenset(tags))

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[frozenset[str]]]:
        queue: asyncio.Queue[frozenset[str]] = asyncio.Queue(maxsize=1000)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        self._queues.clear()


class RedisChanges:
    """Every process: one Redis channel. A Redis outage only costs live updates, never a request."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url)
        self._channel = f"{CHANNEL}:{self._redis.connection_pool.connection_kwargs.get('db', 0)}"

    async def publish(self, tags: set[str]) -> None:
        try:
            await self._redis.publish(self._channel, json.dumps(sorted(tags)))
        except Exception as exc:  # the commit has happened; a missed live update is not worth a 500
            log.warning("changes_publish_failed", error=str(exc))

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[frozenset[str]]]:
        queue: asyncio.Queue[frozenset[str]] = asyncio.Queue(maxsize=1000)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._channel)

        async def pump() -> None:
            async for message in pubsub.listen():
                queue.put_nowait(frozenset(json.loads(message["data"])))

        task = asyncio.create_task(pump())
        try:
            yield queue
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


Changes = LocalChanges | RedisChanges


def changes_for(redis_url: str | None) -> Changes:
    return RedisChanges(redis_url) if redis_url else LocalChanges()
