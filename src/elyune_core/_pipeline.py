"""The step graph of a processing job (pure: no I/O).

::

    probe ─┬─ transcode
           ├─ thumbnail
           └─ extract_audio ── transcribe ── analyze

A live recording transcribed stretch by stretch while it was uploaded
(``Job.from_stretches``) has its transcribe step follow the probe instead, and its
extract_audio step follow the transcribe step: labelling the stretches reads no audio,
so the transcript neither waits for the recording's WAV nor shares the machine with
writing it (an hour's WAV from its pieces takes seconds)::

    probe ─┬─ transcode
           ├─ thumbnail
           └─ transcribe ─┬─ analyze
                          └─ extract_audio

A step may run when every step it depends on has succeeded. Steps with no path between
them run concurrently, so the transcript never waits for the transcode. A skipped step
skips everything downstream of it; a failed step blocks what is downstream of it, and the
job fails once nothing else can run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from elyune_core.entities import Job, JobStatus, Step, StepName, StepStatus
from elyune_core.ids import JobId, RecordingId

DEPENDENCIES: Mapping[StepName, tuple[StepName, ...]] = {
    StepName.PROBE: (),
    StepName.TRANSCODE: (StepName.PROBE,),
    StepName.EXTRACT_AUDIO: (StepName.PROBE,),
    StepName.THUMBNAIL: (StepName.PROBE,),
    StepName.TRANSCRIBE: (StepName.EXTRACT_AUDIO,),
    StepName.ANALYZE: (StepName.TRANSCRIBE,),
}

STEP_TITLES: Mapping[StepName, str] = {
    StepName.PROBE: "Reading the file",
    StepName.TRANSCODE: "Converting to MP4",
    StepName.EXTRACT_AUDIO: "Extracting audio",
    StepName.THUMBNAIL: "Making a thumbnail",
    StepName.TRANSCRIBE: "Transcribing",
    StepName.ANALYZE: "Analysing",
}

# Share of a typical job's time spent in each step, for a progress percentage.
_WEIGHTS: Mapping[StepName, float] = {
    StepName.PROBE: 5,
    StepName.TRANSCODE: 30,
    StepName.EXTRACT_AUDIO: 5,
    StepName.THUMBNAIL: 2,
    StepName.TRANSCRIBE: 43,
    StepName.ANALYZE: 15,
}


#: The graph of a job transcribed from its live stretches (see the module's docstring).
FROM_STRETCHES: Mapping[StepName, tuple[StepName, ...]] = {
    **DEPENDENCIES,
    StepName.TRANSCRIBE: (StepName.PROBE,),
    StepName.EXTRACT_AUDIO: (StepName.TRANSCRIBE,),
}


def new_job(
    job_id: JobId, recording_id: RecordingId, now: datetime, *, from_stretches: bool = False
) -> Job:
    """Return a job with every step pending."""
    return Job(
        id=job_id,
        recording_id=recording_id,
        created_at=now,
        steps=tuple(Step(name=name) for name in StepName),
        from_stretches=from_stretches,
    )


def graph(job: Job | None) -> Mapping[StepName, tuple[StepName, ...]]:
    """The step graph of *job* (the usual one without a job)."""
    return FROM_STRETCHES if job is not None and job.from_stretches else DEPENDENCIES


def dependents(name: StepName, job: Job | None = None) -> tuple[StepName, ...]:
    """Every step downstream of *name* in *job*'s graph, transitively, in graph order."""
    edges = graph(job)
    found: list[StepName] = []
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for step, deps in edges.items():
            if current in deps and step not in found:
                found.append(step)
                frontier.append(step)
    return tuple(s for s in StepName if s in found)


def dependencies_met(job: Job, name: StepName) -> bool:
    """Whether every step *name* depends on has succeeded."""
    return all(job.step(dep).status is StepStatus.SUCCEEDED for dep in graph(job)[name])


def is_claimable(job: Job, name: StepName, now: datetime) -> bool:
    """Whether a worker may start *name* now: pending (and not waiting out an outage) or
    running on an expired lease, with its dependencies met."""
    step = job.step(name)
    if step.status is StepStatus.PENDING:
        return not step.waiting(now) and dependencies_met(job, name)
    if step.status is StepStatus.RUNNING:
        return step.lease_expired(now)
    return False


