"""Live events for open WebSockets (the website's chat, the staff's inbox): `publish(channel, event)` and
`subscribe(channels)`. In-process by default; through Redis pub/sub when REDIS_URL is set, so a visitor connected to
one app process and staff connected to another hear each other (and a `myhibachi worker` delivering a reply reaches
both). Like the change feed (core/changes.py), a unit of work's events are published only after it commits:
commands call `publish_after_commit`, and `Database.committed` hands them to the hub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)
PREFIX = "myhibachi:live"  # Redis pub/sub ignores database numbers: the channel carries the one in use
EVENTS_KEY = "myhibachi.live_events"  # session.info: {key: (channel, event)} to publish after commit
SUBSCRIBE_SECONDS = 5.0  # Redis confirms a subscription within this, or the socket is refused
QUEUE_SIZE = 500  # a subscriber this far behind is dropped (it reconnects and reads the history)
Event = dict[str, Any]


class Overflowed(Exception):
    """A subscriber fell too far behind: its events were dropped, so it must start again from the history."""


class Subscription:
    """The events of some channels, in order, as `(channel, event)`."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.overflowed = False

    def offer(self, channel: str, event: Event) -> None:
        try:
            self._queue.put_nowait((channel, event))
        except asyncio.QueueFull:
            self.overflowed = True

    def lost(self) -> None:
        """Events can no longer arrive (Redis went away): the reader is told, as if it had fallen behind."""
        self.overflowed = True
        with suppress(asyncio.QueueFull):
            self._queue.put_nowait(("", {}))  # wakes a waiting `get`

    async def get(self) -> tuple[str, Event]:
        """The next event; Overflowed when some were dropped."""
        if self.overflowed:
            raise Overflowed
        item = await self._queue.get()
        if self.overflowed:
            raise Overflowed
        return item


class LocalHub:
    """Subscribers in this process only."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def publish(self, channel: str, event: Event) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.offer(channel, event)

    @asynccontextmanager
    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[Subscription]:
        subscription, names = Subscription(), set(channels)
        for name in names:
            self._subscribers.setdefault(name, set()).add(subscription)
        try:
            yield subscription
        finally:
            for name in names:
                subscribers = self._subscribers.get(name, set())
                subscribers.discard(subscription)
                if not subscribers:
                    self._subscribers.pop(name, None)

    async def close(self) -> None:
        self._subscribers.clear()


class RedisHub:
    """Every process: one Redis channel per hub channel. A Redis outage costs live events, never a request."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url)
        self._prefix = f"{PREFIX}:{self._redis.connection_pool.connection_kwargs.get('db', 0)}:"

    async def publish(self, channel: str, event: Event) -> None:
        try:
            await self._redis.publish(self._prefix + channel, json.dumps(event))
        except Exception as exc:  # the commit has happened; a missed live event is not worth a 500
            log.warning("live_publish_failed", channel=channel, error=str(exc))

    @asynccontextmanager
    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[Subscription]:
        """Once entered, Redis has confirmed the subscriptions: whatever is published from then on is heard (a caller
        reading history after entering misses nothing in between)."""
        subscription, names = Subscription(), {self._prefix + name for name in channels}
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(*names)
            await self._confirmed(pubsub, len(names), subscription)
        except BaseException:
            await pubsub.aclose()
            raise

        async def pump() -> None:
            try:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._offer(subscription, message)
            except Exception as exc:  # not a cancellation: the subscriber must start again
                log.warning("live_subscription_lost", error=str(exc))
            subscription.lost()  # the loop ends only when the connection does

        task = asyncio.create_task(pump())
        try:
            yield subscription
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
            await pubsub.aclose()

    async def _confirmed(self, pubsub: Any, count: int, subscription: Subscription) -> None:
        """Until Redis has answered `count` SUBSCRIBEs (it confirms them asynchronously); a message on a channel
        already confirmed is kept."""
        async with asyncio.timeout(SUBSCRIBE_SECONDS):
            while count:
                message = await pubsub.get_message(timeout=SUBSCRIBE_SECONDS)
                if message is not None and message["type"] == "subscribe":
                    count -= 1
                elif message is not None and message["type"] == "message":
                    self._offer(subscription, message)

    def _offer(self, subscription: Subscription, message: dict[str, Any]) -> None:
        subscription.offer(message["channel"].decode().removeprefix(self._prefix), json.loads(message["data"]))

    async def close(self) -> None:
        await self._redis.aclose()


Hub = LocalHub | RedisHub


def hub_for(redis_url: str | None) -> Hub:
    return RedisHub(redis_url) if redis_url else LocalHub()


# --- events of a unit of work, published after its commit ----------------------------------------------------------


def publish_after_commit(session: Any, key: str, channel: str, event: Event) -> None:
    """Publish `event` once this unit of work commits (never if it rolls back). A later call with the same `key`
    replaces the earlier one (the last state of a conversation is what counts)."""
    session.info.setdefault(EVENTS_KEY, {})[key] = (channel, event)


def take_events(session: Any) -> list[tuple[str, Event]]:
    """The events this unit of work made; call after commit and publish them."""
    return list(session.info.pop(EVENTS_KEY, {}).values())


@event.listens_for(Session, "after_rollback")
def _forget_events(session: Session) -> None:
    session.info.pop(EVENTS_KEY, None)

