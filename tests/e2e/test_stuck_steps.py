"""No step is ever stuck (issue 17), with real ``elyune worker`` processes.

A hung speech engine is made real by freezing its child process with ``SIGSTOP`` (as a
thread spinning in a native library looks from outside: alive, silent); a wedged worker
by freezing the whole worker. Each scenario appends a line to the JSON file named by
``ELYUNE_CHAOS_REPORT`` when that is set (``bench/chaos.py`` reads them).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from elyune_core import JobStatus, StepName, StepStatus
from tests.e2e.test_workers import (  # noqa: F401 - fixtures
    Deploy,
    Stack,
    Worker,
    assert_single_outputs,
    deploy,
    media,
    seaweed,
)
from tests.support.chaos import report

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def engine_children(worker: Worker) -> list[int]:
    """Process ids of the speech-engine children of *worker*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == worker.process.pid and b"whisper_engine" in cmdline and stat[0] != "Z":
            found.append(int(entry.name))
    return found


async def _engine_of(worker: Worker, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = engine_children(worker)
        if children:
            return children[0]
        await asyncio.sleep(0.1)
    pytest.fail(f"no speech engine child appeared:\n{worker.output()[-3000:]}")


async def _outcome(stack: Stack, rid) -> dict[str, object]:
    transcripts = await stack.count(
        "SELECT count(*) FROM transcripts WHERE recording_id=:rid", rid=rid
    )
    analyses = await stack.count(
        "SELECT count(*) FROM analyses WHERE recording_id=:rid AND status='succeeded'", rid=rid
    )
    runs = stack.succeeded_runs()
    return {
        "completed": transcripts == 1 and analyses == 4,
        "duplicated": max(runs.values()) > 1,
        "transcripts": transcripts,
        "analyses": analyses,
    }


async def test_a_hung_speech_engine_is_killed_and_the_step_finishes(
    deploy: Deploy,  # noqa: F811 - the fixture imported above
    media: dict[str, Path],  # noqa: F811
) -> None:
    # stuck after 15 s without progress (short, yet long enough for a loaded machine)
    stack = await deploy(
        STEP_STALL_SECONDS="15", RECONCILE_SECONDS="2", RETRY_BACKOFF_SECONDS="0.5"
    )
    worker = stack.spawn()
    engine = await _engine_of(worker)  # warm: started with the worker
    [rid] = await stack.submit(media["speech"])
    await stack.wait_step(rid, StepName.TRANSCRIBE, StepStatus.RUNNING)
    os.kill(engine, signal.SIGSTOP)  # alive, silent, never returns
    frozen = time.monotonic()
    job = (await stack.wait_done([rid], timeout=120))[rid]
    recovered = time.monotonic() - frozen

    assert job.status is JobStatus.SUCCEEDED, job
    transcribe = job.step(StepName.TRANSCRIBE)
    assert transcribe.attempts == 2 and transcribe.status is StepStatus.SUCCEEDED
    assert "made no progress" in worker.output()
    assert not Path(f"/proc/{engine}").exists() or engine not in engine_children(worker)
    outcome = await _outcome(stack, rid)
    assert outcome["completed"] and not outcome["duplicated"]
    assert_single_outputs(stack, [rid])
    report("speech engine hangs (SIGSTOP)", recover_s=round(recovered, 1), **outcome)


async def test_a_wedged_worker_s_step_is_taken_over_and_finished_elsewhere(
    deploy: Deploy,  # noqa: F811 - the fixture imported above
    media: dict[str, Path],  # noqa: F811
) -> None:
    stack = await deploy(STEP_LEASE_SECONDS="5", RECONCILE_SECONDS="2")
    wedged = stack.spawn()
    [rid] = await stack.submit(media["speech"])
    await stack.wait_step(rid, StepName.TRANSCRIBE, StepStatus.RUNNING)
    os.killpg(wedged.process.pid, signal.SIGSTOP)  # the worker and its engine freeze
    frozen = time.monotonic()
    try:
        rescuer = stack.spawn()
        job = (await stack.wait_done([rid], timeout=120))[rid]
        recovered = time.monotonic() - frozen
    finally:
        os.killpg(wedged.process.pid, signal.SIGKILL)
    assert job.status is JobStatus.SUCCEEDED, job
    transcribe = job.step(StepName.TRANSCRIBE)
    assert transcribe.worker == rescuer.name and transcribe.attempts == 2
    outcome = await _outcome(stack, rid)
    assert outcome["completed"] and not outcome["duplicated"]
    report("worker frozen mid-transcription (SIGSTOP)", recover_s=round(recovered, 1), **outcome)


async def test_a_second_sigterm_stops_the_running_copy_and_the_worker_exits(
    deploy: Deploy,  # noqa: F811 - the fixture imported above
    media: dict[str, Path],  # noqa: F811
) -> None:
    stack = await deploy(WORKER_GRACE_SECONDS="60", RECONCILE_SECONDS="2")
    worker = stack.spawn()
    engine = await _engine_of(worker)
    [rid] = await stack.submit(media["speech"])
    await stack.wait_step(rid, StepName.TRANSCRIBE, StepStatus.RUNNING)
    worker.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    worker.process.send_signal(signal.SIGTERM)  # hurry: hand the step back now
    signalled = time.monotonic()
    code = await asyncio.to_thread(worker.process.wait, 60)
    exited = time.monotonic() - signalled
    assert code == 0, worker.output()
    assert not engine_children(worker)
    assert not Path(f"/proc/{engine}/cmdline").exists()  # the engine went with it
    transcribe = (await stack.jobs([rid]))[rid].step(StepName.TRANSCRIBE)
    assert transcribe.status is StepStatus.PENDING and transcribe.worker is None

    stack.spawn()
    job = (await stack.wait_done([rid], timeout=120))[rid]
    assert job.status is JobStatus.SUCCEEDED
    outcome = await _outcome(stack, rid)
    assert outcome["completed"] and not outcome["duplicated"]
    report("second SIGTERM mid-transcription", recover_s=round(exited, 1), **outcome)
