"""Counting events per key (failed sign-ins, reset emails, booking holds per IP) in a window, on Redis or in memory
(the `limits` library's storage)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import structlog
from limits.aio.storage import MemoryStorage, RedisStorage, Storage

from myhibachi.core.errors import RateLimited

log = structlog.get_logger(__name__)


def limiter_storage(redis_url: str | None) -> Storage:
    if redis_url:
        return RedisStorage(redis_url, implementation="redispy", wrap_exceptions=True)
    return MemoryStorage()


@dataclass
class Reservation:
    """One counted event; `release` gives it back (e.g. the sign-in succeeded, nothing new was held)."""

    throttle: Throttle
    key: str
    counted: bool  # False when the storage was unavailable: nothing to give back
    released: bool = field(default=False, init=False)

    async def release(self) -> None:
        if self.counted and not self.released:
            self.released = True
            await self.throttle.give_back(self.key)


class Throttle:
    """At most `limit` events per key inside a window that starts at the key's first counted event.

    `reserve` counts the event and refuses it in one atomic step (an increment on Redis, under a lock in memory), so
    simultaneous callers cannot all pass a check before any of them is counted. Callers release what should not
    count, e.g. a sign-in that succeeded."""

    def __init__(self, storage: Storage, namespace: str, limit: int, window_seconds: int) -> None:
        self.storage = storage
        self._namespace = namespace
        self._limit = limit
        self._window = window_seconds

    def _storage_key(self, key: str) -> str:
        return f"{self._namespace}/{self._limit}/{self._window}/{key}"

    async def reserve(self, key: str) -> Reservation:
        """Count one event for `key`, or raise `RateLimited` (with Retry-After) when the limit is reached."""
        storage_key = self._storage_key(key)
        try:
            count = await self.storage.incr(storage_key, self._window)
            if count <= self._limit:
                return Reservation(self, key, counted=True)
            await self._uncount(storage_key)  # a refused event is not counted
            window_ends = await self.storage.get_expiry(storage_key)
        except Exception as exc:  # a throttle outage must not lock everybody out
            log.warning("throttle_unavailable", namespace=self._namespace, error=str(exc))
            return Reservation(self, key, counted=False)
        raise RateLimited(retry_after=math.ceil(window_ends - time.time()))

    async def give_back(self, key: str) -> None:
        try:
            await self._uncount(self._storage_key(key))
        except Exception as exc:
            log.warning("throttle_unavailable", namespace=self._namespace, error=str(exc))

    async def _uncount(self, storage_key: str) -> None:
        # The Redis storage has no decrement: an increment by -1 is just as atomic. Given back after its window
        # ended, it would start the next window at -1 (one extra event, once), a bound worth no extra script.
        await self.storage.incr(storage_key, self._window, amount=-1)
