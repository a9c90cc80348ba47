"""Run one step of a processing job: claim it, do it, record it, hand on what is next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import attrs

from elyune_core.entities import (
    AnalysisStatus,
    Job,
    JobStatus,
    Recording,
    Step,
    StepName,
    StepStatus,
)
from elyune_core.errors import ElyuneError, NotFoundError
from elyune_core.ids import JobId
from elyune_core.pipeline import derive_status, is_claimable, ready_steps, skip_with_dependents
from elyune_core.ports import Clock, EventPublisher, JobQueue, RecordingEvent, UnitOfWorkFactory
from elyune_core.use_cases.steps import StepHandlers, StepResult

logger = logging.getLogger("elyune.pipeline")

#: Error of a step given back by a worker that stopped while running it.
_STOPPED = "the worker stopped before the step finished; it runs again"
_DELETED = "the recording was deleted"


@attrs.frozen
class PipelinePolicy:
    """How steps are retried and leased.

    A transient failure is retried up to ``max_attempts`` attempts in all, waiting
    ``backoff_base * 2 ** (attempt - 1)`` seconds (at most ``backoff_max``, with up to
    ``jitter`` of it added at random). A worker renews its lease every third of
    ``lease_seconds``; a lease that runs out lets another worker take the step over.
    """

    max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 60.0
    jitter: float = 0.25
    lease_seconds: float = 60.0
    heartbeat_seconds: float = 2.0

    def backoff(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number *attempt* (1-based)."""
        delay = min(self.backoff_base * 2.0 ** max(attempt - 1, 0), self.backoff_max)
        return float(delay * (1 + self.jitter * rand))


@attrs.frozen
class RunStepInput:
    """Which step to run, and who runs it."""

    job_id: JobId
    step: StepName
    worker: str


@attrs.frozen
class RunStepResult:
    """What became of the step: ``ran`` is false when it was not this worker's to run."""

    ran: bool
    status: StepStatus
    attempts: int
    error: str | None = None


