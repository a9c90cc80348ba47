"""No step stays running without progress, and finished work survives blips (issues 16, 17)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import attrs
import pytest

from elyune_adapters.memory import FakeTranscoder, FakeTranscriber
from elyune_core import (
    JobStatus,
    MediaInfo,
    ObjectStoreUnavailableError,
    QueueUnavailableError,
    Reconcile,
    RecordingStatus,
    RepositoryUnavailableError,
    RunStepInput,
    StartProcessing,
    StartProcessingInput,
    StepName,
    StepStatus,
    TimeLimit,
)
from elyune_core.use_cases.run_step import RateLimitedLog

from .test_run_step import _state


def _quick(core, **changes):
    """Watch steps on a short leash (real seconds, kept small)."""
    core.policy = attrs.evolve(core.policy, stall_seconds=0.3, heartbeat_seconds=0.05, **changes)


async def _start(core, *, run: bool = False):
    recording = await core.add_recording()
    if not run:
        core.queue.runner = None
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    started = await start.execute(StartProcessingInput(recording.id))
    return recording, started.job_id


async def _run(core, job_id, step, worker="w1"):
    return await core.run_step(worker).execute(RunStepInput(job_id, step, worker))


async def test_a_hung_transcription_is_stopped_and_run_again(core):
    _quick(core)
    core.transcriber.hangs = 1  # the first call never returns nor reports progress
    recording_id, _ = await core.process()
    recording, job, transcript, _ = await _state(core, recording_id)
    step = job.step(StepName.TRANSCRIBE)
    assert step.status is StepStatus.SUCCEEDED and step.attempts == 2
    assert len(core.transcriber.requests) == 2
    assert transcript is not None and recording.status is RecordingStatus.READY


async def test_a_hung_step_is_taken_over_and_finished_by_another_worker(core):
    """Worker 1's engine hangs: it stops the work and gives the step back instead of
    renewing its lease; the reconciler queues the step again and worker 2 finishes it."""
    _quick(core)
    recording, job_id = await _start(core)
    for step in (StepName.PROBE, StepName.EXTRACT_AUDIO):
        assert (await _run(core, job_id, step)).status is StepStatus.SUCCEEDED

    hung = FakeTranscriber()
    hung.hangs = 1
    resting = asyncio.Event()
    release_w1 = asyncio.Event()

    async def backoff(seconds: float) -> None:  # worker 1 stays away after its attempt
        resting.set()
        await release_w1.wait()

    first = core.run_step("w1")
    first._handlers._transcriber = hung
    first._sleep = backoff
    w1 = asyncio.ensure_future(first.execute(RunStepInput(job_id, StepName.TRANSCRIBE, "w1")))
    await asyncio.wait_for(resting.wait(), timeout=10)

    _, job, _, _ = await _state(core, recording.id)
    step = job.step(StepName.TRANSCRIBE)
    assert step.status is StepStatus.PENDING and step.worker is None
    assert "made no progress" in step.error

    core.queue.enqueued.clear()
    await Reconcile(uow=core.uow(), queue=core.queue, clock=core.clock).execute()
    assert (job_id, StepName.TRANSCRIBE) in core.queue.enqueued
    taken = await _run(core, job_id, StepName.TRANSCRIBE, "w2")
    assert taken.ran and taken.status is StepStatus.SUCCEEDED and taken.attempts == 2

    release_w1.set()
    late = await asyncio.wait_for(w1, timeout=10)
    assert late.ran is False and late.status is StepStatus.SUCCEEDED
    _, job, transcript, _ = await _state(core, recording.id)
    assert job.step(StepName.TRANSCRIBE).worker == "w2"
    assert transcript is not None


class _SlowTranscoder(FakeTranscoder):
    """A transcode that takes a while but keeps reporting progress."""

    def __init__(self, ticks: int, every: float) -> None:
        super().__init__()
        self.ticks, self.every = ticks, every

    async def transcode(self, source: Path, target: Path, media: MediaInfo, on_progress=None):
        self.calls.append("transcode")
        for n in range(1, self.ticks + 1):
            await asyncio.sleep(self.every)
            if on_progress is not None:
                await on_progress(n / self.ticks)
        target.write_bytes(b"MP4")


async def test_a_slow_step_that_makes_progress_is_not_stopped(core):
    _quick(core)  # stuck after 0.3 s without progress; this one runs 1.2 s
    core.transcoder = _SlowTranscoder(ticks=12, every=0.1)
    recording_id, _ = await core.process()
    _, job, _, _ = await _state(core, recording_id)
    step = job.step(StepName.TRANSCODE)
    assert step.status is StepStatus.SUCCEEDED and step.attempts == 1
    assert job.status is JobStatus.SUCCEEDED


async def test_a_step_past_its_time_limit_fails_with_a_readable_reason(core):
    limits = {**core.policy.time_limits, StepName.TRANSCODE: TimeLimit(0.0, fixed=0.5)}
    _quick(core, time_limits=limits)
    core.transcoder = _SlowTranscoder(ticks=100, every=0.05)  # progressing, but 5 s long
    recording_id, _ = await core.process()
    recording, job, transcript, _ = await _state(core, recording_id)
    step = job.step(StepName.TRANSCODE)
    assert step.status is StepStatus.FAILED and step.attempts == 1  # not retried
    assert "took longer than 0 s" not in step.error
    assert "took longer than 1 s, the limit for this recording" in step.error
    assert "STEP_TIMEOUT_TRANSCODE" in step.error
    # the transcript and analyses are there, so the recording is usable
    assert transcript is not None
    assert job.status is JobStatus.PARTIAL and recording.status is RecordingStatus.READY


def test_time_limits_follow_the_recording_duration():
    policy = core_policy()
    hour, minute = (
        policy.time_limit(StepName.TRANSCODE, 3600),
        policy.time_limit(StepName.TRANSCODE, 60),
    )
    assert hour > 3600 > minute
    assert policy.time_limit(StepName.TRANSCODE, None) == policy.time_limits[
        StepName.TRANSCODE
    ].seconds(0)
    fixed = attrs.evolve(policy, time_limits={StepName.TRANSCODE: TimeLimit(10.0, 1.0, fixed=42.0)})
    assert fixed.time_limit(StepName.TRANSCODE, 3600) == 42.0
    assert fixed.time_limit(StepName.PROBE, 0) == policy.time_limit(StepName.PROBE, 0)


def core_policy():
    from elyune_core import PipelinePolicy

    return PipelinePolicy()


async def test_a_database_blip_while_saving_keeps_the_finished_work(core):
    recording, job_id = await _start(core)
    assert (await _run(core, job_id, StepName.PROBE)).status is StepStatus.SUCCEEDED
    blip = RepositoryUnavailableError("the database is unavailable")

    class Transcoder(FakeTranscoder):
        async def transcode(self, source, target, media, on_progress=None):
            await super().transcode(source, target, media, on_progress)
            core.state.failing_commits.extend([blip, blip, blip])  # the save meets a blip

    core.transcoder = Transcoder()
    result = await _run(core, job_id, StepName.TRANSCODE)
    assert result.ran and result.status is StepStatus.SUCCEEDED and result.attempts == 1
    assert core.transcoder.calls.count("transcode") == 1  # not done again
    assert len(core.sleeps) == 3  # three saves were tried again, with backoff
    recording, _, _, _ = await _state(core, recording.id)
    assert any(f.kind.value == "video" for f in recording.files)


async def test_a_storage_outage_is_waited_out_without_using_up_attempts(core):
    recording, job_id = await _start(core)
    assert (await _run(core, job_id, StepName.PROBE)).status is StepStatus.SUCCEEDED
    down = ObjectStoreUnavailableError("the object store is unavailable")
    # more failures than one attempt's store retries cover: the attempt gives up
    core.store.failing_puts.extend([down] * 40)
    core.policy = attrs.evolve(core.policy, max_attempts=1)
    waits: list[float] = []
    runner = core.run_step()
    handlers_sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        core.clock.advance(seconds)

    async def store_sleep(seconds: float) -> None:
        handlers_sleeps.append(seconds)

    runner._sleep = sleep
    runner._handlers._sleep = store_sleep
    result = await runner.execute(RunStepInput(job_id, StepName.TRANSCODE, "w1"))
    assert result.status is StepStatus.SUCCEEDED
    _, job, _, _ = await _state(core, recording.id)
    step = job.step(StepName.TRANSCODE)
    assert step.attempts == 1  # max_attempts=1, yet the outage did not fail it
    assert step.retry_at is None and step.outage_since is None
    assert waits and all(w > 0 for w in waits)
    assert sum(handlers_sleeps) > 0


async def test_a_long_storage_outage_fails_the_step_readably_in_the_end(core):
    recording, job_id = await _start(core)
    assert (await _run(core, job_id, StepName.PROBE)).status is StepStatus.SUCCEEDED
    core.store.failing_puts.extend([ObjectStoreUnavailableError("store down")] * 10_000)
    core.policy = attrs.evolve(core.policy, outage_seconds=600.0)
    runner = core.run_step()

    async def sleep(seconds: float) -> None:
        core.clock.advance(seconds)

    runner._sleep = sleep
    runner._handlers._sleep = sleep
    result = await runner.execute(RunStepInput(job_id, StepName.TRANSCODE, "w1"))
    assert result.status is StepStatus.FAILED
    assert "store down" in result.error and "retry the job" in result.error


async def test_the_outage_wait_is_in_the_database_for_the_reconciler(core):
    recording, job_id = await _start(core)
    assert (await _run(core, job_id, StepName.PROBE)).status is StepStatus.SUCCEEDED
    core.store.failing_puts.extend([ObjectStoreUnavailableError("store down")] * 40)
    runner = core.run_step()
    parked = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the worker dies while it waits
        parked.set()
        await asyncio.Event().wait()

    async def store_sleep(seconds: float) -> None:
        return None

    runner._sleep = sleep
    runner._handlers._sleep = store_sleep
    task = asyncio.ensure_future(runner.execute(RunStepInput(job_id, StepName.TRANSCODE, "w1")))
    await asyncio.wait_for(parked.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, job, _, _ = await _state(core, recording.id)
    step = job.step(StepName.TRANSCODE)
    assert step.status is StepStatus.PENDING and step.retry_at is not None
    reconcile = Reconcile(uow=core.uow(), queue=core.queue, clock=core.clock)
    core.queue.enqueued.clear()
    await reconcile.execute()
    assert (job_id, StepName.TRANSCODE) not in core.queue.enqueued  # not yet
    core.clock.advance((step.retry_at - core.clock.now()).total_seconds() + 1)
    await reconcile.execute()
    assert (job_id, StepName.TRANSCODE) in core.queue.enqueued
    core.store.failing_puts.clear()
    done = await _run(core, job_id, StepName.TRANSCODE, "w2")
    assert done.status is StepStatus.SUCCEEDED


def test_repeated_warnings_are_rate_limited(caplog):
    now = [0.0]
    log = RateLimitedLog(logging.getLogger("elyune.test"), every=30.0, monotonic=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="elyune.test"):
        for _ in range(60):  # twice a second for 30 s
            log.warning("could not renew the lease of %s", "transcode")
            now[0] += 0.5
        log.warning("could not renew the lease of %s", "transcode")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[1].endswith("(59 more like it in the last 30 s)")


async def test_a_queue_outage_after_the_save_does_not_save_again(core):
    """The step is recorded once; the error reaches the task (which says so and leaves
    the next steps to the reconciler), and the step is not reported as someone else's."""
    recording, job_id = await _start(core)

    class DownQueue(type(core.queue)):
        async def enqueue(self, job_id, step):
            raise QueueUnavailableError("the job queue is unavailable")

    runner = core.run_step()
    runner._queue = DownQueue()
    with pytest.raises(QueueUnavailableError):
        await runner.execute(RunStepInput(job_id, StepName.PROBE, "w1"))
    _, job, _, _ = await _state(core, recording.id)
    probe = job.step(StepName.PROBE)
    assert probe.status is StepStatus.SUCCEEDED and probe.attempts == 1
    assert core.sleeps == []  # no save was tried again
