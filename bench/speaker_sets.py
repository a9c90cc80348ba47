"""Generate the speaker-diarization development and test sets (synthetic meetings).

Each case is a meeting read by espeak-ng voices: 1 to 6 speakers, 30 s to 15 min, with
long turns, short back-channel turns ("Agreed.", "Will do."), pauses from 0.15 s to
1 s, and in some cases two speakers sharing one voice at different pitches (similar
voices). The development sets ``dev`` and ``dev2`` (used to calibrate the clustering;
the same voices, other seeds), the validation set ``val`` (development data read by other
voices: does a setting hold for voices it was not chosen on?) and the test set (only
measured) use disjoint espeak-ng voices, sentences are drawn with different seeds.

Every case is written as ``<name>.wav`` (16 kHz mono 16-bit) and ``<name>.json`` (the
reference turns ``[speaker, start, end]`` and the voices) into the work folder; nothing
here is committed but this script. Needs ``espeak-ng`` and ``sox`` (``apt-get install -y
espeak-ng sox``)::

    python bench/speaker_sets.py [--workdir .elyune/speaker-sets] [--set dev|dev2|val|test|all]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import wave
from pathlib import Path

import attrs
import numpy as np

RATE = 16_000
ESPEAK_RATE = 22_050
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = REPO_ROOT / ".elyune" / "speaker-sets"

#: espeak-ng voice+variant pools; the sets share none. British English is ``en+<variant>``:
#: espeak-ng ignores a variant after ``en-gb`` without a word (``en-gb+Mike`` reads exactly
#: like ``en-gb``), and variant names are case-sensitive (``Annie``); :func:`check_pool`
#: makes sure every voice of a pool sounds different from the others and its language's.
DEV_VOICES = (
    "en-us+m1", "en+m2", "en-us+m3", "en-us+f1", "en+f2", "en-us+adam", "en+john",
    "en-us+linda", "en-us+max", "en+paul", "en-us+anika", "en-us+steph", "en+michel",
    "en-us+benjamin", "en-us+Andy",
)  # fmt: skip
TEST_VOICES = (
    "en-us+m4", "en+m5", "en-us+m6", "en+m7", "en-us+f3", "en+f4", "en-us+f5",
    "en-us+david", "en+rob", "en-us+Annie", "en+edward", "en-us+belinda",
    "en-gb-scotland+m8", "en-us+travis", "en+quincy",
)  # fmt: skip

#: a third pool, shared with neither: the validation set ``val`` (development data too: it
#: checks that settings chosen on ``dev`` and ``dev2`` hold for voices they never heard)
VAL_VOICES = (
    "en-us+Alex", "en+Alicia", "en-us+Andrea", "en+antonio", "en-us+caleb",
    "en+Denis", "en-us+Gene", "en+Hugo", "en-us+Lee", "en+Mike", "en-us+Storm",
    "en+shelby", "en-us+victor", "en+norbert", "en-us+zac",
)  # fmt: skip

SHORT_TURNS = (
    "Agreed.", "Will do.", "Yes.", "Okay.", "Sounds good.", "Right.", "Sure.", "Thanks.",
    "Got it.", "Makes sense.", "No problem.", "Exactly.",
)  # fmt: skip

_SUBJECTS = (
    "the release", "the dashboard", "the onboarding guide", "the login bug", "the budget",
    "the migration", "the customer survey", "the design review", "the test plan",
    "the new pricing page", "the backup job", "the quarterly report", "the hiring plan",
    "the mobile app", "the search feature", "the data export", "the security audit",
)  # fmt: skip
_TEMPLATES = (
    "I think {s} is almost ready, but we still need another review before Friday.",
    "Can someone take a look at {s} this week? It keeps coming up in support tickets.",
    "We talked to the customers about {s} and most of them liked the direction.",
    "My main worry about {s} is the timeline, because the team is already stretched.",
    "I will send an update on {s} to everyone by tomorrow afternoon.",
    "Last sprint we finished most of {s}, and the remaining work is small.",
    "If we move {s} to next month, we can focus on the performance problems first.",
    "The numbers for {s} look better than we expected, which is good news.",
    "Let us keep {s} on the agenda for the next meeting and decide then.",
    "I spoke with finance about {s} and they need a short written summary.",
    "Honestly, {s} is blocked until we hear back from the vendor.",
    "We should write down the decision on {s} so that nobody has to guess later.",
)  # fmt: skip


@attrs.frozen
class Voice:
    """An espeak-ng voice: voice+variant, pitch (0-99) and words per minute."""

    name: str
    pitch: int
    speed: int


@attrs.frozen
class Case:
    """One meeting to generate."""

    name: str
    speakers: int
    seconds: float
    similar: bool
    seed: int


#: The cases of each set: (speakers, seconds, similar voices).
_SHAPES = (
    (1, 30, False), (2, 30, False), (2, 60, True), (3, 120, False), (4, 120, True),
    (5, 180, False), (6, 180, True), (3, 300, False), (1, 300, False), (2, 600, False),
    (4, 900, True), (6, 60, False), (2, 90, True), (3, 45, False),
)  # fmt: skip


def cases(which: str) -> list[Case]:
    """The cases of the set *which*: ``dev`` and ``dev2`` (development voices, different
    seeds: more calibration data) or ``test``."""
    base = {"dev": 1000, "dev2": 2000, "val": 3000, "test": 5000}[which]
    return [
        Case(f"{which}-{i:02d}-{n}spk-{int(s)}s{'-similar' if sim else ''}", n, s, sim, base + i)
        for i, (n, s, sim) in enumerate(_SHAPES)
    ]


def pick_voices(case: Case, pool: tuple[str, ...]) -> list[Voice]:
    """*case*'s speakers: distinct voices, or with ``similar`` two sharing one voice."""
    rng = random.Random(case.seed)
    names = rng.sample(pool, case.speakers)
    voices = [Voice(n, rng.randint(35, 65), rng.randint(140, 175)) for n in names]
    if case.similar and case.speakers >= 2:
        twin = voices[0]
        voices[1] = Voice(twin.name, min(99, twin.pitch + 12), twin.speed + 10)
    return voices


