"""Counting events per key (failed sign-ins, reset emails, booking holds per IP) in a moving window, on Redis or in
memory (the `limits` library)."""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from myhibachi.core.errors import RateLimited

log = structlog.get_logger(__name__)


def limiter_storage(redis_url: str | None) -> Storage:
    if redis_url:
        return RedisStorage(redis_url, implementation="redispy", wrap_exceptions=True)
    return MemoryStorage()


class Throttle:
    """Refuses a key once `limit` events were recorded for it inside `window_seconds` (callers record only what
    should count, e.g. failed sign-ins but not successful ones)."""

    def __init__(self, storage: Storage, namespace: str, limit: int, window_seconds: int) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(limit, window_seconds)
        self._namespace = namespace

    async def ensure_allowed(self, key: str) -> None:
        try:
            if await self._limiter.test(self._item, self._namespace, key):
                return
            stats = await self._limiter.get_window_stats(self._item, self._namespace, key)
        except Exception as exc:  # a throttle outage must not lock everybody out
            log.warning("throttle_unavailable", namespace=self._namespace, error=str(exc))
            return
        raise RateLimited(retry_after=math.ceil(stats.reset_time - time.time()))

    async def record(self, key: str) -> None:
        try:
            await self._limiter.hit(self._item, self._namespace, key)
        except Exception as exc:
            log.warning("throttle_unavailable", namespace=self._namespace, error=str(exc))
