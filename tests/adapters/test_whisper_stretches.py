"""WhisperTranscriber stretch by stretch (a live recording), with the real base model.

The committed sample is transcribed whole once, and once in stretches of about 20 s
that end at pauses, labelled at the end from the stretches' stored voice data; the two
must give the same speakers.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from elyune_adapters.asr import WhisperTranscriber
from elyune_adapters.asr.deepgram import DeepgramTranscriber
from elyune_adapters.memory import FakeTranscriber
from elyune_core.entities import Word
from elyune_core.ids import RecordingId
from elyune_core.ports import (
    LabelRequest,
    StretchRequest,
    StretchResult,
    TranscriptionRequest,
    TranscriptionResult,
)
from tests.support.aio import run_sync
from tests.support.media import SAMPLE, ffmpeg_exe

#: the real speech model runs in this module
pytestmark = pytest.mark.slow

RATE = 16_000
RECORDING = RecordingId("live")


# --------------------------------------------------------------------------- helpers


def read_samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as reader:
        return np.frombuffer(reader.readframes(reader.getnframes()), "<i2")


def write_samples(path: Path, pcm: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.astype("<i2").tobytes())
    return path


async def in_stretches(
    transcriber: WhisperTranscriber, wav: Path, folder: Path, seconds: float = 20.0
) -> list[StretchResult]:
    """Transcribe *wav* as a live worker would: stretches of *seconds* from where the
    previous one stopped, the last one final."""
    pcm = read_samples(wav)
    total = pcm.size / RATE
    results: list[StretchResult] = []
    offset = 0.0
    prompt: str | None = None
    while True:
        end = min(total, offset + seconds)
        final = end >= total - 1e-6
        piece = write_samples(
            folder / f"stretch-{len(results)}.wav", pcm[round(offset * RATE) : round(end * RATE)]
        )
        result = await transcriber.transcribe_stretch(
            StretchRequest(
                recording_id=RECORDING, audio=piece, offset=offset, prompt=prompt, final=final
            )
        )
        results.append(result)
        if final:
            return results
        assert offset < result.until <= end + 1e-6
        offset = result.until
        prompt = (" ".join(r.text for r in results))[-200:] or None


def speaker_at(words: Sequence[Word], moment: float) -> str | None:
    """The speaker of the word nearest *moment*."""
    best = min(words, key=lambda w: 0.0 if w.start <= moment <= w.end else min(
        abs(moment - w.start), abs(moment - w.end)))  # fmt: skip
    return best.speaker


def agreement(whole: TranscriptionResult, joined: TranscriptionResult) -> float:
    """Share of the whole-file words' time where the two results name the same speaker."""
    agree = total = 0.0
    for word in whole.words:
        moments = np.arange(word.start, word.end, 0.02)
        for moment in moments:
            total += 1
            agree += speaker_at(joined.words, float(moment)) == word.speaker
    return agree / max(total, 1.0)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sample_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("audio") / "sample.wav"
    subprocess.run(
        [
            *(ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
            *("-i", str(SAMPLE), "-vn", "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_s16le"),
            str(target),
        ],
        check=True,
    )
    return target


def label_request(stretches: Sequence[StretchResult], **hints: int) -> LabelRequest:
    duration = stretches[-1].until if stretches else 0.0
    return LabelRequest(
        recording_id=RECORDING, stretches=tuple(stretches), duration=duration, **hints
    )


def with_voice_data(stretch: StretchResult, data: dict[str, Any]) -> StretchResult:
    return StretchResult(
        start=stretch.start,
        until=stretch.until,
        text=stretch.text,
        language=stretch.language,
        segments=stretch.segments,
        words=stretch.words,
        language_confidence=stretch.language_confidence,
        voice_data=data,
    )


@attrs.frozen
class Outcomes:
    """Everything the real engine gave, computed once in one event loop."""

    whole: TranscriptionResult
    stretches: list[StretchResult]
    joined: TranscriptionResult
    stored: list[dict[str, Any]]
    restored: TranscriptionResult
    hinted: dict[str, TranscriptionResult]
    silence: StretchResult
    silence_joined: TranscriptionResult
    nothing: TranscriptionResult
    damaged: TranscriptionResult


async def run_engine(wav: Path, folder: Path) -> Outcomes:
    base = WhisperTranscriber("base", models_dir=folder / "models")
    try:
        whole = await base.transcribe(TranscriptionRequest(recording_id=RECORDING, audio=wav))
        (folder / "stretches").mkdir()
        stretches = await in_stretches(base, wav, folder / "stretches")
        joined = await base.label_stretches(label_request(stretches))
        stored = [json.loads(json.dumps(dict(s.voice_data), allow_nan=False)) for s in stretches]
        restored = await base.label_stretches(
            label_request([with_voice_data(s, d) for s, d in zip(stretches, stored, strict=True)])
        )
        hints: dict[str, dict[str, int]] = {
            "exactly 1": {"num_speakers": 1},
            "exactly 3": {"num_speakers": 3},
            "at most 1": {"max_speakers": 1},
        }
        hinted = {
            name: await base.label_stretches(label_request(stretches, **hint))
            for name, hint in hints.items()
        }
        silent_wav = write_samples(folder / "silence.wav", np.zeros(RATE * 4, dtype=np.int16))
        silence = await base.transcribe_stretch(
            StretchRequest(recording_id=RECORDING, audio=silent_wav, offset=120.0, final=True)
        )
        silence_joined = await base.label_stretches(label_request([silence]))
        nothing = await base.label_stretches(label_request([]))
        broken = [
            with_voice_data(s, {**d, "version": 99}) for s, d in zip(stretches, stored, strict=True)
        ]
        damaged = await base.label_stretches(label_request(broken))
    finally:
        await base.close()
    return Outcomes(
        whole,
        stretches,
        joined,
        stored,
        restored,
        hinted,
        silence,
        silence_joined,
        nothing,
        damaged,
    )


@pytest.fixture(scope="module")
def outcomes(sample_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    return run_sync(run_engine(sample_wav, tmp_path_factory.mktemp("engine")))


# --------------------------------------------------------------------------- tests


def test_stretches_end_at_pauses_and_cover_the_recording(
    outcomes: Outcomes, sample_wav: Path
) -> None:
    stretches = outcomes.stretches
    total = read_samples(sample_wav).size / RATE
    assert len(stretches) >= 3
    assert stretches[0].start == 0.0
    for before, after in itertools.pairwise(stretches):
        assert 10.0 <= before.until - before.start <= 20.0
        assert after.start == pytest.approx(before.until)
    for stretch in stretches:
        for word in stretch.words:
            assert stretch.start <= word.start <= word.end <= stretch.until + 1e-3
    assert stretches[-1].until == pytest.approx(total, abs=0.01)


def test_stretches_labelled_at_the_end_match_the_whole_file(outcomes: Outcomes) -> None:
    whole, joined = outcomes.whole, outcomes.joined
    assert whole.speaker_count == 2
    assert joined.speaker_count == whole.speaker_count
    assert agreement(whole, joined) > 0.95
    assert [s.id for s in joined.segments] == list(range(len(joined.segments)))
    assert joined.language == "en" == outcomes.stretches[0].language
    assert joined.language_confidence == outcomes.stretches[0].language_confidence
    assert joined.engine == whole.engine == "whisper:base"
    assert [v.label for v in joined.voices] == ["0", "1"]
    assert "onboarding guide" in joined.text.lower()
    times = [w.start for w in joined.words]
    assert times == sorted(times)


def test_voice_data_is_plain_json_that_round_trips(outcomes: Outcomes) -> None:
    # packed: 256 float32 per window as base64, not a list of Python floats
    assert all(data["dim"] == 256 for data in outcomes.stored)
    assert all(
        len(base64.b64decode(data["embeddings"])) == 256 * 4 * len(data["windows"])
        for data in outcomes.stored
    )
    windows = [w for data in outcomes.stored for w in data["windows"]]
    assert windows[-1][1] > 30.0  # recording times, not the stretch's own
    assert outcomes.restored.words == outcomes.joined.words
    assert outcomes.restored.voices == outcomes.joined.voices


def test_speaker_hints_are_honoured(outcomes: Outcomes) -> None:
    counts = {name: result.speaker_count for name, result in outcomes.hinted.items()}
    assert counts == {"exactly 1": 1, "exactly 3": 3, "at most 1": 1}


def test_a_final_stretch_of_silence_is_empty(outcomes: Outcomes) -> None:
    silence = outcomes.silence
    assert (silence.start, silence.until) == (120.0, 124.0)
    assert (silence.segments, silence.words, silence.text) == ((), (), "")
    assert not silence.voice_data.get("windows")
    joined = outcomes.silence_joined
    assert (joined.text, joined.segments, joined.speaker_count, joined.voices) == ("", (), None, ())


def test_labelling_no_stretches_is_an_empty_transcript(outcomes: Outcomes) -> None:
    nothing = outcomes.nothing
    assert (nothing.text, nothing.segments, nothing.words, nothing.voices) == ("", (), (), ())


def test_unusable_voice_data_gives_the_transcript_without_speakers(outcomes: Outcomes) -> None:
    damaged = outcomes.damaged
    assert damaged.text.split() == outcomes.joined.text.split()
    assert damaged.speaker_count is None and damaged.voices == ()
    assert {s.speaker for s in damaged.segments} == {None}


def test_only_the_embedded_engine_transcribes_stretches(tmp_path: Path) -> None:
    assert WhisperTranscriber("base", models_dir=tmp_path).supports_stretches is True
    assert DeepgramTranscriber.supports_stretches is False
    assert FakeTranscriber().supports_stretches is False
