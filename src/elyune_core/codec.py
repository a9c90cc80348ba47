"""Plain-data (JSON-ready) forms of the entities, and back.

Used by the SQL adapter (JSON columns), the HTTP API and the CLI's ``--json``; the
entities themselves know nothing of serialization.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from elyune_core.entities import (
    ActionItem,
    ActionItems,
    Analysis,
    AnalysisContent,
    AnalysisKind,
    Job,
    KeyPoint,
    KeyPoints,
    MediaInfo,
    Recording,
    Segment,
    Sentiment,
    SentimentLabel,
    SpeakerMatch,
    SpeakerSentiment,
    Step,
    StoredFile,
    Summary,
    Transcript,
    VoiceProfile,
    Word,
)
from elyune_core.ids import VoiceProfileId
from elyune_core.pipeline import STEP_TITLES, progress

JSON = dict[str, Any]


def media_to_dict(media: MediaInfo) -> JSON:
    """Plain form of *media*."""
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


def media_from_dict(data: Mapping[str, Any]) -> MediaInfo:
    """Inverse of :func:`media_to_dict`."""
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


def segment_to_dict(segment: Segment) -> JSON:
    """Plain form of *segment*."""
    return {
        "id": segment.id,
        "start": segment.start,
        "end": segment.end,
        "speaker": segment.speaker,
        "text": segment.text,
        "confidence": segment.confidence,
    }


def segment_from_dict(data: Mapping[str, Any]) -> Segment:
    """Inverse of :func:`segment_to_dict`."""
    return Segment(
        id=int(data["id"]),
        start=float(data["start"]),
        end=float(data["end"]),
        text=str(data["text"]),
        speaker=None if data.get("speaker") is None else str(data["speaker"]),
        confidence=data.get("confidence"),
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


def word_to_dict(word: Word) -> JSON:
    """Plain form of *word*."""
    return {
        "word": word.text,
        "punctuated_word": word.punctuated or word.text,
        "start": word.start,
        "end": word.end,
        "confidence": word.confidence,
        "speaker": word.speaker,
        "speaker_confidence": word.speaker_confidence,
    }


def content_to_dict(content: AnalysisContent) -> JSON:
    """Plain form of an analysis' content."""
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


def content_from_dict(kind: AnalysisKind, data: Mapping[str, Any]) -> AnalysisContent:
    """Inverse of :func:`content_to_dict` for an analysis of *kind*."""
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


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def file_to_dict(stored: StoredFile) -> JSON:
    """Plain form of a stored file (without any URL)."""
    return {
        "kind": stored.kind.value,
        "key": stored.key,
        "size": stored.size,
        "content_type": stored.content_type,
        "width": stored.width,
        "height": stored.height,
    }


def speaker_matches_to_dict(matches: Mapping[str, SpeakerMatch]) -> JSON:
    """Plain form of a recording's voice-profile matches, by speaker label (stored as is
    by the SQL adapter; shown with ``"source": "auto"`` by :func:`recording_to_dict`)."""
    return {
        label: {
            "profile_id": m.profile_id,
            "name": m.name,
            "similarity": m.similarity,
            "confidence": m.confidence,
        }
        for label, m in matches.items()
    }


def speaker_matches_view(matches: Mapping[str, SpeakerMatch]) -> JSON:
    """The matches as the API and the CLI show them: each with ``"source": "auto"``."""
    return {label: {**m, "source": "auto"} for label, m in speaker_matches_to_dict(matches).items()}


def speaker_matches_from_dict(data: Mapping[str, Any] | None) -> dict[str, SpeakerMatch]:
    """The matches of :func:`speaker_matches_to_dict`'s plain form."""
    return {
        str(label): SpeakerMatch(
            profile_id=VoiceProfileId(m["profile_id"]),
            name=m["name"],
            similarity=float(m["similarity"]),
            confidence=float(m["confidence"]),
        )
        for label, m in (data or {}).items()
    }


def voice_profile_to_dict(profile: VoiceProfile) -> JSON:
    """Plain form of a voice profile (without its embedding)."""
    return {
        "id": profile.id,
        "name": profile.name,
        "seconds": profile.seconds,
        "recordings": len(profile.recording_ids),
        "created_at": _time(profile.created_at),
        "updated_at": _time(profile.updated_at),
    }


def recording_to_dict(recording: Recording) -> JSON:
    """Plain form of *recording* (files without URLs)."""
    return {
        "id": recording.id,
        "title": recording.title,
        "description": recording.description,
        "filename": recording.filename,
        "status": recording.status.value,
        "error": recording.error,
        "file_size": recording.file_size,
        "quality": recording.quality,
        "fps": recording.fps,
        "has_system_audio": recording.has_system_audio,
        "has_microphone": recording.has_microphone,
        "language": recording.language,
        "duration": recording.duration,
        "media": None if recording.media is None else media_to_dict(recording.media),
        "speaker_names": dict(recording.speaker_names),
        "speaker_matches": speaker_matches_view(recording.speaker_matches),
        "num_speakers": recording.num_speakers,
        "max_speakers": recording.max_speakers,
        "s3_key": recording.source_key,
        "files": [file_to_dict(f) for f in recording.files],
        "created_at": _time(recording.created_at),
        "updated_at": _time(recording.updated_at),
    }


