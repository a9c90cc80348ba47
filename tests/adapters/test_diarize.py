"""The neural diarizer (``elyune_adapters.asr.diarize``) with the real voice encoder.

Clips are built from the committed reference clips (``tests/data/voice_encoder``: a
female and a male espeak-ng voice) and from the committed sample's two voices; segments
and words stand in for Whisper's, timed where the clips were put.
"""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from elyune_adapters.asr.diarize import (
    Turn,
    apply_turns,
    diarize,
    voices_for_transcript,
)
from elyune_adapters.asr.voice_encoder import VoiceEncoder, VoiceEncoderError, open_wav, read_span
from elyune_core.entities import Segment, Word
from tests.support.media import SAMPLE, ffmpeg_exe

RATE = 16_000
DATA = Path(__file__).resolve().parents[1] / "data" / "voice_encoder"
#: the sample's turns (bench/make_sample.py): Alice, Bob, Alice, ... in seconds
SAMPLE_TURNS = [
    ("A", 1.0, 5.7), ("B", 6.7, 12.8), ("A", 13.7, 18.2), ("B", 19.2, 22.1),
    ("A", 23.0, 30.6), ("B", 31.6, 38.2), ("A", 39.2, 44.5), ("B", 45.5, 48.6),
]  # fmt: skip


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder(threads=1)


