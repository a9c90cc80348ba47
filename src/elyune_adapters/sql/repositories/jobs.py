"""Jobs in ``jobs`` with their steps in ``job_steps``; the operator's job search and statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.reader import SyncReader
from elyune_adapters.sql.repositories.statements import (
    _JOB_OF_RECORDING,
    _STEPS_OF_MANY,
    _STEPS_OF_ONE,
)
from elyune_core.entities import (
    Job,
    JobStatus,
    Step,
    StepName,
    StepStatus,
)
from elyune_core.errors import (
    ConflictError,
    JobNotFoundError,
)
from elyune_core.ids import JobId, RecordingId
from elyune_core.ports import (
    STEP_DURATION_BUCKETS,
    JobQuery,
    JobRepository,
    JobStatistics,
    Page,
    StepDurations,
    WorkerActivity,
)

_STEP_ORDER = {name: index for index, name in enumerate(StepName)}


def _step(row: Mapping[Any, Any], prefix: str = "") -> Step:
    """The step in *row*, whose columns are named with *prefix* in a joined query."""
    return Step(
        name=StepName(row[prefix + "name"]),
        status=StepStatus(row[prefix + "status"]),
        attempts=row[prefix + "attempts"],
        started_at=row[prefix + "started_at"],
        finished_at=row[prefix + "finished_at"],
        error=row[prefix + "error"],
        output=dict(row[prefix + "output"] or {}),
        worker=row[prefix + "worker"],
        lease_expires_at=row[prefix + "lease_expires_at"],
        progress=row[prefix + "progress"],
        retry_at=row[prefix + "retry_at"],
        outage_since=row[prefix + "outage_since"],
    )


def _step_values(step: Step) -> dict[str, Any]:
    return {
        "status": step.status.value,
        "attempts": step.attempts,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "error": step.error,
        "output": dict(step.output),
        "worker": step.worker,
        "lease_expires_at": step.lease_expires_at,
        "progress": step.progress,
        "retry_at": step.retry_at,
        "outage_since": step.outage_since,
    }


def _job(row: Mapping[Any, Any], steps: Sequence[Step]) -> Job:
    return Job(
        id=JobId(row["id"]),
        recording_id=RecordingId(row["recording_id"]),
        created_at=row["created_at"],
        steps=tuple(sorted(steps, key=lambda s: _STEP_ORDER[s.name])),
        status=JobStatus(row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        from_stretches=bool(row.get("from_stretches") or False),
    )


class SqlJobRepository(JobRepository):
    """Jobs in ``jobs``, steps in ``job_steps``; ``lock`` takes the job row's write lock."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def add(self, job: Job) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.jobs).values(
                        id=job.id,
                        recording_id=job.recording_id,
                        status=job.status.value,
                        error=job.error,
                        created_at=job.created_at,
                        started_at=job.started_at,
                        finished_at=job.finished_at,
                        version=0,
                        from_stretches=job.from_stretches,
                    )
                )
                await self._conn.execute(
                    insert(t.job_steps),
                    [
                        {
                            "job_id": job.id,
                            "name": s.name.value,
                            "position": _STEP_ORDER[s.name],
                            **_step_values(s),
                        }
                        for s in job.steps
                    ],
                )
        except IntegrityError as exc:
            raise ConflictError("The recording already has a processing job.") from exc

    async def get(self, job_id: JobId) -> Job:
        jobs = await self._load(select(t.jobs).where(t.jobs.c.id == job_id))
        if not jobs:
            raise JobNotFoundError(f"No job {job_id}.")
        return jobs[0]

    async def lock(self, job_id: JobId) -> Job:
        # An UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so
        # whoever locks first finishes its read-modify-write before the next one reads.
        result = await self._conn.execute(
            update(t.jobs).where(t.jobs.c.id == job_id).values(version=t.jobs.c.version + 1)
        )
        if result.rowcount == 0:
            raise JobNotFoundError(f"No job {job_id}.")
        return await self.get(job_id)

    async def for_recording(self, recording_id: RecordingId) -> Job | None:
        params = {"recording_id": recording_id}
        rows = (await self._conn.execute(_JOB_OF_RECORDING, params)).mappings().all()
        if not rows:
            return None
        steps = [_step(row, "s_") for row in rows if row["s_name"] is not None]
        return _job(rows[0], steps)

    async def save(self, job: Job) -> None:
        await self._conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job.id)
            .values(
                status=job.status.value,
                error=job.error,
                started_at=job.started_at,
                finished_at=job.finished_at,
            )
        )
        for step in job.steps:
            await self._conn.execute(
                update(t.job_steps)
                .where(and_(t.job_steps.c.job_id == job.id, t.job_steps.c.name == step.name.value))
                .values(**_step_values(step))
            )

    async def list(self, status: JobStatus | None = None, limit: int = 50) -> Sequence[Job]:
        query = select(t.jobs).order_by(t.jobs.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(t.jobs.c.status == status.value)
        return await self._load(query)

    async def unfinished(self, limit: int = 500) -> Sequence[Job]:
        query = (
            select(t.jobs)
            .where(
                or_(
                    t.jobs.c.status == JobStatus.PENDING.value,
                    t.jobs.c.status == JobStatus.RUNNING.value,
                )
            )
            .order_by(t.jobs.c.created_at)
            .limit(limit)
        )
        return await self._load(query)

    async def search(self, query: JobQuery) -> Page[Job]:
        conditions: list[Any] = []
        if query.status is not None:
            conditions.append(t.jobs.c.status == query.status.value)
        if query.stuck_at is not None:
            steps = t.job_steps.c
            conditions.append(
                select(steps.job_id)
                .where(
                    steps.job_id == t.jobs.c.id,
                    steps.status == StepStatus.RUNNING.value,
                    or_(steps.lease_expires_at.is_(None), steps.lease_expires_at <= query.stuck_at),
                )
                .exists()
            )
        where = and_(True, *conditions)
        total = (
            await self._conn.execute(select(func.count()).select_from(t.jobs).where(where))
        ).scalar_one()
        jobs = await self._load(
            select(t.jobs)
            .where(where)
            .order_by(t.jobs.c.created_at.desc(), t.jobs.c.id.desc())
            .offset(query.offset)
            .limit(query.limit)
        )
        return Page(tuple(jobs), int(total))

    async def statistics(self, now: datetime, since: datetime) -> JobStatistics:
        steps = t.job_steps.c
        jobs = {
            row[0]: int(row[1])
            for row in await self._conn.execute(
                select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status)
            )
        }
        by_step = {
            (row[0], row[1]): int(row[2])
            for row in await self._conn.execute(
                select(steps.name, steps.status, func.count()).group_by(steps.name, steps.status)
            )
        }
        stuck = (
            await self._conn.execute(
                select(func.count())
                .select_from(t.job_steps)
                .where(
                    steps.status == StepStatus.RUNNING.value,
                    or_(steps.lease_expires_at.is_(None), steps.lease_expires_at <= now),
                )
            )
        ).scalar_one()
        if self._conn.dialect.name == "postgresql":
            seconds: Any = func.extract("epoch", steps.finished_at - steps.started_at)
        else:  # SQLite keeps naive UTC text: julianday() reads it
            seconds = (
                func.julianday(steps.finished_at) - func.julianday(steps.started_at)
            ) * 86400.0
        buckets = [
            func.sum(case((seconds <= bound, 1), else_=0)) for bound in STEP_DURATION_BUCKETS
        ]
        durations = {
            row[0]: StepDurations(
                int(row[1]), float(row[2] or 0.0), tuple(int(v or 0) for v in row[3:])
            )
            for row in await self._conn.execute(
                select(steps.name, func.count(), func.sum(seconds), *buckets)
                .where(
                    steps.status == StepStatus.SUCCEEDED.value,
                    steps.started_at.is_not(None),
                    steps.finished_at.is_not(None),
                )
                .group_by(steps.name)
            )
        }
        running = func.sum(case((steps.status == StepStatus.RUNNING.value, 1), else_=0))
        last = func.max(steps.started_at)
        seen = await self._conn.execute(
            select(steps.worker, last.label("last"), running.label("running"))
            .where(steps.worker.is_not(None), steps.started_at >= since)
            .group_by(steps.worker)
            .order_by(last.desc())
            .limit(100)
        )
        workers = tuple(
            WorkerActivity(row["worker"], row["last"], int(row["running"] or 0))
            for row in seen.mappings()
        )
        return JobStatistics(jobs, by_step, int(stuck), durations, workers)

    async def _load(
        self, query: Select[Any], params: Mapping[str, Any] | None = None
    ) -> Sequence[Job]:
        rows = (await self._conn.execute(query, params)).mappings().all()
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        if len(ids) == 1:
            found = await self._conn.execute(_STEPS_OF_ONE, {"job_id": ids[0]})
        else:
            found = await self._conn.execute(_STEPS_OF_MANY, {"ids": ids})
        steps: dict[str, list[Step]] = {}
        for row in found.mappings():
            steps.setdefault(row["job_id"], []).append(_step(row))
        return [_job(r, steps.get(r["id"], [])) for r in rows]
