"""The near cache: reference data kept decoded in one process, dropped by the change feed's tags, and kept only while
that feed is heard (issue 21). The feed's own test runs on a real Redis: TEST_REDIS_URL's, or one it starts."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from pydantic import BaseModel
from redis.asyncio import Redis

from myhibachi.core.cache import EPOCH, Cache, MemoryBackend, NearCache
from myhibachi.core.changes import RedisChanges
from tests.newsletters.delivery.test_killed_worker import redis_for_workers  # noqa: F401 - fixture


class Place(BaseModel):
    name: str


def test_an_entry_is_kept_until_a_commit_touches_one_of_its_tags() -> None:
    near = NearCache(60, hearing=True)
    near.keep("rules:1", ["rules:1"], "one", near.generation())
    near.keep("rules:2", ["rules:2"], "two", near.generation())
    near.changed({"rules:1", "bookings:1"})
    assert (near.get("rules:1") is near.get("missing"), near.get("rules:2")) == (True, "two")
    near.changed({EPOCH})  # the shared cache came back from an outage: everything goes
    assert near.get("rules:2") is near.get("missing")


def test_a_value_computed_across_a_change_or_while_deaf_is_not_kept() -> None:
    near = NearCache(60, hearing=True)
    since = near.generation()
    near.changed({"stations"})  # saved while the old value was being read
    near.keep("stations.open", ["stations"], "old", since)
    assert near.get("stations.open") is near.get("missing")
    near.deaf()
    near.keep("stations.open", ["stations"], "new", near.generation())
    assert near.get("stations.open") is near.get("missing")
    near.hearing()
    near.keep("stations.open", ["stations"], "new", near.generation())
    assert near.get("stations.open") == "new"


def test_entries_are_bounded_the_longest_kept_going_first() -> None:
    near = NearCache(60, hearing=True, max_entries=2)
    for key in ("a", "b", "b"):  # "b" kept again: it takes no room of its own
        near.keep(key, ["t"], key, near.generation())
    kept_both = [near.get(key) for key in ("a", "b")]
    near.keep("c", ["t"], "c", near.generation())
    assert (kept_both, [near.get(key) is near.get("missing") for key in "abc"]) == (["a", "b"], [True, False, False])


async def test_reference_data_is_computed_once_then_served_near_and_refreshed_by_its_tag() -> None:
    cache = Cache(MemoryBackend())
    runs: list[str] = []

    async def load() -> Place:
        runs.append("load")
        return Place(name=f"Fremont {len(runs)}")

    first = [await cache.reference("stations.open", args={}, tags=["stations"], result_type=Place, compute=load)
             for _ in range(3)]
    await cache.invalidate({"stations"})
    after = await cache.reference("stations.open", args={}, tags=["stations"], result_type=Place, compute=load)
    assert [place.name for place in first] == ["Fremont 1"] * 3
    assert (after.name, len(runs)) == ("Fremont 2", 2)


class Heard:
    def __init__(self) -> None:
        self.events: asyncio.Queue[str | frozenset[str]] = asyncio.Queue()

    def changed(self, tags: frozenset[str]) -> None:
        self.events.put_nowait(tags)

    def deaf(self) -> None:
        self.events.put_nowait("deaf")

    def hearing(self) -> None:
        self.events.put_nowait("hearing")

    async def next(self, wanted: str | frozenset[str]) -> None:
        while await asyncio.wait_for(self.events.get(), 10) != wanted:
            pass


async def test_the_feed_is_heard_across_connections_and_a_lost_connection_makes_the_listener_deaf(
        redis_for_workers: str) -> None:  # noqa: F811
    name = f"near-cache-test-{uuid4().hex}"  # to drop this test's connection only: the server may be shared
    listening = RedisChanges(f"{redis_for_workers}?client_name={name}")
    publishing = RedisChanges(redis_for_workers)
    heard = Heard()
    follower = asyncio.create_task(listening.follow(heard))
    admin = Redis.from_url(redis_for_workers)
    try:
        await heard.next("hearing")
        await publishing.publish({"rules:7"})
        await heard.next(frozenset({"rules:7"}))
        ours = [client["id"] for client in await admin.client_list(_type="pubsub") if client["name"] == name]
        assert len(ours) == 1
        await admin.client_kill_filter(_id=ours[0])  # as a Redis restart would
        await heard.next("deaf")  # messages may be lost from here …
        await heard.next("hearing")  # … until it has subscribed again
        await publishing.publish({"stations"})
        await heard.next(frozenset({"stations"}))
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await admin.aclose()
        await listening.close()
        await publishing.close()


def test_answers_are_bounded_apart_and_never_push_reference_data_out() -> None:
    near = NearCache(60, hearing=True, max_entries=2, max_answers=3)
    near.keep("rules:1", ["rules:1"], "rules", near.generation())
    for day in range(10):  # a calendar's dates, more than either bound
        near.keep(f"day:{day}", ["bookings:1"], day, near.generation(), answer=True)
    kept_days = [near.get(f"day:{day}", answer=True) for day in range(10)]
    assert (near.get("rules:1"), kept_days[-3:]) == ("rules", [7, 8, 9])
    assert all(day is near.get("missing") for day in kept_days[:7])
    assert near.get("day:9") is near.get("missing")  # each kind is looked up apart
    near.changed({"bookings:1"})
    assert (near.get("rules:1"), near.get("day:9", answer=True) is near.get("missing")) == ("rules", True)
