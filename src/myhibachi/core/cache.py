"""A read-through cache for query results: one interface over Redis (production) or process memory (embedded).

Entries are keyed by what was asked, by whom (their scope) and by the current version of every tag the result
depends on (`payments:3`, `rules:3`...). A write bumps its tags' versions after commit, so the old entries are
never read again and simply expire: nothing scans keys. Concurrent misses of one key compute it once. If Redis
fails, callers are served uncached (logged and counted) until it answers again; entries written before the
outage are then distrusted by bumping a global epoch, since invalidations may have been lost meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import structlog
from prometheus_client import CollectorRegistry, Counter
from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)
T = TypeVar("T")
K = TypeVar("K")
TAGS_KEY = "myhibachi.cache_tags"  # session.info: tags touched by this unit of work
CACHE_KEY = "myhibachi.cache"  # session.info: the process's cache, for reference data read inside domain queries
EPOCH = "epoch"  # a tag every key depends on: bumped to drop everything after an outage
LOCK_WAIT_SECONDS = 5.0


class CacheBackend(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: int) -> None: ...
    async def versions(self, tags: list[str]) -> list[int]: ...
    async def bump(self, tags: Iterable[str]) -> None: ...
    async def acquire(self, key: str, ttl: float) -> bool: ...
    async def release(self, key: str) -> None: ...
    async def close(self) -> None: ...


class MemoryBackend:
    """The embedded default: entries and tag versions in this process."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._versions: dict[str, int] = {}
        self._locks: dict[str, float] = {}
        self._max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        if len(self._entries) >= self._max_entries:  # drop the expired, then the oldest
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            while len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (time.monotonic() + ttl, value)

    async def versions(self, tags: list[str]) -> list[int]:
        return [self._versions.get(tag, 0) for tag in tags]

    async def bump(self, tags: Iterable[str]) -> None:
        for tag in tags:
            self._versions[tag] = self._versions.get(tag, 0) + 1

    async def acquire(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._locks.get(key, 0) > now:
            return False
        self._locks[key] = now + ttl
        return True

    async def release(self, key: str) -> None:
        self._locks.pop(key, None)

    async def close(self) -> None:
        return None


class RedisBackend:
    """Entries as strings with a TTL, tag versions as counters, a short `SET NX` lock per computing key."""

    def __init__(self, url: str, prefix: str = "myhibachi:cache:") -> None:
        # Short timeouts: a Redis that stops answering must cost a request milliseconds, not seconds.
        self.client = Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.5)
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        return await self.client.get(self.prefix + key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        await self.client.set(self.prefix + key, value, ex=ttl)

    async def versions(self, tags: list[str]) -> list[int]:
        values = await self.client.mget([f"{self.prefix}tag:{tag}" for tag in tags])
        return [int(v) if v is not None else 0 for v in values]

    async def bump(self, tags: Iterable[str]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for tag in tags:
                pipe.incr(f"{self.prefix}tag:{tag}")
            await pipe.execute()

    async def acquire(self, key: str, ttl: float) -> bool:
        return bool(await self.client.set(f"{self.prefix}lock:{key}", b"1", nx=True, px=int(ttl * 1000)))

    async def release(self, key: str) -> None:
        await self.client.delete(f"{self.prefix}lock:{key}")

    async def close(self) -> None:
        await self.client.aclose()


class CacheMetrics:
    def __init__(self) -> None:
        self.requests = Counter("myhibachi_cache_requests", "Cache lookups by namespace and result (hit/miss).",
                                ["namespace", "result"], registry=None)
        self.errors = Counter("myhibachi_cache_errors", "Cache backend failures (served uncached).",
                              ["operation"], registry=None)
        # (namespace, result) -> its counter: prometheus_client checks and locks on each lookup of a labelled child,
        # which cost a quote (two near hits) a twentieth of its time
        self._lookups: dict[tuple[str, str], Counter] = {}

    def count(self, namespace: str, result: str, lookups: int = 1) -> None:
        counter = self._lookups.get((namespace, result))
        if counter is None:
            counter = self._lookups[namespace, result] = self.requests.labels(namespace, result)
        counter.inc(lookups)

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self.requests)
        registry.register(self.errors)

    def unregister(self, registry: CollectorRegistry) -> None:
        registry.unregister(self.requests)
        registry.unregister(self.errors)


class NearCache:
    """Reference data kept decoded in this process: every quote reads its station and rules, and from here that
    costs no round trip and no decoding. A commit that touches an entry's tag drops it, in this process at once
    and in every other through the change feed (`core.changes`). While the feed is not heard (not yet subscribed,
    or the connection to Redis broke), it keeps nothing: a missed message must not leave a stale price behind.

    Public answers (`answer=True`: a calendar's dates) are kept apart, each kind bounded by itself, oldest out first:
    many visitors' calendars never push the few reference entries of every quote out."""

    def __init__(self, ttl: float, *, hearing: bool, max_entries: int = 1_000, max_answers: int = 5_000) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, frozenset[str], Any]] = {}
        self._answers: dict[str, tuple[float, frozenset[str], Any]] = {}
        self._limits = {False: max_entries, True: max_answers}
        self._hearing = hearing
        self.heard = asyncio.Event()  # set once the change feed has been heard the first time
        self._generation = 0  # bumped by every drop: a value computed before a drop is not kept

    def get(self, key: str, *, answer: bool = False) -> Any:
        entry = (self._answers if answer else self._entries).get(key)
        if entry is None or entry[0] <= time.monotonic():
            return _MISSING
        return entry[2]

    def generation(self) -> int:
        return self._generation

    def keep(self, key: str, tags: list[str], value: Any, computed_since: int, *, answer: bool = False) -> None:
        if self._hearing and computed_since == self._generation:
            entries = self._answers if answer else self._entries
            entries.pop(key, None)  # re-kept: the newest again
            while len(entries) >= self._limits[answer]:
                entries.pop(next(iter(entries)))
            entries[key] = (time.monotonic() + self._ttl, frozenset(tags), value)

    def changed(self, tags: Iterable[str]) -> None:
        tags = set(tags)
        self._generation += 1
        if EPOCH in tags:
            self._entries, self._answers = {}, {}
        else:
            self._entries, self._answers = ({key: entry for key, entry in entries.items() if not entry[1] & tags}
                                            for entries in (self._entries, self._answers))

    def deaf(self) -> None:
        self._hearing = False
        self.changed([EPOCH])

    def hearing(self) -> None:
        self._hearing = True
        self.heard.set()


