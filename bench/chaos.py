"""Faults under production mode: each scenario several times, what was lost or stuck.

Runs the fault scenarios of the end-to-end tests (real `elyune worker` processes on
PostgreSQL, Redis and SeaweedFS, Whisper tiny.en) *--runs* times each:

- SIGKILL of a worker in the middle of a transcode (another worker takes over),
- Redis flushed with recordings queued, then restarted empty,
- the speech engine hung (its process frozen with SIGSTOP: alive and silent),
- a whole worker frozen in the middle of a transcription (SIGSTOP),
- a second SIGTERM in the middle of a transcription (the running copy must stop).

Each run's test asserts that every job completed with one transcript and four analyses
and that no step ran twice to completion; the scenario reports its time to recover.
A run that fails counts as lost or stuck. Writes the "chaos" section of
docs/benchmarks.md.

    python bench/chaos.py [--runs 3]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

ROOT = Path(__file__).resolve().parents[1]

SCENARIOS = [
    (
        "SIGKILL mid-transcode",
        "tests/e2e/test_workers.py::test_a_killed_worker_s_transcode_is_taken_over",
    ),
    (
        "Redis flushed, then restarted empty",
        "tests/e2e/test_workers.py::test_jobs_survive_redis_being_flushed_and_restarted",
    ),
    (
        "speech engine hangs (SIGSTOP)",
        "tests/e2e/test_stuck_steps.py::test_a_hung_speech_engine_is_killed_and_the_step_finishes",
    ),
    (
        "worker frozen mid-transcription (SIGSTOP)",
        "tests/e2e/test_stuck_steps.py::"
        "test_a_wedged_worker_s_step_is_taken_over_and_finished_elsewhere",
    ),
    (
        "second SIGTERM mid-transcription",
        "tests/e2e/test_stuck_steps.py::"
        "test_a_second_sigterm_stops_the_running_copy_and_the_worker_exits",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="run only scenarios whose name contains this")
    args = parser.parse_args()
    outcomes: dict[str, list[dict[str, object]]] = collections.defaultdict(list)
    failures: collections.Counter[str] = collections.Counter()
    walls: dict[str, list[float]] = collections.defaultdict(list)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="elyune-chaos-") as folder:
        for fault, test in SCENARIOS:
            if args.only and args.only not in fault:
                continue
            for n in range(args.runs):
                target = Path(folder) / f"{len(walls)}-{n}.jsonl"
                env = {**os.environ, "ELYUNE_CHAOS_REPORT": str(target)}
                started = time.monotonic()
                done = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                walls[fault].append(time.monotonic() - started)
                lines = target.read_text().splitlines() if target.exists() else []
                if done.returncode != 0 or not lines:
                    failures[fault] += 1
                    print(done.stdout[-3000:], file=sys.stderr)
                for line in lines:
                    outcomes[fault].append(json.loads(line))
                status = "ok" if done.returncode == 0 else "FAILED"
                print(f"{fault}: run {n + 1}/{args.runs} {status}", flush=True)
    load_after = os.getloadavg()
    body = [
        "## Faults (production mode)",
        "",
        f"Machine: {_report.machine()}. `python bench/chaos.py --runs {args.runs}`: each "
        "scenario is an end-to-end test (PostgreSQL, Redis, SeaweedFS S3, real `elyune "
        "worker` processes, Whisper tiny.en) that asserts every job completed with one "
        "transcript and four analyses and no step ran twice to completion; a failed run "
        "counts as lost or stuck. Recovery: from the fault to the job done (for the second "
        "SIGTERM: to the worker's exit). Load average before: "
        + ", ".join(f"{v:.1f}" for v in load_before)
        + "; after: "
        + ", ".join(f"{v:.1f}" for v in load_after)
        + ".",
        "",
        "| fault | runs | completed | lost or stuck | duplicated | recovery (median, max) |",
        "|---|---|---|---|---|---|",
    ]
    for fault, _ in SCENARIOS:
        if fault not in walls:
            continue
        runs = len(walls[fault])
        found = outcomes[fault]
        completed = sum(1 for o in found if o.get("completed"))
        duplicated = sum(1 for o in found if o.get("duplicated"))
        recover = [float(o["recover_s"]) for o in found if "recover_s" in o]
        timing = f"{_report.median(recover):.1f} s, {max(recover):.1f} s" if recover else "n/a"
        body.append(
            f"| {fault} | {runs} | {completed} | {failures[fault]} | {duplicated} | {timing} |"
        )
    _report.write_section("chaos", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
