"""Transcript exports: SubRip (SRT), WebVTT, plain text and JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from elyune_core.entities import Segment, Transcript, Word, speaker_display

JSON = dict[str, Any]


class TranscriptFormat(StrEnum):
    """Export formats of a transcript."""

    JSON = "json"
    SRT = "srt"
    VTT = "vtt"
    TXT = "txt"


CONTENT_TYPES: Mapping[TranscriptFormat, str] = {
    TranscriptFormat.JSON: "application/json",
    TranscriptFormat.SRT: "application/x-subrip",
    TranscriptFormat.VTT: "text/vtt",
    TranscriptFormat.TXT: "text/plain",
}


def timestamp(seconds: float, separator: str = ".", hours: bool = True) -> str:
    """Format *seconds* as ``HH:MM:SS.mmm`` (``,`` as *separator* for SRT)."""
    millis = max(round(seconds * 1000), 0)
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    if hours or h:
        return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"
    return f"{m:02d}:{s:02d}{separator}{ms:03d}"


def clock(seconds: float) -> str:
    """Format *seconds* as ``M:SS`` or ``H:MM:SS`` for people."""
    total = max(int(seconds), 0)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def segment_to_dict(segment: Segment) -> JSON:
    """The JSON form of *segment* (the export's and the API's)."""
    return {
        "id": segment.id,
        "start": segment.start,
        "end": segment.end,
        "speaker": segment.speaker,
        "text": segment.text,
        "confidence": segment.confidence,
    }


def word_to_dict(word: Word) -> JSON:
    """The JSON form of *word* (the export's and the API's)."""
    return {
        "word": word.text,
        "punctuated_word": word.punctuated or word.text,
        "start": word.start,
        "end": word.end,
        "confidence": word.confidence,
        "speaker": word.speaker,
        "speaker_confidence": word.speaker_confidence,
    }


def export(
    transcript: Transcript,
    fmt: TranscriptFormat,
    speaker_names: Mapping[str, str] | None = None,
) -> str:
    """Render *transcript* in *fmt*, with speakers named from *speaker_names*."""
    names = dict(speaker_names or {})

    def speaker(segment: Segment) -> str | None:
        if segment.speaker is None:
            return None
        return speaker_display(segment.speaker, names)

    if fmt is TranscriptFormat.JSON:
        body = {
            "language": transcript.language,
            "language_confidence": transcript.language_confidence,
            "engine": transcript.engine,
            "duration": transcript.duration,
            "speaker_count": transcript.speaker_count,
            "text": transcript.text,
            "segments": [
                {**segment_to_dict(s), "speaker_name": speaker(s)} for s in transcript.segments
            ],
            "words": [word_to_dict(w) for w in transcript.words],
        }
        return json.dumps(body, ensure_ascii=False, indent=2)
    lines: list[str] = []
    if fmt is TranscriptFormat.VTT:
        lines.append("WEBVTT")
        lines.append("")
    for index, segment in enumerate(transcript.segments, start=1):
        who = speaker(segment)
        text = segment.text.strip()
        if fmt is TranscriptFormat.TXT:
            prefix = f"[{clock(segment.start)}] "
            lines.append(f"{prefix}{who}: {text}" if who else f"{prefix}{text}")
            continue
        if fmt is TranscriptFormat.SRT:
            lines.append(str(index))
            lines.append(f"{timestamp(segment.start, ',')} --> {timestamp(segment.end, ',')}")
            lines.append(f"{who}: {text}" if who else text)
        else:
            lines.append(f"{timestamp(segment.start)} --> {timestamp(segment.end)}")
            lines.append(f"<v {who}>{text}" if who else text)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


__all__ = [
    "CONTENT_TYPES",
    "TranscriptFormat",
    "clock",
    "export",
    "segment_to_dict",
    "timestamp",
    "word_to_dict",
]