class RunStep:
    """Run one step of a job, at most once at a time across all workers.

    Rules:

    - A step is claimed under the job's lock, only when it is pending with its
      dependencies met, or running on an expired lease. Anything else (a repeated
      delivery, a finished step) returns ``ran=False`` and changes nothing.
    - While it runs, the worker renews its lease and records progress.
    - Its outputs (files, transcript, analyses) are stored in the same transaction that
      marks it succeeded, and only if this worker still holds the step.
    - A transient error is retried with exponential backoff and jitter; a permanent one
      (or the last attempt) fails the step with a readable reason.
    - A skipped step skips everything downstream; the job's and the recording's status
      follow the steps; newly ready steps are enqueued after the commit.
    - A cancelled attempt (a worker shutting down) gives the step back: it is pending
      again at once, not only when its lease runs out.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        handlers: StepHandlers,
        queue: JobQueue,
        events: EventPublisher,
        clock: Clock,
        policy: PipelinePolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._uow = uow
        self._handlers = handlers
        self._queue = queue
        self._events = events
        self._clock = clock
        self._policy = policy or PipelinePolicy()
        self._sleep = sleep
        self._rand = rand

    async def execute(self, data: RunStepInput) -> RunStepResult:
        """Run *data.step* of *data.job_id* until it succeeds, fails or is not ours."""
        while True:
            try:
                claimed = await self._claim(data)
                if claimed is None:
                    return await self._current(data)
            except NotFoundError:  # the recording was deleted: nothing to do
                return RunStepResult(False, StepStatus.SKIPPED, 0, _DELETED)
            recording, step = claimed
            try:
                outcome = await self._attempt(data, recording, step)
            except asyncio.CancelledError:
                await self._give_back(data)
                raise
            except NotFoundError:  # deleted while this step ran: drop what it stored
                await self._handlers.discard(recording)
                return RunStepResult(False, StepStatus.SKIPPED, step.attempts, _DELETED)
            if outcome is not None:
                return outcome

    async def _attempt(
        self, data: RunStepInput, recording: Recording, step: Step
    ) -> RunStepResult | None:
        progress = _Progress()
        heartbeat = asyncio.create_task(self._heartbeat(data, progress))
        try:
            result = await self._handlers.for_step(data.step)(recording, progress.set)
        except ElyuneError as exc:
            failure: ElyuneError | None = exc
        except Exception as exc:  # the task wrapper: a bug must not leave a step hanging
            logger.exception("step %s of job %s crashed", data.step.value, data.job_id)
            failure = ElyuneError(f"internal error ({type(exc).__name__}); see the worker log")
        else:
            failure = None
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if failure is None:
            return await self._finish(data, result)
        if failure.transient and step.attempts < self._policy.max_attempts:
            if await self._release(data, str(failure)):
                delay = self._policy.backoff(step.attempts, self._rand())
                logger.warning(
                    "step %s of job %s failed (attempt %d), retrying in %.1fs: %s",
                    data.step.value,
                    data.job_id,
                    step.attempts,
                    delay,
                    failure,
                )
                await self._sleep(delay)
                return None
            return await self._current(data)
        return await self._finish(data, StepResult(failure=str(failure)))

    async def _claim(self, data: RunStepInput) -> tuple[Recording, Step] | None:
        async with self._uow() as uow:
            job = await uow.jobs.lock(data.job_id)
            now = self._clock.now()
            if not is_claimable(job, data.step, now):
                return None
            lease_until = now + timedelta(seconds=self._policy.lease_seconds)
            step = job.step(data.step).claim(data.worker, now, lease_until)
            job = derive_status(job.with_step(step), now)
            recording = await uow.recordings.lock(job.recording_id)
            updated = recording.follow_job(job, now)
            await uow.jobs.save(job)
            if updated is not recording:
                await uow.recordings.save(updated)
            await uow.commit()
        await self._publish_step(updated, job, step)
        return updated, step

    async def _heartbeat(self, data: RunStepInput, progress: _Progress) -> None:
        interval = min(self._policy.heartbeat_seconds, self._policy.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._uow() as uow:
                    job = await uow.jobs.lock(data.job_id)
                    step = job.step(data.step)
                    if step.status is not StepStatus.RUNNING or step.worker != data.worker:
                        return
                    until = self._clock.now() + timedelta(seconds=self._policy.lease_seconds)
                    await uow.jobs.save(job.with_step(step.renew(until, progress.value)))
                    await uow.commit()
            except ElyuneError as exc:  # keep working; the lease may still hold
                logger.warning("could not renew the lease of %s: %s", data.step.value, exc)

    async def _release(self, data: RunStepInput, reason: str, *, refund: bool = False) -> bool:
        async with self._uow() as uow:
            job = await uow.jobs.lock(data.job_id)
            step = job.step(data.step)
            if step.status is not StepStatus.RUNNING or step.worker != data.worker:
                return False
            await uow.jobs.save(job.with_step(step.release(reason, refund=refund)))
            await uow.commit()
        return True

    async def _give_back(self, data: RunStepInput) -> None:
        """Release the step after a cancelled attempt (the worker is stopping), so that
        another worker can start it at once instead of waiting for the lease to run out."""
        release = asyncio.ensure_future(self._release(data, _STOPPED, refund=True))
        try:
            await asyncio.shield(release)
        except ElyuneError as exc:  # the lease runs out instead
            logger.warning("could not release %s of job %s: %s", data.step.value, data.job_id, exc)

    async def _finish(self, data: RunStepInput, result: StepResult) -> RunStepResult:
        async with self._uow() as uow:
            job = await uow.jobs.lock(data.job_id)
            step = job.step(data.step)
            if step.status is not StepStatus.RUNNING or step.worker != data.worker:
                # Our lease ran out and another worker took the step over: its result wins.
                return RunStepResult(False, step.status, step.attempts, step.error)
            now = self._clock.now()
            recording = await uow.recordings.lock(job.recording_id)
            if result.media is not None:
                recording = recording.with_media(result.media, now)
            for stored in result.files:
                recording = recording.with_file(stored, now)
            if result.transcript is not None:
                await uow.transcripts.save(result.transcript)
            for analysis in result.analyses:
                await uow.analyses.save(analysis)
            if result.failure is None:
                step = step.succeed(now, result.output)
            else:
                step = step.fail(now, result.failure)
            job = job.with_step(step)
            for skipped, reason in result.skip.items():
                job = skip_with_dependents(job, skipped, reason, now)
            job = derive_status(job, now)
            recording = recording.follow_job(job, now)
            await uow.jobs.save(job)
            await uow.recordings.save(recording)
            await uow.commit()
        await self._after_finish(recording, job, step, result)
        return RunStepResult(True, step.status, step.attempts, step.error)

    async def _after_finish(
        self, recording: Recording, job: Job, step: Step, result: StepResult
    ) -> None:
        await self._publish_step(recording, job, step)
        now = self._clock.now()
        if result.transcript is not None and step.status is StepStatus.SUCCEEDED:
            language = result.transcript.language
            await self._publish(recording, "transcript.ready", now, language=language)
        ready = [a.kind.value for a in result.analyses if a.status is AnalysisStatus.SUCCEEDED]
        if ready:
            await self._publish(recording, "analysis.ready", now, kinds=ready)
        if job.status is JobStatus.SUCCEEDED:
            await self._publish(recording, "processing.completed", now, job_id=job.id)
        elif job.status is JobStatus.FAILED:
            await self._publish(recording, "processing.failed", now, job_id=job.id, error=job.error)
        for name in ready_steps(job, now):
            await self._queue.enqueue(job.id, name)

    async def _current(self, data: RunStepInput) -> RunStepResult:
        async with self._uow() as uow:
            step = (await uow.jobs.get(data.job_id)).step(data.step)
        return RunStepResult(False, step.status, step.attempts, step.error)

    async def _publish_step(self, recording: Recording, job: Job, step: Step) -> None:
        await self._publish(
            recording,
            "step.updated",
            self._clock.now(),
            job_id=job.id,
            job_status=job.status.value,
            step=step.name.value,
            status=step.status.value,
            attempts=step.attempts,
            error=step.error,
            recording_status=recording.status.value,
        )

    async def _publish(
        self, recording: Recording, kind: str, now: datetime, **data: object
    ) -> None:
        await self._events.publish(
            RecordingEvent(
                type=kind,
                recording_id=recording.id,
                owner_id=recording.owner_id,
                occurred_at=now,
                data=data,
            )
        )


class _Progress:
    """Latest progress reported by a running step (0..1)."""

    def __init__(self) -> None:
        self.value: float | None = None

    async def set(self, fraction: float) -> None:
        self.value = max(0.0, min(1.0, fraction))
