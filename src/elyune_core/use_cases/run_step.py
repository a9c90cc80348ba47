"""Run one step of a processing job: claim it, do it, record it, hand on what is next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import attrs

from elyune_core._pipeline import derive_status, is_claimable, ready_steps, skip_with_dependents
from elyune_core._voices import MATCH_THRESHOLD
from elyune_core.entities import (
    AnalysisStatus,
    Job,
    JobStatus,
    Recording,
    Step,
    StepName,
    StepStatus,
)
from elyune_core.errors import (
    ElyuneError,
    NotFoundError,
    RepositoryUnavailableError,
    ServiceUnavailableError,
    StepError,
)
from elyune_core.ids import JobId
from elyune_core.ports import Clock, EventPublisher, JobQueue, RecordingEvent, UnitOfWorkFactory
from elyune_core.use_cases.search import reindex_recording
from elyune_core.use_cases.steps import StepHandlers, StepResult
from elyune_core.use_cases.voice_profiles import recognise_speakers

logger = logging.getLogger("elyune.pipeline")

#: Error of a step given back by a worker that stopped while running it.
_STOPPED = "the worker stopped before the step finished; it runs again"
_DELETED = "the recording was deleted"
#: How long a stopped step's handler may take to clean up (kill its engines).
_STOP_SECONDS = 10.0


@attrs.frozen
class TimeLimit:
    """A step's time limit: ``base`` seconds plus ``per_media_second`` for each second of
    the recording (``fixed``, when set, replaces both)."""

    base: float
    per_media_second: float = 0.0
    fixed: float | None = None

    def seconds(self, duration: float | None) -> float:
        """The limit for a recording lasting *duration* seconds (unknown: the base)."""
        if self.fixed is not None:
            return self.fixed
        return self.base + self.per_media_second * max(duration or 0.0, 0.0)


#: Generous outer bounds: a step that makes progress is stopped only past these, and a
#: stuck one long before (``stall_seconds``).
DEFAULT_TIME_LIMITS: Mapping[StepName, TimeLimit] = {
    StepName.PROBE: TimeLimit(300.0, 0.25),
    StepName.TRANSCODE: TimeLimit(600.0, 3.0),
    StepName.EXTRACT_AUDIO: TimeLimit(300.0, 0.5),
    StepName.THUMBNAIL: TimeLimit(300.0, 0.05),
    StepName.TRANSCRIBE: TimeLimit(600.0, 2.0),
    StepName.ANALYZE: TimeLimit(900.0, 0.5),
}


@attrs.frozen
class PipelinePolicy:
    """How steps are retried, leased, timed and watched. This is the one place where a
    step's retries are decided.

    - A transient failure is retried up to ``max_attempts`` attempts in all, waiting
      ``backoff_base * 2 ** (attempt - 1)`` seconds (at most ``backoff_max``, with up to
      ``jitter`` of it added at random). Within one attempt, a hosted engine's call
      (Deepgram, Gemini) is itself tried up to ``ENGINE_MAX_ATTEMPTS`` times with the same
      backoff (``elyune_adapters.hosted.CallRetry``), so such a call is tried at most
      ``ENGINE_MAX_ATTEMPTS x max_attempts`` times for a step.
    - A storage or database outage (``ServiceUnavailableError``) does not use up
      attempts: the step waits it out, pending with a ``retry_at`` that grows up to
      ``outage_backoff_max``, for up to ``outage_seconds`` from the first such failure;
      a reconciler re-queues it if this worker is gone meanwhile.
    - A worker renews its lease every ``heartbeat_seconds`` (at most a third of
      ``lease_seconds``) **only while the step makes progress**: a step whose progress has
      not moved for ``stall_seconds`` (per step in ``step_stall_seconds``) is stopped
      and retried, and its lease is no longer renewed, so another worker can take it over.
    - A step is stopped for good once it has run longer than its ``time_limits`` entry,
      which follows the recording's duration.
    - A finished step whose result cannot be saved (the database is away) keeps its
      result and tries to save it again for up to ``save_retry_seconds``.
    """

    max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 60.0
    jitter: float = 0.25
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 2.0
    stall_seconds: float = 120.0
    step_stall_seconds: Mapping[StepName, float] = attrs.field(factory=dict)
    time_limits: Mapping[StepName, TimeLimit] = DEFAULT_TIME_LIMITS
    outage_seconds: float = 1800.0
    outage_backoff_max: float = 300.0
    save_retry_seconds: float = 600.0

    def backoff(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number *attempt* (1-based)."""
        delay = min(self.backoff_base * 2.0 ** max(attempt - 1, 0), self.backoff_max)
        return float(delay * (1 + self.jitter * rand))

    def outage_delay(self, waited: float, rand: float) -> float:
        """Seconds to wait out an outage that has lasted *waited* seconds so far."""
        delay = min(max(self.backoff_base, waited), self.outage_backoff_max)
        return float(delay * (1 + self.jitter * rand))

    def stall(self, step: StepName) -> float:
        """Seconds without progress after which *step* counts as stuck."""
        return self.step_stall_seconds.get(step, self.stall_seconds)

    def time_limit(self, step: StepName, duration: float | None) -> float:
        """Seconds *step* may run on a recording of *duration* seconds."""
        limit = self.time_limits.get(step) or DEFAULT_TIME_LIMITS[step]
        return limit.seconds(duration)

    @property
    def renew_every(self) -> float:
        """Seconds between two lease renewals."""
        return min(self.heartbeat_seconds, self.lease_seconds / 3)


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
      dependencies met (and not waiting out an outage), or running on an expired lease.
      Anything else (a repeated delivery, a finished step) returns ``ran=False`` and
      changes nothing.
    - While it runs, the worker records its progress and renews its lease, but only
      while the progress moves: a step stuck for ``stall_seconds`` is stopped here and
      retried, and its lease runs out if this worker cannot even do that. A step past its
      time limit (which follows the recording's duration) fails with a readable reason.
    - Its outputs (files, transcript, analyses) are stored in the same transaction that
      marks it succeeded, and only if this worker still holds the step; a transcript's
      speakers are matched against the owner's voice profiles there (cosine similarity
      of at least *voice_threshold*). A database blip
      at that moment does not lose them: the save is tried again with backoff.
    - A transient error is retried with exponential backoff and jitter; a permanent one
      (or the last attempt) fails the step with a readable reason. A storage or database
      outage is waited out without using up attempts (see :class:`PipelinePolicy`).
    - A skipped step skips everything downstream; the job's and the recording's status
      follow the steps; newly ready steps are enqueued after the commit.
    - A cancelled attempt (a worker shutting down) stops the work and gives the step
      back: it is pending again at once, not only when its lease runs out.
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
        monotonic: Callable[[], float] = time.monotonic,
        voice_threshold: float = MATCH_THRESHOLD,
    ) -> None:
        self._voice_threshold = voice_threshold
        self._uow = uow
        self._handlers = handlers
        self._queue = queue
        self._events = events
        self._clock = clock
        self._policy = policy or PipelinePolicy()
        self._sleep = sleep
        self._rand = rand
        self._monotonic = monotonic
        self._renew_warnings = RateLimitedLog(logger, every=30.0, monotonic=monotonic)

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
        progress = _Progress(self._monotonic)
        heartbeat = asyncio.create_task(self._heartbeat(data, progress))
        try:
            failure, result = await self._work(data, recording, progress)
            if failure is None:
                progress.finished = True  # saving: keep the lease while it is retried
                return await self._finish_saving(data, result)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return await self._failed(data, step, failure)

    async def _work(
        self, data: RunStepInput, recording: Recording, progress: _Progress
    ) -> tuple[ElyuneError | None, StepResult]:
        """Run the step's handler under the watchdog: a failure, or the result."""
        name = data.step
        stall = self._policy.stall(name)
        limit = self._policy.time_limit(name, recording.duration)
        started = self._monotonic()
        work = asyncio.ensure_future(self._handlers.for_step(name)(recording, progress.set))
        verdict: ElyuneError | None = None
        try:
            while verdict is None:
                done, _ = await asyncio.wait({work}, timeout=min(self._policy.renew_every, stall))
                if done:
                    break
                idle = progress.idle()
                if idle >= stall:
                    verdict = StepError(
                        f"it made no progress for {idle:.0f} s and was stopped; it runs again",
                        transient=True,
                    )
                elif self._monotonic() - started >= limit:
                    verdict = StepError(
                        f"it took longer than {_span(limit)}, the limit for this recording, "
                        f"and was stopped (STEP_TIMEOUT_{name.value.upper()} sets it)"
                    )
        except asyncio.CancelledError:
            await _stop(work)
            raise
        if verdict is not None:
            logger.warning("step %s of job %s: %s", name.value, data.job_id, verdict)
            await _stop(work)
            return verdict, StepResult()
        try:
            return None, work.result()
        except ElyuneError as exc:
            return exc, StepResult()
        except Exception as exc:  # the task wrapper: a bug must not leave a step hanging
            logger.exception("step %s of job %s crashed", name.value, data.job_id)
            return ElyuneError(f"internal error ({type(exc).__name__}); see the worker log"), (
                StepResult()
            )

    async def _failed(
        self, data: RunStepInput, step: Step, failure: ElyuneError
    ) -> RunStepResult | None:
        """Retry, wait out or fail the step after *failure*; ``None`` means run again."""
        if failure.transient and isinstance(failure, ServiceUnavailableError):
            return await self._wait_out(data, failure)
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
        return await self._finish_saving(data, StepResult(failure=str(failure)))

    async def _wait_out(self, data: RunStepInput, failure: ElyuneError) -> RunStepResult | None:
        """A storage or database outage: give the step back until a later ``retry_at``
        (the attempt does not count), and fail it only once the outage has lasted
        ``outage_seconds``."""
        try:
            async with self._uow() as uow:
                job = await uow.jobs.lock(data.job_id)
                step = job.step(data.step)
                if step.status is not StepStatus.RUNNING or step.worker != data.worker:
                    return await self._current(data)
                now = self._clock.now()
                since = step.outage_since or now
                waited = (now - since).total_seconds()
                if waited >= self._policy.outage_seconds:
                    given_up = True
                else:
                    given_up = False
                    delay = self._policy.outage_delay(waited, self._rand())
                    until = now + timedelta(seconds=delay)
                    await uow.jobs.save(job.with_step(step.wait_out(str(failure), now, until)))
                    await uow.commit()
        except ElyuneError as exc:  # the database is away too: the lease runs out
            logger.warning(
                "step %s of job %s could not be given back: %s", data.step.value, data.job_id, exc
            )
            raise
        if given_up:
            reason = f"{failure} (for {_span(self._policy.outage_seconds)}; retry the job)"
            return await self._finish_saving(data, StepResult(failure=reason))
        logger.warning(
            "step %s of job %s waits %.0f s for a service to come back: %s",
            data.step.value,
            data.job_id,
            delay,
            failure,
        )
        await self._sleep(delay)
        return None

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
        """Renew the lease while the step makes progress (see the class docstring)."""
        stall = self._policy.stall(data.step)
        while True:
            await asyncio.sleep(self._policy.renew_every)
            if not progress.finished and progress.idle() >= stall:
                return  # stuck: let the lease run out (the watchdog stops the work)
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
                self._renew_warnings.warning(
                    "could not renew the lease of %s of job %s: %s",
                    data.step.value,
                    data.job_id,
                    exc,
                )

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

    async def _finish_saving(self, data: RunStepInput, result: StepResult) -> RunStepResult:
        """Save the step's end (:meth:`_save`), tried again with backoff while the database
        is unavailable so that finished work (already in the object store) is not thrown
        away by a blip; then publish it and queue what is next."""
        deadline = self._monotonic() + self._policy.save_retry_seconds
        attempt = 0
        while True:
            try:
                saved = await self._save(data, result)
                break
            except RepositoryUnavailableError as exc:
                attempt += 1
                if self._monotonic() >= deadline:
                    raise
                delay = min(self._policy.backoff(attempt, self._rand()), 30.0)
                logger.warning(
                    "step %s of job %s finished but could not be saved (try %d), "
                    "trying again in %.1fs: %s",
                    data.step.value,
                    data.job_id,
                    attempt,
                    delay,
                    exc,
                )
                await self._sleep(delay)
        if isinstance(saved, RunStepResult):
            return saved
        recording, job, step = saved
        # after the commit: a failure here (the queue is away) must not save again
        await self._after_finish(recording, job, step, result)
        return RunStepResult(True, step.status, step.attempts, step.error)

    async def _save(
        self, data: RunStepInput, result: StepResult
    ) -> RunStepResult | tuple[Recording, Job, Step]:
        """Store *result* and the step's end in one transaction (if the step is still
        ours): what was stored, or what became of a step someone else took over."""
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
                recording = await recognise_speakers(
                    uow, recording, result.transcript.voices, now, self._voice_threshold
                )
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
            if result.transcript is not None or result.analyses:
                await reindex_recording(uow, recording.id)  # the search index follows
            await uow.commit()
        return recording, job, step

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
            await self._handlers.tidy(recording)
        elif job.status is JobStatus.PARTIAL:
            failed = [s.name.value for s in job.steps if s.status is StepStatus.FAILED]
            await self._publish(
                recording,
                "processing.completed",
                now,
                job_id=job.id,
                partial=True,
                failed_steps=failed,
                error=job.error,
            )
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


