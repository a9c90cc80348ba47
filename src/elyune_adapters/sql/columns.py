"""The forms entities take in the database's JSON columns, and back.

These belong to the stored schema: changing one needs a migration (or a reader that
accepts the older form, as ``words_from_rows`` does). What the API and the CLI print is
a separate form (:mod:`elyune_http.present`), free to change without touching what is
stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elyune_core.entities import (
    ActionItem,
    ActionItems,
    AnalysisContent,
    AnalysisKind,
    KeyPoint,
    KeyPoints,
    MediaInfo,
    Sentiment,
    SentimentLabel,
    SpeakerSentiment,
    Summary,
    Word,
)

JSON = dict[str, Any]


def media_to_column(media: MediaInfo) -> JSON:
    """The ``recordings.media`` JSON column of *media*."""
    return {
        "duration": media.duration,
        "format_name": media.format_name,
        "has_video": media.has_video,
        "has_audio": media.has_audio,
        "video_codec": media.video_codec,
        "audio_codec": media.audio_codec,
        "width": media.width,
        "height": media.height,
        "fps": media.fps,
        "sample_rate": media.sample_rate,
        "channels": media.channels,
        "size": media.size,
    }


def media_from_column(data: Mapping[str, Any]) -> MediaInfo:
    """Inverse of :func:`media_to_column`."""
    return MediaInfo(
        duration=float(data["duration"]),
        format_name=str(data.get("format_name") or ""),
        has_video=bool(data.get("has_video")),
        has_audio=bool(data.get("has_audio")),
        video_codec=data.get("video_codec"),
        audio_codec=data.get("audio_codec"),
        width=data.get("width"),
        height=data.get("height"),
        fps=data.get("fps"),
        sample_rate=data.get("sample_rate"),
        channels=data.get("channels"),
        size=data.get("size"),
    )


def words_to_rows(words: tuple[Word, ...]) -> list[list[Any]]:
    """Compact rows ``[text, start, end, confidence, speaker, punctuated, speaker
    confidence]`` of *words* (the last only when known, so older rows stay as they were)."""
    return [
        [w.text, w.start, w.end, w.confidence, w.speaker, w.punctuated]
        + ([w.speaker_confidence] if w.speaker_confidence is not None else [])
        for w in words
    ]


def words_from_rows(rows: list[list[Any]]) -> tuple[Word, ...]:
    """Inverse of :func:`words_to_rows`."""
    return tuple(
        Word(
            text=r[0],
            start=r[1],
            end=r[2],
            confidence=r[3],
            speaker=r[4],
            punctuated=r[5] if len(r) > 5 else None,
            speaker_confidence=r[6] if len(r) > 6 else None,
        )
        for r in rows
    )


def content_to_column(content: AnalysisContent) -> JSON:
    """The ``analyses.content`` JSON column of an analysis' content."""
    if isinstance(content, Summary):
        return {"title": content.title, "text": content.text}
    if isinstance(content, ActionItems):
        return {
            "items": [
                {
                    "text": i.text,
                    "timestamp": i.timestamp,
                    "segment_id": i.segment_id,
                    "speaker": i.speaker,
                    "owner": i.owner,
                    "due": i.due,
                }
                for i in content.items
            ]
        }
    if isinstance(content, KeyPoints):
        return {
            "items": [
                {"text": p.text, "timestamp": p.timestamp, "segment_id": p.segment_id}
                for p in content.items
            ]
        }
    return {
        "label": content.label.value,
        "score": content.score,
        "explanation": content.explanation,
        "speakers": [
            {"speaker": s.speaker, "label": s.label.value, "score": s.score}
            for s in content.speakers
        ],
    }


def content_from_column(kind: AnalysisKind, data: Mapping[str, Any]) -> AnalysisContent:
    """Inverse of :func:`content_to_column` for an analysis of *kind*."""
    if kind is AnalysisKind.SUMMARY:
        return Summary(title=str(data["title"]), text=str(data["text"]))
    if kind is AnalysisKind.ACTION_ITEMS:
        return ActionItems(
            tuple(
                ActionItem(
                    text=str(i["text"]),
                    timestamp=i.get("timestamp"),
                    segment_id=i.get("segment_id"),
                    speaker=i.get("speaker"),
                    owner=i.get("owner"),
                    due=i.get("due"),
                )
                for i in data.get("items", [])
            )
        )
    if kind is AnalysisKind.KEY_POINTS:
        return KeyPoints(
            tuple(
                KeyPoint(
                    text=str(p["text"]),
                    timestamp=p.get("timestamp"),
                    segment_id=p.get("segment_id"),
                )
                for p in data.get("items", [])
            )
        )
    return Sentiment(
        label=SentimentLabel(data["label"]),
        score=float(data["score"]),
        explanation=str(data.get("explanation", "")),
        speakers=tuple(
            SpeakerSentiment(
                speaker=str(s["speaker"]), label=SentimentLabel(s["label"]), score=float(s["score"])
            )
            for s in data.get("speakers", [])
        ),
    )


__all__ = [
    "content_from_column",
    "content_to_column",
    "media_from_column",
    "media_to_column",
    "words_from_rows",
    "words_to_rows",
]
