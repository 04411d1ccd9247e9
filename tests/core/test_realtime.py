"""The live hub: a subscriber hears its channels only, in order; a unit of work's events are published after its
commit, never after a rollback, the last one of a key winning; two hubs on one Redis (two processes) hear each
other. On the SQLite pass the hub is the in-process one; on the PostgreSQL pass, Redis pub/sub."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from myhibachi.core.db import Database
from myhibachi.core.realtime import QUEUE_SIZE, LocalHub, Overflowed, hub_for, publish_after_commit

WAIT = 5.0


async def next_of(subscription) -> tuple[str, dict]:  # noqa: ANN001
    return await asyncio.wait_for(subscription.get(), WAIT)


async def settle() -> None:
    """Redis delivers a published message asynchronously: a moment for anything wrongly sent to arrive."""
    await asyncio.sleep(0.1)


async def test_a_subscriber_hears_its_channels_in_order(redis_url):
    hub = hub_for(redis_url)
    try:
        async with hub.subscribe(["chat:a", "inbox:1"]) as subscription:
            await hub.publish("chat:b", {"n": 0})  # someone else's
            await hub.publish("chat:a", {"n": 1})
            await hub.publish("inbox:1", {"n": 2})
            heard = [await next_of(subscription), await next_of(subscription)]
    finally:
        await hub.close()

    assert heard == [("chat:a", {"n": 1}), ("inbox:1", {"n": 2})]


async def test_two_hubs_on_one_redis_hear_each_other(redis_url):
    """Two app processes share REDIS_URL; in-process hubs share nothing (the embedded default is one process). A
    publish right after subscribing is heard, time after time."""
    one, other = hub_for(redis_url), hub_for(redis_url)
    try:
        for attempt in range(20):
            async with other.subscribe([f"chat:{attempt}", "inbox:1"]) as subscription:
                await one.publish(f"chat:{attempt}", {"attempt": attempt})
                await settle()
                heard = [subscription._queue.get_nowait() for _ in range(subscription._queue.qsize())]
            assert heard == ([(f"chat:{attempt}", {"attempt": attempt})] if redis_url else [])
    finally:
        await one.close()
        await other.close()


async def test_events_are_published_after_commit_and_never_after_a_rollback(database_url, redis_url):
    hub = hub_for(redis_url)
    db = Database(database_url, live=hub)
    try:
        async with hub.subscribe(["inbox:1"]) as subscription:
            with pytest.raises(RuntimeError):
                async with db.transaction() as session:
                    publish_after_commit(session, "conversation:1", "inbox:1", {"v": "rolled back"})
                    raise RuntimeError
            async with db.transaction() as session:
                publish_after_commit(session, "conversation:1", "inbox:1", {"v": "first"})
                await session.execute(text("SELECT 1"))
                await settle()
                before_commit = subscription._queue.qsize()
                publish_after_commit(session, "conversation:1", "inbox:1", {"v": "last"})  # the same key: replaces
                publish_after_commit(session, "message:7", "inbox:1", {"v": "message"})
            heard = [await next_of(subscription), await next_of(subscription)]
            await settle()
            left = subscription._queue.qsize()
    finally:
        await db.dispose()
        await hub.close()

    assert before_commit == 0
    assert heard == [("inbox:1", {"v": "last"}), ("inbox:1", {"v": "message"})]
    assert left == 0  # the rolled-back one never came


async def test_a_subscriber_that_falls_behind_is_told_so():
    hub = LocalHub()
    async with hub.subscribe(["chat:a"]) as subscription:
        for n in range(QUEUE_SIZE + 1):
            await hub.publish("chat:a", {"n": n})
        with pytest.raises(Overflowed):
            await subscription.get()
    assert hub._subscribers == {}  # unsubscribed on leaving
