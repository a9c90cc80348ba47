"""Start (or resume) the processing job of an uploaded recording."""

from __future__ import annotations

import attrs

from elyune_core._pipeline import new_job, ready_steps
from elyune_core.entities import RecordingStatus
from elyune_core.errors import ConflictError, InvalidInputError
from elyune_core.ids import JobId, RecordingId
from elyune_core.ports import Clock, IdSource, JobQueue, UnitOfWorkFactory


@attrs.frozen
class StartProcessingInput:
    """The recording to process."""

    recording_id: RecordingId
    #: the recording's live stretches hold its transcript (see ``Job.from_stretches``);
    #: read only when the job is created
    from_stretches: bool = False


@attrs.frozen
class StartProcessingResult:
    """The job, whether this call created it, and the steps it queued."""

    job_id: JobId
    created: bool
    queued: tuple[str, ...]


class StartProcessing:
    """Create the job of an uploaded recording and queue its first steps.

    Rules:

    - The recording must be uploaded (not awaiting its upload).
    - A recording has one job. Calling this again creates nothing; it re-queues the steps
      that are ready (a repeated delivery of those is harmless), and a finished job
      queues nothing at all.
    """

    def __init__(
        self, *, uow: UnitOfWorkFactory, queue: JobQueue, clock: Clock, ids: IdSource
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._ids = ids

    async def execute(self, data: StartProcessingInput) -> StartProcessingResult:
        """Start processing *data.recording_id*."""
        now = self._clock.now()
        async with self._uow() as uow:
            recording = await uow.recordings.get(data.recording_id)
            if recording.status is RecordingStatus.AWAITING_UPLOAD:
                raise InvalidInputError("The recording has not been uploaded yet.")
            job = await uow.jobs.for_recording(recording.id)
            created = job is None
            if job is None:
                job = new_job(
                    JobId(self._ids.new_id()),
                    recording.id,
                    now,
                    from_stretches=data.from_stretches,
                )
                try:
                    await uow.jobs.add(job)
                    recording = await uow.recordings.lock(recording.id)
                    await uow.recordings.save(recording.follow_job(job, now))
                    await uow.commit()
                except ConflictError:  # created at the same moment by another call
                    created = False
                    job = None
        if job is None:
            async with self._uow() as uow:
                job = await uow.jobs.for_recording(data.recording_id)
            if job is None:
                raise ConflictError("The job could not be created; try again.")
        if job.status.finished:
            return StartProcessingResult(job.id, created, ())
        queued = ready_steps(job, now)
        for step in queued:
            await self._queue.enqueue(job.id, step)
        return StartProcessingResult(job.id, created, tuple(s.value for s in queued))


__all__ = [
    "StartProcessing",
    "StartProcessingInput",
    "StartProcessingResult",
]
