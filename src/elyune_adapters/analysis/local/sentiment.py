"""Sentiment: VADER scores per sentence, overall and per speaker."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from elyune_adapters.analysis.local.sentences import Sentence, tokens
from elyune_adapters.analysis.local.summary import _shorten, _speaker_name
from elyune_adapters.analysis.local.vocabulary import STOPWORDS
from elyune_core.entities import (
    Sentiment,
    SentimentLabel,
    SpeakerSentiment,
    Transcript,
)

STRONG = 0.5


NEUTRAL_BAND = 0.05


def _label(scores: Sequence[float], weights: Sequence[float]) -> tuple[SentimentLabel, float]:
    if not scores:
        return SentimentLabel.NEUTRAL, 0.0
    total = sum(weights) or 1.0
    score = sum(s * w for s, w in zip(scores, weights, strict=True)) / total
    positive = sum(s * w for s, w in zip(scores, weights, strict=True) if s > 0)
    negative = -sum(s * w for s, w in zip(scores, weights, strict=True) if s < 0)
    strong_both = max(scores) >= STRONG and min(scores) <= -STRONG
    if strong_both and min(positive, negative) >= 0.33 * max(positive, negative):
        return SentimentLabel.MIXED, round(score, 4)
    if score >= NEUTRAL_BAND:
        return SentimentLabel.POSITIVE, round(score, 4)
    if score <= -NEUTRAL_BAND:
        return SentimentLabel.NEGATIVE, round(score, 4)
    return SentimentLabel.NEUTRAL, round(score, 4)


def looks_english(transcript: Transcript) -> bool:
    """Whether *transcript* is English: its language, or else its share of stopwords."""
    if transcript.language:
        return transcript.language.lower().split("-")[0] in ("en", "eng", "english")
    words = tokens(transcript.text)
    return not words or sum(w in STOPWORDS for w in words) / len(words) >= 0.2


def sentiment(
    sentences: Sequence[Sentence],
    transcript: Transcript,
    names: Mapping[str, str],
    polarity: Callable[[str], float],
) -> Sentiment:
    """Overall and per-speaker tone from VADER scores of each sentence (English only)."""
    if not sentences:
        return Sentiment(
            label=SentimentLabel.NEUTRAL, score=0.0, explanation="There is no speech to judge."
        )
    if not looks_english(transcript):
        language = transcript.language or "not English"
        return Sentiment(
            label=SentimentLabel.NEUTRAL,
            score=0.0,
            explanation=(
                "The local engine judges tone in English only and this transcript's "
                f"language is {language}, so it is reported as neutral."
            ),
        )
    scores = [polarity(s.text) for s in sentences]
    weights = [float(max(1, len(tokens(s.text)))) for s in sentences]
    label, score = _label(scores, weights)
    per_speaker: list[SpeakerSentiment] = []
    for speaker in transcript.speakers:
        own = [
            (sc, w)
            for s, sc, w in zip(sentences, scores, weights, strict=True)
            if s.speaker == speaker
        ]
        if own:
            own_label, own_score = _label([o[0] for o in own], [o[1] for o in own])
            per_speaker.append(SpeakerSentiment(speaker=speaker, label=own_label, score=own_score))
    return Sentiment(
        label=label,
        score=max(-1.0, min(1.0, score)),
        speakers=tuple(per_speaker),
        explanation=_explain(label, sentences, scores, per_speaker, names),
    )


def _explain(
    label: SentimentLabel,
    sentences: Sequence[Sentence],
    scores: Sequence[float],
    speakers: Sequence[SpeakerSentiment],
    names: Mapping[str, str],
) -> str:
    positive = sum(s >= NEUTRAL_BAND for s in scores)
    negative = sum(s <= -NEUTRAL_BAND for s in scores)
    total = len(scores)
    best = _shorten(sentences[int(np.argmax(scores))].text.rstrip(".!?"), 60)
    worst = _shorten(sentences[int(np.argmin(scores))].text.rstrip(".!?"), 60)
    counts = f"{positive} of {total} sentences sound positive and {negative} negative"
    if label is SentimentLabel.MIXED:
        text = f"Mixed: strong praise (“{best}”) meets strong criticism (“{worst}”); {counts}"
    elif label is SentimentLabel.POSITIVE:
        text = f"Mostly positive: {counts}, for example “{best}”"
    elif label is SentimentLabel.NEGATIVE:
        text = f"Mostly negative: {counts}, for example “{worst}”"
    else:
        text = f"Mostly neutral: {counts}"
    differing = [s for s in speakers if s.label is not label]
    if len(speakers) > 1 and differing:
        who = ", ".join(f"{_speaker_name(s.speaker, names)} {s.label.value}" for s in differing)
        text += f" ({who})"
    return text + "."
