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
  The reconciler of :func:`run_worker` is the dependable path: at start and every
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
:func:`run_worker`) import it. It is created unbound and reads its address from the
settings (``REDIS_URL`` or ``CELERY_BROKER_URL``) only when it starts, so importing this
module needs no Redis and no environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AcknowledgeType
from taskiq.exceptions import SendTaskError
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from elyune_adapters.settings import QueueSettings, Settings, SettingsError, load_settings
from elyune_core.entities import StepName
from elyune_core.errors import ElyuneError, QueueUnavailableError
from elyune_core.ids import JobId
from elyune_core.ports import JobQueue
from elyune_core.use_cases.run_step import RateLimitedLog

if TYPE_CHECKING:
    from elyune_adapters.container import Container

logger = logging.getLogger("elyune.worker")

#: Name of the one task (kept stable: messages in flight name it).
RUN_STEP_TASK = "elyune.run_step"
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


#: The broker every Elyune process uses (bound to the settings when it starts).
broker = ElyuneStreamBroker()


class TaskiqJobQueue(JobQueue):
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
        from elyune_adapters.queue import tasks  # noqa: F401 - registers the task

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
        await self.send(job_id, step)

    async def send(self, job_id: JobId, step: StepName) -> bool:
        """Queue *step* of *job_id* unless a message for it is still waiting; return
        whether a message was sent."""
        task = broker.find_task(RUN_STEP_TASK)
        if task is None:
            raise QueueUnavailableError("The job queue was not started.")
        marker = self._marker(job_id, step)
        stamp = datetime.now(UTC).isoformat()
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                if not await redis.set(marker, stamp, nx=True, ex=MARKER_SECONDS):
                    return False
            await task.kiq(job_id=str(job_id), step=step.value)
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
        await self.send(job_id, step)

    def _marker(self, job_id: JobId, step: StepName) -> str:
        return f"{self._settings.name}:queued:{job_id}:{step.value}"

    def _unavailable(self, exc: BaseException) -> QueueUnavailableError:
        cause = exc.__cause__ if isinstance(exc, SendTaskError) and exc.__cause__ else exc
        where = display_url(self._settings.url or "")
        return QueueUnavailableError(f"The job queue (Redis at {where}) is unavailable: {cause}")


# --------------------------------------------------------------------------- the worker


