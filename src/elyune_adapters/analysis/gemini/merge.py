"""Merging the analyses of a transcript's parts: de-duplicated items, weighted sentiment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elyune_adapters.analysis.gemini.parts import _Part
from elyune_adapters.analysis.gemini.text import _words
from elyune_core.entities import (
    Sentiment,
    SentimentLabel,
    SpeakerSentiment,
)


def _dedupe(items: Sequence[Any]) -> tuple[Any, ...]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = " ".join(_words(item.text.casefold()))
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return tuple(kept)


def _merge_sentiments(sentiments: Sequence[Sentiment], parts: Sequence[_Part]) -> Sentiment:
    """Average *sentiments* of consecutive *parts*, weighted by how much was said."""
    weights = [part.weight for part in parts]
    total = sum(weights)
    score = sum(s.score * w for s, w in zip(sentiments, weights, strict=True)) / total
    label_weight: dict[SentimentLabel, float] = {}
    for sentiment, weight in zip(sentiments, weights, strict=True):
        label_weight[sentiment.label] = label_weight.get(sentiment.label, 0.0) + weight
    positive = label_weight.get(SentimentLabel.POSITIVE, 0.0) / total
    negative = label_weight.get(SentimentLabel.NEGATIVE, 0.0) / total
    if positive >= 0.2 and negative >= 0.2:
        label = SentimentLabel.MIXED
    else:
        label = max(label_weight, key=lambda key: label_weight[key])
    heaviest = max(
        (pair for pair in zip(sentiments, weights, strict=True) if pair[0].label is label),
        key=lambda pair: pair[1],
        default=max(zip(sentiments, weights, strict=True), key=lambda pair: pair[1]),
    )
    speakers: dict[str, list[tuple[SpeakerSentiment, float]]] = {}
    for sentiment, part in zip(sentiments, parts, strict=True):
        for entry in sentiment.speakers:
            weight = part.speaker_weight(entry.speaker) or part.weight
            speakers.setdefault(entry.speaker, []).append((entry, weight))
    merged_speakers = []
    for speaker, entries in speakers.items():
        speaker_total = sum(w for _, w in entries)
        speaker_score = sum(e.score * w for e, w in entries) / speaker_total
        by_label: dict[SentimentLabel, float] = {}
        for entry, share in entries:
            by_label[entry.label] = by_label.get(entry.label, 0.0) + share
        merged_speakers.append(
            SpeakerSentiment(
                speaker,
                max(by_label, key=lambda key: by_label[key]),
                round(speaker_score, 4),
            )
        )
    return Sentiment(
        label=label,
        score=round(score, 4),
        speakers=tuple(merged_speakers),
        explanation=heaviest[0].explanation,
    )
