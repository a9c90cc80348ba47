"""Retry the failed steps of a recording's job."""

from __future__ import annotations

import attrs

from elyune_core._pipeline import derive_status, ready_steps
from elyune_core.entities import AnalysisKind, AnalysisStatus, StepName, StepStatus
from elyune_core.errors import InvalidStateError, JobNotFoundError
from elyune_core.ids import JobId, RecordingId, UserId
from elyune_core.ports import Clock, JobQueue, UnitOfWorkFactory


@attrs.frozen
class RetryJobInput:
    """The recording whose job to retry; with ``owner_id``, only the owner may."""

    recording_id: RecordingId
    owner_id: UserId | None = None


@attrs.frozen
class RetryJobResult:
    """The steps that were reset and the steps queued."""

    job_id: JobId
    reset: tuple[str, ...]
    queued: tuple[str, ...]


class RetryJob:
    """Re-run only the failed steps of a job (with a fresh attempt budget).

    Rules:

    - Succeeded and skipped steps are kept; steps that were blocked behind a failed step
      run once it succeeds.
    - A job with no failed step is left alone (``InvalidStateError``): a finished job is
      never re-run as a whole.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, queue: JobQueue, clock: Clock) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock

    async def execute(self, data: RetryJobInput) -> RetryJobResult:
        """Reset the failed steps of the job of *data.recording_id* and queue them."""
        now = self._clock.now()
        async with self._uow() as uow:
            recording = await uow.recordings.get(data.recording_id, data.owner_id)
            found = await uow.jobs.for_recording(recording.id)
            if found is None:
                raise JobNotFoundError("The recording has no processing job yet.")
            job = await uow.jobs.lock(found.id)
            recording = await uow.recordings.lock(recording.id)  # after the job, as RunStep
            failed = [s for s in job.steps if s.status is StepStatus.FAILED]
            if not failed:
                raise InvalidStateError("Nothing to retry: no step of this job has failed.")
            for step in failed:
                job = job.with_step(step.reset())
            job = derive_status(job, now)
            await uow.jobs.save(job)
            await uow.recordings.save(recording.follow_job(job, now))
            await uow.commit()
        queued = ready_steps(job, now)
        for name in queued:
            await self._queue.enqueue(job.id, name)
        return RetryJobResult(
            job.id, tuple(s.name.value for s in failed), tuple(s.value for s in queued)
        )


@attrs.frozen
class RerunAnalysisInput:
    """One analysis kind of a recording to run again."""

    recording_id: RecordingId
    kind: AnalysisKind
    owner_id: UserId | None = None


class RerunAnalysis:
    """Run one analysis again from the stored transcript, without re-transcribing.

    Rules:

    - The transcript must exist and not be empty.
    - The other analyses keep their results; only *kind* is marked pending.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, queue: JobQueue, clock: Clock) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock

    async def execute(self, data: RerunAnalysisInput) -> RetryJobResult:
        """Queue the analyze step for *data.kind* only."""
        now = self._clock.now()
        async with self._uow() as uow:
            recording = await uow.recordings.get(data.recording_id, data.owner_id)
            found = await uow.jobs.for_recording(recording.id)
            transcript = await uow.transcripts.get(recording.id)
            if found is None or transcript is None:
                raise InvalidStateError("The recording has no transcript yet.")
            if transcript.is_empty:
                raise InvalidStateError("The recording has no speech to analyse.")
            job = await uow.jobs.lock(found.id)
            recording = await uow.recordings.lock(recording.id)
            analyze = job.step(StepName.ANALYZE)
            if analyze.status is StepStatus.RUNNING:
                raise InvalidStateError("The analyses are running right now.")
            for analysis in await uow.analyses.list(recording.id):
                if analysis.kind is data.kind:
                    await uow.analyses.save(
                        attrs.evolve(analysis, status=AnalysisStatus.PENDING, updated_at=now)
                    )
            job = derive_status(job.with_step(analyze.reset()), now)
            await uow.jobs.save(job)
            await uow.recordings.save(recording.follow_job(job, now))
            await uow.commit()
        queued = ready_steps(job, now)
        for name in queued:
            await self._queue.enqueue(job.id, name)
        return RetryJobResult(job.id, (StepName.ANALYZE.value,), tuple(s.value for s in queued))


__all__ = [
    "RerunAnalysis",
    "RerunAnalysisInput",
    "RetryJob",
    "RetryJobInput",
    "RetryJobResult",
]
