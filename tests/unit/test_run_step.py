"""Running a job through the core with in-memory fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import pytest

from elyune_adapters.memory import sample_transcript_result
from elyune_core import (
    AnalysisKind,
    AnalysisStatus,
    FileKind,
    InvalidInputError,
    InvalidMediaError,
    JobStatus,
    MediaProcessingError,
    RecordingStatus,
    RerunAnalysis,
    RerunAnalysisInput,
    RetryJob,
    RetryJobInput,
    RunStepInput,
    StartProcessing,
    StartProcessingInput,
    StepName,
    StepStatus,
    TranscriptionFailedError,
)


async def _state(core, recording_id):
    async with core.uow()() as uow:
        recording = await uow.recordings.get(recording_id)
        job = await uow.jobs.for_recording(recording_id)
        transcript = await uow.transcripts.get(recording_id)
        analyses = await uow.analyses.list(recording_id)
    return recording, job, transcript, analyses


async def test_a_job_runs_every_step_and_the_recording_becomes_ready(core):
    recording_id, _ = await core.process()
    recording, job, transcript, analyses = await _state(core, recording_id)
    assert job.status is JobStatus.SUCCEEDED
    assert all(s.status is StepStatus.SUCCEEDED for s in job.steps)
    assert recording.status is RecordingStatus.READY
    assert {f.kind for f in recording.files} == set(FileKind)
    assert recording.file(FileKind.THUMBNAIL).width == 640
    assert recording.media.duration == 30.0
    assert transcript.language == "en" and len(transcript.segments) == 3
    assert [a.kind for a in analyses] == list(AnalysisKind)
    assert all(a.status is AnalysisStatus.SUCCEEDED for a in analyses)
    assert "processing.completed" in core.events.types()
    assert "transcript.ready" in core.events.types()


async def test_transcode_and_transcription_run_concurrently(core):
    core.transcoder.gate = asyncio.Event()  # transcode blocks until released
    recording = await core.add_recording()
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    await start.execute(StartProcessingInput(recording.id))
    for _ in range(200):
        _, job, transcript, _ = await _state(core, recording.id)
        if job.step(StepName.ANALYZE).status is StepStatus.SUCCEEDED:
            break
        await asyncio.sleep(0.01)
    assert transcript is not None
    assert job.step(StepName.TRANSCODE).status is StepStatus.RUNNING
    core.transcoder.gate.set()
    await core.queue.join()
    recording, job, _, _ = await _state(core, recording.id)
    assert job.status is JobStatus.SUCCEEDED and recording.status is RecordingStatus.READY


async def test_a_repeated_delivery_of_a_finished_step_does_nothing(core):
    recording_id, job_id = await core.process()
    calls = list(core.transcoder.calls)
    result = await core.run_step("w2").execute(RunStepInput(job_id, StepName.TRANSCODE, "w2"))
    assert result.ran is False and result.status is StepStatus.SUCCEEDED
    assert core.transcoder.calls == calls


async def test_processing_a_finished_job_again_queues_nothing(core):
    recording_id, job_id = await core.process()
    core.queue.enqueued.clear()
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    again = await start.execute(StartProcessingInput(recording_id))
    assert again.job_id == job_id and not again.created and again.queued == ()
    assert core.queue.enqueued == []


async def test_a_transient_failure_is_retried_with_exponential_backoff(core):
    core.transcriber.fail = [
        TranscriptionFailedError("busy", transient=True),
        TranscriptionFailedError("busy", transient=True),
    ]
    recording_id, _ = await core.process()
    _, job, transcript, _ = await _state(core, recording_id)
    step = job.step(StepName.TRANSCRIBE)
    assert step.status is StepStatus.SUCCEEDED and step.attempts == 3
    assert core.sleeps == [2.0, 4.0]
    assert transcript is not None


async def test_transient_failures_give_up_after_the_last_attempt(core):
    core.transcriber.fail = [TranscriptionFailedError("busy", transient=True)] * 3
    recording_id, _ = await core.process()
    recording, job, _, _ = await _state(core, recording_id)
    step = job.step(StepName.TRANSCRIBE)
    assert step.status is StepStatus.FAILED and step.attempts == 3
    assert job.step(StepName.ANALYZE).status is StepStatus.PENDING
    assert recording.status is RecordingStatus.FAILED
    assert recording.error == "Transcribing failed: busy"
    assert "processing.failed" in core.events.types()


async def test_corrupt_input_fails_at_once_with_a_readable_reason(core):
    recording_id, _ = await core.process(content=b"hello, not a video")
    recording, job, _, _ = await _state(core, recording_id)
    probe = job.step(StepName.PROBE)
    assert probe.status is StepStatus.FAILED and probe.attempts == 1
    assert core.sleeps == []
    assert recording.status is RecordingStatus.FAILED
    assert "not a video or audio file" in recording.error
    assert all(s.status is StepStatus.PENDING for s in job.steps[1:])


async def test_no_audio_track_skips_transcription_and_analysis(core):
    core.transcoder.media = attrs.evolve(core.transcoder.media, has_audio=False)
    recording_id, _ = await core.process()
    recording, job, transcript, _ = await _state(core, recording_id)
    statuses = {s.name: s.status for s in job.steps}
    assert statuses[StepName.EXTRACT_AUDIO] is StepStatus.SKIPPED
    assert statuses[StepName.TRANSCRIBE] is StepStatus.SKIPPED
    assert statuses[StepName.ANALYZE] is StepStatus.SKIPPED
    assert job.step(StepName.TRANSCRIBE).output["reason"] == "the recording has no audio track"
    assert recording.status is RecordingStatus.READY and transcript is None


async def test_silence_gives_an_empty_transcript_and_skipped_analyses(core):
    core.transcriber.result = attrs.evolve(
        sample_transcript_result(), text="", segments=(), words=()
    )
    recording_id, _ = await core.process()
    recording, job, transcript, analyses = await _state(core, recording_id)
    assert transcript is not None and transcript.is_empty
    assert job.step(StepName.ANALYZE).status is StepStatus.SKIPPED
    assert {a.status for a in analyses} == {AnalysisStatus.SKIPPED}
    assert recording.status is RecordingStatus.READY


async def test_retry_reruns_only_the_failed_steps(core):
    core.transcoder.fail["transcode"] = [MediaProcessingError("disk full")]
    recording_id, _ = await core.process()
    recording, job, _, _ = await _state(core, recording_id)
    # the transcript and analyses are stored: usable, with the MP4's failure told
    assert recording.status is RecordingStatus.READY
    assert recording.error == "Converting to MP4 failed: disk full"
    assert job.status is JobStatus.PARTIAL
    completed = [e for e in core.events.events if e.type == "processing.completed"]
    assert completed[-1].data["partial"] is True  # webhooks say so
    assert completed[-1].data["failed_steps"] == ["transcode"]
    assert "processing.failed" not in core.events.types()
    assert job.step(StepName.TRANSCRIBE).status is StepStatus.SUCCEEDED
    calls_before = list(core.transcoder.calls)
    retry = RetryJob(uow=core.uow(), queue=core.queue, clock=core.clock)
    result = await retry.execute(RetryJobInput(recording_id))
    assert result.reset == ("transcode",)
    await core.queue.join()
    recording, job, _, _ = await _state(core, recording_id)
    assert recording.status is RecordingStatus.READY and recording.error is None
    assert core.transcoder.calls[len(calls_before) :] == ["transcode"]
    assert len(core.transcriber.requests) == 1


async def test_retry_without_a_failed_step_is_refused(core):
    recording_id, _ = await core.process()
    retry = RetryJob(uow=core.uow(), queue=core.queue, clock=core.clock)
    with pytest.raises(InvalidInputError, match="Nothing to retry"):
        await retry.execute(RetryJobInput(recording_id))


async def test_one_failed_analysis_fails_the_step_and_is_rerun_alone(core):
    core.analyzer.broken = {AnalysisKind.SENTIMENT}
    recording_id, _ = await core.process()
    recording, _, _, analyses = await _state(core, recording_id)
    by_kind = {a.kind: a for a in analyses}
    assert by_kind[AnalysisKind.SUMMARY].status is AnalysisStatus.SUCCEEDED
    assert by_kind[AnalysisKind.SENTIMENT].status is AnalysisStatus.FAILED
    assert recording.status is RecordingStatus.FAILED
    assert "sentiment: broken on purpose" in recording.error
    core.analyzer.broken = set()
    rerun = RerunAnalysis(uow=core.uow(), queue=core.queue, clock=core.clock)
    await rerun.execute(RerunAnalysisInput(recording_id, AnalysisKind.SENTIMENT))
    await core.queue.join()
    recording, _, _, analyses = await _state(core, recording_id)
    assert recording.status is RecordingStatus.READY
    assert core.analyzer.requests[-1].kinds == (AnalysisKind.SENTIMENT,)
    assert len(core.transcriber.requests) == 1


async def test_a_step_whose_lease_expired_is_taken_over(core):
    recording = await core.add_recording()
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    core.queue.runner = None  # nothing runs by itself
    started = await start.execute(StartProcessingInput(recording.id))
    async with core.uow()() as uow:  # worker w1 claims probe, then vanishes
        job = await uow.jobs.lock(started.job_id)
        now = core.clock.now()
        claimed = job.step(StepName.PROBE).claim("w1", now, now + timedelta(seconds=60))
        await uow.jobs.save(job.with_step(claimed))
        await uow.commit()
    live = await core.run_step("w2").execute(RunStepInput(started.job_id, StepName.PROBE, "w2"))
    assert live.ran is False and live.status is StepStatus.RUNNING
    core.clock.advance(61)
    taken = await core.run_step("w2").execute(RunStepInput(started.job_id, StepName.PROBE, "w2"))
    assert taken.ran is True and taken.status is StepStatus.SUCCEEDED and taken.attempts == 2


async def test_permanent_errors_are_not_retried(core):
    core.transcoder.fail["extract_audio"] = [InvalidMediaError("no audio data")]
    recording_id, _ = await core.process()
    _, job, _, _ = await _state(core, recording_id)
    assert job.step(StepName.EXTRACT_AUDIO).attempts == 1
    assert job.step(StepName.EXTRACT_AUDIO).error == "no audio data"


async def test_a_source_replaced_after_the_upload_fails_the_probe(core):
    recording = await core.add_recording()
    await core.store.put_bytes(recording.source_key, b"MEDIA but a different file", "video/webm")
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    await start.execute(StartProcessingInput(recording.id))
    await core.queue.join()
    recording, job, _, _ = await _state(core, recording.id)
    assert job.step(StepName.PROBE).status is StepStatus.FAILED
    assert "replaced after the upload" in recording.error


async def test_a_source_that_grows_after_the_probe_is_not_copied(core):
    """An upload URL still valid after the probe cannot feed a larger file to the steps."""
    recording = await core.add_recording()
    core.queue.runner = None
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    started = await start.execute(StartProcessingInput(recording.id))
    probe = RunStepInput(started.job_id, StepName.PROBE, "w1")
    assert (await core.run_step("w1").execute(probe)).status is StepStatus.SUCCEEDED
    await core.store.put_bytes(recording.source_key, b"MEDIA data" * 1000, "video/webm")
    transcode = RunStepInput(started.job_id, StepName.TRANSCODE, "w1")
    result = await core.run_step("w1").execute(transcode)
    assert result.status is StepStatus.FAILED and result.attempts == 1
    recording, job, _, _ = await _state(core, recording.id)
    assert "replaced after the upload" in job.step(StepName.TRANSCODE).error
    assert core.transcoder.calls.count("transcode") == 0


async def test_a_recording_deleted_while_its_step_runs_leaves_nothing_behind(core):
    recording = await core.add_recording()
    core.queue.runner = None
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    started = await start.execute(StartProcessingInput(recording.id))
    async with core.uow()() as uow:
        await uow.recordings.delete(recording.id)
        await uow.commit()
    await core.store.delete_prefix(f"recordings/{recording.owner_id}/{recording.id}/")
    result = await core.run_step().execute(RunStepInput(started.job_id, StepName.PROBE, "w1"))
    assert result.ran is False
    assert result.error == "the recording was deleted"
    assert core.store.objects == {}


async def test_rerunning_an_analysis_adds_up_its_tokens(core):
    recording_id, _ = await core.process()
    rerun = RerunAnalysis(uow=core.uow(), queue=core.queue, clock=core.clock)
    await rerun.execute(RerunAnalysisInput(recording_id, AnalysisKind.SUMMARY))
    await core.queue.join()
    _, _, _, analyses = await _state(core, recording_id)
    tokens = {a.kind: a.input_tokens for a in analyses}
    assert tokens[AnalysisKind.SUMMARY] == 20  # 10 per run, as billed
    assert tokens[AnalysisKind.SENTIMENT] == 10


async def test_a_step_handed_back_by_a_stopping_worker_keeps_its_attempt_budget(core):
    recording = await core.add_recording()
    core.queue.runner = None
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    started = await start.execute(StartProcessingInput(recording.id))
    core.transcoder.gate = asyncio.Event()  # probe is not gated; transcode is
    await core.run_step().execute(RunStepInput(started.job_id, StepName.PROBE, "w1"))
    task = asyncio.ensure_future(
        core.run_step().execute(RunStepInput(started.job_id, StepName.TRANSCODE, "w1"))
    )
    for _ in range(100):
        if "transcode" in core.transcoder.calls:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, job, _, _ = await _state(core, recording.id)
    step = job.step(StepName.TRANSCODE)
    assert step.status is StepStatus.PENDING
    assert step.attempts == 0


async def test_speaker_count_hints_reach_the_transcriber(core):
    await core.process(num_speakers=2, max_speakers=3)
    (request,) = core.transcriber.requests
    assert (request.num_speakers, request.max_speakers) == (2, 3)


async def test_bad_speaker_count_hints_are_refused_on_import(core):
    with pytest.raises(InvalidInputError) as raised:
        await core.add_recording(num_speakers=21, max_speakers=2)
    assert "num_speakers" in raised.value.errors
