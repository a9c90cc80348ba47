"""Speaker diarization benchmark: DER, speaker count, speed and memory, old vs new.

Runs the diarizer of the product (``elyune_adapters.asr.diarize``: Resemblyzer voice
encoder on onnxruntime + clustering) and the one it replaced (``diarize_bic``: MFCC +
pitch Gaussians merged by BIC) on the *test* set of ``bench/speaker_sets.py`` (espeak-ng
voices that the development set does not use), and writes the ``speakers`` section of
``docs/benchmarks.md``:

* DER per case (``bench/der.py``: md-eval style, 0.25 s collar either side of each
  reference boundary) and its mean, and whether the number of speakers found is right;
* diarization real-time factor (seconds of diarization per second of audio, median over
  ``--runs``) and peak resident memory, each case in a fresh process;
* a 60-minute recording (the 15-minute case four times) for the new diarizer, to show
  memory stays flat.

Both diarizers are scored on the turns they find in the audio (speech detection
included), not on a Whisper transcript: what the transcript shows follows from those
turns (each word takes the speaker of the turn it overlaps most).

``--calibrate`` instead sweeps the clustering settings on the *development* set (and
keeps only settings that find the committed sample's two voices) and prints the best
ones (they are the defaults of ``ClusterParams``); the test set is never used for that::

    python bench/speakers.py [--runs 3] [--threads 2]
    python bench/speakers.py --calibrate
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "src"))

from bench._report import machine, median, write_section  # noqa: E402
from bench.der import der  # noqa: E402
from bench.speaker_sets import DEFAULT_WORKDIR, ensure_set  # noqa: E402


def _reference(wav: Path) -> dict[str, object]:
    reference: dict[str, object] = json.loads(wav.with_suffix(".json").read_text())
    return reference


# --------------------------------------------------------------------------- one run


def run_new(wav: Path, encoder: object) -> list[tuple[str, float, float]]:
    from elyune_adapters.asr.clustering import ClusterParams
    from elyune_adapters.asr.diarize import (
        assign_speakers,
        embed_speech,
        speech_stretches,
        turns_of,
    )

    embedded = embed_speech(wav, speech_stretches(wav), encoder)  # type: ignore[arg-type]
    labels = assign_speakers(embedded, params=ClusterParams())
    return [(str(t.speaker), t.start, t.end) for t in turns_of(embedded.windows, labels.tolist())]


def run_old(wav: Path) -> list[tuple[str, float, float]]:
    import faster_whisper
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from elyune_adapters.asr import diarize_bic as old

    audio = faster_whisper.decode_audio(str(wav), sampling_rate=16_000)
    options = VadOptions(
        min_silence_duration_ms=250, speech_pad_ms=30, max_speech_duration_s=old.MAX_TURN
    )
    chunks = get_speech_timestamps(audio, options, sampling_rate=16_000)
    spans = [(c["start"] / 16_000, c["end"] / 16_000) for c in chunks]
    signal = np.asarray(audio, dtype=np.float64)
    turns = old.cut_turns(spans)
    features = [old.turn_features(signal, 16_000, a, b) for a, b in turns]
    labels = old.cluster_turns(features, max_speakers=4)  # the product's old setting
    return [(str(label), a, b) for (a, b), label in zip(turns, labels, strict=True)]


def one(wav: Path, engine: str, threads: int) -> None:
    """Run one diarizer on *wav* in this process; print turns, seconds and peak memory.

    The timing leaves out what a worker does once, not per recording: importing the
    modules and loading the voice encoder and the VAD models.
    """
    from faster_whisper.vad import get_vad_model

    from elyune_adapters.asr import diarize_bic, voice_encoder  # noqa: F401 - imported once

    get_vad_model()
    encoder = voice_encoder.VoiceEncoder(threads=threads)
    encoder.embed_mels(np.zeros((1, 160, 40), dtype=np.float32))  # loads the session
    started = time.perf_counter()
    turns = run_new(wav, encoder) if engine == "new" else run_old(wav)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"turns": turns, "seconds": elapsed, "peak_mb": peak}))


def measure(wav: Path, engine: str, threads: int) -> dict[str, object]:
    command = [sys.executable, __file__, "--one", str(wav), "--engine", engine]
    command += ["--threads", str(threads)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- report


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as reader:
        return reader.getnframes() / reader.getframerate()


def hour_long(source: Path, target: Path, times: int = 4) -> Path:
    """*source* repeated *times* over into *target* (streamed), with its reference."""
    if not target.exists():
        with wave.open(str(source)) as reader, wave.open(str(target), "wb") as out:
            out.setparams(reader.getparams())
            for _ in range(times):
                reader.rewind()
                while chunk := reader.readframes(1 << 16):
                    out.writeframes(chunk)
    return target


def benchmark(runs: int, threads: int, workdir: Path) -> None:
    rows = []
    for wav in ensure_set("test", workdir):
        reference = _reference(wav)
        truth = [(str(s), float(a), float(b)) for s, a, b in reference["turns"]]  # type: ignore[attr-defined]
        seconds = wav_seconds(wav)
        row: dict[str, object] = {"name": wav.stem, "speakers": reference["speakers"]}
        for engine in ("old", "new"):
            results = [measure(wav, engine, threads) for _ in range(runs)]
            hypothesis = [tuple(t) for t in results[0]["turns"]]  # type: ignore[attr-defined]
            row[engine] = {
                "der": der(truth, hypothesis),  # type: ignore[arg-type]
                "found": len({t[0] for t in hypothesis}),
                "rtf": median([float(r["seconds"]) for r in results]) / seconds,  # type: ignore[arg-type]
                "peak": max(float(r["peak_mb"]) for r in results),  # type: ignore[arg-type]
            }
            print(wav.stem, engine, row[engine], flush=True)
        rows.append(row)
    load = os.getloadavg()[0]
    longest = max(ensure_set("test", workdir), key=wav_seconds)
    hour = hour_long(longest, workdir / "test-hour.wav")
    hour_runs = [measure(hour, "new", threads) for _ in range(max(1, runs - 1))]
    load = max(load, os.getloadavg()[0])
    (workdir / "speakers-results.json").write_text(json.dumps(rows, indent=1))
    body = render(rows, hour_runs, wav_seconds(hour), runs, threads)
    body += (
        f"\n\nLoad average (1 min) while measuring: up to {load:.1f} on "
        f"{os.cpu_count()} cores (other agents shared the machine), so speeds are pessimistic."
    )
    write_section("speakers", body)


def render(
    rows: list[dict[str, object]],
    hour_runs: list[dict[str, object]],
    hour_seconds: float,
    runs: int,
    threads: int,
) -> str:
    def cell(row: dict[str, object], engine: str) -> dict[str, float]:
        value: dict[str, float] = row[engine]  # type: ignore[assignment]
        return value

    lines = [
        "## Speaker diarization (`bench/speakers.py`)",
        "",
        f"Machine: {machine()}; onnxruntime threads: {threads}; {runs} runs per case "
        "(real-time factor: median; memory: peak resident set of a fresh process per run).",
        "",
        "Test set of `bench/speaker_sets.py` (espeak-ng voices kept out of the development "
        "set the clustering was calibrated on). DER with a 0.25 s collar either side of "
        "each reference boundary (`bench/der.py`), speech detection included. *Old*: the "
        "MFCC + BIC diarizer this replaced (`asr/diarize_bic.py`, max 4 speakers as it was "
        "set); *new*: Resemblyzer voice encoder (ONNX) + pitch + agglomerative clustering.",
        "",
        "| case | speakers | old DER | old found | new DER | new found | old RTF | new RTF "
        "| old peak MB | new peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        old, new = cell(row, "old"), cell(row, "new")
        lines.append(
            f"| {row['name']} | {row['speakers']} | {old['der']:.3f} | {old['found']} "
            f"| {new['der']:.3f} | {new['found']} | {old['rtf']:.4f} | {new['rtf']:.4f} "
            f"| {old['peak']:.0f} | {new['peak']:.0f} |"
        )

    def mean(engine: str, key: str) -> float:
        return float(np.mean([cell(r, engine)[key] for r in rows]))

    def right(engine: str) -> float:
        return float(np.mean([cell(r, engine)["found"] == r["speakers"] for r in rows]))

    def within(engine: str) -> str:
        ok = [
            cell(r, engine)["der"] <= (0.10 if int(r["speakers"]) <= 4 else 0.15)  # type: ignore[call-overload]
            for r in rows
            if int(r["speakers"]) >= 2  # type: ignore[call-overload]
        ]
        return f"{sum(ok)}/{len(ok)}"

    lines += [
        f"| **mean** | | **{mean('old', 'der'):.3f}** | {right('old'):.0%} right "
        f"| **{mean('new', 'der'):.3f}** | {right('new'):.0%} right "
        f"| {mean('old', 'rtf'):.4f} | {mean('new', 'rtf'):.4f} | | |",
        "",
        f"Cases with 2+ speakers within the DER target (<= 0.10 for 2-4 speakers, <= 0.15 "
        f"for 5-6): old {within('old')}, new {within('new')}. Speaker count right: old "
        f"{right('old'):.0%}, new {right('new'):.0%} (target >= 90 %).",
        "",
        f"60-minute recording ({hour_seconds / 60:.0f} min, new diarizer): real-time factor "
        f"{median([float(r['seconds']) for r in hour_runs]) / hour_seconds:.4f}, peak "  # type: ignore[arg-type]
        f"{max(float(r['peak_mb']) for r in hour_runs):.0f} MB (audio is read stretch by "  # type: ignore[arg-type]
        "stretch from the WAV file, never whole).",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- calibration


def calibrate(workdir: Path, threads: int) -> None:
    from elyune_adapters.asr.clustering import ClusterParams
    from elyune_adapters.asr.diarize import (
        assign_speakers,
        embed_speech,
        speech_stretches,
        turns_of,
    )
    from elyune_adapters.asr.voice_encoder import VoiceEncoder

    encoder = VoiceEncoder(threads=threads)
    cases = []
    for wav in ensure_set("dev", workdir):
        reference = _reference(wav)
        truth = [(str(s), float(a), float(b)) for s, a, b in reference["turns"]]  # type: ignore[attr-defined]
        cases.append((reference, truth, embed_speech(wav, speech_stretches(wav), encoder)))
    sample = sample_wav(workdir)
    sample_embedded = embed_speech(sample, speech_stretches(sample), encoder)
    results = []
    for weight in (0.2, 0.5):
        for scale in (0.05, 0.1):
            for threshold in (0.1, 0.2, 0.3):
                params = ClusterParams(pitch_weight=weight, pitch_scale=scale, threshold=threshold)
                ders, right = [], 0
                for reference, truth, embedded in cases:
                    labels = assign_speakers(embedded, params=params)
                    turns = turns_of(embedded.windows, labels.tolist())
                    hypothesis = [(str(t.speaker), t.start, t.end) for t in turns]
                    ders.append(der(truth, hypothesis))
                    right += len(set(labels.tolist())) == reference["speakers"]
                found = len(set(assign_speakers(sample_embedded, params=params).tolist()))
                score = float(np.mean(ders)), right / len(cases)
                print(
                    f"pitch {weight}/{scale} threshold {threshold}: mean DER "
                    f"{score[0]:.3f}, count right {score[1]:.0%}, sample {found} speakers",
                    flush=True,
                )
                if found == 2:  # the committed sample has two voices
                    results.append((score[0], params))
    results.sort(key=lambda item: item[0])
    print("best:", results[0][1] if results else None)


def sample_wav(workdir: Path) -> Path:
    """The committed sample recording as 16 kHz WAV (it has two voices)."""
    import imageio_ffmpeg

    target = workdir / "sample.wav"
    if not target.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        source = REPO_ROOT / "src" / "elyune_cli" / "data" / "sample-meeting.webm"
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
             "-i", str(source), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le",
             str(target)],
            check=True,
        )  # fmt: skip
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=("old", "new"), default="new")
    args = parser.parse_args()
    if args.one:
        one(args.one, args.engine, args.threads)
    elif args.calibrate:
        calibrate(args.workdir, args.threads)
    else:
        benchmark(args.runs, args.threads, args.workdir)


if __name__ == "__main__":
    main()
