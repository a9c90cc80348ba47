"""What operators (staff users) see and do: every job, the queue, retries, monitoring.

These use cases read across users on purpose; the entry points let only staff users
reach them. The regular use cases keep their per-owner isolation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import attrs

from elyune_core._pipeline import derive_status, ready_steps
from elyune_core.entities import Job, JobStatus, Recording, StepName, StepStatus, User
from elyune_core.errors import (
    ElyuneError,
    InvalidStateError,
    RecordingNotFoundError,
    ServiceUnavailableError,
    UserNotFoundError,
)
from elyune_core.ids import JobId, UserId
from elyune_core.ports import (
    Clock,
    JobQuery,
    JobQueue,
    JobStatistics,
    Page,
    QueueMonitor,
    QueueStats,
    UnitOfWork,
    UnitOfWorkFactory,
    WorkerActivity,
)
from elyune_core.use_cases.retry_job import RetryJob, RetryJobInput, RetryJobResult

#: A worker that started a step this recently counts as seen.
RECENT_WORKER_SECONDS = 3600.0


@attrs.frozen
class JobOverview:
    """A job with its recording and the recording's owner (``None`` if gone), and the
    names of its stuck steps (running on an expired lease) when it was read."""

    job: Job
    recording: Recording | None
    owner: User | None
    stuck_steps: tuple[StepName, ...] = ()

    @property
    def stuck(self) -> bool:
        """Whether a step of the job is stuck."""
        return bool(self.stuck_steps)


@attrs.frozen
class ListJobsInput:
    """Filters of the operator's job listing: a status, and/or stuck jobs only."""

    status: JobStatus | None = None
    stuck: bool = False
    offset: int = 0
    limit: int = 50


async def _overviews(uow: UnitOfWork, jobs: tuple[Job, ...], clock: Clock) -> list[JobOverview]:
    users: dict[UserId, User | None] = {}
    now = clock.now()
    found: list[JobOverview] = []
    for job in jobs:
        try:
            recording: Recording | None = await uow.recordings.get(job.recording_id)
        except RecordingNotFoundError:
            recording = None
        owner: User | None = None
        if recording is not None:
            if recording.owner_id not in users:  # one read per owner of the page
                try:
                    users[recording.owner_id] = await uow.users.get(recording.owner_id)
                except UserNotFoundError:
                    users[recording.owner_id] = None
            owner = users[recording.owner_id]
        stuck = tuple(step.name for step in job.steps if step.stuck(now))
        found.append(JobOverview(job, recording, owner, stuck))
    return found


class ListJobs:
    """Every user's jobs, newest first, optionally of one status or stuck only.

    Rules: a job is *stuck* when one of its steps is running on an expired lease (its
    worker died, or its progress stopped moving, which stops the lease's renewal).
    """

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, data: ListJobsInput) -> Page[JobOverview]:
        """A page of jobs with their recordings and owners."""
        query = JobQuery(
            status=data.status,
            stuck_at=self._clock.now() if data.stuck else None,
            offset=data.offset,
            limit=data.limit,
        )
        async with self._uow() as uow:
            page = await uow.jobs.search(query)
            items = await _overviews(uow, page.items, self._clock)
        return Page(tuple(items), page.total)


class GetJob:
    """One job of any user, with its steps, recording and owner."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, job_id: JobId) -> JobOverview:
        """The job, or ``JobNotFoundError``."""
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            return (await _overviews(uow, (job,), self._clock))[0]


@attrs.frozen
class RetryStepInput:
    """A job, and one of its steps (``None``: every failed step)."""

    job_id: JobId
    step: StepName | None = None


class RetryJobStep:
    """An operator's retry of any user's job, or of one step of it.

    Rules:

    - Without a step: the failed steps are reset and queued, as the owner's retry does.
    - A failed step is reset (a fresh attempt budget) and queued once it may run; the
      steps behind it follow when it succeeds.
    - A stuck step (running on an expired lease) is queued again at once: the worker
      that takes it claims it, since nobody holds it any more.
    - Anything else (pending, running on a live lease, finished well) is refused with
      ``InvalidStateError``: a retry never runs a step twice at once.
    """

    def __init__(
        self, *, uow: UnitOfWorkFactory, queue: JobQueue, clock: Clock, retry: RetryJob
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._retry = retry

    async def execute(self, data: RetryStepInput) -> RetryJobResult:
        """Reset or re-queue, and return what was reset and queued."""
        if data.step is None:
            async with self._uow() as uow:
                job = await uow.jobs.get(data.job_id)
            if job.stuck(self._clock.now()) and not any(
                s.status is StepStatus.FAILED for s in job.steps
            ):
                stuck = [s.name for s in job.steps if s.stuck(self._clock.now())]
                for name in stuck:
                    await self._queue.requeue(job.id, name)
                return RetryJobResult(job.id, (), tuple(n.value for n in stuck))
            return await self._retry.execute(RetryJobInput(job.recording_id))
        now = self._clock.now()
        async with self._uow() as uow:
            job = await uow.jobs.lock(data.job_id)
            step = job.step(data.step)
            if step.stuck(now):
                await uow.commit()
                await self._queue.requeue(job.id, step.name)
                return RetryJobResult(job.id, (), (step.name.value,))
            if step.status is not StepStatus.FAILED:
                raise InvalidStateError(
                    f"The step {step.name.value} is {step.status.value}: only a failed or "
                    "stuck step can be retried."
                )
            recording = await uow.recordings.lock(job.recording_id)
            job = derive_status(job.with_step(step.reset()), now)
            await uow.jobs.save(job)
            await uow.recordings.save(recording.follow_job(job, now))
            await uow.commit()
        queued = tuple(n for n in ready_steps(job, now) if n is step.name)
        for name in queued:
            await self._queue.enqueue(job.id, name)
        return RetryJobResult(job.id, (step.name.value,), tuple(n.value for n in queued))


@attrs.frozen
class QueueReport:
    """The queue's depth (``None`` with *error* when it could not be asked), the workers
    that started a step recently, and the job counts."""

    queue: QueueStats | None
    error: str | None
    workers: tuple[WorkerActivity, ...]
    statistics: JobStatistics
    deliveries: Mapping[str, int] = attrs.field(factory=dict)


class QueueOverview:
    """The queue and the workers, for the operator view and ``/metrics``.

    Rules: the workers are those the database saw start a step in the last
    ``RECENT_WORKER_SECONDS``; a queue that cannot be asked (Redis away) is reported as
    such, never as an empty queue.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, monitor: QueueMonitor, clock: Clock) -> None:
        self._uow = uow
        self._monitor = monitor
        self._clock = clock

    async def execute(self) -> QueueReport:
        """Ask the queue and the database."""
        now = self._clock.now()
        async with self._uow() as uow:
            statistics = await uow.jobs.statistics(
                now, now - timedelta(seconds=RECENT_WORKER_SECONDS)
            )
            deliveries = await uow.webhooks.delivery_counts()
        stats: QueueStats | None = None
        error: str | None = None
        try:
            stats = await self._monitor.stats()
        except ServiceUnavailableError as exc:
            error = str(exc)
        except ElyuneError as exc:  # pragma: no cover - defensive: any core failure
            error = str(exc)
        return QueueReport(stats, error, statistics.workers, statistics, deliveries)


__all__ = [
    "RECENT_WORKER_SECONDS",
    "GetJob",
    "JobOverview",
    "ListJobs",
    "ListJobsInput",
    "QueueOverview",
    "QueueReport",
    "RetryJobStep",
    "RetryStepInput",
]
