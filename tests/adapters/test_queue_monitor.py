"""The QueueMonitor port of both queues: the Redis stream's depth and consumers, and the
in-process queue's waiting and running steps."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from elyune_adapters.queue.inprocess import InProcessJobQueue
from elyune_adapters.queue.taskiq import CONSUMER_GROUP, TaskiqJobQueue
from elyune_adapters.settings import QueueSettings
from elyune_core import JobId, QueueUnavailableError, StepName
from tests.conftest import REDIS_URL


async def test_the_redis_queue_reports_waiting_messages_and_consumers():
    name = f"test-monitor-{uuid.uuid4().hex[:8]}"
    queue = TaskiqJobQueue(QueueSettings(kind="redis", url=REDIS_URL, name=name))
    await queue.start()
    try:
        empty = await queue.stats()
        assert (empty.backend, empty.waiting, empty.running, empty.consumers) == ("redis", 0, 0, ())
        assert await queue.offer(JobId("job-1"), StepName.PROBE)
        assert await queue.offer(JobId("job-2"), StepName.PROBE)
        assert not await queue.offer(JobId("job-2"), StepName.PROBE)  # still waiting
        assert (await queue.stats()).waiting == 2
        async with Redis.from_url(REDIS_URL) as redis:  # a worker reads one message
            await redis.xreadgroup(CONSUMER_GROUP, "worker-a", {name: ">"}, count=1)
        stats = await queue.stats()
        assert (stats.waiting, stats.running) == (1, 1)
        assert [(c.name, c.pending) for c in stats.consumers] == [("worker-a", 1)]
        assert stats.consumers[0].idle_seconds is not None
    finally:
        await queue.close()
        async with Redis.from_url(REDIS_URL) as redis:
            await redis.delete(name, *await redis.keys(f"{name}:*"))


async def test_the_in_process_queue_reports_its_slots():
    queue = InProcessJobQueue(concurrency=1)
    with pytest.raises(QueueUnavailableError):
        await queue.stats()  # no runner: not running
    release = asyncio.Event()

    async def runner(job_id, step):
        await release.wait()

    queue.attach(runner, "host:1:abc")
    await queue.enqueue(JobId("job-1"), StepName.PROBE)
    await queue.enqueue(JobId("job-2"), StepName.PROBE)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    stats = await queue.stats()
    assert (stats.backend, stats.waiting, stats.running) == ("inprocess", 1, 1)
    assert [c.name for c in stats.consumers] == ["host:1:abc"]
    release.set()
    await queue.join()
    assert (await queue.stats()).running == 0
    await queue.close()