def worker_settings(settings: Settings) -> Settings:
    """*settings* for a worker: with ``FFMPEG_THREADS`` unset (0), each of the worker's
    slots gets an equal share of the CPUs this process may use, so that concurrent
    transcodes do not fight over cores."""
    if settings.processing.ffmpeg_threads > 0:
        return settings
    threads = max(1, _cpu_count() // max(settings.queue.concurrency, 1))
    return attrs.evolve(
        settings, processing=attrs.evolve(settings.processing, ffmpeg_threads=threads)
    )


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


async def run_worker(
    settings: Settings, stop: asyncio.Event, *, hurry: asyncio.Event | None = None
) -> None:
    """Run a worker in this process until *stop* is set.

    It takes at most ``settings.queue.concurrency`` steps at a time from the stream,
    runs the reconciler at start and every ``reconcile_seconds``, and on *stop* takes no
    new message, lets the running steps finish for up to ``grace_seconds`` (or until
    *hurry* is set), then cancels what still runs: ``RunStep`` hands those steps back
    (pending again) and the task queues them for another worker. Startup failures
    (settings, database, Redis) raise ``ElyuneError`` subclasses.
    """
    from elyune_adapters.queue import tasks  # noqa: F401 - registers the task and hooks

    settings = worker_settings(settings)
    queue = settings.queue
    broker.bind(queue)
    broker.is_worker_process = True
    broker.state.settings = settings
    try:
        try:
            await broker.startup()  # WORKER_STARTUP: the container, then the stream
        except (RedisError, OSError) as exc:
            where = display_url(queue.url or "")
            raise QueueUnavailableError(
                f"The job queue (Redis at {where}) is unavailable: {exc}"
            ) from exc
        container: Container = broker.state.container
        name: str = broker.state.worker
        broker.consumer_name = name
        await _serve(container, settings, name, stop, hurry)
    finally:
        await broker.shutdown()  # WORKER_SHUTDOWN closes the container
        broker.is_worker_process = False
        broker.state.settings = None


async def _serve(
    container: Container,
    settings: Settings,
    name: str,
    stop: asyncio.Event,
    hurry: asyncio.Event | None,
) -> None:
    queue = settings.queue
    await _reconcile(container, name)  # at start; also checks the database answers
    await _prune(name)
    finish = asyncio.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskiq-sync") as executor:
        receiver = Receiver(
            broker=broker,
            executor=executor,
            validate_params=True,
            max_async_tasks=queue.concurrency,
            max_prefetch=0,
            propagate_exceptions=True,
            run_startup=False,
            ack_type=AcknowledgeType.MANUAL,
            wait_tasks_timeout=queue.grace_seconds,
        )
        listener = asyncio.create_task(receiver.listen(finish), name="taskiq-listen")
        reconciler = asyncio.create_task(
            _reconcile_forever(container, queue.reconcile_seconds, name), name="reconcile"
        )
        stopping = asyncio.create_task(stop.wait())
        logger.info(
            "worker %s ready: %d slot(s), ffmpeg threads %d, queue %r on %s, "
            "reconciling every %g s",
            name,
            queue.concurrency,
            settings.processing.ffmpeg_threads,
            queue.name,
            display_url(queue.url or ""),
            queue.reconcile_seconds,
        )
        try:
            await asyncio.wait(
                {listener, reconciler, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            running: set[asyncio.Task[Any]] = broker.state.running
            logger.info(
                "worker %s stopping: no new steps; %d running, waiting up to %g s",
                name,
                len(running),
                queue.grace_seconds,
            )
            finish.set()
            if hurry is not None and not listener.done():
                hurrying = asyncio.create_task(hurry.wait())
                await asyncio.wait({listener, hurrying}, return_when=asyncio.FIRST_COMPLETED)
                hurrying.cancel()
                if not listener.done():
                    await _hand_back(running, name)
            await asyncio.wait({listener})
            await _hand_back(running, name)  # still running after the grace period
        finally:
            stopping.cancel()
            for task in (listener, reconciler):
                task.cancel()
            done = await asyncio.gather(listener, reconciler, return_exceptions=True)
            await _hand_back(broker.state.running, name)  # (only after an error)
        for failure in done:
            if isinstance(failure, ElyuneError):
                raise failure
            if isinstance(failure, Exception):
                raise QueueUnavailableError(f"The worker failed: {failure!r}") from failure
    logger.info("worker %s stopped", name)


async def _hand_back(running: set[asyncio.Task[Any]], name: str) -> None:
    """Cancel the running steps (``RunStep`` releases them) and wait for their tasks."""
    tasks = [task for task in running if not task.done()]
    if not tasks:
        return
    logger.info("worker %s: handing back %d running step(s)", name, len(tasks))
    for task in tasks:
        task.cancel()
    _, late = await asyncio.wait(tasks, timeout=RELEASE_SECONDS)
    if late:
        logger.warning("worker %s: %d step(s) did not stop in time", name, len(late))


#: How often a worker applies ``RETENTION_DAYS``.
CLEANUP_SECONDS = 3600.0


async def _reconcile_forever(container: Container, every: float, name: str) -> None:
    """Queue again what nobody is doing, every *every* seconds (with some jitter); with
    ``RETENTION_DAYS`` set, also delete expired recordings once an hour."""
    last_cleanup = -math.inf
    last_prune = time.monotonic()
    warnings = RateLimitedLog(logger, every=60.0)
    while True:
        await asyncio.sleep(every * random.uniform(0.9, 1.1))  # workers drift apart
        try:
            await _reconcile(container, name)
        except ElyuneError as exc:
            warnings.warning("worker %s could not reconcile: %s", name, exc)
        if time.monotonic() - last_prune >= PRUNE_EVERY_SECONDS:
            last_prune = time.monotonic()
            await _prune(name)
        days = container.settings().retention_days
        if days > 0 and time.monotonic() - last_cleanup >= CLEANUP_SECONDS:
            last_cleanup = time.monotonic()
            try:
                await _cleanup(container, name, days)
            except ElyuneError as exc:
                logger.warning("worker %s could not apply the retention: %s", name, exc)


async def _prune(name: str) -> None:
    """Remove dead workers' consumers from the group (see ``prune_consumers``)."""
    try:
        removed = await broker.prune_consumers(DEAD_CONSUMER_SECONDS)
    except (RedisError, OSError) as exc:
        logger.warning("worker %s could not look for dead consumers: %s", name, exc)
        return
    if removed:
        logger.info(
            "worker %s removed %d dead consumer(s) from the queue: %s",
            name,
            len(removed),
            ", ".join(removed),
        )


async def _cleanup(container: Container, name: str, days: float) -> None:
    """Delete recordings older than *days* (the periodic form of `elyune storage cleanup`)."""
    from datetime import timedelta

    from elyune_adapters.container import resolve

    cutoff = (await resolve(container.clock())).now() - timedelta(days=days)
    result = await (await resolve(container.cleanup_recordings())).execute(cutoff)
    if result.recordings:
        logger.info(
            "worker %s deleted %d recording(s) older than %g days (%d objects, %d bytes)",
            name,
            len(result.recordings),
            days,
            result.objects,
            result.bytes,
        )


async def _reconcile(container: Container, name: str) -> None:
    from elyune_adapters.container import resolve

    counting = _CountingQueue(await resolve(container.job_queue()))
    outcome = await (await resolve(container.reconcile(queue=counting))).execute()
    if counting.sent:
        logger.info(
            "worker %s re-queued %d step(s) of %d job(s) (%d still queued)",
            name,
            counting.sent,
            outcome.jobs,
            counting.waiting,
        )


class _CountingQueue(JobQueue):
    """The reconciler's view of the queue: counts what it sent and what was waiting."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self.sent = 0
        self.waiting = 0

    async def enqueue(self, job_id: JobId, step: StepName) -> None:
        if isinstance(self._queue, TaskiqJobQueue):
            sent = await self._queue.send(job_id, step)
        else:
            await self._queue.enqueue(job_id, step)
            sent = True
        self.sent += sent
        self.waiting += not sent


__all__ = [
    "CONSUMER_GROUP",
    "IDLE_TIMEOUT_SECONDS",
    "MARKER_SECONDS",
    "RUN_STEP_TASK",
    "TAKEN_SECONDS",
    "ElyuneStreamBroker",
    "TaskiqJobQueue",
    "broker",
    "display_url",
    "run_worker",
    "worker_settings",
]
