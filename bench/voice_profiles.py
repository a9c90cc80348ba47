"""Calibrate (dev set) and measure (test set) the voice-profile match threshold.

A voice profile is the centroid of a named speaker's voice embeddings; a later
recording's speaker is labelled with the profile's name when the cosine similarity of
its voice to the profile is at least ``MATCH_THRESHOLD`` (``elyune_core._voices``). This
script generates people (espeak-ng voices with a pitch and a speed; "twins" share a
voice at a pitch 12 higher, the similar voices of ``bench/speaker_sets.py``), three
recordings per person of 6, 15 and 30 seconds with different sentences and a slightly
different speed, and embeds each recording's speech as the transcribers do for a
speaker (``voices_for_transcript``: one labelled stretch). Then:

- same: the profile built from one recording against the person's other ones;
- other: against the recordings of people on another espeak-ng language voice;
- variant: against other variants (and the twin) of the same language voice.

On the development set a logistic fit of same / other on the similarity gives the
confidence curve (its centre and slope); the threshold is its centre rounded up to
0.01, where a match becomes more likely right than wrong. The test set (other voices)
is only measured. Writes the ``voice-profiles`` section of ``docs/benchmarks.md``::

    python bench/voice_profiles.py [--workdir .elyune/voice-profiles] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))
sys.path.insert(0, str(REPO_ROOT))

from bench._report import machine, write_section  # noqa: E402
from bench.speaker_sets import (  # noqa: E402
    DEV_VOICES,
    RATE,
    TEST_VOICES,
    Voice,
    _sentence,
    _speak,
)

from elyune_adapters.asr.diarize import voices_for_transcript  # noqa: E402
from elyune_adapters.asr.voice_encoder import VoiceEncoder  # noqa: E402
from elyune_core._voices import MATCH_THRESHOLD, cosine, match_confidence  # noqa: E402
from elyune_core.entities import Segment  # noqa: E402

LENGTHS = (6.0, 15.0, 30.0)
TWINS = 5


def people(pool: tuple[str, ...], seed: int) -> list[tuple[str, Voice]]:
    """Every voice of *pool* as a person, plus ``TWINS`` similar-voiced twins."""
    rng = random.Random(seed)
    persons = [(name, Voice(name, rng.randint(35, 65), rng.randint(140, 175))) for name in pool]
    twins = [
        (f"{name}~twin", Voice(v.name, min(99, v.pitch + 12), v.speed + 10))
        for name, v in persons[:TWINS]
    ]
    return persons + twins


def recording(voice: Voice, seconds: float, rng: random.Random, workdir: Path) -> Path:
    """A WAV of *voice* saying sentences for about *seconds*."""
    spoken = Voice(voice.name, voice.pitch, voice.speed + rng.randint(-6, 6))
    pieces: list[np.ndarray] = []
    total = 0.0
    while total < seconds:
        audio = _speak(spoken, _sentence(rng), workdir)
        pieces += [audio, np.zeros(int(0.4 * RATE), np.float32)]
        total += audio.size / RATE + 0.4
    pcm = (np.clip(np.concatenate(pieces), -1, 1) * 32767).astype("<i2")
    target = workdir / f"rec-{rng.random():.12f}.wav"
    with wave.open(str(target), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(pcm.tobytes())
    return target


def embed_set(pool: tuple[str, ...], seed: int, encoder: VoiceEncoder) -> dict[str, list]:
    """Person -> the (embedding, seconds) of each of their recordings."""
    rng = random.Random(seed + 1)
    result: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, voice in people(pool, seed):
            result[name] = []
            for seconds in LENGTHS:
                wav = recording(voice, seconds, rng, workdir)
                with wave.open(str(wav)) as reader:
                    duration = reader.getnframes() / RATE
                voices = voices_for_transcript(wav, [Segment(0, 0.0, duration, "", "0")], encoder)
                result[name].append((list(voices[0].embedding), voices[0].seconds))
                wav.unlink()
    return result


def _base(person: str) -> str:
    """The espeak-ng language voice of *person* (``en-gb`` of ``en-gb+m2~twin``)."""
    return person.split("+")[0]


def scores(embedded: dict[str, list]) -> dict[str, list[float]]:
    """Cosine similarities of profiles (each person's 15 s recording) to recordings:
    ``same`` person, ``other`` (another espeak-ng language voice) and ``variant`` (another
    variant or a twin of the same language voice: formant variants the encoder barely
    tells apart)."""
    found: dict[str, list[float]] = {"same": [], "other": [], "variant": []}
    for person, recs in embedded.items():
        profile = recs[1][0]
        for index, (vector, _) in enumerate(recs):
            if index != 1:
                found["same"].append(cosine(profile, vector))
        for someone, theirs in embedded.items():
            if someone == person:
                continue
            kind = "variant" if _base(someone) == _base(person) else "other"
            found[kind] += [cosine(profile, vector) for vector, _ in theirs]
    return found


def fit_logistic(same: list[float], different: list[float]) -> tuple[float, float]:
    """Centre and slope of P(same | similarity), by Newton's method on the log loss."""
    x = np.array(same + different)
    y = np.array([1.0] * len(same) + [0.0] * len(different))
    a, b = 10.0, -8.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * x + b)))
        grad = np.array([((p - y) * x).sum(), (p - y).sum()])
        w = p * (1 - p) + 1e-9
        hess = np.array([[(w * x * x).sum(), (w * x).sum()], [(w * x).sum(), w.sum()]])
        hess += np.eye(2) * 1e-3
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return -b / a, a


