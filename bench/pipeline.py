"""Pipeline benchmark: the bundled sample and a generated 10-minute 720p30 recording.

For each input it measures, in one run:

- each step's wall time in the full embedded pipeline (all steps as `make demo` runs them),
- time to transcript (job start to transcript stored) and total time,
- peak RSS of the Python process (the worker), and of ffmpeg children,
- extract_audio alone and transcription alone (nothing else running), giving the
  critical-path ratio = time to transcript / (extract alone + transcribe alone);
  target < 1.15 (the transcode must never delay the transcript),
- transcode alone, and total / longest branch (target <= 1.1).

Each run happens in a fresh subprocess with a fresh data folder. Usage:
    python bench/pipeline.py [--runs 3] [--inputs sample,long]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "elyune_cli" / "data" / "sample-meeting.webm"
CACHE = ROOT / ".elyune" / "bench"


def long_recording() -> Path:
    """A 10-minute 1280x720 30 fps VP8/Opus WebM whose audio is the sample meeting, looped."""
    import imageio_ffmpeg

    target = CACHE / "long-720p30-10min.webm"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.webm")
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30:duration=600",
        "-stream_loop",
        "-1",
        "-i",
        str(SAMPLE),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-t",
        "600",
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "1500k",
        "-c:a",
        "libopus",
        "-b:a",
        "48k",
        "-f",
        "webm",
        str(partial),
    ]
    print("generating the 10-minute 720p30 recording (once)...", flush=True)
    subprocess.run(command, check=True)
    partial.rename(target)
    return target


async def _child(path: Path, data_dir: Path) -> dict[str, object]:
    from elyune_adapters.container import create_container, resolve
    from elyune_adapters.settings import load_settings
    from elyune_core import (
        GetRecordingInput,
        ImportRecordingInput,
        MediaInfo,
        StartProcessingInput,
        StepName,
    )
    from elyune_core.ports import TranscriptionRequest

    settings = load_settings({"ELYUNE_DATA_DIR": str(data_dir)})
    container = create_container(settings)
    await resolve(container.init_resources())
    transcoder = await resolve(container.transcoder())
    transcriber = await resolve(container.transcriber())
    user = await (await resolve(container.ensure_user())).execute("bench")

    media: MediaInfo = await transcoder.probe(path)
    with tempfile.TemporaryDirectory() as scratch:
        silence = Path(scratch) / "silence.wav"
        with wave.open(str(silence), "wb") as out:  # load the model before timing anything
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes(b"\0\0" * 16000)
        await transcriber.transcribe(TranscriptionRequest("warm-up", silence, None, 1.0))
        wav = Path(scratch) / "audio.wav"
        started = time.perf_counter()
        await transcoder.extract_audio(path, wav, media)
        extract_alone = time.perf_counter() - started
        started = time.perf_counter()
        await transcriber.transcribe(TranscriptionRequest("alone", wav, None, media.duration))
        transcribe_alone = time.perf_counter() - started
        started = time.perf_counter()
        await transcoder.transcode(path, Path(scratch) / "video.mp4", media)
        transcode_alone = time.perf_counter() - started

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    imported = await (await resolve(container.import_recording())).execute(
        ImportRecordingInput(user.id, path)
    )
    started = time.perf_counter()
    await (await resolve(container.start_processing())).execute(
        StartProcessingInput(imported.recording.id)
    )
    await (await resolve(container.job_queue())).join()
    wall = time.perf_counter() - started
    details = await (await resolve(container.get_recording())).execute(
        GetRecordingInput(imported.recording.id)
    )
    await resolve(container.shutdown_resources())
    job = details.job
    assert job is not None and details.recording.status.value == "ready", details.recording.error
    start = min(s.started_at for s in job.steps if s.started_at)
    steps = {s.name.value: s.duration for s in job.steps}
    transcribed = job.step(StepName.TRANSCRIBE).finished_at
    to_transcript = (transcribed - start).total_seconds()
    total = (job.finished_at - start).total_seconds()
    branches = {
        "video": steps["probe"] + steps["transcode"],
        "audio": steps["probe"] + steps["extract_audio"] + steps["transcribe"] + steps["analyze"],
        "thumbnail": steps["probe"] + steps["thumbnail"],
    }
    return {
        "duration": media.duration,
        "steps": steps,
        "to_transcript": to_transcript,
        "total": total,
        "wall": wall,
        "extract_alone": extract_alone,
        "transcribe_alone": transcribe_alone,
        "transcode_alone": transcode_alone,
        "longest_branch": max(branches.values()),
        "longest_alone": max(transcode_alone, extract_alone + transcribe_alone),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before / 1024,
        "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "words": len(details.transcript.words) if details.transcript else 0,
    }


def run_once(path: Path) -> dict[str, object]:
    """One measured run in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="elyune-bench-") as data:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path), "--data", data],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--inputs", default="sample,long")
    parser.add_argument("--child")
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(_child(Path(args.child), Path(args.data)))
        print(json.dumps(result))
        return
    rows = []
    for name in args.inputs.split(","):
        path = SAMPLE if name == "sample" else long_recording()
        runs = []
        for n in range(args.runs):
            print(f"{name}: run {n + 1}/{args.runs}", flush=True)
            runs.append(run_once(path))
        rows.append((name, path, runs))
    body = [
        "## Pipeline (embedded mode)",
        "",
        f"Machine: {_report.machine()}. `python bench/pipeline.py --runs {args.runs}`; "
        f"medians of {args.runs} runs, each in a fresh process and data folder. Engines: "
        "ffmpeg from imageio-ffmpeg (transcode at nice 19), faster-whisper base int8 "
        "with 2 threads and diarization, local analyzer.",
        "",
    ]
    labels = {"sample": "sample (50 s, 960x540)", "long": "10 min, 1280x720, 30 fps"}
    body.append("| measure | " + " | ".join(labels.get(n, n) for n, _, _ in rows) + " |")
    body.append("|---|" + "---|" * len(rows))

    def line(label: str, key: str, fmt: str = "{:.2f} s") -> None:
        values = []
        for _, _, runs in rows:
            values.append(fmt.format(_report.median([float(r[key]) for r in runs])))
        body.append(f"| {label} | " + " | ".join(values) + " |")

    def step_line(step: str) -> None:
        values = [
            "{:.2f} s".format(_report.median([float(r["steps"][step]) for r in runs]))
            for _, _, runs in rows
        ]
        body.append(f"| step `{step}` | " + " | ".join(values) + " |")

    line("media duration", "duration", "{:.1f} s")
    for step in ("probe", "transcode", "extract_audio", "thumbnail", "transcribe", "analyze"):
        step_line(step)
    line("time to transcript", "to_transcript")
    line("total (job start to end)", "total")
    line("extract_audio alone", "extract_alone")
    line("transcription alone", "transcribe_alone")
    line("transcode alone", "transcode_alone")
    ratios = []
    totals = []
    for _, _, runs in rows:
        ratios.append(
            _report.median(
                [r["to_transcript"] / (r["extract_alone"] + r["transcribe_alone"]) for r in runs]
            )
        )
        totals.append(_report.median([r["total"] / r["longest_branch"] for r in runs]))
    body.append(
        "| **critical-path ratio** (target < 1.15) | "
        + " | ".join(f"**{v:.3f}**" for v in ratios)
        + " |"
    )
    body.append(
        "| total / longest branch in the run (target <= 1.1) | "
        + " | ".join(f"{v:.3f}" for v in totals)
        + " |"
    )
    alone = [_report.median([r["total"] / r["longest_alone"] for r in runs]) for _, _, runs in rows]
    body.append(
        "| total / longest branch run alone | " + " | ".join(f"{v:.3f}" for v in alone) + " |"
    )
    line("peak RSS, Python process", "peak_rss_mb", "{:.0f} MB")
    line("peak RSS, largest ffmpeg child", "children_peak_rss_mb", "{:.0f} MB")
    body += [
        "",
        "Time to transcript runs from the first step's start to the moment the transcript "
        "is stored (probe, extract_audio and transcribe, while transcode and thumbnail run "
        "beside them). The ratio compares it with extract_audio and transcription run alone "
        'on an idle machine. "Longest branch in the run" is the longest chain of steps '
        "(probe+transcode or probe+extract+transcribe+analyze) as measured inside the same "
        "run: it shows what running steps concurrently costs over the slowest chain. On 2 "
        "cores the two CPU-bound branches share the cores, so total time is close to the "
        "sum of both branches' CPU work; the comparison with branches run alone says so.",
    ]
    _report.write_section("pipeline", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
