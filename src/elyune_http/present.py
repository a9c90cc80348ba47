"""JSON forms of what the API returns (on top of the core's plain forms)."""

from __future__ import annotations

from typing import Any

from elyune_core import FileKind, Recording, RecordingDetails
from elyune_core.codec import (
    analysis_to_dict,
    file_to_dict,
    job_to_dict,
    recording_to_dict,
    transcript_to_dict,
)
from elyune_core.ports import Page
from elyune_core.use_cases import RequestUploadResult

JSON = dict[str, Any]


def recording_summary(recording: Recording) -> JSON:
    """A recording in a listing: its fields and files, no URLs."""
    return recording_to_dict(recording)


def recording_detail(data: RecordingDetails) -> JSON:
    """A recording with download URLs, its job, transcript and analyses."""
    recording = data.recording
    body = recording_to_dict(recording)
    body["files"] = [{**file_to_dict(f), "url": data.urls.get(f.kind)} for f in recording.files]
    body["video_url"] = data.urls.get(FileKind.VIDEO)
    body["audio_url"] = data.urls.get(FileKind.AUDIO)
    body["thumbnail_url"] = data.urls.get(FileKind.THUMBNAIL)
    body["job"] = None if data.job is None else job_to_dict(data.job)
    body["transcript"] = (
        None
        if data.transcript is None
        else transcript_to_dict(
            data.transcript,
            recording.speaker_names,
            words=False,
            speaker_matches=recording.speaker_matches,
        )
    )
    names = recording.speaker_names
    body["analyses"] = {a.kind.value: analysis_to_dict(a, names) for a in data.analyses}
    body["usage"] = usage(data)
    return body


def usage(data: RecordingDetails) -> JSON:
    """Audio minutes transcribed and tokens used for a recording."""
    transcript = data.transcript
    seconds = None if transcript is None else transcript.audio_seconds
    return {
        "audio_minutes": None if seconds is None else round(seconds / 60, 3),
        "transcription_engine": None if transcript is None else transcript.engine,
        "input_tokens": sum(a.input_tokens or 0 for a in data.analyses),
        "output_tokens": sum(a.output_tokens or 0 for a in data.analyses),
    }


def upload_response(result: RequestUploadResult) -> JSON:
    """What ``request-upload`` answers: where and how to upload."""
    recording = result.recording
    return {
        "recording_id": recording.id,
        "upload_url": result.upload_url,
        "upload_method": "PUT",
        "upload_headers": {"Content-Type": result.content_type},
        "upload_post": {"url": result.upload_post.url, "fields": dict(result.upload_post.fields)},
        "s3_key": recording.source_key,
        "expires_in": result.expires_in,
        "max_size": recording.file_size,
        "recording": recording_summary(recording),
    }


def page_body(page: Page[Recording], previous: str | None, following: str | None) -> JSON:
    """A DRF-style page: ``{count, next, previous, results}``."""
    return {
        "count": page.total,
        "next": following,
        "previous": previous,
        "results": [recording_summary(r) for r in page.items],
    }
