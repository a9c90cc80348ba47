"""What the API answers and the CLI's ``--json`` prints: the one wire form of each entity.

Both entry points build their JSON here, so a recording looks the same to the extension,
to a script reading ``elyune recordings show --json`` and to the web app. The database
keeps its own forms (:mod:`elyune_adapters.sql.columns`): changing what is shown here
changes nothing stored. ``tests/http/test_presenters.py`` checks every form field by
field against the OpenAPI document's schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elyune_core import (
    STEP_TITLES,
    Answer,
    Citation,
    FileKind,
    Recording,
    RecordingDetails,
    SearchHit,
    progress,
    segment_to_dict,
    word_to_dict,
)
from elyune_core.entities import (
    ActionItems,
    Analysis,
    AnalysisContent,
    Job,
    KeyPoints,
    MediaInfo,
    SpeakerMatch,
    Step,
    StoredFile,
    Summary,
    Transcript,
    User,
    VoiceProfile,
    WebhookDelivery,
    WebhookEndpoint,
    iso_time,
    speaker_display,
)
from elyune_core.ports import Page
from elyune_core.use_cases import (
    DeclareChunksResult,
    FinishLiveUploadResult,
    LiveUploadStatus,
    RequestLiveUploadResult,
    RequestUploadResult,
)

JSON = dict[str, Any]


def media_to_dict(media: MediaInfo) -> JSON:
    """The JSON form of *media*."""
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


def content_to_dict(content: AnalysisContent) -> JSON:
    """The JSON form of an analysis' content."""
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


def file_to_dict(stored: StoredFile) -> JSON:
    """The JSON form of a stored file (without any URL)."""
    return {
        "kind": stored.kind.value,
        "key": stored.key,
        "size": stored.size,
        "content_type": stored.content_type,
        "width": stored.width,
        "height": stored.height,
    }


def recording_to_dict(recording: Recording) -> JSON:
    """The JSON form of *recording* (files without URLs)."""
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
        "speaker_matches": speaker_matches_to_dict(recording.speaker_matches),
        "num_speakers": recording.num_speakers,
        "max_speakers": recording.max_speakers,
        "s3_key": recording.source_key,
        "files": [file_to_dict(f) for f in recording.files],
        "created_at": iso_time(recording.created_at),
        "updated_at": iso_time(recording.updated_at),
    }


def speaker_matches_to_dict(matches: Mapping[str, SpeakerMatch]) -> JSON:
    """The JSON form of a recording's voice-profile matches, by speaker label."""
    return {
        label: {
            "profile_id": m.profile_id,
            "name": m.name,
            "similarity": m.similarity,
            "confidence": m.confidence,
            "source": "auto",
        }
        for label, m in matches.items()
    }


def speaker_names_to_dict(recording: Recording) -> JSON:
    """What naming speakers answers: the names and which came from a voice profile."""
    return {
        "speaker_names": dict(recording.speaker_names),
        "speaker_matches": speaker_matches_to_dict(recording.speaker_matches),
    }


def voice_profile_to_dict(profile: VoiceProfile) -> JSON:
    """The JSON form of a voice profile (never its embedding)."""
    return {
        "id": profile.id,
        "name": profile.name,
        "seconds": profile.seconds,
        "recordings": len(profile.recording_ids),
        "created_at": iso_time(profile.created_at),
        "updated_at": iso_time(profile.updated_at),
    }


def account_to_dict(user: User, *, deleted_profiles: int | None = None) -> JSON:
    """The JSON form of the caller's account and settings (with *deleted_profiles*, how
    many voice profiles a change deleted)."""
    body: JSON = {
        "id": user.id,
        "username": user.username,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "created_at": iso_time(user.created_at),
        "voice_profiles": user.voice_profiles,
    }
    if deleted_profiles is not None:
        body["deleted_profiles"] = deleted_profiles
    return body


def step_to_dict(step: Step) -> JSON:
    """The JSON form of a job step."""
    return {
        "name": step.name.value,
        "title": STEP_TITLES[step.name],
        "status": step.status.value,
        "attempts": step.attempts,
        "progress": None if step.progress is None else round(step.progress * 100, 1),
        "started_at": iso_time(step.started_at),
        "finished_at": iso_time(step.finished_at),
        "duration": None if step.duration is None else round(step.duration, 3),
        "error": step.error,
        "worker": step.worker,
        "retry_at": iso_time(step.retry_at),
        "output": dict(step.output),
    }


