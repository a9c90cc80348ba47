"""Matching the speakers of a recording against a user's voice profiles (pure functions).

A speaker's voice and a profile are L2-normed speaker embeddings (256 floats from the
voice encoder); their cosine similarity says how alike the voices are.

``MATCH_THRESHOLD`` and the confidence curve were calibrated by
``bench/voice_profiles.py`` on generated voices (espeak-ng voices at several pitches and
speeds, three recordings of 6 to 30 s per person): ``match_confidence`` is a logistic fit
of same person / other person on the similarity, on the development set, and the
threshold is the centre of that curve rounded up to 0.01 (from there a match is more
likely right than wrong). The test set (other voices) is measured with it in
``docs/benchmarks.md`` (section "Voice profiles"). Real voices recorded through other
microphones may score lower than these synthetic ones: deployments can lower the
threshold with ``VOICE_MATCH_THRESHOLD``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from elyune_core.entities import SpeakerMatch, SpeakerVoice, VoiceProfile
from elyune_core.ids import VoiceProfileId

#: Cosine similarity from which a speaker is taken for a profile's voice.
MATCH_THRESHOLD = 0.95
#: A speaker with less speech than this is not matched (too little to judge a voice),
#: and gives a profile nothing.
MIN_VOICE_SECONDS = 2.0
#: Centre and slope of the logistic confidence curve (fitted on the development set).
CONFIDENCE_CENTRE = 0.948
CONFIDENCE_SLOPE = 403.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of *a* and *b* (0 when either is empty, zero or of another size)."""
    if not a or len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm > 0 else 0.0


def match_confidence(similarity: float) -> float:
    """How likely a speaker with *similarity* to a profile is that person (0 to 1)."""
    exponent = -CONFIDENCE_SLOPE * (similarity - CONFIDENCE_CENTRE)
    return 1.0 / (1.0 + math.exp(min(exponent, 700.0)))


def match_speakers(
    voices: Sequence[SpeakerVoice],
    profiles: Sequence[VoiceProfile],
    *,
    skip_labels: Collection[str] = (),
    skip_profiles: Collection[VoiceProfileId] = (),
    threshold: float = MATCH_THRESHOLD,
) -> Mapping[str, SpeakerMatch]:
    """The profile each speaker of *voices* is recognised as, by label.

    A speaker matches a profile when their cosine similarity is at least *threshold* and
    the speaker has ``MIN_VOICE_SECONDS`` of speech. Each speaker gets at most one profile
    and each profile at most one speaker: pairs are taken best first. Speakers in
    *skip_labels* (named by hand) and profiles in *skip_profiles* (already someone's in
    this recording) are left out. *profiles* must all be the recording owner's.
    """
    pairs: list[tuple[float, str, VoiceProfile]] = []
    for voice in voices:
        if voice.label in skip_labels or voice.seconds < MIN_VOICE_SECONDS:
            continue
        for profile in profiles:
            if profile.id in skip_profiles:
                continue
            similarity = cosine(voice.embedding, profile.embedding)
            if similarity >= threshold:
                pairs.append((similarity, voice.label, profile))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2].id))
    matches: dict[str, SpeakerMatch] = {}
    taken: set[VoiceProfileId] = set()
    for similarity, label, profile in pairs:
        if label in matches or profile.id in taken:
            continue
        taken.add(profile.id)
        matches[label] = SpeakerMatch(
            profile_id=profile.id,
            name=profile.name,
            similarity=round(similarity, 4),
            confidence=round(match_confidence(similarity), 3),
        )
    return matches


def name_key(name: str) -> str:
    """What makes two profile names the same name: case and spacing do not count."""
    return " ".join(name.split()).casefold()


__all__ = [
    "CONFIDENCE_CENTRE",
    "CONFIDENCE_SLOPE",
    "MATCH_THRESHOLD",
    "MIN_VOICE_SECONDS",
    "cosine",
    "match_confidence",
    "match_speakers",
    "name_key",
]