def step_to_dict(step: Step) -> JSON:
    """Plain form of a job step."""
    return {
        "name": step.name.value,
        "title": STEP_TITLES[step.name],
        "status": step.status.value,
        "attempts": step.attempts,
        "progress": None if step.progress is None else round(step.progress * 100, 1),
        "started_at": _time(step.started_at),
        "finished_at": _time(step.finished_at),
        "duration": None if step.duration is None else round(step.duration, 3),
        "error": step.error,
        "worker": step.worker,
        "retry_at": _time(step.retry_at),
        "output": dict(step.output),
    }


def job_to_dict(job: Job) -> JSON:
    """Plain form of a job with its steps and overall progress."""
    return {
        "id": job.id,
        "recording_id": job.recording_id,
        "status": job.status.value,
        "progress": progress(job),
        "error": job.error,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "steps": [step_to_dict(s) for s in job.steps],
    }


def transcript_to_dict(
    transcript: Transcript,
    speaker_names: Mapping[str, str] | None = None,
    words: bool = True,
    speaker_matches: Mapping[str, SpeakerMatch] | None = None,
) -> JSON:
    """Plain form of *transcript*, speakers named from *speaker_names*; each of its
    ``speakers`` says where its name came from (``source``: ``manual``, ``auto`` for a
    voice profile's match in *speaker_matches*, with ``profile_id`` and ``confidence``, or
    ``null`` when unnamed)."""
    names = dict(speaker_names or {})
    matches = dict(speaker_matches or {})

    def speaker(label: str) -> JSON:
        match = matches.get(label)
        return {
            "label": label,
            "name": name(label),
            "source": "auto" if match else "manual" if label in names else None,
            "profile_id": match.profile_id if match else None,
            "confidence": match.confidence if match else None,
        }

    def name(label: str | None) -> str | None:
        return None if label is None else names.get(label) or f"Speaker {label}"

    body: JSON = {
        "text": transcript.text,
        "language": transcript.language,
        "language_confidence": transcript.language_confidence,
        "engine": transcript.engine,
        "duration": transcript.duration,
        "speaker_count": transcript.speaker_count,
        "speakers": [speaker(s) for s in transcript.speakers],
        "request_id": transcript.request_id,
        "audio_seconds": transcript.audio_seconds,
        "created_at": _time(transcript.created_at),
        "segments": [
            {**segment_to_dict(s), "speaker_name": name(s.speaker)} for s in transcript.segments
        ],
    }
    if words:
        body["words"] = [word_to_dict(w) for w in transcript.words]
    return body


def analysis_to_dict(analysis: Analysis, speaker_names: Mapping[str, str] | None = None) -> JSON:
    """Plain form of one analysis; speaker labels get their names from *speaker_names*
    (``speaker_name`` on action items, ``name`` on per-speaker sentiment)."""
    content = None if analysis.content is None else content_to_dict(analysis.content)
    if content is not None and speaker_names is not None:
        names = dict(speaker_names)

        def name(label: object) -> object:
            if not isinstance(label, str):
                return None
            return names.get(label) or (f"Speaker {label}" if label.isdigit() else label)

        for item in content.get("items", []):
            if "speaker" in item:
                item["speaker_name"] = name(item["speaker"])
            owner = item.get("owner")
            label = owner[8:] if isinstance(owner, str) and owner.startswith("Speaker ") else owner
            if label in names:  # a label, or "Speaker N", named since
                item["owner"] = names[label]
        for speaker in content.get("speakers", []):
            speaker["name"] = name(speaker["speaker"])
    return {
        "kind": analysis.kind.value,
        "status": analysis.status.value,
        "engine": analysis.engine,
        "content": content,
        "error": analysis.error,
        "input_tokens": analysis.input_tokens,
        "output_tokens": analysis.output_tokens,
        "created_at": _time(analysis.created_at),
        "updated_at": _time(analysis.updated_at),
    }


__all__ = [
    "analysis_to_dict",
    "content_from_dict",
    "content_to_dict",
    "file_to_dict",
    "job_to_dict",
    "media_from_dict",
    "media_to_dict",
    "recording_to_dict",
    "segment_from_dict",
    "segment_to_dict",
    "speaker_matches_from_dict",
    "speaker_matches_to_dict",
    "speaker_matches_view",
    "step_to_dict",
    "transcript_to_dict",
    "voice_profile_to_dict",
    "word_to_dict",
    "words_from_rows",
    "words_to_rows",
]
