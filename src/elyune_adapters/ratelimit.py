"""Sliding-window rate limiters: in the API process's memory, or shared through Redis.

One API process (the embedded mode) counts in memory; several (``elyune serve
--workers N``, which needs Redis) count in Redis, so a limit holds across them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
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


class _Resp(asyncio.Protocol):
    """One Redis connection that pipelines: the commands of every request in one turn of
    the event loop go out in one write, and their replies (in order) resolve them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        import hiredis

        self._loop = loop
        self._timeout = timeout
        self._reader = hiredis.Reader()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._pending: list[bytes] = []
        self._transport: Any = None
        self._flushing = False
        self._watching = False
        self._progress = 0.0
        self.closed = False

    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        self._transport = transport

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """Queue *command*; the future gets its reply (a ``hiredis.ReplyError`` for an
        error reply) or fails with ``ConnectionError``."""
        if self.closed:
            raise ConnectionError("the Redis connection is closed")
        reply = self._loop.create_future()
        if not self._waiters:
            self._progress = self._loop.time()
        self._waiters.append(reply)
        self._pending.append(command)
        if not self._flushing:
            self._flushing = True
            self._loop.call_soon(self._flush)
        if not self._watching:
            self._watching = True
            self._loop.call_later(1.0, self._watch)
        return reply

    def _flush(self) -> None:
        self._flushing = False
        if self._pending and self._transport is not None and not self.closed:
            self._transport.write(b"".join(self._pending))
        self._pending.clear()

    def _watch(self) -> None:
        """A server that stops answering fails every waiting command after *timeout*."""
        self._watching = False
        if not self._waiters or self.closed:
            return
        if self._loop.time() - self._progress > self._timeout:
            self.close()
            self._fail(TimeoutError("Redis did not answer"))
            return
        self._watching = True
        self._loop.call_later(1.0, self._watch)

    def data_received(self, data: bytes) -> None:
        self._progress = self._loop.time()
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if not self._waiters:  # a reply nobody asked for: the stream is lost
                self.close()
                return
            waiter = self._waiters.popleft()
            if not waiter.done():  # its request may have been cancelled
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError("the Redis connection was lost"))

    def _fail(self, exc: Exception) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()


def _command(*parts: bytes) -> bytes:
    """The RESP encoding of a command."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class PipelinedRedisRateLimiter(RateLimiter):
    """``RedisRateLimiter``'s sliding window (the same script, keys and answers) over
    one pipelined connection per process: a hit is one ``EVALSHA`` written with the
    other requests' of the same loop turn, without redis-py's per-command machinery
    (its connection pool, retries and metrics hooks cost ~45 us of CPU per check).
    Plain ``redis://`` URLs only; the container uses ``RedisRateLimiter`` otherwise.
    """

    def __init__(
        self,
        url: str,
        limit: int,
        window: float = 60.0,
        prefix: str = "elyune",
        timeout: float = 5.0,
    ) -> None:
        from redis.asyncio.connection import parse_url

        options = parse_url(url)
        self._host = options.get("host", "127.0.0.1")
        self._port = int(options.get("port", 6379))
        self._setup = []
        if options.get("password"):
            auth = [b"AUTH"]
            if options.get("username"):
                auth.append(str(options["username"]).encode())
            auth.append(str(options["password"]).encode())
            self._setup.append(_command(*auth))
        if int(options.get("db", 0) or 0):
            self._setup.append(_command(b"SELECT", str(int(options["db"])).encode()))
        self._timeout = timeout
        self._script = _SLIDING_WINDOW.encode()
        self._sha = hashlib.sha1(self._script).hexdigest().encode()  # noqa: S324 - Redis's id
        self._limit = str(limit).encode()
        self._window_ms = str(int(window * 1000)).encode()
        self._prefix = f"{prefix}:ratelimit:"
        self._member = f"{os.getpid()}{uuid.uuid4().hex[:8]}-"  # unique across processes
        self._count = 0
        self._conn: _Resp | None = None
        self._connecting: asyncio.Lock | None = None

    @staticmethod
    def supports(url: str) -> bool:
        """Whether *url* is one this limiter connects to (plain TCP, no TLS)."""
        return url.startswith("redis://")

    async def hit(self, *keys: str) -> None:
        import hiredis

        now = int(time.time() * 1000)
        self._count += 1
        args = [
            str(len(keys)).encode(),
            *((self._prefix + k).encode("utf-8", "surrogatepass") for k in keys),
            str(now).encode(),
            self._window_ms,
            self._limit,
            f"{now}-{self._member}{self._count}".encode(),
        ]
        try:
            reply = await self._call(_command(b"EVALSHA", self._sha, *args))
            if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
                reply = await self._call(_command(b"EVAL", self._script, *args))
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise ServiceUnavailableError("The rate limiter (Redis) is unavailable.") from exc
        if isinstance(reply, hiredis.ReplyError) or not isinstance(reply, int):
            raise ServiceUnavailableError("The rate limiter (Redis) is unavailable.")
        if reply > 0:
            raise RateLimitedError("Request was throttled.", retry_after=reply / 1000)

    async def _call(self, command: bytes) -> Any:
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        return await conn.send(command)

    async def _connect(self) -> _Resp:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is not None and not self._conn.closed:
                return self._conn
            loop = asyncio.get_running_loop()
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Resp(loop, self._timeout), self._host, self._port),
                self._timeout,
            )
            for command in self._setup:  # AUTH, SELECT: before any hit
                reply = await conn.send(command)
                if isinstance(reply, Exception):
                    conn.close()
                    raise ConnectionError(f"Redis refused the connection set-up: {reply}")
            self._conn = conn
            return conn

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
