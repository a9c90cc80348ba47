"""Live transcription stretch by stretch against the whole file: do the speakers agree?

For the committed sample and a generated espeak-ng meeting (``bench/speaker_sets.py``'s
generator, test voices), the embedded engine transcribes the WAV once whole
(``transcribe``) and once in stretches of about ``--stretch`` seconds, each cut at a pause
near its end (``transcribe_stretch``), labelled at the end from the stored voice data
(``label_stretches``). Printed, as JSON: the DER between the two labellings (the whole
file's segments as reference, collars 0 and 0.25 s), the DER of each against the
meeting's reference turns, the WER of each against the script, and how long labelling
takes for the stretches and for 60 minutes of them (the meeting's stretches repeated).
Needs ``espeak-ng`` and ``sox``::

    python bench/stretches.py [--workdir .elyune/stretches] [--seconds 210] [--speakers 3]
        [--stretch 25] [--context 3] [--voices dev|test] [--seeds 7001 ...] [--no-hour]

``--voices dev --skip-sample --no-hour`` is how the live processor's stretch length and
context were chosen (development voices; the live benchmark's sample is not used).

Measured (2 Dec 2026, base model, 25 s stretches; whole file / stretches):

=================  ================  ==============  =========  ===========  ==========
audio              DER 0 / 0.25 s    words' time     WER        WER between  label 60 m
=================  ================  ==============  =========  ===========  ==========
sample, 50 s       0.051 / 0.022     100 %           0 / 1.0 %  1.0 %        -
3 voices*, 212 s   0.052 / 0.028     99.4 %          6.3 / 8.6  6.8 %        3.1 s
2 voices, 208 s    0.051 / 0.026     99.3 %          6.1 / 5.1  5.9 %        2.5 s
=================  ================  ==============  =========  ===========  ==========

(*) both ways found two of the three voices.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import attrs
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "src"))

from bench.der import der  # noqa: E402
from bench.speaker_sets import DEV_VOICES, TEST_VOICES, Case, generate  # noqa: E402

from elyune_adapters.asr import WhisperTranscriber  # noqa: E402
from elyune_core.ids import RecordingId  # noqa: E402
from elyune_core.ports import (  # noqa: E402
    LabelRequest,
    StretchRequest,
    StretchResult,
    TranscriptionRequest,
    TranscriptionResult,
)

RATE = 16_000
RECORDING = RecordingId("bench")
SAMPLE = REPO_ROOT / "src" / "elyune_cli" / "data" / "sample-meeting.webm"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / max(1, len(ref))


def agreement(whole: TranscriptionResult, joined: TranscriptionResult) -> float:
    """Share of the whole file's word time (20 ms steps) where the stretches' nearest word
    has the same speaker."""
    starts = np.array([w.start for w in joined.words])
    ends = np.array([w.end for w in joined.words])
    same = total = 0
    for word in whole.words:
        for moment in np.arange(word.start, word.end, 0.02):
            gap = np.where((starts <= moment) & (moment <= ends), 0.0,
                           np.minimum(abs(moment - starts), abs(moment - ends)))  # fmt: skip
            total += 1
            same += joined.words[int(np.argmin(gap))].speaker == word.speaker
    return same / max(total, 1)


def turns(result: TranscriptionResult) -> list[tuple[str, float, float]]:
    return [(str(s.speaker), s.start, s.end) for s in result.segments if s.speaker is not None]


async def in_stretches(
    transcriber: WhisperTranscriber,
    wav: Path,
    folder: Path,
    seconds: float,
    context: float,
    timings: list[tuple[float, float]],
) -> list[StretchResult]:
    """Transcribe *wav* as ``AdvanceLiveRecording`` does: each stretch from the last one's
    ``until`` for *seconds*, heard with *context* seconds before it (not kept); the rest,
    once less than *seconds* is left, in one final stretch. *timings* gets each call's
    (seconds of audio given, seconds it took)."""
    with wave.open(str(wav)) as reader:
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    total = pcm.size / RATE
    results: list[StretchResult] = []
    until, prompt = 0.0, None
    timings.clear()
    while True:
        final = total - until < seconds
        end = total if final else until + seconds
        begin = max(0.0, until - context)
        piece = folder / f"stretch-{len(results)}.wav"
        with wave.open(str(piece), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm[round(begin * RATE) : round(end * RATE)].tobytes())
        began = time.monotonic()
        result = await transcriber.transcribe_stretch(
            StretchRequest(
                RECORDING, piece, begin, prompt=prompt, final=final, context=until - begin
            )
        )
        timings.append((round(end - begin, 1), round(time.monotonic() - began, 2)))
        results.append(result)
        if final:
            return results
        until = result.until if result.until > until + 1e-6 else end
        prompt = " ".join(r.text for r in results)[-200:] or None


def shifted(stretch: StretchResult, by: float, number: int) -> StretchResult:
    """*stretch* moved *by* seconds later (to make an hour of stretches)."""
    data = dict(stretch.voice_data)
    if data.get("windows"):
        data["windows"] = [
            [a + by, b + by, c + by, d + by, s + number * 1000] for a, b, c, d, s in data["windows"]
        ]
    return attrs.evolve(
        stretch,
        start=stretch.start + by,
        until=stretch.until + by,
        segments=tuple(
            attrs.evolve(s, start=s.start + by, end=s.end + by) for s in stretch.segments
        ),
        words=tuple(attrs.evolve(w, start=w.start + by, end=w.end + by) for w in stretch.words),
        voice_data=data,
    )


async def measure(
    transcriber: WhisperTranscriber,
    wav: Path,
    script: str,
    reference: list[tuple[str, float, float]] | None,
    seconds: float,
    hour: bool,
    context: float = 3.0,
) -> dict[str, object]:
    began = time.monotonic()
    whole = await transcriber.transcribe(TranscriptionRequest(RECORDING, wav))
    whole_seconds = time.monotonic() - began
    with tempfile.TemporaryDirectory() as folder:
        began = time.monotonic()
        timings: list[tuple[float, float]] = []
        stretches = await in_stretches(transcriber, wav, Path(folder), seconds, context, timings)
        stretch_seconds = time.monotonic() - began
    duration = stretches[-1].until
    began = time.monotonic()
    joined = await transcriber.label_stretches(LabelRequest(RECORDING, tuple(stretches), duration))
    label_seconds = time.monotonic() - began
    report: dict[str, object] = {
        "audio": wav.name,
        "duration": round(duration, 1),
        "stretches": [round(s.until - s.start, 1) for s in stretches],
        "speakers": {"whole": whole.speaker_count, "stretches": joined.speaker_count},
        "der_between": {
            "collar_0": round(der(turns(whole), turns(joined), collar=0.0), 4),
            "collar_0.25": round(der(turns(whole), turns(joined), collar=0.25), 4),
        },
        "word_time_agreement": round(agreement(whole, joined), 4),
        "wer": {
            "whole": round(wer(script, whole.text), 4),
            "stretches": round(wer(script, joined.text), 4),
            "between": round(wer(whole.text, joined.text), 4),
        },
        "seconds": {
            "whole_transcribe": round(whole_seconds, 1),
            "all_stretches": round(stretch_seconds, 1),
            "label": round(label_seconds, 3),
            "per_stretch": timings,
        },
    }
    if reference:
        report["der_reference"] = {
            "whole": round(der(reference, turns(whole)), 4),
            "stretches": round(der(reference, turns(joined)), 4),
        }
    if hour:
        copies = int(np.ceil(3600.0 / duration))
        many = tuple(shifted(s, k * duration, k) for k in range(copies) for s in stretches)
        size = len(json.dumps([dict(s.voice_data) for s in many]))
        began = time.monotonic()
        result = await transcriber.label_stretches(LabelRequest(RECORDING, many, duration * copies))
        report["label_60_min"] = {
            "audio_minutes": round(duration * copies / 60, 1),
            "stretches": len(many),
            "windows": sum(len(s.voice_data.get("windows") or ()) for s in many),
            "voice_data_mb": round(size / 1e6, 1),
            "seconds": round(time.monotonic() - began, 2),
            "speakers": result.speaker_count,
        }
    return report


def sample_wav(target: Path) -> Path:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(SAMPLE),
         "-vn", "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_s16le", str(target)],
        check=True,
    )  # fmt: skip
    return target


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".elyune" / "stretches")
    parser.add_argument("--seconds", type=float, default=210.0)
    parser.add_argument("--speakers", type=int, default=3)
    parser.add_argument("--stretch", type=float, default=25.0)
    parser.add_argument("--context", type=float, default=3.0)
    parser.add_argument("--model", default="base")
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--no-hour", action="store_true", help="skip the 60-minute labelling")
    parser.add_argument(
        "--voices",
        choices=("dev", "test"),
        default="test",
        help="the development voices (to choose settings on) or the test voices",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[7001])
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    transcriber = WhisperTranscriber(args.model, models_dir=REPO_ROOT / ".elyune" / "models")
    try:
        if not args.skip_sample:
            from tests.support.media import SAMPLE_SCRIPT

            script = " ".join(text for _, text in SAMPLE_SCRIPT)
            wav = sample_wav(args.workdir / "sample.wav")
            report = await measure(
                transcriber, wav, script, None, args.stretch, False, args.context
            )
            print(json.dumps(report))
        pool = DEV_VOICES if args.voices == "dev" else TEST_VOICES
        for seed in args.seeds:
            name = f"live-{args.voices}-{args.speakers}spk-{int(args.seconds)}s-{seed}"
            case = Case(name, args.speakers, args.seconds, False, seed)
            wav = args.workdir / f"{case.name}.wav"
            if wav.exists():
                meeting = json.loads(wav.with_suffix(".json").read_text(encoding="utf-8"))
            else:
                meeting = generate(case, pool, args.workdir)
            reference = [(str(s), float(a), float(b)) for s, a, b in meeting["turns"]]
            script = " ".join(meeting["texts"])
            report = await measure(
                transcriber, wav, script, reference, args.stretch, not args.no_hour, args.context
            )
            print(json.dumps({"stretch": args.stretch, "context": args.context, **report}))
    finally:
        await transcriber.close()


if __name__ == "__main__":
    asyncio.run(main())
