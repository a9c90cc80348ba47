"""The production job queue: taskiq over a Redis stream, shared by any number of workers.

Delivery is at least once, and a repeated delivery is harmless because ``RunStep`` claims
a step in the database before running it:

* :class:`TaskiqJobQueue` (the ``JobQueue`` port) adds one message per step to the stream
  ``<name>`` (``XADD``; ``name`` is ``ELYUNE_QUEUE_NAME``, ``elyune`` by default).
* Workers read it through one consumer group (``XREADGROUP``), one message per free slot,
  so no worker hoards messages that an idle one could run. The task acknowledges its
  message (``XACK``, taskiq's manual acknowledgement) only after ``RunStep.execute`` has
  returned, that is after the step was recorded; a task that raises leaves it pending.
* A pending message (its worker died, or the task raised) is handed to another worker by
  taskiq-redis (``XAUTOCLAIM``) once it has been idle for ``IDLE_TIMEOUT_SECONDS``; its
  ``listen`` (1.2) only looks for such messages after a read that returned a new one.
  The reconciler of the worker (:mod:`elyune_worker`) is the dependable path: at start and every
  ``RECONCILE_SECONDS`` it queues again every step that is ready in the database
  (pending with its dependencies met, or running on an expired lease), so nothing is
  lost when a worker dies or Redis restarts empty.
* To keep such re-queueing (and ``RunStep``, which queues every ready step after each
  step) from piling up duplicates of a message that is still waiting, ``enqueue`` sets
  a marker key ``<name>:queued:<job>:<step>`` (``SET NX``) and sends nothing while it
  exists. A worker that takes the message turns the marker into a short one
  (``TAKEN_SECONDS``) that covers the moment until its claim is committed, after which
  the database shows the step running. A marker expires after ``MARKER_SECONDS`` in
  case its message was lost without it; flushing Redis removes messages and markers
  together.

The module-level :data:`broker` is the one sanctioned global: ``taskiq worker`` (and
:func:`elyune_worker.run_worker`) import it. It is created unbound and reads its address from the
settings (``REDIS_URL`` or ``CELERY_BROKER_URL``) only when it starts, so importing this
module needs no Redis and no environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AcknowledgeType
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from elyune_adapters.settings import QueueSettings, SettingsError, load_settings
from elyune_core.entities import StepName
from elyune_core.errors import QueueUnavailableError
from elyune_core.ids import JobId, RecordingId
from elyune_core.ports import JobQueue, LiveQueue, QueueConsumer, QueueMonitor, QueueStats

logger = logging.getLogger("elyune.worker")

#: Name of the step task (kept stable: messages in flight name it).
RUN_STEP_TASK = "elyune.run_step"
#: Name of the task that advances a live recording.
ADVANCE_LIVE_TASK = "elyune.advance_live"
#: Lifetime of a live recording's "message waiting" marker.
LIVE_MARKER_SECONDS = 30
#: The consumer group every worker reads the stream through.
CONSUMER_GROUP = "elyune"
#: A message unacknowledged this long is handed to another worker.
IDLE_TIMEOUT_SECONDS = 600
#: Lifetime of a "message waiting" marker (see the module docstring).
MARKER_SECONDS = 600
#: Lifetime of the marker once a worker took the message (until its claim is visible).
TAKEN_SECONDS = 5
#: The stream is trimmed (approximately) to this many messages.
STREAM_MAXLEN = 100_000
#: How long a stopped worker waits for cancelled steps to be handed back.
RELEASE_SECONDS = 15.0
#: A consumer of the group that has not read for this long is a dead worker's.
DEAD_CONSUMER_SECONDS = float(IDLE_TIMEOUT_SECONDS)
#: How often a worker looks for dead consumers.
PRUNE_EVERY_SECONDS = 300.0

_POOL_SIZE = 50
_CONNECTION: dict[str, Any] = {
    "socket_connect_timeout": 5.0,
    "socket_timeout": 30.0,  # longer than the 2 s XREADGROUP block
    "socket_keepalive": True,
    "health_check_interval": 30,
}
_UNBOUND_URL = "redis://127.0.0.1:6379/0"  # never connected to: bind() replaces it


def display_url(url: str) -> str:
    """*url* with any password masked, safe to log."""
    parts = urlsplit(url)
    if parts.password:
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
    return url


class ElyuneStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, bound late and made to survive a lost stream.

    Compared with ``RedisStreamBroker`` it reads one message at a time (``XREADGROUP
    COUNT 1``, and one claimed message at a time), creates its consumer group from the
    start of the stream (id ``0``: messages sent before any worker started are read),
    recreates the group when Redis lost it (``NOGROUP`` after a flush or an empty
    restart), waits and retries while Redis is unreachable, and logs a failed
    acknowledgement instead of raising (the message is delivered again, which is
    harmless).
    """

    def __init__(self) -> None:
        super().__init__(
            _UNBOUND_URL,
            queue_name="elyune",
            consumer_group_name=CONSUMER_GROUP,
            consumer_id="0",
            mkstream=True,
            xread_block=2000,
            xread_count=1,
            maxlen=STREAM_MAXLEN,
            approximate=True,
            idle_timeout=IDLE_TIMEOUT_SECONDS * 1000,
            unacknowledged_batch_size=1,
            unacknowledged_lock_timeout=30.0,
            max_connection_pool_size=_POOL_SIZE,
            **_CONNECTION,
        )
        self.url: str | None = None

    def bind(self, settings: QueueSettings) -> None:
        """Use the Redis and the stream named by *settings* (call before ``startup``)."""
        if settings.kind != "redis" or settings.url is None:
            raise SettingsError("The taskiq queue needs REDIS_URL (or CELERY_BROKER_URL).")
        if settings.url != self.url:
            self.connection_pool = BlockingConnectionPool.from_url(
                settings.url, max_connections=_POOL_SIZE, **_CONNECTION
            )
            self.url = settings.url
        self.queue_name = settings.name

    async def startup(self) -> None:
        """Bind from the environment if nobody did (``taskiq worker``), then start."""
        if self.url is None:
            self.bind(load_settings().queue)
        await super().startup()

    async def shutdown(self) -> None:
        """Leave the consumer group (when nothing is pending for us) and disconnect."""
        if self.is_worker_process and self.url is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._leave_group()
        await super().shutdown()

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield messages forever, through lost streams and Redis restarts."""
        delay = 0.5
        while True:
            try:
                async with contextlib.aclosing(super().listen()) as messages:
                    async for message in messages:
                        delay = 0.5
                        yield message
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                logger.warning(
                    "the queue %r is gone from Redis (flushed or restarted empty); "
                    "recreating it, the reconciler queues the lost steps again",
                    self.queue_name,
                )
                with contextlib.suppress(RedisError, OSError):
                    await self._declare_consumer_group()
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                logger.warning("Redis is unreachable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        ack = super()._ack_generator(id=id, queue_name=queue_name)

        async def _ack() -> None:
            try:
                await ack()
            except (RedisError, OSError) as exc:
                logger.warning("could not acknowledge message %s (%s); it comes again", id, exc)

        return _ack

    async def prune_consumers(self, idle_seconds: float) -> list[str]:
        """Remove the consumers (workers) of the group other than this one that have not
        read for *idle_seconds*: workers that died without leaving. Their unacknowledged
        messages go with them, which loses nothing: the reconciler queues again, from the
        database, every step that nobody holds. (A live worker busy with a long step
        that is pruned is recreated by its next read.) Return the names removed."""
        removed: list[str] = []
        async with Redis(connection_pool=self.connection_pool) as redis:
            try:
                consumers = await redis.xinfo_consumers(self.queue_name, self.consumer_group_name)
            except ResponseError:  # no stream or group yet
                return removed
            for consumer in consumers:
                name = consumer.get("name")
                name = name.decode() if isinstance(name, bytes) else str(name)
                idle = float(consumer.get("idle") or 0) / 1000.0
                if name != self.consumer_name and idle >= idle_seconds:
                    await redis.xgroup_delconsumer(self.queue_name, self.consumer_group_name, name)
                    removed.append(name)
        return removed

    async def _leave_group(self) -> None:
        async with Redis(connection_pool=self.connection_pool) as redis:
            consumers = await redis.xinfo_consumers(self.queue_name, self.consumer_group_name)
            for consumer in consumers:
                name = consumer.get("name")
                name = name.decode() if isinstance(name, bytes) else name
                if name == self.consumer_name and not consumer.get("pending"):
                    await redis.xgroup_delconsumer(
                        self.queue_name, self.consumer_group_name, self.consumer_name
                    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


#: The broker every Elyune process uses (bound to the settings when it starts).
broker = ElyuneStreamBroker()
#: Sends the step task by name (workers register it: ``elyune_worker.tasks``).
_KICKER: AsyncKicker[Any, Any] = AsyncKicker(
    task_name=RUN_STEP_TASK, broker=broker, labels={"ack_type": AcknowledgeType.MANUAL.value}
)

_LIVE_KICKER: AsyncKicker[Any, Any] = AsyncKicker(
    task_name=ADVANCE_LIVE_TASK, broker=broker, labels={"ack_type": AcknowledgeType.MANUAL.value}
)


class TaskiqLiveQueue(LiveQueue):
    """Kicks live recordings to the workers over the same stream as the steps.

    A kick sends nothing while a message for the recording is still waiting (a marker
    ``<name>:live:<recording>``, ``SET NX``, removed by the worker that takes it): the
    waiting message will see every chunk that came before it runs. The broker is the
    one :class:`TaskiqJobQueue` started.
    """

    def __init__(self, settings: QueueSettings) -> None:
        self._settings = settings

    def _marker(self, recording_id: RecordingId) -> str:
        return f"{self._settings.name}:live:{recording_id}"

    async def kick(self, recording_id: RecordingId) -> None:
        if broker.url is None:
            raise QueueUnavailableError("The job queue was not started.")
        marker = self._marker(recording_id)
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                if not await redis.set(marker, "waiting", nx=True, ex=LIVE_MARKER_SECONDS):
                    return
            await _LIVE_KICKER.kiq(recording_id=str(recording_id))
        except (RedisError, OSError, SendTaskError) as exc:
            with contextlib.suppress(RedisError, OSError):
                async with Redis(connection_pool=broker.connection_pool) as redis:
                    await redis.delete(marker)
            raise QueueUnavailableError(f"The job queue is unavailable: {exc}") from exc

    async def taken(self, recording_id: RecordingId) -> None:
        """A worker took the kick: later kicks send a new message."""
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                await redis.delete(self._marker(recording_id))
        except (RedisError, OSError) as exc:  # it expires on its own
            logger.debug("could not clear the live marker of %s: %s", recording_id, exc)


class TaskiqJobQueue(JobQueue, QueueMonitor):
    """Hands steps to taskiq workers through the Redis stream of *settings*.

    ``start`` binds the module-level broker and, outside a worker, starts it as a client
    (creating the stream and its consumer group); ``close`` stops it. Since the broker is
    process-wide, use one started queue per process. Redis failures raise
    ``QueueUnavailableError``. ``enqueue`` sends nothing while a message for the same step
    is still waiting (see the module docstring).
    """

    def __init__(self, settings: QueueSettings) -> None:
        self._settings = settings
        self._client = False

    async def start(self) -> None:
        """Bind the broker; outside a worker, start it and create the stream."""
        broker.bind(self._settings)
        if broker.is_worker_process:
            return  # the worker starts and stops the broker itself
        try:
            await broker.startup()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        self._client = True

    async def close(self) -> None:
        """Stop the broker if ``start`` started it."""
        if self._client:
            self._client = False
            with contextlib.suppress(RedisError, OSError):
                await broker.shutdown()

    async def enqueue(self, job_id: JobId, step: StepName) -> None:
        await self.offer(job_id, step)

    async def offer(self, job_id: JobId, step: StepName) -> bool:
        """Queue *step* of *job_id* unless a message for it is still waiting; return
        whether a message was sent. The message names the task (``RUN_STEP_TASK``) that
        workers register; this side needs neither the task nor the worker."""
        if broker.url is None:
            raise QueueUnavailableError("The job queue was not started.")
        marker = self._marker(job_id, step)
        stamp = datetime.now(UTC).isoformat()
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                if not await redis.set(marker, stamp, nx=True, ex=MARKER_SECONDS):
                    return False
            await _KICKER.kiq(job_id=str(job_id), step=step.value)
        except (RedisError, OSError, SendTaskError) as exc:
            with contextlib.suppress(RedisError, OSError):
                async with Redis(connection_pool=broker.connection_pool) as redis:
                    await redis.delete(marker)
            raise self._unavailable(exc) from exc
        return True

    async def taken(self, job_id: JobId, step: StepName) -> None:
        """Note that a worker took the message of *step*: a new one may be queued once
        its claim is visible in the database (after ``TAKEN_SECONDS``)."""
        stamp = f"taken {datetime.now(UTC).isoformat()}"
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                await redis.set(self._marker(job_id, step), stamp, ex=TAKEN_SECONDS)
        except (RedisError, OSError) as exc:  # the marker expires on its own
            logger.debug("could not update the queue marker of %s: %s", step.value, exc)

    async def requeue(self, job_id: JobId, step: StepName) -> None:
        """Queue *step* again at once, whatever its marker says (a handed-back step)."""
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                await redis.delete(self._marker(job_id, step))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        await self.offer(job_id, step)

    async def stats(self) -> QueueStats:
        """The stream's consumer group: messages no worker has read yet (``lag``, or
        the stream's length before any read), messages read but not acknowledged
        (``pending``: running, or held by a dead worker until handed on), and each
        consumer (worker) with its idle time (``XINFO GROUPS`` / ``XINFO CONSUMERS``)."""
        if broker.url is None:
            raise QueueUnavailableError("The job queue was not started.")
        name = self._settings.name
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                try:
                    groups = await redis.xinfo_groups(name)
                except ResponseError:  # no stream yet: nothing was ever queued
                    return QueueStats("redis", 0, 0, ())
                group = next((g for g in groups if _text(g.get("name")) == CONSUMER_GROUP), None)
                if group is None:
                    return QueueStats("redis", int(await redis.xlen(name)), 0, ())
                lag = group.get("lag")
                waiting = int(lag) if lag is not None else int(await redis.xlen(name))
                consumers = await redis.xinfo_consumers(name, CONSUMER_GROUP)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return QueueStats(
            "redis",
            waiting,
            int(group.get("pending") or 0),
            tuple(
                QueueConsumer(
                    _text(c.get("name")),
                    float(c.get("idle") or 0) / 1000.0,
                    int(c.get("pending") or 0),
                )
                for c in consumers
            ),
        )

    def _marker(self, job_id: JobId, step: StepName) -> str:
        return f"{self._settings.name}:queued:{job_id}:{step.value}"

    def _unavailable(self, exc: BaseException) -> QueueUnavailableError:
        cause = exc.__cause__ if isinstance(exc, SendTaskError) and exc.__cause__ else exc
        where = display_url(self._settings.url or "")
        return QueueUnavailableError(f"The job queue (Redis at {where}) is unavailable: {cause}")


__all__ = [
    "ADVANCE_LIVE_TASK",
    "CONSUMER_GROUP",
    "DEAD_CONSUMER_SECONDS",
    "IDLE_TIMEOUT_SECONDS",
    "LIVE_MARKER_SECONDS",
    "MARKER_SECONDS",
    "PRUNE_EVERY_SECONDS",
    "RELEASE_SECONDS",
    "RUN_STEP_TASK",
    "TAKEN_SECONDS",
    "ElyuneStreamBroker",
    "TaskiqJobQueue",
    "TaskiqLiveQueue",
    "broker",
    "display_url",
]
