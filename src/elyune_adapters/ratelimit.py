"""Sliding-window rate limiters: in the API process's memory, or shared through Redis.

One API process (the embedded mode) counts in memory; several (``elyune serve
--workers N``, which needs Redis) count in Redis, so a limit holds across them.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Any, Protocol

from elyune_core.errors import RateLimitedError, ServiceUnavailableError


class RateLimiter(Protocol):
    """Counts hits per key and refuses those over the limit."""

    async def hit(self, *keys: str) -> None:
        """Count one hit on every key; raise ``RateLimitedError`` if any is over its limit."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryRateLimiter(RateLimiter):
    """At most *limit* hits per *window* seconds for each key.

    Keys are strings like ``token:ip:10.0.0.1`` or ``upload:user:<id>``. Memory is
    bounded: keys whose hits have all expired are dropped as the limiter is used.
    """

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, *keys: str) -> None:
        """Count one hit on every key; raise ``RateLimitedError`` if any is over its limit."""
        self.hit_now(*keys)

    async def close(self) -> None:
        return None

    def hit_now(self, *keys: str) -> None:
        """``hit``, synchronously."""
        now = time.monotonic()
        if len(self._hits) > self._max_keys:
            self._prune(now)
        retry_after = 0.0
        for key in keys:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self._window:
                hits.popleft()
            if len(hits) >= self._limit:
                retry_after = max(retry_after, hits[0] + self._window - now)
        if retry_after > 0:
            raise RateLimitedError("Request was throttled.", retry_after=retry_after)
        for key in keys:
            self._hits[key].append(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self._window]:
            del self._hits[key]


# Every key is a sorted set of hit times (ms); in one atomic step: drop the old hits,
# refuse if any key is full (answer the wait in ms), else add this hit to every key.
_SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local until_free = tonumber(oldest[2]) + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class RedisRateLimiter(RateLimiter):
    """The sliding window of ``MemoryRateLimiter``, kept in Redis under *prefix* so that
    every API process counts the same hits (one round trip per check)."""

    def __init__(self, url: str, limit: int, window: float = 60.0, prefix: str = "elyune") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._limit = limit
        self._window_ms = int(window * 1000)
        self._prefix = f"{prefix}:ratelimit:"

    async def hit(self, *keys: str) -> None:
        import redis.exceptions

        now = int(time.time() * 1000)
        try:
            wait = await self._script(
                keys=[self._prefix + k for k in keys],
                args=[now, self._window_ms, self._limit, f"{now}-{uuid.uuid4().hex[:12]}"],
            )
        except (redis.exceptions.RedisError, OSError) as exc:
            raise ServiceUnavailableError("The rate limiter (Redis) is unavailable.") from exc
        if int(wait) > 0:
            raise RateLimitedError("Request was throttled.", retry_after=int(wait) / 1000)

    async def close(self) -> None:
        await self._redis.aclose()