def job_to_dict(job: Job) -> JSON:
    """The JSON form of a job with its steps and overall progress."""
    return {
        "id": job.id,
        "recording_id": job.recording_id,
        "status": job.status.value,
        "progress": progress(job),
        "error": job.error,
        "created_at": iso_time(job.created_at),
        "started_at": iso_time(job.started_at),
        "finished_at": iso_time(job.finished_at),
        "steps": [step_to_dict(s) for s in job.steps],
    }


def transcript_to_dict(
    transcript: Transcript,
    speaker_names: Mapping[str, str] | None = None,
    words: bool = True,
    speaker_matches: Mapping[str, SpeakerMatch] | None = None,
) -> JSON:
    """The JSON form of *transcript*, speakers named from *speaker_names*; each of its
    ``speakers`` says where its name came from (``source``: ``manual``, ``auto`` for a
    voice profile's match in *speaker_matches*, with ``profile_id`` and ``confidence``, or
    ``null`` when unnamed)."""
    names = dict(speaker_names or {})
    matches = dict(speaker_matches or {})

    def name(label: str | None) -> str | None:
        return None if label is None else speaker_display(label, names)

    def speaker(label: str) -> JSON:
        match = matches.get(label)
        return {
            "label": label,
            "name": name(label),
            "source": "auto" if match else "manual" if label in names else None,
            "profile_id": match.profile_id if match else None,
            "confidence": match.confidence if match else None,
        }

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
        "created_at": iso_time(transcript.created_at),
        "segments": [
            {**segment_to_dict(s), "speaker_name": name(s.speaker)} for s in transcript.segments
        ],
    }
    if words:
        body["words"] = [word_to_dict(w) for w in transcript.words]
    return body


def analysis_to_dict(analysis: Analysis, speaker_names: Mapping[str, str] | None = None) -> JSON:
    """The JSON form of one analysis; speaker labels get their names from *speaker_names*
    (``speaker_name`` on action items, ``name`` on per-speaker sentiment)."""
    content = None if analysis.content is None else content_to_dict(analysis.content)
    if content is not None and speaker_names is not None:
        names = dict(speaker_names)

        def name(label: object) -> object:
            if not isinstance(label, str):
                return None
            return speaker_display(label, names) if label.isdigit() else names.get(label) or label

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
        "created_at": iso_time(analysis.created_at),
        "updated_at": iso_time(analysis.updated_at),
    }


def recording_summary(recording: Recording) -> JSON:
    """A recording in a listing: its fields and files, no URLs."""
    return recording_to_dict(recording)


def recording_detail(data: RecordingDetails, *, words: bool = False) -> JSON:
    """A recording with download URLs, its job, transcript and analyses (the
    transcript's words too with *words*: the API serves them from ``/transcript/``)."""
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
            words=words,
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


def webhook_to_dict(endpoint: WebhookEndpoint, *, secret: bool = False) -> JSON:
    """A webhook endpoint; its secret only when *secret* (once, at creation)."""
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": [e.value for e in endpoint.events],
        "description": endpoint.description,
        "is_active": endpoint.is_active,
        "created_at": iso_time(endpoint.created_at),
    }
    if secret:
        body["secret"] = endpoint.secret
    return body