async def _stop(work: asyncio.Future[StepResult]) -> None:
    """Cancel the handler and wait (a little) for it to clean up: engines it started
    (ffmpeg, a speech model process) are killed on cancellation."""
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(asyncio.shield(work), timeout=_STOP_SECONDS)
    if not work.done():
        logger.warning("a stopped step did not finish cleaning up in %g s", _STOP_SECONDS)


def _span(seconds: float) -> str:
    """``90`` -> ``"1 min 30 s"``; ``7200`` -> ``"2 h"``."""
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{secs} s" if secs or not (hours or minutes) else "")
    return " ".join(p for p in parts if p)


class RateLimitedLog:
    """Logs a repeated warning at most once per *every* seconds, with how many were held
    back (a database outage would otherwise log a renewal warning twice a second)."""

    def __init__(
        self,
        log: logging.Logger,
        *,
        every: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._every = every
        self._monotonic = monotonic
        self._last = -math.inf
        self._held = 0

    def warning(self, message: str, *args: object) -> None:
        """Log *message* now, or count it until *every* seconds have passed."""
        now = self._monotonic()
        if now - self._last < self._every:
            self._held += 1
            return
        if self._held:
            message += f" ({self._held} more like it in the last {self._every:g} s)"
        self._log.warning(message, *args)
        self._last, self._held = now, 0


class _Progress:
    """Latest progress reported by a running step (0..1), and when it last moved."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self.value: float | None = None
        self.finished = False
        self._monotonic = monotonic
        self._moved = monotonic()

    async def set(self, fraction: float) -> None:
        value = max(0.0, min(1.0, fraction))
        if self.value is None or value > self.value:
            self._moved = self._monotonic()
        self.value = value if self.value is None else max(self.value, value)

    def idle(self) -> float:
        """Seconds since the progress last moved (or since the step started)."""
        return self._monotonic() - self._moved


__all__ = [
    "DEFAULT_TIME_LIMITS",
    "PipelinePolicy",
    "RateLimitedLog",
    "RunStep",
    "RunStepInput",
    "RunStepResult",
    "TimeLimit",
]
