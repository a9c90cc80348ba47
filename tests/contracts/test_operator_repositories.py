"""The repository methods of the operator view and /metrics, one contract for the fake,
SQLite and PostgreSQL: the staff flag, job search (status, stuck, pages), statistics,
webhook delivery counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from elyune_adapters.memory import InMemoryState, in_memory_uow
from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import create_engine, upgrade
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core import (
    DeliveryId,
    JobId,
    JobStatus,
    Recording,
    RecordingId,
    StepName,
    StepStatus,
    User,
    UserId,
    WebhookEndpoint,
    WebhookEvent,
    WebhookId,
    new_job,
)
from elyune_core._pipeline import derive_status
from elyune_core.entities import DeliveryStatus, WebhookDelivery
from elyune_core.ports import STEP_DURATION_BUCKETS, JobQuery
from tests.conftest import reset_schema

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def uow_factory(request, tmp_path):
    if request.param == "memory":
        yield in_memory_uow(InMemoryState())
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database")
        await reset_schema(url)
    engine = create_engine(DatabaseSettings(url=url))
    await upgrade(engine)
    yield lambda: SqlUnitOfWork(engine)
    await engine.dispose()


def _recording(n: int) -> Recording:
    return Recording.awaiting_upload(
        RecordingId(f"rec-{n}"), UserId("user-1"), "a.webm", f"k/{n}", NOW + timedelta(minutes=n)
    )


async def _jobs(uow_factory) -> None:
    """rec-1 failed at probe; rec-2 stuck (probe running, lease gone at NOW); rec-3
    probe running on a live lease; rec-4 every step succeeded in 1, 3, 7... seconds."""
    async with uow_factory() as uow:
        await uow.users.add(User(UserId("user-1"), "alice", "hash", NOW))
        for n in range(1, 5):
            await uow.recordings.add(_recording(n))
            started = NOW + timedelta(minutes=n)
            job = new_job(JobId(f"job-{n}"), RecordingId(f"rec-{n}"), started)
            probe = job.step(StepName.PROBE)
            if n == 1:
                probe = probe.claim("w-a", started, started).fail(started, "bad")
            elif n == 2:
                probe = probe.claim("w-b", started, NOW - timedelta(seconds=1))
            elif n == 3:
                probe = probe.claim("w-b", started, NOW + timedelta(hours=1))
            job = job.with_step(probe)
            if n == 4:
                for i, step in enumerate(job.steps):
                    seconds = 2 * i + 1
                    job = job.with_step(
                        step.claim("w-c", started, started).succeed(
                            started + timedelta(seconds=seconds), {}
                        )
                    )
            await uow.jobs.add(derive_status(job, NOW))
        await uow.commit()


async def test_the_staff_flag_is_stored(uow_factory):
    user = User(UserId("user-9"), "olga", "hash", NOW, is_staff=True)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.users.get(user.id)).is_staff
        await uow.users.save(user.with_flags(is_staff=False, is_active=False))
        await uow.commit()
    async with uow_factory() as uow:
        loaded = await uow.users.get_by_username("olga")
    assert loaded == attrs.evolve(user, is_staff=False, is_active=False)


async def test_jobs_are_searched_by_status_and_stuck_newest_first(uow_factory):
    await _jobs(uow_factory)
    async with uow_factory() as uow:
        everything = await uow.jobs.search(JobQuery())
        failed = await uow.jobs.search(JobQuery(status=JobStatus.FAILED))
        running = await uow.jobs.search(JobQuery(status=JobStatus.RUNNING))
        stuck = await uow.jobs.search(JobQuery(stuck_at=NOW))
        later = await uow.jobs.search(JobQuery(stuck_at=NOW + timedelta(hours=2)))
        page = await uow.jobs.search(JobQuery(offset=1, limit=2))
    assert [j.id for j in everything.items] == ["job-4", "job-3", "job-2", "job-1"]
    assert everything.total == 4
    assert [j.id for j in failed.items] == ["job-1"]
    assert [j.id for j in running.items] == ["job-3", "job-2"]
    assert [j.id for j in stuck.items] == ["job-2"] and stuck.total == 1
    assert [j.id for j in later.items] == ["job-3", "job-2"]
    assert [j.id for j in page.items] == ["job-3", "job-2"] and page.total == 4
    assert everything.items[3].step(StepName.PROBE).error == "bad"


async def test_statistics_count_jobs_steps_durations_and_workers(uow_factory):
    await _jobs(uow_factory)
    async with uow_factory() as uow:
        stats = await uow.jobs.statistics(NOW, NOW)
        none_recent = await uow.jobs.statistics(NOW, NOW + timedelta(hours=1))
    assert stats.jobs == {"failed": 1, "running": 2, "succeeded": 1}
    assert stats.steps[("probe", StepStatus.RUNNING.value)] == 2
    assert stats.steps[("probe", StepStatus.FAILED.value)] == 1
    assert stats.steps[("probe", StepStatus.SUCCEEDED.value)] == 1
    assert stats.steps[("analyze", StepStatus.PENDING.value)] == 3
    assert stats.stuck_steps == 1
    probe = stats.durations["probe"]  # 1 s
    analyze = stats.durations["analyze"]  # the sixth step: 11 s
    assert probe.count == 1 and probe.total == pytest.approx(1.0, abs=1e-3)
    assert analyze.total == pytest.approx(11.0, abs=1e-3)
    assert len(analyze.buckets) == len(STEP_DURATION_BUCKETS)
    expected = tuple(int(bound >= 11.0) for bound in STEP_DURATION_BUCKETS)
    assert analyze.buckets == expected
    assert set(stats.durations) == {s.value for s in StepName}
    workers = {w.name: w for w in stats.workers}
    assert set(workers) == {"w-a", "w-b", "w-c"}
    assert workers["w-b"].running == 2 and workers["w-a"].running == 0
    assert workers["w-c"].last_seen == NOW + timedelta(minutes=4)
    assert stats.workers[0].name == "w-c"  # the most recent first
    assert none_recent.workers == ()


async def test_delivery_counts_by_status(uow_factory):
    endpoint = WebhookEndpoint(
        WebhookId("hook-1"),
        UserId("user-1"),
        "https://example.com/h",
        (WebhookEvent.TRANSCRIPT_READY,),
        "whsec_x",
        NOW,
    )
    async with uow_factory() as uow:
        await uow.users.add(User(UserId("user-1"), "alice", "hash", NOW))
        await uow.webhooks.add(endpoint)
        for n, status in enumerate(
            (DeliveryStatus.PENDING, DeliveryStatus.SUCCEEDED, DeliveryStatus.SUCCEEDED)
        ):
            await uow.webhooks.add_delivery(
                WebhookDelivery(
                    DeliveryId(f"dlv-{n}"),
                    endpoint.id,
                    endpoint.owner_id,
                    WebhookEvent.TRANSCRIPT_READY,
                    {"n": n},
                    NOW,
                    status=status,
                )
            )
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhooks.delivery_counts() == {"pending": 1, "succeeded": 2}
