"""The worker's runtime: take steps from the Redis stream, reconcile, apply retention.

:func:`run_worker` binds the queue adapter's broker (:mod:`elyune_adapters.queue.taskiq`)
to the settings, builds the container in taskiq's start-up hook (:mod:`elyune_worker.tasks`),
reads one message per free slot with taskiq's receiver, and beside it runs the periodic
loops: the reconciler (at start and every ``RECONCILE_SECONDS``: the steps nobody is
doing are queued again), the removal of dead workers' consumers, and ``RETENTION_DAYS``.
On *stop* it takes no new message, lets the running steps finish for the grace period,
then hands them back.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import attrs
from redis.exceptions import RedisError
from taskiq import AcknowledgeType
from taskiq.receiver import Receiver

from elyune_adapters.container import Container, resolve
from elyune_adapters.queue.taskiq import (
    DEAD_CONSUMER_SECONDS,
    PRUNE_EVERY_SECONDS,
    RELEASE_SECONDS,
    broker,
    display_url,
)
from elyune_adapters.settings import Settings
from elyune_core.entities import StepName
from elyune_core.errors import ElyuneError, QueueUnavailableError
from elyune_core.ids import JobId
from elyune_core.ports import JobQueue
from elyune_core.use_cases.run_step import RateLimitedLog
from elyune_worker.tasks import logger  # importing it registers the task and the hooks


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
        sent = await self._queue.offer(job_id, step)
        self.sent += sent
        self.waiting += not sent


__all__ = ["CLEANUP_SECONDS", "run_worker", "worker_settings"]
