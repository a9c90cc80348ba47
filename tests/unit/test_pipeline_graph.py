"""The step graph: what may run, what is skipped, how a job's status follows its steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from elyune_core import JobId, JobStatus, RecordingId, StepName, StepStatus
from elyune_core._pipeline import (
    dependents,
    derive_status,
    new_job,
    progress,
    ready_steps,
    skip_with_dependents,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _job():
    return new_job(JobId("j"), RecordingId("r"), NOW)


def _succeed(job, *names):
    for name in names:
        job = job.with_step(job.step(name).claim("w", NOW, NOW).succeed(NOW, {}))
    return job


def test_only_probe_is_ready_at_first():
    assert ready_steps(_job(), NOW) == (StepName.PROBE,)


def test_after_probe_the_three_branches_are_ready_together_audio_first():
    job = _succeed(_job(), StepName.PROBE)
    assert ready_steps(job, NOW) == (
        StepName.EXTRACT_AUDIO,
        StepName.THUMBNAIL,
        StepName.TRANSCODE,
    )


def test_transcribe_waits_for_audio_only_not_for_transcode():
    job = _succeed(_job(), StepName.PROBE, StepName.EXTRACT_AUDIO)
    assert StepName.TRANSCRIBE in ready_steps(job, NOW)
    assert job.step(StepName.TRANSCODE).status is StepStatus.PENDING


def test_skipping_audio_skips_transcribe_and_analyze():
    assert dependents(StepName.EXTRACT_AUDIO) == (StepName.TRANSCRIBE, StepName.ANALYZE)
    job = skip_with_dependents(_succeed(_job(), StepName.PROBE), StepName.EXTRACT_AUDIO, "x", NOW)
    skipped = [s.name for s in job.steps if s.status is StepStatus.SKIPPED]
    assert skipped == [StepName.EXTRACT_AUDIO, StepName.TRANSCRIBE, StepName.ANALYZE]


def test_a_job_transcribed_from_live_stretches_transcribes_right_after_the_probe():
    job = new_job(JobId("j"), RecordingId("r"), NOW, from_stretches=True)
    job = _succeed(job, StepName.PROBE)
    # the transcript is handed out first, and the WAV only after it: writing an hour's
    # WAV would share the machine with the labelling the user waits for
    assert ready_steps(job, NOW) == (StepName.TRANSCRIBE, StepName.THUMBNAIL, StepName.TRANSCODE)
    transcribed = _succeed(job, StepName.TRANSCRIBE)
    assert ready_steps(transcribed, NOW)[:2] == (StepName.EXTRACT_AUDIO, StepName.ANALYZE)
    # and a WAV that cannot be written does not take the transcript or analyses with it
    assert dependents(StepName.EXTRACT_AUDIO, job) == ()
    skipped = skip_with_dependents(job, StepName.EXTRACT_AUDIO, "x", NOW)
    assert skipped.step(StepName.TRANSCRIBE).status is StepStatus.PENDING
    assert skipped.step(StepName.ANALYZE).status is StepStatus.PENDING
    assert set(dependents(StepName.PROBE, job)) == set(StepName) - {StepName.PROBE}
    assert dependents(StepName.TRANSCRIBE, job) == (StepName.EXTRACT_AUDIO, StepName.ANALYZE)


def test_job_succeeds_when_every_step_succeeded_or_skipped():
    job = _succeed(_job(), *StepName)
    job = derive_status(job, NOW)
    assert job.status is JobStatus.SUCCEEDED
    assert job.finished_at == NOW
    assert progress(job) == 100.0


def test_job_finishes_only_once_nothing_else_can_run():
    job = _succeed(_job(), StepName.PROBE)
    job = job.with_step(job.step(StepName.TRANSCODE).claim("w", NOW, NOW).fail(NOW, "boom"))
    assert derive_status(job, NOW).status is JobStatus.RUNNING  # audio branch can still run
    job = _succeed(job, StepName.EXTRACT_AUDIO, StepName.THUMBNAIL, StepName.TRANSCRIBE)
    job = _succeed(job, StepName.ANALYZE)
    done = derive_status(job, NOW)
    # the transcript and analyses are there: usable, with the MP4's failure told
    assert done.status is JobStatus.PARTIAL and done.finished_at == NOW
    assert done.error == "Converting to MP4 failed: boom"


def test_a_failed_transcript_branch_fails_the_job_once_nothing_else_can_run():
    job = _succeed(_job(), StepName.PROBE)
    job = job.with_step(job.step(StepName.EXTRACT_AUDIO).claim("w", NOW, NOW).fail(NOW, "boom"))
    assert derive_status(job, NOW).status is JobStatus.RUNNING  # the MP4 can still be made
    job = _succeed(job, StepName.TRANSCODE, StepName.THUMBNAIL)
    done = derive_status(job, NOW)
    assert done.status is JobStatus.FAILED
    assert done.error == "Extracting audio failed: boom"


def test_a_step_waiting_out_an_outage_keeps_the_job_running_until_its_time():
    job = _succeed(_job(), StepName.PROBE, StepName.EXTRACT_AUDIO, StepName.THUMBNAIL)
    job = _succeed(job, StepName.TRANSCRIBE, StepName.ANALYZE)
    later = NOW + timedelta(seconds=90)
    claimed = job.step(StepName.TRANSCODE).claim("w", NOW, NOW + timedelta(seconds=30))
    job = job.with_step(claimed.wait_out("store down", NOW, later))
    step = job.step(StepName.TRANSCODE)
    assert step.status is StepStatus.PENDING and step.attempts == 0
    assert step.outage_since == NOW
    assert derive_status(job, NOW).status is JobStatus.RUNNING
    assert StepName.TRANSCODE not in ready_steps(job, NOW)
    assert StepName.TRANSCODE in ready_steps(job, later)


def test_running_step_with_expired_lease_is_ready_again():
    job = _succeed(_job(), StepName.PROBE)
    lease = NOW + timedelta(seconds=30)
    job = job.with_step(job.step(StepName.TRANSCODE).claim("w", NOW, lease))
    assert StepName.TRANSCODE not in ready_steps(job, NOW)
    assert StepName.TRANSCODE in ready_steps(job, lease + timedelta(seconds=1))
