"""The cache layer: hits and misses by tag version, one computation per key, and serving on when Redis is down.

It runs on Redis when TEST_REDIS_URL is set and in memory otherwise (the suite runs both ways); the memory
backend and a Redis on a closed port are tested in both runs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from itertools import count

import pytest
import structlog
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from myhibachi.core import cache as cache_module
from myhibachi.core.cache import Cache, MemoryBackend, RedisBackend, cache_for


class Figures(BaseModel):
    station_id: int
    total_cents: int


class Counter:
    """A computation that counts its runs and returns a fresh figure each time."""

    def __init__(self, delay: float = 0.0) -> None:
        self.runs = count(1)
        self.calls = 0
        self.delay = delay

    async def __call__(self) -> Figures:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return Figures(station_id=1, total_cents=next(self.runs) * 100)


@pytest.fixture
async def cache(redis_url: str | None) -> AsyncIterator[Cache]:
    cache = cache_for(redis_url)
    yield cache
    await cache.close()


def closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def lookup(cache: Cache, compute: Counter, *, scope: str = "stations:1", tags: list[str] | None = None,
                 args: dict | None = None) -> Figures:
    return await cache.cached("test.figures", args=args or {"start": "2026-11-01"}, scope=scope,
                              tags=tags or ["payments:1"], ttl=60, result_type=Figures, compute=compute)


def counted(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_second_lookup_is_a_hit_until_a_tag_it_depends_on_is_bumped(cache):
    compute = Counter()
    registry = CollectorRegistry()
    cache.metrics.register(registry)

    first, second = await lookup(cache, compute), await lookup(cache, compute)
    await cache.invalidate(["payments:2"])  # another station's payments: still a hit
    third = await lookup(cache, compute)
    await cache.invalidate(["payments:1"])
    fourth = await lookup(cache, compute)

    assert [f.total_cents for f in (first, second, third, fourth)] == [100, 100, 100, 200]
    assert compute.calls == 2
    hits = counted(registry, "myhibachi_cache_requests_total", namespace="test.figures", result="hit")
    misses = counted(registry, "myhibachi_cache_requests_total", namespace="test.figures", result="miss")
    assert (hits, misses) == (2, 2)


async def test_scope_and_arguments_are_part_of_the_key(cache):
    compute = Counter()

    mine = await lookup(cache, compute, scope="stations:1")
    theirs = await lookup(cache, compute, scope="stations:2")
    other_range = await lookup(cache, compute, scope="stations:1", args={"start": "2026-12-01"})
    mine_again = await lookup(cache, compute, scope="stations:1")

    assert (mine.total_cents, theirs.total_cents, other_range.total_cents, mine_again.total_cents) == \
        (100, 200, 300, 100)


async def test_many_simultaneous_misses_compute_once(cache):
    compute = Counter(delay=0.05)

    results = await asyncio.gather(*(lookup(cache, compute) for _ in range(25)))

    assert compute.calls == 1 and {r.total_cents for r in results} == {100}


async def test_two_processes_sharing_a_backend_compute_once(redis_url):
    """Two Cache objects stand for two app processes: they share the store and its lock, not their memory."""
    shared = MemoryBackend()
    first, second = (Cache(shared), Cache(shared)) if redis_url is None else (cache_for(redis_url),
                                                                              cache_for(redis_url))
    compute = Counter(delay=0.1)
    try:
        results = await asyncio.gather(lookup(first, compute), lookup(second, compute), lookup(first, compute))
    finally:
        await first.close()
        await second.close()

    assert compute.calls == 1 and {r.total_cents for r in results} == {100}


async def test_a_failed_computation_reaches_every_waiter_and_is_not_cached(cache):
    calls = 0

    async def broken() -> Figures:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise RuntimeError("database went away")

    outcomes = await asyncio.gather(*(lookup(cache, broken) for _ in range(3)), return_exceptions=True)
    recovered = await lookup(cache, Counter())

    assert [type(o) for o in outcomes] == [RuntimeError] * 3 and calls == 1
    assert recovered.total_cents == 100


async def test_with_redis_on_a_closed_port_every_lookup_is_computed_logged_and_counted(monkeypatch):
    # A logger of its own: the module's may be bound already to an earlier test's logging configuration.
    monkeypatch.setattr(cache_module, "log", structlog.get_logger(cache_module.__name__))
    cache = cache_for(f"redis://127.0.0.1:{closed_port()}/0")
    registry = CollectorRegistry()
    cache.metrics.register(registry)
    compute = Counter()
    try:
        with capture_logs() as logged:
            results = [await lookup(cache, compute) for _ in range(3)]
            await cache.invalidate(["payments:1"])  # a write while Redis is down does not fail the write
    finally:
        await cache.close()

    assert [r.total_cents for r in results] == [100, 200, 300]
    # Logged once when the outage begins (not once per lookup), naming the failed operation and the error.
    assert [(e["event"], e["log_level"], e["operation"]) for e in logged] == [
        ("cache_unavailable", "warning", "versions")]
    assert logged[0]["error"]
    assert counted(registry, "myhibachi_cache_errors_total", operation="versions") == 3
    assert counted(registry, "myhibachi_cache_errors_total", operation="bump") == 1


class Outage:
    """A backend that fails like a stopped Redis while `down`, around a real in-memory store."""

    def __init__(self) -> None:
        self.store = MemoryBackend()
        self.down = False

    def __getattr__(self, name: str):  # noqa: ANN204
        method = getattr(self.store, name)

        async def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if self.down:
                raise RedisConnectionError("Connection refused")
            return await method(*args, **kwargs)

        return call


async def test_after_an_outage_the_cache_recovers_by_itself_and_distrusts_what_it_held():
    backend = Outage()
    cache = Cache(backend)  # type: ignore[arg-type]
    compute = Counter()

    before = await lookup(cache, compute)
    backend.down = True
    during = await lookup(cache, compute)
    await cache.invalidate(["payments:1"])  # lost: Redis is down
    backend.down = False
    first_after = await lookup(cache, compute)  # the call that notices the recovery is served uncached
    second_after, third_after = await lookup(cache, compute), await lookup(cache, compute)

    assert before.total_cents == 100 and during.total_cents == 200
    assert first_after.total_cents == 300  # not the stale 100 stored before the outage
    assert second_after.total_cents == 400 and third_after.total_cents == 400  # cached again


async def test_entries_expire_after_their_ttl():
    cache = Cache(MemoryBackend())
    compute = Counter()

    await cache.cached("t", args={}, scope="s", tags=[], ttl=1, result_type=Figures, compute=compute)
    await asyncio.sleep(1.05)
    again = await cache.cached("t", args={}, scope="s", tags=[], ttl=1, result_type=Figures, compute=compute)

    assert again.total_cents == 200


async def test_the_redis_backend_stores_under_its_prefix(redis_url):
    if redis_url is None:  # the SQLite run has no Redis; the PostgreSQL/Redis run checks the real backend
        redis_url = f"redis://127.0.0.1:{closed_port()}/0"
        backend = RedisBackend(redis_url)
        with pytest.raises(RedisConnectionError):
            await backend.get("anything")
        await backend.close()
        return
    backend = RedisBackend(redis_url, prefix="test:")
    try:
        await backend.set("k", b"v", ttl=30)
        await backend.bump(["payments:1", "payments:1"])
        assert await backend.client.get("test:k") == b"v"
        assert await backend.versions(["payments:1", "payments:9"]) == [2, 0]
        assert 0 < await backend.client.ttl("test:k") <= 30
    finally:
        await backend.close()
