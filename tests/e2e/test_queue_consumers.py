"""Dead workers do not pile up in the Redis consumer group (issue 17)."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from elyune_adapters.queue.taskiq import CONSUMER_GROUP, broker
from elyune_adapters.settings import QueueSettings
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis


async def test_consumers_that_stopped_reading_are_pruned_but_not_this_worker():
    stream = f"elyune-test-{uuid.uuid4().hex[:8]}"
    broker.bind(QueueSettings(kind="redis", url=REDIS_URL, name=stream))
    broker.consumer_name = "alive-worker"
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.xgroup_create(stream, CONSUMER_GROUP, id="0", mkstream=True)
        await redis.xadd(stream, {"data": "x"})
        await redis.xreadgroup(CONSUMER_GROUP, "dead-1", {stream: ">"}, count=1)  # pending
        for consumer in ("dead-2", "alive-worker"):
            await redis.xgroup_createconsumer(stream, CONSUMER_GROUP, consumer)
        assert {c["name"] for c in await redis.xinfo_consumers(stream, CONSUMER_GROUP)} == {
            b"dead-1",
            b"dead-2",
            b"alive-worker",
        }
        assert await broker.prune_consumers(3600.0) == []  # nobody idle that long
        removed = await broker.prune_consumers(0.0)
        assert sorted(removed) == ["dead-1", "dead-2"]
        left = {c["name"] for c in await redis.xinfo_consumers(stream, CONSUMER_GROUP)}
        assert left == {b"alive-worker"}
    finally:
        await redis.delete(stream)
        await redis.aclose()
        await broker.connection_pool.disconnect()