# The order ready steps are handed out: the audio branch first (it leads to the
# transcript), the thumbnail next, the long transcode last.
PRIORITY: tuple[StepName, ...] = (
    StepName.PROBE,
    StepName.EXTRACT_AUDIO,
    StepName.TRANSCRIBE,
    StepName.ANALYZE,
    StepName.THUMBNAIL,
    StepName.TRANSCODE,
)


def ready_steps(job: Job, now: datetime) -> tuple[StepName, ...]:
    """Steps that could be started now, the ones leading to the transcript first."""
    return tuple(name for name in PRIORITY if is_claimable(job, name, now))


def skip_with_dependents(job: Job, name: StepName, reason: str, now: datetime) -> Job:
    """Return *job* with *name* and everything downstream of it skipped for *reason*."""
    for step_name in (name, *dependents(name, job)):
        step = job.step(step_name)
        if not step.status.done:
            job = job.with_step(step.skip(now, reason))
    return job


#: Steps whose failure leaves a recording usable once its transcript is stored.
OPTIONAL_STEPS: frozenset[StepName] = frozenset({StepName.TRANSCODE, StepName.THUMBNAIL})


def derive_status(job: Job, now: datetime) -> Job:
    """Return *job* with its status, error and timings following its steps.

    A job whose only failures are the MP4 or the thumbnail, with its transcript stored
    and analysed, is ``partial``: usable, and a retry re-runs only what failed.
    """
    statuses = [s.status for s in job.steps]
    failed = [s for s in job.steps if s.status is StepStatus.FAILED]
    running = StepStatus.RUNNING in statuses
    waiting = any(s.status is StepStatus.PENDING and s.waiting(now) for s in job.steps)
    can_progress = running or waiting or bool(ready_steps(job, now))
    if all(s in (StepStatus.SUCCEEDED, StepStatus.SKIPPED) for s in statuses):
        status = JobStatus.SUCCEEDED
    elif failed and not can_progress and _usable(job, failed):
        status = JobStatus.PARTIAL
    elif failed and not can_progress:
        status = JobStatus.FAILED
    elif running or any(s.done for s in statuses):
        status = JobStatus.RUNNING
    else:
        status = JobStatus.PENDING
    error = failure_reason(failed) if status in (JobStatus.FAILED, JobStatus.PARTIAL) else None
    finished = status.finished
    return attrs.evolve(
        job,
        status=status,
        error=error,
        started_at=job.started_at or (now if status is not JobStatus.PENDING else None),
        finished_at=(job.finished_at or now) if finished else None,
    )


def _usable(job: Job, failed: Iterable[Step]) -> bool:
    """Whether the transcript branch finished although *failed* steps did not."""
    return all(s.name in OPTIONAL_STEPS for s in failed) and all(
        job.step(name).status is StepStatus.SUCCEEDED
        for name in (StepName.TRANSCRIBE, StepName.ANALYZE)
    )


def failure_reason(failed: Iterable[Step]) -> str:
    """A readable sentence naming each failed step and why it failed."""
    return "; ".join(f"{STEP_TITLES[s.name]} failed: {s.error or 'unknown error'}" for s in failed)


def progress(job: Job) -> float:
    """Rough share of the job that is done, from 0 to 100."""
    total = sum(_WEIGHTS.values())
    done = 0.0
    for step in job.steps:
        weight = _WEIGHTS[step.name]
        if step.status.done:
            done += weight
        elif step.status is StepStatus.RUNNING:
            done += weight * min(max(step.progress or 0.0, 0.0), 0.99)
    return round(100.0 * done / total, 1)


__all__ = [
    "DEPENDENCIES",
    "FROM_STRETCHES",
    "OPTIONAL_STEPS",
    "STEP_TITLES",
    "dependencies_met",
    "dependents",
    "derive_status",
    "failure_reason",
    "graph",
    "is_claimable",
    "new_job",
    "progress",
    "ready_steps",
    "skip_with_dependents",
]
