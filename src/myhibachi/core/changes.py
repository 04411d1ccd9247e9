"""What just changed, for open admin pages: after each commit the unit of work's cache tags (``bookings:3``,
``payments:3``, …) are published; pages listening through server-sent events refresh what those tags cover.
In-process by default; through Redis pub/sub when REDIS_URL is set, so every app process hears every change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

log = structlog.get_logger(__name__)
CHANNEL = "myhibachi:changes"  # Redis pub/sub ignores database numbers: the channel carries the one in use


class Listener(Protocol):
    """Told every change, and whether it can hear them at all (see `RedisChanges.follow`)."""

    def changed(self, tags: frozenset[str]) -> None: ...
    def deaf(self) -> None: ...
    def hearing(self) -> None: ...


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

    async def follow(self, listener: Listener) -> None:
        """Tell `listener` every change until cancelled. It is deaf from every (re)connection, when messages may
        have been missed, until the subscription is confirmed; on an error it retries with a growing pause."""
        pause = 0.1
        while True:
            pubsub = _NoticingPubSub(self._redis.connection_pool, on_connect=listener.deaf)
            try:
                await pubsub.subscribe(self._channel)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        listener.hearing()
                        pause = 0.1
                    elif message["type"] == "message":
                        listener.changed(frozenset(json.loads(message["data"])))
            except Exception as exc:  # Redis away: retried; meanwhile the listener is deaf
                log.warning("changes_follow_lost", error=str(exc))
            finally:
                listener.deaf()
                with suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

    async def close(self) -> None:
        await self._redis.aclose()


class _NoticingPubSub(PubSub):
    """redis-py reconnects a subscription by itself; this one says when, since messages may be lost in between."""

    def __init__(self, *args: Any, on_connect: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._noticed = on_connect

    async def on_connect(self, connection: Any) -> None:
        self._noticed()
        await super().on_connect(connection)


Changes = LocalChanges | RedisChanges


def changes_for(redis_url: str | None) -> Changes:
    return RedisChanges(redis_url) if redis_url else LocalChanges()
