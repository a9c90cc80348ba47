"""Speaker clustering (``elyune_adapters.asr.clustering``) and the pitch tracker, on
synthetic embeddings and tones: how many voices, whatever the length of the meeting."""

from __future__ import annotations

import numpy as np
import pytest

from elyune_adapters.asr.clustering import ClusterParams, cluster
from elyune_adapters.asr.diarize import frame_pitch

RATE = 16_000


def voice_units(
    rng: np.random.Generator,
    centre: np.ndarray,
    count: int,
    *,
    seconds: float = 4.0,
    spread: float = 0.2,
    pitch: float = np.log(110.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """*count* stretches of one voice: embeddings scattered around *centre* (noise that
    shrinks with the stretch's length), their seconds and median log pitch."""
    noise = rng.standard_normal((count, centre.size)) * spread / np.sqrt(seconds)
    vectors = centre[None, :] + noise / np.sqrt(centre.size)
    pitches = pitch + rng.normal(0.0, 0.03, count)
    return vectors, np.full(count, seconds), pitches


def direction(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    vector = np.abs(rng.standard_normal(size))
    result: np.ndarray = vector / np.linalg.norm(vector)
    return result


def near(rng: np.random.Generator, centre: np.ndarray, distance: float) -> np.ndarray:
    """A unit vector at cosine distance *distance* from *centre*."""
    other = rng.standard_normal(centre.size)
    other -= (other @ centre) * centre
    other /= np.linalg.norm(other)
    angle = np.arccos(1.0 - distance)
    result: np.ndarray = np.cos(angle) * centre + np.sin(angle) * other
    return result


def stack(*parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


@pytest.mark.parametrize("count", [8, 60, 240])  # 30 s, 4 min, 16 min of one voice
def test_one_voice_stays_one_speaker_however_long(count: int) -> None:
    rng = np.random.default_rng(count)
    vectors, seconds, pitch = voice_units(rng, direction(rng), count)
    labels = cluster(vectors, seconds, params=ClusterParams(), pitch=pitch)
    assert set(labels.tolist()) == {0}


@pytest.mark.parametrize("count", [10, 60, 200])
def test_two_close_voices_are_two_speakers_in_short_and_long_meetings(count: int) -> None:
    """Voices whose centroids are only 0.08 apart in cosine distance, the same pitch."""
    rng = np.random.default_rng(100 + count)
    first = direction(rng)
    second = near(rng, first, 0.08)
    a = voice_units(rng, first, count)
    b = voice_units(rng, second, count)
    vectors, seconds, pitch = stack(a, b)
    labels = cluster(vectors, seconds, params=ClusterParams(), pitch=pitch)
    assert len(set(labels[:count].tolist())) == 1
    assert len(set(labels[count:].tolist())) == 1
    assert labels[0] != labels[count]


def test_a_twin_voice_is_told_apart_by_its_pitch() -> None:
    """Same d-vector direction (one espeak voice), pitch a tenth higher: two speakers."""
    rng = np.random.default_rng(7)
    centre = direction(rng)
    low = voice_units(rng, centre, 20, pitch=np.log(100.0))
    high = voice_units(rng, centre, 20, pitch=np.log(112.0))
    labels = cluster(*stack(low, high)[:2], params=ClusterParams(), pitch=stack(low, high)[2])
    assert len(set(labels.tolist())) == 2
    assert len(set(labels[:20].tolist())) == 1
    # without the pitch they would be one voice
    flat = cluster(*stack(low, high)[:2], params=ClusterParams(pitch_weight=0.0))
    assert len(set(flat.tolist())) == 1


def test_hints_set_the_count_and_an_exact_count_wins() -> None:
    rng = np.random.default_rng(11)
    centres = [direction(rng) for _ in range(3)]
    vectors, seconds, pitch = stack(*(voice_units(rng, c, 12) for c in centres))
    params = ClusterParams()
    assert len(set(cluster(vectors, seconds, params=params, pitch=pitch).tolist())) == 3
    capped = cluster(vectors, seconds, params=params, pitch=pitch, max_speakers=2)
    assert len(set(capped.tolist())) == 2
    exact = cluster(vectors, seconds, params=params, pitch=pitch, num_speakers=3, max_speakers=1)
    assert len(set(exact.tolist())) == 3
    one = cluster(vectors, seconds, params=params, pitch=pitch, num_speakers=1)
    assert set(one.tolist()) == {0}


def harmonic(f0: float, seconds: float = 1.0, weights: tuple[float, ...] = (1.0,)) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(w * np.sin(2 * np.pi * f0 * (h + 1) * t) for h, w in enumerate(weights))
    result: np.ndarray = (0.3 * tone / np.max(np.abs(tone))).astype(np.float32)
    return result


@pytest.mark.parametrize("f0", [85.0, 110.0, 180.0, 260.0])
def test_pitch_of_a_voice_like_tone(f0: float) -> None:
    # strong second and third harmonics, as in a low voice: an autocorrelation peak
    # picker reads these an octave (or more) too high
    audio = harmonic(f0, weights=(0.3, 1.0, 0.8, 0.4, 0.2))
    pitch = frame_pitch(audio)
    assert np.isfinite(pitch).mean() > 0.9
    assert abs(np.exp(np.nanmedian(pitch)) / f0 - 1) < 0.03


def test_noise_and_silence_have_no_pitch() -> None:
    rng = np.random.default_rng(2)
    assert not np.isfinite(frame_pitch(np.zeros(RATE, dtype=np.float32))).any()
    noise = (0.3 * rng.standard_normal(RATE)).astype(np.float32)
    assert np.isfinite(frame_pitch(noise)).mean() < 0.1
    assert frame_pitch(np.zeros(100, dtype=np.float32)).size == 0
