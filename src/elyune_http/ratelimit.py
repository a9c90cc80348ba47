"""A sliding-window rate limiter kept in the API process's memory."""

from __future__ import annotations

import time
from collections import deque

from elyune_core.errors import RateLimitedError


class RateLimiter:
    """At most *limit* hits per *window* seconds for each key.

    Keys are strings like ``token:ip:10.0.0.1`` or ``upload:user:<id>``. Memory is
    bounded: keys whose hits have all expired are dropped as the limiter is used.
    """

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, *keys: str) -> None:
        """Count one hit on every key; raise ``RateLimitedError`` if any is over its limit."""
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