def delivery_to_dict(delivery: WebhookDelivery) -> JSON:
    """One delivery of a webhook event, with its attempts."""
    return {
        "id": delivery.id,
        "event": delivery.event.value,
        "status": delivery.status.value,
        "payload": dict(delivery.payload),
        "created_at": iso_time(delivery.created_at),
        "next_attempt_at": iso_time(delivery.next_attempt_at),
        "delivered_at": iso_time(delivery.delivered_at),
        "attempts": [
            {
                "at": iso_time(a.at),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in delivery.attempts
        ],
    }


# --------------------------------------------------------------------------- search


def _seconds(value: float) -> str:
    """*value* for a ``?t=`` parameter: plain digits, at most two decimals."""
    return f"{max(0.0, value):.2f}".rstrip("0").rstrip(".") or "0"


def search_hit_to_dict(hit: SearchHit) -> dict[str, Any]:
    """A search hit as the API (and the CLI's ``--json``) sends it; ``url`` opens the
    web app's recording page at its moment."""
    at = "" if hit.start is None else f"?t={_seconds(hit.start)}"
    return {
        "recording_id": hit.recording_id,
        "recording_title": hit.recording_title,
        "recording_created_at": hit.recording_created_at.isoformat().replace("+00:00", "Z"),
        "recording_status": hit.recording_status.value,
        "kind": hit.kind.value,
        "field": hit.field,
        "segment_id": hit.position if hit.kind.value == "segment" else None,
        "start": hit.start,
        "end": hit.end,
        "speaker": hit.speaker,
        "speaker_name": hit.speaker_name,
        "snippet": hit.snippet.text,
        "highlights": [list(span) for span in hit.snippet.highlights],
        "snippet_html": hit.snippet.html(),
        "score": hit.score,
        "url": f"/#/recordings/{hit.recording_id}{at}",
    }


def _citation(citation: Citation) -> dict[str, Any]:
    return {
        "recording_id": citation.recording_id,
        "segment_id": citation.segment_id,
        "start": citation.start,
        "end": citation.end,
        "speaker": citation.speaker,
        "speaker_name": citation.speaker_name,
        "quote": citation.quote,
        "url": f"/#/recordings/{citation.recording_id}?t={_seconds(citation.start)}",
    }


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """An answer as the API (and the CLI's ``--json``) sends it."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "kind": answer.kind.value,
        "engine": answer.engine,
        "recording_id": answer.recording_id,
        "citations": [_citation(c) for c in answer.citations],
        "flagged": answer.flagged,
        "problems": list(answer.problems),
        "passages": answer.passages,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


__all__ = [
    "account_to_dict",
    "analysis_to_dict",
    "answer_to_dict",
    "content_to_dict",
    "delivery_to_dict",
    "file_to_dict",
    "job_to_dict",
    "media_to_dict",
    "page_body",
    "recording_detail",
    "recording_summary",
    "recording_to_dict",
    "search_hit_to_dict",
    "speaker_matches_to_dict",
    "speaker_names_to_dict",
    "step_to_dict",
    "transcript_to_dict",
    "upload_response",
    "usage",
    "voice_profile_to_dict",
    "webhook_to_dict",
]


# --------------------------------------------------------------------------- live uploads


def live_paths(recording_id: str) -> JSON:
    """The routes of a live upload (absolute paths)."""
    base = f"/api/v1/recordings/{recording_id}"
    return {
        "chunks_url": f"{base}/chunks/",
        "upload_status_url": f"{base}/upload/",
        "finish_url": f"{base}/finish/",
    }


def live_upload_response(result: RequestLiveUploadResult) -> JSON:
    """What ``request-upload`` answers for ``"upload": "live"``."""
    recording = result.recording
    return {
        "recording_id": recording.id,
        "upload": "live",
        **live_paths(recording.id),
        "max_chunk_size": result.max_chunk_size,
        "chunk_url_expires_in": result.chunk_url_expires_in,
        "s3_key": recording.source_key,
        "recording": recording_summary(recording),
    }


def chunk_tickets(result: DeclareChunksResult) -> JSON:
    """How to send each declared chunk."""
    return {
        "chunks": [
            {
                "index": t.index,
                "stored": t.stored,
                "upload_url": t.upload_url,
                "method": None if t.stored else "PUT",
                "headers": dict(t.headers),
            }
            for t in result.chunks
        ],
        "expires_in": result.expires_in,
    }


def live_status(status: LiveUploadStatus) -> JSON:
    """What arrived of a live upload."""
    live = status.live
    return {
        "recording_id": live.recording_id,
        "upload": "live",
        "state": live.state.value,
        "received": list(status.received),
        "received_ranges": [list(r) for r in status.received_ranges],
        "missing": list(status.missing),
        "refused": list(status.refused),
        "received_bytes": status.received_bytes,
        "expected_chunks": live.expected_chunks,
        "note": live.note,
        "progress": status.progress,
    }


def live_finished(result: FinishLiveUploadResult) -> JSON:
    """What ``finish`` answers."""
    return {
        "recording_id": result.recording.id,
        "status": result.recording.status.value,
        "state": result.live.state.value,
        "chunks": result.live.expected_chunks,
    }