_PROBE = "I will send an update on the release to everyone by tomorrow afternoon."


def check_pool(pool: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless every voice of *pool* reads a sentence differently from
    the others and from its language's plain voice (a variant espeak-ng does not find is
    ignored without a word, which would make two "speakers" one voice)."""
    seen: dict[bytes, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted({*pool, *(v.split("+", 1)[0] for v in pool)}):
            out = Path(tmp) / "probe.wav"
            subprocess.run(
                ["espeak-ng", "-v", name, "-p", "50", "-s", "160", "-w", str(out), _PROBE],
                check=True,
            )
            audio = out.read_bytes()
            if audio in seen:
                raise ValueError(f"espeak-ng voice {name!r} reads exactly like {seen[audio]!r}")
            seen[audio] = name


def _sentence(rng: random.Random) -> str:
    return rng.choice(_TEMPLATES).format(s=rng.choice(_SUBJECTS))


def _speak(voice: Voice, text: str, workdir: Path) -> np.ndarray:
    """*text* said by *voice*, at 16 kHz, float32, with its silent ends trimmed."""
    raw = workdir / "line.wav"
    resampled = workdir / "line16.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed),
         "-w", str(raw), text],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["sox", "-V1", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(resampled)], check=True
    )
    with wave.open(str(resampled)) as reader:
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    audio = pcm.astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0] : loud[-1] + 1]


def generate(case: Case, pool: tuple[str, ...], target: Path) -> dict[str, object]:
    """Write *case* to ``target/<name>.wav`` and ``.json``; return the reference."""
    rng = random.Random(case.seed * 7 + 1)
    voices = pick_voices(case, pool)
    turns: list[tuple[int, float, float, str]] = []
    cursor = 0.5
    wav_path = target / f"{case.name}.wav"
    previous = -1
    with tempfile.TemporaryDirectory() as tmp, wave.open(str(wav_path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.zeros(int(0.5 * RATE), dtype="<i2").tobytes())
        while cursor < case.seconds:
            if case.speakers == 1:
                speaker = 0
            else:
                choices = [s for s in range(case.speakers) if s != previous]
                speaker = rng.choice(choices)
            if rng.random() < 0.2 and previous >= 0:
                text = rng.choice(SHORT_TURNS)
            else:
                text = " ".join(_sentence(rng) for _ in range(rng.choice((1, 1, 2, 3))))
            audio = _speak(voices[speaker], text, Path(tmp))
            if audio.size == 0:
                continue
            start = cursor
            cursor += audio.size / RATE
            turns.append((speaker, round(start, 3), round(cursor, 3), text))
            pause = rng.choice((0.15, 0.25, 0.4, 0.6, 0.8, 1.0))
            pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
            out.writeframes(pcm.tobytes() + np.zeros(int(pause * RATE), dtype="<i2").tobytes())
            cursor += int(pause * RATE) / RATE
            previous = speaker
    reference = {
        "name": case.name,
        "speakers": case.speakers,
        "similar": case.similar,
        "duration": round(cursor, 3),
        "voices": [attrs.asdict(v) for v in voices],
        "turns": [[str(s), a, b] for s, a, b, _ in turns],
        "texts": [t for *_, t in turns],
    }
    (target / f"{case.name}.json").write_text(json.dumps(reference, indent=1), encoding="utf-8")
    return reference


def ensure_set(which: str, workdir: Path = DEFAULT_WORKDIR) -> list[Path]:
    """Generate the set *which* into *workdir* unless there; return its WAV paths."""
    target = workdir / which
    target.mkdir(parents=True, exist_ok=True)
    pool = {"test": TEST_VOICES, "val": VAL_VOICES}.get(which, DEV_VOICES)
    paths = []
    checked = False
    for case in cases(which):
        wav = target / f"{case.name}.wav"
        if not (wav.exists() and (target / f"{case.name}.json").exists()):
            if not checked:
                check_pool(pool)
                checked = True
            print(f"generating {which}/{case.name}", flush=True)
            generate(case, pool, target)
        paths.append(wav)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--set", choices=("dev", "dev2", "val", "test", "all"), default="all")
    args = parser.parse_args()
    for which in ("dev", "dev2", "val", "test") if args.set == "all" else (args.set,):
        for path in ensure_set(which, args.workdir):
            print(path)


if __name__ == "__main__":
    main()