def rates(found: dict[str, list[float]], threshold: float) -> dict[str, float]:
    """Share of same-person pairs missed, other and variant pairs accepted."""

    def share(values: list[float], accept: bool) -> float:
        hits = sum((v >= threshold) == accept for v in values)
        return hits / len(values) if values else float("nan")

    return {
        "missed": share(found["same"], False),
        "false": share(found["other"], True),
        "variant": share(found["variant"], True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".elyune" / "voice-profiles")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    encoder = VoiceEncoder(threads=1)
    found = {}
    for which, pool, seed in (("dev", DEV_VOICES, 11), ("test", TEST_VOICES, 23)):
        cache = args.workdir / f"{which}.json"
        if cache.exists():
            embedded = json.loads(cache.read_text())
        else:
            embedded = embed_set(pool, seed, encoder)
            cache.write_text(json.dumps(embedded))
        found[which] = scores(embedded)
    dev = found["dev"]
    centre, slope = fit_logistic(dev["same"], dev["other"])
    lines = [
        f"Machine: {machine()}. `python bench/voice_profiles.py`.",
        "",
        f"People: {len(DEV_VOICES)} espeak-ng voices + {TWINS} similar-voiced twins (the same "
        "voice 12 pitch steps higher) per set; dev and test share no voice. Each person has "
        f"{len(LENGTHS)} recordings ({', '.join(f'{s:g}' for s in LENGTHS)} s, other sentences, "
        "speed +-6). A profile is one 15 s recording, compared with the person's other "
        "recordings (*same*), the recordings of people on another espeak-ng language voice "
        "(*other*: en-us against British `en`) and those of other variants or the twin of the same "
        "language voice (*variant*).",
        "",
        "| set | pairs same / other / variant | same: min / median | other: median / max "
        "| variant: median / max | same missed | other matched | variant matched |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for which in ("dev", "test"):
        f = found[which]
        r = rates(f, MATCH_THRESHOLD)
        lines.append(
            f"| {which} | {len(f['same'])} / {len(f['other'])} / {len(f['variant'])} "
            f"| {min(f['same']):.3f} / {np.median(f['same']):.3f} "
            f"| {np.median(f['other']):.3f} / {max(f['other']):.3f} "
            f"| {np.median(f['variant']):.3f} / {max(f['variant']):.3f} "
            f"| {r['missed']:.1%} | {r['false']:.1%} | {r['variant']:.0%} |"
        )
    lines += [
        "",
        f"Logistic fit of same / other on the dev set: centre {centre:.3f}, slope "
        f"{slope:.0f} (`CONFIDENCE_CENTRE`, `CONFIDENCE_SLOPE`: the match confidence). The "
        f"threshold in use, **{MATCH_THRESHOLD}** (`elyune_core._voices.MATCH_THRESHOLD`), "
        "is that centre rounded up to 0.01, where a speaker is a little more likely the "
        f"profile's person than not (confidence {match_confidence(MATCH_THRESHOLD):.2f}). "
        "Variants of one espeak-ng language voice are as alike to the encoder as a person's "
        "own recordings (up to 0.99), so no threshold separates them: the figures for "
        "*variant* show what similar voices do, not a target.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("voice-profiles", "## Voice profiles: match threshold\n\n" + body)


if __name__ == "__main__":
    main()