_MISSING = object()


class Cache:
    def __init__(self, backend: CacheBackend, reference_ttl: int = 3600, *, shared: bool = False) -> None:
        self.backend = backend
        self.reference_ttl = reference_ttl  # stations and business rules
        # Shared with other processes (Redis): the near cache keeps nothing until the change feed is heard.
        self.near = NearCache(reference_ttl, hearing=not shared)
        self.metrics = CacheMetrics()
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self._degraded = False  # a backend call failed: bump the epoch once it answers again

    async def cached(self, namespace: str, *, args: dict[str, Any], scope: str, tags: list[str], ttl: int,
                     result_type: type[T], compute: Callable[[], Awaitable[T]]) -> T:
        """`compute()`'s result for these arguments and this caller's scope, from the cache when the tags have
        not changed since it was stored."""
        adapter = TypeAdapter(result_type)

        async def encoded() -> bytes:
            return adapter.dump_json(await compute())

        raw = await self.cached_json(namespace, args=args, scope=scope, tags=tags, ttl=ttl, compute=encoded)
        return adapter.validate_json(raw)

    async def cached_json(self, namespace: str, *, args: dict[str, Any], scope: str, tags: list[str], ttl: int,
                          compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """Like `cached`, for a result already encoded as JSON: a hit is handed on as it was stored, unparsed (a
        large report answers in the time of one Redis round trip)."""
        key = await self._key(namespace, args, scope, tags)
        if key is None:  # the backend is down
            return await compute()
        raw = await self._call("get", self.backend.get(key))
        if raw is not None:
            self.metrics.count(namespace, "hit")
            return raw
        self.metrics.count(namespace, "miss")
        if (running := self._inflight.get(key)) is not None:  # someone in this process is computing it
            return await asyncio.shield(running)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            raw = await self._compute_once(key, ttl, compute)
            future.set_result(raw)
            return raw
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        finally:
            del self._inflight[key]

    async def reference(self, namespace: str, *, args: dict[str, Any], tags: list[str], result_type: type[T],
                        compute: Callable[[], Awaitable[T]]) -> T:
        """Public reference data: from the near cache, else through `cached` (and kept near)."""
        key = f"{namespace}:{sorted(args.items())}"  # this process's own key: no JSON needed (a quote makes two)
        if (value := self.near.get(key)) is not _MISSING:
            self.metrics.count(namespace, "near")
            return value
        since = self.near.generation()
        value = await self.cached(namespace, args=args, scope="public", tags=tags, ttl=self.reference_ttl,
                                  result_type=result_type, compute=compute)
        self.near.keep(key, tags, value, since)
        return value

    async def near_each(self, namespace: str, wanted: Sequence[K], *, key: Callable[[K], str],
                        tags_of: Callable[[K], list[str]], still_valid: Callable[[T], bool],
                        compute: Callable[[list[K]], Awaitable[dict[K, T]]]) -> dict[K, T]:
        """Public answers kept in this process only (not shared: each process computes one once per change, and a
        hit costs no round trip), each dropped like reference data when one of its own tags changes, or once
        `still_valid(value)` fails (an answer that also changes by time alone). Those missing are computed
        together, by one call: a calendar's dates, of which a write changes only a few."""
        found: dict[K, T] = {}
        missing: list[K] = []
        for part in wanted:
            value = self.near.get(f"{namespace}:{key(part)}", answer=True)
            if value is not _MISSING and still_valid(value):
                found[part] = value
            else:
                missing.append(part)
        if found:
            self.metrics.count(namespace, "near", len(found))
        if missing:
            self.metrics.count(namespace, "miss", len(missing))
            since = self.near.generation()
            computed = await compute(missing)
            for part, value in computed.items():
                self.near.keep(f"{namespace}:{key(part)}", tags_of(part), value, since, answer=True)
            found.update(computed)
        return found

    async def invalidate(self, tags: Iterable[str]) -> None:
        tags = sorted(set(tags))
        if tags:
            self.near.changed(tags)
            await self._call("bump", self.backend.bump(tags))

    async def close(self) -> None:
        await self.backend.close()

    # --- internals ----------------------------------------------------------------------------------------------

    async def _key(self, namespace: str, args: dict[str, Any], scope: str, tags: list[str]) -> str | None:
        versions = await self._call("versions", self.backend.versions([EPOCH, *tags]), failed=None)
        if versions is None:
            return None
        identity = json.dumps([args, scope, dict(zip([EPOCH, *tags], versions, strict=True))], sort_keys=True,
                              default=str)
        return f"{namespace}:{hashlib.sha256(identity.encode()).hexdigest()}"

    async def _compute_once(self, key: str, ttl: int, produce: Callable[[], Awaitable[bytes]]) -> bytes:
        """Across processes (Redis): the lock holder computes; the others wait for its entry, up to a bound."""
        locked = await self._call("lock", self.backend.acquire(key, LOCK_WAIT_SECONDS), failed=None)
        if locked is False:  # None: the backend failed (or just came back), so nobody else is computing it
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            while time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                if (raw := await self._call("get", self.backend.get(key))) is not None:
                    return raw
        try:
            raw = await produce()
            await self._call("set", self.backend.set(key, raw, ttl))
            return raw
        finally:
            if locked:
                await self._call("unlock", self.backend.release(key))

    async def _call(self, operation: str, pending: Awaitable[Any], failed: Any = None) -> Any:
        try:
            result = await pending
        except (RedisError, OSError) as exc:
            self.metrics.errors.labels(operation).inc()
            if not self._degraded:
                log.warning("cache_unavailable", operation=operation, error=str(exc))
            self._degraded = True
            return failed
        if self._degraded:  # back: what was stored before the outage may have missed invalidations
            self._degraded = False
            log.info("cache_recovered")
            await self.invalidate([EPOCH])
            return failed  # this call's answer predates the epoch bump: serve this request uncached
        return result


def session_cache(session: Any, tags: list[str]) -> Cache | None:
    """The process's cache for a read in `session`, or None when the read must be fresh: no cache, or the session's
    own unit of work changed one of `tags` (its invalidation only happens at commit)."""
    cache: Cache | None = session.info.get(CACHE_KEY)
    if cache is None or session.info.get(TAGS_KEY, set()) & set(tags):
        return None
    return cache


def cache_for(redis_url: str | None, reference_ttl: int = 3600) -> Cache:
    if redis_url:
        return Cache(RedisBackend(redis_url), reference_ttl, shared=True)
    return Cache(MemoryBackend(), reference_ttl)


async def cached_reference(session: Any, namespace: str, *, args: dict[str, Any], tags: list[str],
                           result_type: type[T], compute: Callable[[], Awaitable[T]]) -> T:
    """Reference data (stations, business rules) that every visitor may see, cached for `reference_ttl` (also near,
    in this process) — read fresh by the unit of work that changed it (its invalidation only happens at commit) and
    without a cache. The value is shared by every caller: reference types are frozen."""
    if (cache := session_cache(session, tags)) is None:
        return await compute()
    return await cache.reference(namespace, args=args, tags=tags, result_type=result_type, compute=compute)


# --- which writes touch which tags --------------------------------------------------------------------------------

_taggers: dict[type, Callable[[Any], Iterable[str]]] = {}


def tag_writes(model: type, tags_of: Callable[[Any], Iterable[str]]) -> None:
    """Declare the cache tags that a new, changed or deleted row of `model` makes stale (`tags_of(row)` runs
    inside a flush: it reads the row's own columns, nothing else)."""
    _taggers[model] = tags_of


@event.listens_for(Session, "after_flush")
def _collect_tags(session: Session, _context: Any) -> None:
    touched: set[str] = session.info.setdefault(TAGS_KEY, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if (tags_of := _taggers.get(type(obj))) is not None:
            touched.update(tags_of(obj))


def touch_tags(session: Any, *tags: str) -> None:
    """Make tags stale at commit for a change no tagged row shows (a row that cannot name its own tags)."""
    session.info.setdefault(TAGS_KEY, set()).update(tags)


def take_cache_tags(session: Any) -> set[str]:
    """The tags this unit of work touched; call after commit and invalidate them."""
    return session.info.pop(TAGS_KEY, set())
