"""Long recordings: wall time, time to transcript, time to MP4 and peak memory per step.

Generates 1280x720 WebM recordings of the given lengths quickly (a picture changing
once a second, VP8 at 1 fps, and the sample meeting's two voices looped, Opus), then runs the whole
embedded pipeline on each in a fresh process (`elyune process` does the same), while
this script samples every 0.25 s the resident memory of that process and of its whole
process tree (ffmpeg children, the speech engine's child). Each step is reported with
the peak memory seen while it ran (steps run concurrently, so peaks overlap).

    python bench/long.py [--minutes 10,30,60,120] [--runs 1] [--model base]

Writes the "long" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "elyune_cli" / "data" / "sample-meeting.webm"
CACHE = ROOT / ".elyune" / "bench"
PAGE = os.sysconf("SC_PAGE_SIZE")


def recording(minutes: int) -> Path:
    """A *minutes*-long 1280x720 recording (made once, then cached)."""
    import imageio_ffmpeg

    target = CACHE / f"long-{minutes}min.webm"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    seconds = minutes * 60
    partial = target.with_suffix(".part.webm")
    # A picture that changes once a second (a slide show, as screen recordings of a
    # meeting mostly are: Chrome writes a frame only when the screen changes) keeps
    # generation fast; the audio is real speech, looped.
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=1280x720:rate=1:duration={seconds}",
        "-stream_loop",
        "-1",
        "-i",
        str(SAMPLE),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-t",
        str(seconds),
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "300k",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        "-f",
        "webm",
        str(partial),
    ]
    print(f"generating the {minutes}-minute recording (once)...", flush=True)
    subprocess.run(command, check=True)
    partial.rename(target)
    return target


def _tree(root: int) -> list[int]:
    """*root* and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier.extend(children.get(pid, []))
    return found


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class Sampler(threading.Thread):
    """Samples the RSS of a process and of its tree until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int, int]] = []  # (unix time, own, tree)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.25):
            own = _rss(self.pid)
            tree = sum(_rss(p) for p in _tree(self.pid))
            if own:
                self.samples.append((time.time(), own, tree))

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, start: float | None = None, end: float | None = None) -> tuple[float, float]:
        """Peak (own, tree) RSS in MB between *start* and *end* (unix times)."""
        chosen = [
            s
            for s in self.samples
            if (start is None or s[0] >= start) and (end is None or s[0] <= end)
        ]
        if not chosen:
            return float("nan"), float("nan")
        return max(s[1] for s in chosen) / 2**20, max(s[2] for s in chosen) / 2**20


def run_once(path: Path, model: str, *, worker: bool = False) -> dict[str, object]:
    """Process *path* with `elyune process --json` in a fresh data folder.

    With *worker*, the steps run in a separate `elyune worker` process (Redis queue of
    its own, same SQLite database and local store): `elyune process` only queues the job
    and follows it, and the figures are the worker's (its process and its tree)."""
    with tempfile.TemporaryDirectory(prefix="elyune-long-") as data:
        env = {**os.environ, "ELYUNE_DATA_DIR": data, "WHISPER_MODEL": model}
        runner = None
        if worker:
            env |= {
                "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                "ELYUNE_QUEUE_NAME": f"bench-long-{os.getpid()}-{time.time_ns()}",
                "WORKER_CONCURRENCY": "2",
            }
            subprocess.run(
                [sys.executable, "-m", "elyune_cli", "db", "upgrade"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            runner = subprocess.Popen(
                [sys.executable, "-m", "elyune_cli", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(Path(data) / "worker.log").open("w"),
                cwd=ROOT,
            )
        started = time.time()
        log = Path(data) / "process.log"
        try:
            with log.open("w") as errors:
                process = subprocess.Popen(
                    [sys.executable, "-m", "elyune_cli", "process", str(path), "--json"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    text=True,
                    cwd=ROOT,
                )
                sampler = Sampler(process.pid if runner is None else runner.pid)
                follower = Sampler(process.pid)
                sampler.start()
                if runner is not None:
                    follower.start()
                out, _ = process.communicate()
            wall = time.time() - started
            sampler.stop()
            if runner is not None:
                follower.stop()
        finally:
            if runner is not None:
                runner.send_signal(signal.SIGTERM)
                try:
                    runner.wait(60)
                except subprocess.TimeoutExpired:
                    runner.kill()
        if process.returncode != 0:
            print(out[-4000:], log.read_text()[-4000:], sep="\n", file=sys.stderr)
            if runner is not None:
                print((Path(data) / "worker.log").read_text()[-4000:], file=sys.stderr)
    if process.returncode not in (0,):
        raise SystemExit(f"elyune process failed ({process.returncode}) on {path.name}")
    details = json.loads(out)
    job = details["job"]
    steps = {s["name"]: s for s in job["steps"]}

    def at(value: str | None) -> float | None:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None

    first = min(at(s["started_at"]) for s in steps.values() if s["started_at"])
    per_step = {}
    for name, step in steps.items():
        began, ended = at(step["started_at"]), at(step["finished_at"])
        own, tree = sampler.peak(
            None if began is None else began - 0.3, None if ended is None else ended + 0.3
        )
        per_step[name] = {"seconds": step["duration"], "own_mb": own, "tree_mb": tree}
    own, tree = sampler.peak()
    result: dict[str, object] = {
        "status": details["status"],
        "job_status": job["status"],
        "wall": wall,
        "to_transcript": at(steps["transcribe"]["finished_at"]) - first,
        "to_mp4": at(steps["transcode"]["finished_at"]) - first,
        "peak_own_mb": own,
        "peak_tree_mb": tree,
        "steps": per_step,
        "words": len((details.get("transcript") or {}).get("words") or []),
    }
    if runner is not None:
        result["follower_mb"] = follower.peak()[1]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="10,30,60,120")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--model", default="base")
    parser.add_argument(
        "--merge",
        nargs="*",
        default=[],
        help="output files of earlier runs of this script: their results are written "
        "beside this run's (lengths measured in separate runs, each with its own load)",
    )
    parser.add_argument("--note", default="", help="a sentence about the machine's load")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="run the steps in an `elyune worker` process (Redis queue) and measure it; "
        "writes the long-worker section",
    )
    args = parser.parse_args()
    lengths = [int(m) for m in args.minutes.split(",")] if args.minutes else []
    load_before = os.getloadavg()
    results: dict[int, list[dict[str, object]]] = {}
    for earlier in args.merge:
        found = None
        for line in Path(earlier).read_text().splitlines():
            if " min: run " in line:
                found = int(line.split(" min")[0])
            elif line.startswith("{") and found is not None:
                results.setdefault(found, []).append(json.loads(line))
    for minutes in lengths:
        path = recording(minutes)
        for n in range(args.runs):
            print(f"{minutes} min: run {n + 1}/{args.runs}", flush=True)
            results.setdefault(minutes, []).append(run_once(path, args.model, worker=args.worker))
            print(json.dumps(results[minutes][-1]), flush=True)
    load_after = os.getloadavg()
    lengths = sorted(results)

    def med(minutes: int, get) -> float:
        return _report.median([float(get(r)) for r in results[minutes]])

    head = "| measure | " + " | ".join(f"{m} min" for m in lengths) + " |"
    body = [
        "## Long recordings, `elyune worker` (Redis queue)"
        if args.worker
        else "## Long recordings (embedded mode)",
        "",
        f"Machine: {_report.machine()}. `python bench/long.py --minutes "
        f"{','.join(str(m) for m in lengths)} --runs {args.runs} --model {args.model}"
        + (" --worker`" if args.worker else "`")
        + (" with the results of earlier runs merged (`--merge`)" if args.merge else "")
        + f"; medians of {args.runs} run(s), each "
        + (
            "`elyune process --json` queueing the job for an `elyune worker` process (its "
            "own Redis stream, the same SQLite database and local store, concurrency 2), "
            "both fresh, with a fresh data folder; the figures below are the worker's"
            if args.worker
            else "`elyune process --json` in a fresh process and data folder"
        )
        + ". Input: 1280x720 VP8 at "
        "1 fps (a picture changing once a second) with the sample meeting's two voices "
        "looped (Opus). Load average (1, 5, 15 min) before: "
        + ", ".join(f"{v:.1f}" for v in load_before)
        + "; after: "
        + ", ".join(f"{v:.1f}" for v in load_after)
        + "."
        + (f" {args.note}" if args.note else ""),
        "",
        head,
        "|---|" + "---|" * len(lengths),
    ]

    def row(label: str, get, fmt: str) -> None:
        body.append(f"| {label} | " + " | ".join(fmt.format(med(m, get)) for m in lengths) + " |")

    outcomes = [
        "/".join(sorted({f"{r['status']} (job {r['job_status']})" for r in results[m]}))
        for m in lengths
    ]
    body.append("| result | " + " | ".join(outcomes) + " |")
    row("wall time", lambda r: r["wall"], "{:.0f} s")
    row("time to transcript", lambda r: r["to_transcript"], "{:.0f} s")
    row("time to MP4", lambda r: r["to_mp4"], "{:.0f} s")
    row("words", lambda r: r["words"], "{:.0f}")
    row("**peak RSS, Python process**", lambda r: r["peak_own_mb"], "**{:.0f} MB**")
    row("**peak RSS, process tree**", lambda r: r["peak_tree_mb"], "**{:.0f} MB**")
    for step in ("probe", "transcode", "extract_audio", "thumbnail", "transcribe", "analyze"):
        row(f"step `{step}`", lambda r, s=step: r["steps"][s]["seconds"], "{:.0f} s")
        body.append(
            f"| peak RSS during `{step}` (process / tree) | "
            + " | ".join(
                "{:.0f} / {:.0f} MB".format(
                    med(m, lambda r, s=step: r["steps"][s]["own_mb"]),
                    med(m, lambda r, s=step: r["steps"][s]["tree_mb"]),
                )
                for m in lengths
            )
            + " |"
        )
    own = [med(m, lambda r: r["peak_own_mb"]) for m in lengths]
    tree = [med(m, lambda r: r["peak_tree_mb"]) for m in lengths]
    body += [
        "",
        f"Spread of the peaks across lengths (max / min - 1; target within 20 %): Python "
        f"process {max(own) / min(own) - 1:.0%}, process tree {max(tree) / min(tree) - 1:.0%}.",
        (
            "The tree is the `elyune worker` Python process, its ffmpeg runs and the speech "
            "engine's child process (which holds the Whisper model and one window of audio). "
            "The `elyune process` that queued and followed the job peaked at "
            + ", ".join(f"{med(m, lambda r: r['follower_mb']):.0f}" for m in lengths)
            + " MB."
            if args.worker
            else "The tree is the `elyune process` Python process, its ffmpeg runs and the "
            "speech engine's child process (which holds the Whisper model and one window of "
            "audio)."
        ),
    ]
    _report.write_section("long-worker" if args.worker else "long", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