@pytest.fixture(scope="module")
def sample_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sample") / "sample.wav"
    subprocess.run(
        [
            *(ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
            *("-i", str(SAMPLE), "-vn", "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_s16le"),
            str(target),
        ],
        check=True,
    )
    return target


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def read(path: Path, start: float = 0.0, end: float = 1e9) -> np.ndarray:
    with open_wav(path) as reader:
        return read_span(reader, start, end)


def fake_transcript(
    turns: list[tuple[str, float, float]],
) -> tuple[tuple[Segment, ...], tuple[Word, ...]]:
    """One segment per turn, but the last two turns in ONE segment (as Whisper does),
    with three words spread over each turn."""
    words: list[Word] = []
    for index, (_, start, end) in enumerate(turns):
        step = (end - start) / 3
        for k in range(3):
            text = f"w{index}x{k}"
            words.append(
                Word(text, start + k * step, start + (k + 1) * step - 0.05, punctuated=text)
            )
    segments: list[Segment] = []
    for index, (_, start, end) in enumerate(turns[:-1]):
        texts = [w.text for w in words[index * 3 : index * 3 + 3]]
        if index == len(turns) - 2:
            texts += [w.text for w in words[-3:]]
            end = turns[-1][2]
        segments.append(Segment(len(segments), start, end, " ".join(texts)))
    return tuple(segments), tuple(words)


def by_speaker(
    labelled: tuple[Word, ...], turns: list[tuple[str, float, float]]
) -> dict[str, set[str | None]]:
    """The labels the words of each true speaker got."""
    found: dict[str, set[str | None]] = {}
    for index, (who, _, _) in enumerate(turns):
        for word in labelled[index * 3 : index * 3 + 3]:
            found.setdefault(who, set()).add(word.speaker)
    return found


def test_the_sample_two_voices_give_two_speakers_with_the_right_split(
    encoder: VoiceEncoder, sample_wav: Path
) -> None:
    segments, words = fake_transcript(SAMPLE_TURNS)
    result = diarize(sample_wav, segments, words, encoder=encoder)
    found = by_speaker(result.words, SAMPLE_TURNS)
    assert found == {"A": {"0"}, "B": {"1"}}
    # the last segment held two turns (Alice then Bob): it was split at the change
    assert [s.speaker for s in result.segments][-2:] == ["0", "1"]
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    assert [v.label for v in result.voices] == ["0", "1"]
    assert all(len(v.embedding) == 256 and v.seconds > 5 for v in result.voices)
    assert abs(np.linalg.norm(result.voices[0].embedding) - 1) < 1e-3


def test_one_voice_gives_one_speaker(
    encoder: VoiceEncoder, sample_wav: Path, tmp_path: Path
) -> None:
    gap = np.zeros(int(0.6 * RATE), dtype=np.float32)
    pieces, turns, cursor = [], [], 0.3
    for who, start, end in SAMPLE_TURNS:
        if who == "A":
            clip = read(sample_wav, start, end)
            pieces += [clip, gap]
            turns.append(("A", cursor, cursor + clip.size / RATE))
            cursor += (clip.size + gap.size) / RATE
    alice = write_wav(tmp_path / "alice.wav", np.concatenate([np.zeros(int(0.3 * RATE)), *pieces]))
    segments, words = fake_transcript(turns)
    result = diarize(alice, segments, words, encoder=encoder)
    assert {w.speaker for w in result.words} == {"0"}
    assert {s.speaker for s in result.segments} == {"0"}
    assert len(result.voices) == 1


def test_hints_are_honoured(encoder: VoiceEncoder, sample_wav: Path) -> None:
    segments, words = fake_transcript(SAMPLE_TURNS)
    one = diarize(sample_wav, segments, words, encoder=encoder, num_speakers=1)
    assert {w.speaker for w in one.words} == {"0"}
    capped = diarize(sample_wav, segments, words, encoder=encoder, max_speakers=1)
    assert {w.speaker for w in capped.words} == {"0"}
    two = diarize(sample_wav, segments, words, encoder=encoder, num_speakers=2)
    assert by_speaker(two.words, SAMPLE_TURNS) == {"A": {"0"}, "B": {"1"}}


def test_voices_of_an_engines_speakers_match_the_diarizers(
    encoder: VoiceEncoder, sample_wav: Path
) -> None:
    """Deepgram's speakers get voices computed locally from the WAV file."""
    segments = tuple(
        Segment(i, start, end, "x", speaker="alice" if who == "A" else "bob")
        for i, (who, start, end) in enumerate(SAMPLE_TURNS)
    )
    voices = {
        v.label: np.array(v.embedding) for v in voices_for_transcript(sample_wav, segments, encoder)
    }
    assert set(voices) == {"alice", "bob"}
    ours = diarize(sample_wav, *fake_transcript(SAMPLE_TURNS), encoder=encoder).voices
    assert float(voices["alice"] @ np.array(ours[0].embedding)) > float(
        voices["bob"] @ np.array(ours[0].embedding)
    )


@pytest.mark.parametrize("kind", ["half-second", "silence", "noise", "tone"])
def test_bad_input_gives_a_clear_result(encoder: VoiceEncoder, tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(3)
    seconds = 0.5 if kind == "half-second" else 6.0
    t = np.arange(int(seconds * RATE)) / RATE
    if kind == "half-second":
        audio = read(DATA / "short.wav")[: int(0.5 * RATE)]
    elif kind == "silence":
        audio = np.zeros(t.size)
    elif kind == "noise":
        audio = 0.3 * rng.standard_normal(t.size) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    else:
        audio = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 660 * t)
    path = write_wav(tmp_path / f"{kind}.wav", audio)
    segments = (Segment(0, 0.0, seconds, "okay"),)
    words = (Word("okay", 0.05, seconds - 0.05, punctuated="okay"),)
    result = diarize(path, segments, words, encoder=encoder)
    # at most one speaker, every segment labelled alike, never an error
    assert len({s.speaker for s in result.segments}) == 1
    assert len(result.voices) <= 1
    assert diarize(path, (), (), encoder=encoder).segments == ()


def test_an_unreadable_file_is_a_voice_encoder_error(encoder: VoiceEncoder, tmp_path: Path) -> None:
    bogus = tmp_path / "x.wav"
    bogus.write_bytes(b"RIFF....WAVE")
    with pytest.raises(VoiceEncoderError):
        diarize(bogus, (Segment(0, 0, 1, "x"),), (), encoder=encoder)


def test_a_one_word_turn_inside_a_segment_keeps_its_speaker() -> None:
    """ "Agreed." said by another voice inside a Whisper segment becomes its own segment."""
    turns = [Turn(0.0, 2.0, 0), Turn(2.3, 2.9, 1), Turn(3.2, 5.0, 0)]
    words = (
        Word("We", 0.1, 0.9, punctuated="We"),
        Word("ship.", 1.0, 1.9, punctuated="ship."),
        Word("Agreed", 2.35, 2.85, punctuated="Agreed."),
        Word("Then", 3.3, 4.0, punctuated="Then"),
        Word("go.", 4.1, 4.9, punctuated="go."),
    )
    segments = (Segment(0, 0.1, 4.9, "We ship. Agreed. Then go."),)
    labelled, _ = apply_turns(turns, segments, words)
    assert [(s.text, s.speaker) for s in labelled] == [
        ("We ship.", "0"),
        ("Agreed.", "1"),
        ("Then go.", "0"),
    ]


def test_a_segment_without_words_takes_the_turn_it_overlaps_or_the_nearest() -> None:
    """Whisper segments whose words were dropped (or never timed) still get a speaker."""
    turns = [Turn(0.0, 2.0, 0), Turn(2.5, 5.0, 1), Turn(8.0, 9.0, 0)]
    words = (Word("Hello", 0.1, 0.9, punctuated="Hello"),)
    segments = (
        Segment(0, 0.1, 0.9, "Hello"),
        Segment(1, 2.6, 4.8, "(no words)"),  # inside the second turn
        Segment(2, 6.0, 6.5, "(between)"),  # in no turn: the nearest, the second
        Segment(3, 8.9, 9.5, "(the last)"),
    )
    labelled, _ = apply_turns(turns, segments, words)
    assert [s.speaker for s in labelled] == ["0", "1", "1", "0"]


def test_a_word_straddling_a_pause_joins_its_neighbours() -> None:
    turns = [Turn(0.0, 2.0, 0), Turn(2.5, 5.0, 1)]
    words = (
        Word("One", 0.1, 0.9, punctuated="One"),
        Word("two", 1.0, 1.9, punctuated="two"),
        Word("three", 1.95, 2.6, punctuated="three"),  # mostly in the pause
        Word("four", 1.98, 2.45, punctuated="four"),
    )
    segments = (Segment(0, 0.1, 2.45, "One two three four"),)
    labelled, _ = apply_turns(turns, segments, words)
    assert [s.speaker for s in labelled] == ["0"]


def build(
    sample_wav: Path, tmp_path: Path, plan: list[tuple[str, float, float, float]]
) -> tuple[Path, list[tuple[str, float, float]]]:
    """A clip of pieces of the sample: (who, start, end, pause after), and its turns."""
    pieces, turns, cursor = [np.zeros(int(0.3 * RATE), dtype=np.float32)], [], 0.3
    for who, start, end, pause in plan:
        clip = read(sample_wav, start, end)
        turns.append((who, cursor, cursor + clip.size / RATE))
        pieces += [clip, np.zeros(int(pause * RATE), dtype=np.float32)]
        cursor += clip.size / RATE + pause
    return write_wav(tmp_path / "built.wav", np.concatenate(pieces)), turns


def test_two_voices_without_a_pause_are_split_where_the_voice_changes(
    encoder: VoiceEncoder, sample_wav: Path, tmp_path: Path
) -> None:
    """Bob starts the moment Alice stops: one stretch of speech for the voice activity
    detector (pieces of the sample without a pause inside), cut where the voice changes."""
    plan = [("A", 23.01, 26.88, 0.0), ("B", 32.29, 34.88, 0.8), ("A", 2.98, 5.69, 0.0)]
    plan += [("B", 35.23, 38.21, 0.8), ("A", 15.43, 18.21, 0.5), ("B", 10.69, 12.77, 0.5)]
    path, turns = build(sample_wav, tmp_path, plan)
    segments, words = fake_transcript(turns)
    result = diarize(path, segments, words, encoder=encoder)
    names = {"A": result.words[1].speaker, "B": result.words[4].speaker}
    assert names["A"] != names["B"]
    changes = [start for _, start, _ in turns[1:]]
    for word, (who, _, _) in zip(result.words, [t for t in turns for _ in range(3)], strict=True):
        middle = (word.start + word.end) / 2
        if min(abs(middle - moment) for moment in changes) > 1.0:
            assert word.speaker == names[who], word
    # each true change is found within a second
    found = [t.start for t in result.turns[1:]]
    for moment in changes:
        assert min(abs(moment - start) for start in found) < 1.0
    assert len(result.voices) == 2


def test_a_back_channel_turn_takes_the_voice_that_explains_it(
    encoder: VoiceEncoder, sample_wav: Path, tmp_path: Path
) -> None:
    """0.7 s of Bob (an "Agreed.") between two turns of Alice is Bob's, and is no new
    speaker."""
    a, b, c, d = SAMPLE_TURNS[:4]
    plan = [("A", a[1], a[2], 0.8), ("B", b[1], b[2], 0.8), ("A", c[1], c[1] + 2.5, 0.4)]
    plan += [("B", d[1] + 0.2, d[1] + 0.9, 0.4), ("A", c[1] + 2.5, c[2], 0.8)]
    plan += [("B", d[1], d[2], 0.5)]
    path, turns = build(sample_wav, tmp_path, plan)
    segments, _ = fake_transcript(turns)
    words = tuple(
        Word(f"w{i}", start + 0.05, end - 0.05, punctuated=f"w{i}")
        for i, (_, start, end) in enumerate(turns)
    )
    result = diarize(path, segments, words, encoder=encoder)
    assert [w.speaker for w in result.words] == ["0", "1", "0", "1", "0", "1"]
    assert len(result.voices) == 2


def test_a_change_of_voice_inside_a_stretch_goes_to_its_quietest_moment() -> None:
    from elyune_adapters.asr.diarize import Embedded, Window, place_cuts

    windows = (
        Window(10.0, 11.6, (10.0, 11.6), 0),
        Window(11.6, 13.2, (11.6, 13.2), 0),
        Window(13.2, 14.8, (13.2, 14.8), 1),  # another stretch: never moved
    )
    loudness = np.full((3, 160), 2.0)
    loudness[0, 120:130] = -3.0  # a 0.1 s pause at 11.2-11.3 s, 0.4 s before the edge
    embedded = Embedded(windows, np.ones((3, 256)), np.zeros(3), loudness)
    placed = place_cuts(embedded, [0, 1, 0])
    assert 11.2 <= placed[0].owned[1] == placed[1].owned[0] <= 11.3
    assert placed[1].owned[1] == placed[2].owned[0] == 13.2
    # the same speaker on both sides: nothing moves
    assert place_cuts(embedded, [0, 0, 0]) == windows


def test_voice_data_round_trips_packed_and_the_old_lists_are_still_read() -> None:
    from elyune_adapters.asr.diarize import Embedded, Window, embedded_from_json, embedded_to_json

    rng = np.random.default_rng(3)
    embedded = Embedded(
        (Window(0.0, 1.5, (0.0, 1.0), 0), Window(0.75, 2.25, (1.0, 2.25), 0)),
        rng.standard_normal((2, 256)).astype(np.float32).astype(np.float64),
        np.array([120.5, np.nan]),
        rng.random((2, 40)).astype(np.float32).astype(np.float64),
    )
    record = embedded_to_json(embedded, offset=10.0)
    assert record["version"] == 2 and isinstance(record["embeddings"], str)
    back = embedded_from_json([record])
    assert [w.start for w in back.windows] == [10.0, 10.75]
    np.testing.assert_array_equal(back.embeddings, embedded.embeddings)
    np.testing.assert_array_equal(back.loudness, embedded.loudness)
    assert back.pitch[0] == 120.5 and np.isnan(back.pitch[1])
    old = {
        "version": 1,
        "windows": record["windows"],
        "embeddings": embedded.embeddings.tolist(),
        "pitch": [120.5, None],
        "loudness": embedded.loudness.tolist(),
    }
    np.testing.assert_allclose(embedded_from_json([old]).embeddings, embedded.embeddings)
    with pytest.raises(ValueError, match="wrong size"):
        embedded_from_json([{**record, "dim": 255}])
    with pytest.raises(ValueError, match="base64"):
        embedded_from_json([{**record, "embeddings": "not base64!"}])
