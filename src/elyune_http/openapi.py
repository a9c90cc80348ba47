"""The OpenAPI 3.1 document of the API (request bodies come from :mod:`schema`)."""

from __future__ import annotations

import copy
from typing import Any

from elyune_http import schema

JSON = dict[str, Any]


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str | list[str], **extra: Any) -> JSON:
    kinds = [kind] if isinstance(kind, str) else kind
    return {"type": [*kinds, "null"], **extra}


_TIME = _nullable("string", format="date-time")
_STEP_NAMES = ["probe", "transcode", "extract_audio", "thumbnail", "transcribe", "analyze"]
_STEP_STATUS = ["pending", "running", "succeeded", "failed", "skipped"]
_RECORDING_STATUS = ["awaiting_upload", "uploaded", "processing", "ready", "failed"]
_DATE = "(?:[1-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"

SCHEMAS: JSON = {
    "Error": {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "request_id": {"type": "string"},
        },
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": "Field name -> messages (DRF style); `detail` for whole-body errors.",
        "additionalProperties": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
        },
    },
    "TokenPair": {
        "type": "object",
        "properties": {"access": {"type": "string"}, "refresh": {"type": "string"}},
        "required": ["access", "refresh"],
    },
    "StoredFile": {
        "type": "object",
        "properties": {
            "kind": {"enum": ["source", "video", "audio", "thumbnail"]},
            "key": {"type": "string"},
            "size": {"type": "integer"},
            "content_type": {"type": "string"},
            "width": _nullable("integer"),
            "height": _nullable("integer"),
            "url": _nullable("string"),
        },
        "required": ["kind", "key", "size", "content_type"],
    },
    "Media": {
        "type": ["object", "null"],
        "properties": {
            "duration": {"type": "number"},
            "format_name": {"type": "string"},
            "has_video": {"type": "boolean"},
            "has_audio": {"type": "boolean"},
            "video_codec": _nullable("string"),
            "audio_codec": _nullable("string"),
            "width": _nullable("integer"),
            "height": _nullable("integer"),
            "fps": _nullable("number"),
            "sample_rate": _nullable("integer"),
            "channels": _nullable("integer"),
            "size": _nullable("integer"),
        },
    },
    "Recording": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "filename": {"type": "string"},
            "status": {"enum": _RECORDING_STATUS},
            "error": _nullable("string"),
            "file_size": {"type": "integer"},
            "quality": _nullable("string"),
            "fps": _nullable("integer"),
            "has_system_audio": {"type": "boolean"},
            "has_microphone": {"type": "boolean"},
            "language": _nullable("string"),
            "duration": _nullable("number"),
            "media": _ref("Media"),
            "speaker_names": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Speaker label -> name, given by hand or by a voice "
                "profile's match (those are in speaker_matches too).",
            },
            "speaker_matches": {
                "type": "object",
                "additionalProperties": _ref("SpeakerMatch"),
                "description": "Speaker label -> the voice profile it was recognised as.",
            },
            "num_speakers": _nullable("integer"),
            "max_speakers": _nullable("integer"),
            "s3_key": {"type": "string"},
            "files": {"type": "array", "items": _ref("StoredFile")},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "required": ["id", "title", "status", "s3_key", "files", "created_at", "updated_at"],
    },
    "Step": {
        "type": "object",
        "properties": {
            "name": {"enum": _STEP_NAMES},
            "title": {"type": "string"},
            "status": {"enum": _STEP_STATUS},
            "attempts": {"type": "integer"},
            "progress": _nullable("number"),
            "started_at": _TIME,
            "finished_at": _TIME,
            "duration": _nullable("number"),
            "error": _nullable("string"),
            "worker": _nullable("string"),
            "retry_at": {
                **_TIME,
                "description": "a pending step waiting out a storage or database outage "
                "runs again at this time",
            },
            "output": {"type": "object"},
        },
        "required": ["name", "status", "attempts"],
    },
    "Job": {
        "type": ["object", "null"],
        "properties": {
            "id": {"type": "string"},
            "recording_id": {"type": "string"},
            "status": {
                "enum": ["pending", "running", "succeeded", "failed", "partial"],
                "description": "partial: finished with the transcript and analyses stored "
                "but the MP4 or the thumbnail failed (the recording is ready; `error` says "
                "why, and a retry re-runs only what failed)",
            },
            "progress": {"type": "number"},
            "error": _nullable("string"),
            "created_at": {"type": "string"},
            "started_at": _TIME,
            "finished_at": _TIME,
            "steps": {"type": "array", "items": _ref("Step")},
        },
    },
    "Segment": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "start": {"type": "number"},
            "end": {"type": "number"},
            "speaker": _nullable("string"),
            "speaker_name": _nullable("string"),
            "text": {"type": "string"},
            "confidence": _nullable("number"),
        },
        "required": ["id", "start", "end", "text"],
    },
    "Transcript": {
        "type": ["object", "null"],
        "properties": {
            "text": {"type": "string"},
            "language": _nullable("string"),
            "language_confidence": _nullable("number"),
            "engine": {"type": "string"},
            "duration": _nullable("number"),
            "speaker_count": _nullable("integer"),
            "speakers": {"type": "array", "items": _ref("TranscriptSpeaker")},
            "request_id": _nullable("string"),
            "audio_seconds": _nullable("number"),
            "created_at": {"type": "string"},
            "segments": {"type": "array", "items": _ref("Segment")},
        },
    },
    "Analysis": {
        "type": "object",
        "properties": {
            "kind": {"enum": ["summary", "action_items", "key_points", "sentiment"]},
            "status": {"enum": ["pending", "succeeded", "failed", "skipped"]},
            "engine": {"type": "string"},
            "content": _nullable("object"),
            "error": _nullable("string"),
            "input_tokens": _nullable("integer"),
            "output_tokens": _nullable("integer"),
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
        },
        "required": ["kind", "status", "engine"],
    },
    "RecordingDetail": {
        "allOf": [
            _ref("Recording"),
            {
                "type": "object",
                "properties": {
                    "video_url": _nullable("string"),
                    "audio_url": _nullable("string"),
                    "thumbnail_url": _nullable("string"),
                    "transcript_vtt_url": _nullable(
                        "string", description="A signed WebVTT link for <track src> (15 min)."
                    ),
                    "job": _ref("Job"),
                    "transcript": _ref("Transcript"),
                    "analyses": {"type": "object", "additionalProperties": _ref("Analysis")},
                    "usage": {"type": "object"},
                },
                "required": ["job", "transcript", "analyses"],
            },
        ]
    },
    "RecordingPage": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "next": _nullable("string"),
            "previous": _nullable("string"),
            "results": {"type": "array", "items": _ref("Recording")},
        },
        "required": ["count", "next", "previous", "results"],
    },
    "UploadTicket": {
        "type": "object",
        "properties": {
            "recording_id": {"type": "string"},
            "upload_url": {"type": "string"},
            "upload_method": {"const": "PUT"},
            "upload_headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "upload_post": {
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "required": ["url", "fields"],
            },
            "s3_key": {"type": "string"},
            "expires_in": {"type": "integer"},
            "max_size": {"type": "integer"},
            "recording": _ref("Recording"),
        },
        "required": ["recording_id", "upload_url", "s3_key", "expires_in"],
    },
    "UploadCompleted": {
        "type": "object",
        "properties": {
            "recording_id": {"type": "string"},
            "status": {"enum": _RECORDING_STATUS},
            "job_id": {"type": "string"},
            "queued": {"type": "boolean"},
            "recording": _ref("Recording"),
        },
        "required": ["recording_id", "status", "job_id", "queued"],
    },
    "Status": {
        "type": "object",
        "properties": {
            "recording_id": {"type": "string"},
            "status": {"enum": _RECORDING_STATUS},
            "error": _nullable("string"),
            "progress": {"type": "number"},
            "job_id": _nullable("string"),
            "job_status": _nullable("string"),
            "steps": {"type": "array", "items": _ref("Step")},
        },
        "required": ["recording_id", "status", "progress", "steps"],
    },
    "Queued": {
        "type": "object",
        "properties": {
            "job_id": {"type": "string"},
            "reset": {"type": "array", "items": {"type": "string"}},
            "kind": {"type": "string"},
            "queued": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["job_id", "queued"],
    },
    "SpeakerNames": {
        "type": "object",
        "properties": {
            "speaker_names": {"type": "object", "additionalProperties": {"type": "string"}},
            "speaker_matches": {"type": "object", "additionalProperties": _ref("SpeakerMatch")},
        },
        "required": ["speaker_names"],
    },
    "SpeakerMatch": {
        "type": "object",
        "description": "A speaker named automatically: its voice matched a voice profile.",
        "properties": {
            "profile_id": {"type": "string"},
            "name": {"type": "string"},
            "similarity": {
                "type": "number",
                "description": "Cosine similarity of the voices (at least the server's "
                "VOICE_MATCH_THRESHOLD).",
            },
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "How likely it is the profile's person.",
            },
            "source": {"const": "auto"},
        },
        "required": ["profile_id", "name", "confidence"],
    },
    "TranscriptSpeaker": {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "name": {"type": "string"},
            "source": {
                "enum": ["manual", "auto", None],
                "description": "manual: named by the user; auto: a voice profile's match; "
                "null: unnamed.",
            },
            "profile_id": _nullable("string"),
            "confidence": _nullable("number"),
        },
        "required": ["label", "name"],
    },
    "Account": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "username": {"type": "string"},
            "is_active": {"type": "boolean"},
            "is_staff": {
                "type": "boolean",
                "description": "An operator: the web app shows the operator view.",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "voice_profiles": {
                "type": "boolean",
                "description": "Whether named speakers' voices are kept and recognised.",
            },
            "deleted_profiles": {
                "type": "integer",
                "description": "Profiles deleted by turning voice_profiles off (PATCH).",
            },
        },
        "required": ["id", "username", "is_staff", "voice_profiles"],
    },
    "VoiceProfile": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "seconds": {"type": "number", "description": "Speech it was built from."},
            "recordings": {"type": "integer", "description": "Recordings that gave to it."},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "required": ["id", "name", "seconds", "recordings", "created_at", "updated_at"],
    },
    "VoiceProfileList": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "results": {"type": "array", "items": _ref("VoiceProfile")},
        },
        "required": ["count", "results"],
    },
    "Webhook": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
            "is_active": {"type": "boolean"},
            "created_at": {"type": "string"},
            "secret": {"type": "string", "description": "Only in the answer to the creation."},
        },
        "required": ["id", "url", "events", "is_active", "created_at"],
    },
    "WebhookList": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "results": {"type": "array", "items": _ref("Webhook")},
        },
        "required": ["count", "results"],
    },
    "DeliveryList": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "event": {"type": "string"},
                        "status": {"enum": ["pending", "succeeded", "failed"]},
                        "payload": {"type": "object"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "next_attempt_at": _TIME,
                        "delivered_at": _TIME,
                        "attempts": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "at": {"type": "string", "format": "date-time"},
                                    "status_code": _nullable("integer"),
                                    "error": _nullable("string"),
                                    "duration_ms": {"type": "integer"},
                                },
                            },
                        },
                    },
                    "required": ["id", "event", "status", "attempts"],
                },
            },
        },
        "required": ["count", "results"],
    },
    "ServerSentEvent": {
        "type": "object",
        "description": "One event of the stream: `step` (data: a Step), `done` or "
        "`error` (data: JSON), `ping`.",
        "properties": {
            "event": {"type": "string"},
            "data": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
    },
    "Health": {
        "type": "object",
        "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
        "required": ["status"],
    },
}
_SECONDS = _nullable("number")
SCHEMAS["SearchHit"] = {
    "type": "object",
    "description": "One ranked match. `snippet` is plain text (escape it when you show "
    "it); `highlights` are [start, end) character offsets of the matched words in it; "
    "`snippet_html` is the same snippet HTML-escaped with the matches in <mark>...</mark>. "
    "`start`/`end` are seconds (null for a title or description); `url` opens the web "
    "app's recording page at that moment.",
    "properties": {
        "recording_id": {"type": "string"},
        "recording_title": {"type": "string"},
        "recording_created_at": {"type": "string", "format": "date-time"},
        "recording_status": {"enum": _RECORDING_STATUS},
        "kind": {"enum": ["segment", "title", "description", "speaker", "analysis"]},
        "field": {"type": "string"},
        "segment_id": _nullable("integer"),
        "start": _SECONDS,
        "end": _SECONDS,
        "speaker": _nullable("string"),
        "speaker_name": _nullable("string"),
        "snippet": {"type": "string"},
        "highlights": {
            "type": "array",
            "items": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 2,
                "maxItems": 2,
            },
        },
        "snippet_html": {"type": "string"},
        "score": {"type": "number"},
        "url": {"type": "string"},
    },
    "required": [
        "recording_id",
        "recording_title",
        "kind",
        "field",
        "start",
        "end",
        "snippet",
        "highlights",
        "snippet_html",
        "score",
        "url",
    ],
}
SCHEMAS["SearchPage"] = {
    "type": "object",
    "description": "Ranked hits, paginated like the other lists. A query ranks at most "
    "the newest 1,000 matching documents: `count` stops at 1,000.",
    "properties": {
        "count": {"type": "integer", "minimum": 0},
        "next": _nullable("string"),
        "previous": _nullable("string"),
        "results": {"type": "array", "items": _ref("SearchHit")},
    },
    "required": ["count", "next", "previous", "results"],
}
SCHEMAS["Citation"] = {
    "type": "object",
    "description": "A checked moment: the quote is in that segment of the stored "
    "transcript and the times inside it.",
    "properties": {
        "recording_id": {"type": "string"},
        "segment_id": {"type": "integer"},
        "start": {"type": "number"},
        "end": {"type": "number"},
        "speaker": _nullable("string"),
        "speaker_name": _nullable("string"),
        "quote": {"type": "string"},
        "url": {"type": "string"},
    },
    "required": ["recording_id", "segment_id", "start", "end", "quote"],
}
SCHEMAS["Answer"] = {
    "type": "object",
    "description": "`kind` is `generative` (a language model wrote it from the retrieved "
    "segments) or `extractive` (no language model: the best matching segments, quoted). "
    "`flagged` is true when citations failed the checks twice and were dropped; "
    "`problems` says which and why.",
    "properties": {
        "question": {"type": "string"},
        "answer": {"type": "string"},
        "kind": {"enum": ["generative", "extractive"]},
        "engine": {"type": "string"},
        "recording_id": _nullable("string"),
        "citations": {"type": "array", "items": _ref("Citation")},
        "flagged": {"type": "boolean"},
        "problems": {"type": "array", "items": {"type": "string"}},
        "passages": {"type": "integer", "minimum": 0},
        "usage": {
            "type": "object",
            "properties": {
                "input_tokens": _nullable("integer"),
                "output_tokens": _nullable("integer"),
            },
        },
    },
    "required": ["question", "answer", "kind", "engine", "citations", "flagged", "problems"],
}

for body in schema.BODIES:
    SCHEMAS[body.name] = body.json_schema()
SCHEMAS["RecordingUpdate"] = schema.RECORDING_PATCH.json_schema(partial=True)


def _json_response(description: str, name: str) -> JSON:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


_ERRORS = {
    "400": _json_response("Invalid input: a message per field.", "ValidationError"),
    "401": _json_response("Missing, invalid or expired token.", "Error"),
    "404": _json_response("Not found (or not yours).", "Error"),
    "409": _json_response(
        "Valid, but the object's current state refuses it (nothing uploaded yet, no "
        "failed step, no transcript yet, the webhook limit reached).",
        "ValidationError",
    ),
    "413": _json_response("Body too large.", "Error"),
    "403": _json_response("The link is not signed or has expired.", "Error"),
    "415": _json_response("Body is not JSON.", "Error"),
    "429": _json_response("Too many requests; see Retry-After.", "Error"),
    "503": _json_response("A backing service is unavailable; try again.", "Error"),
}


def _op(
    summary: str,
    ok: tuple[str, JSON],
    *,
    body: str | None = None,
    errors: tuple[str, ...] = ("401", "404", "503"),
    public: bool = False,
    params: tuple[JSON, ...] = (),
    tag: str = "recordings",
) -> JSON:
    operation: JSON = {
        "summary": summary,
        "tags": [tag],
        "responses": {ok[0]: ok[1], **{code: _ERRORS[code] for code in errors}},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if public:
        operation["security"] = []
    if params:
        operation["parameters"] = list(params)
    return operation


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}
_NO_CONTENT = ("204", {"description": "Done; no content."})


def _query(name: str, kind: JSON, description: str) -> JSON:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": kind,
        "description": description,
    }


PATHS: JSON = {
    "/api/token/": {
        "post": _op(
            "Log in with a user name and password",
            ("200", _json_response("Tokens.", "TokenPair")),
            body="TokenObtainPair",
            errors=("400", "401", "415", "429", "503"),
            public=True,
            tag="auth",
        )
    },
    "/api/token/refresh/": {
        "post": _op(
            "Exchange a refresh token for new tokens (the old one stops working)",
            ("200", _json_response("Tokens.", "TokenPair")),
            body="TokenRefresh",
            errors=("400", "401", "415", "429", "503"),
            public=True,
            tag="auth",
        )
    },
    "/api/v1/recordings/": {
        "get": _op(
            "List your recordings, newest first",
            ("200", _json_response("A page of recordings.", "RecordingPage")),
            errors=("400", "401", "404", "503"),
            params=(
                _query(
                    "page",
                    {"anyOf": [{"type": "integer", "minimum": 1}, {"const": ""}]},
                    "Page number (empty: the first).",
                ),
                _query(
                    "page_size",
                    {
                        "anyOf": [
                            {"type": "integer", "minimum": 1, "maximum": 100},
                            {"const": ""},
                        ]
                    },
                    "Page size (empty: 20).",
                ),
                _query("status", {"enum": [*_RECORDING_STATUS, ""]}, "Only this status."),
                _query(
                    "search",
                    {"type": "string", "maxLength": 200, "pattern": schema.NO_NUL},
                    "Words in the title.",
                ),
            ),
        )
    },
    "/api/v1/recordings/request-upload/": {
        "post": _op(
            "Create a recording and get presigned URLs to upload its file",
            ("201", _json_response("Where and how to upload.", "UploadTicket")),
            body="RequestUpload",
            errors=("400", "401", "415", "429", "503"),
        )
    },
    "/api/v1/recordings/{id}/upload-complete/": {
        "post": _op(
            "Say the upload is done; the stored file is checked and processing queued",
            ("200", _json_response("Queued (or already queued).", "UploadCompleted")),
            body="UploadComplete",
            errors=("400", "401", "404", "409", "415", "503"),
            params=(_ID,),
        )
    },
    "/api/v1/recordings/{id}/": {
        "get": _op(
            "A recording with download URLs, job, transcript and analyses",
            ("200", _json_response("The recording.", "RecordingDetail")),
            params=(_ID,),
        ),
        "patch": _op(
            "Change title, description or language",
            ("200", _json_response("The recording.", "Recording")),
            body="RecordingUpdate",
            errors=("400", "401", "404", "415", "503"),
            params=(_ID,),
        ),
        "delete": _op("Delete the recording and every stored file", _NO_CONTENT, params=(_ID,)),
    },
    "/api/v1/recordings/{id}/status/": {
        "get": _op(
            "Status for polling: each step and progress in percent",
            ("200", _json_response("Status.", "Status")),
            params=(_ID,),
        )
    },
    "/api/v1/recordings/{id}/events/": {
        "get": _op(
            "Live progress as server-sent events (`step` events, then `done`; `live` events "
            "while a live recording is recorded: how far its processing has caught up)",
            (
                "200",
                {
                    "description": "An event stream; `access_token` may be given in the "
                    "query for EventSource clients.",
                    "content": {"text/event-stream": {"schema": _ref("ServerSentEvent")}},
                },
            ),
            params=(
                _ID,
                _query("access_token", {"type": "string"}, "Token for EventSource clients."),
            ),
        )
    },
    "/api/v1/recordings/{id}/transcript/": {
        "get": _op(
            "The transcript as JSON, SRT, WebVTT or text",
            (
                "200",
                {
                    "description": "The transcript.",
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/x-subrip": {"schema": {"type": "string"}},
                        "text/vtt": {"schema": {"type": "string"}},
                        "text/plain": {"schema": {"type": "string"}},
                    },
                },
            ),
            errors=("400", "401", "404", "503"),
            params=(_ID, _query("format", {"enum": ["json", "srt", "vtt", "txt"]}, "Format.")),
        )
    },
    "/api/v1/recordings/{id}/retry/": {
        "post": _op(
            "Re-run the failed steps only",
            ("202", _json_response("Queued.", "Queued")),
            errors=("401", "404", "409", "503"),
            params=(_ID,),
        )
    },
    "/api/v1/recordings/{id}/analyses/{kind}/rerun/": {
        "post": _op(
            "Run one analysis again from the stored transcript",
            ("202", _json_response("Queued.", "Queued")),
            errors=("401", "404", "409", "503"),
            params=(
                _ID,
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": ["summary", "action_items", "key_points", "sentiment"]},
                },
            ),
        )
    },
    "/api/v1/recordings/{id}/speakers/": {
        "patch": _op(
            'Name the speakers (`{"0": "Alice"}`)',
            ("200", _json_response("The names.", "SpeakerNames")),
            body="SpeakerNamesUpdate",
            errors=("400", "401", "404", "415", "503"),
            params=(_ID,),
        )
    },
    "/api/v1/me/": {
        "get": _op(
            "Your account and settings",
            ("200", _json_response("The account.", "Account")),
            errors=("401", "503"),
            tag="account",
        ),
        "patch": _op(
            "Change your settings (voice_profiles: false deletes every voice profile)",
            ("200", _json_response("The account.", "Account")),
            body="AccountUpdate",
            errors=("400", "401", "415", "503"),
            tag="account",
        ),
    },
    "/api/v1/voice-profiles/": {
        "get": _op(
            "Your voice profiles: the speakers you named, recognised in new recordings",
            ("200", _json_response("Voice profiles.", "VoiceProfileList")),
            errors=("401", "503"),
            tag="voice-profiles",
        )
    },
    "/api/v1/voice-profiles/{id}/": {
        "patch": _op(
            "Rename a voice profile (its matches and the speakers it learned from follow)",
            ("200", _json_response("The profile.", "VoiceProfile")),
            body="VoiceProfileUpdate",
            errors=("400", "401", "404", "409", "415", "503"),
            params=(_ID,),
            tag="voice-profiles",
        ),
        "delete": _op(
            "Delete a voice profile and its matches",
            _NO_CONTENT,
            params=(_ID,),
            tag="voice-profiles",
        ),
    },
    "/api/v1/search/": {
        "get": _op(
            "Search your transcripts, titles, descriptions, speaker names and analyses",
            ("200", _json_response("Ranked hits.", "SearchPage")),
            errors=("400", "401", "404", "503"),
            tag="search",
            params=(
                {
                    "name": "q",
                    "in": "query",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "pattern": schema.NOT_BLANK,
                    },
                    "description": 'Words and "quoted phrases"; every one must match '
                    "(stemmed: `decided` finds `decide`). Operators and punctuation are "
                    "ignored.",
                },
                _query(
                    "page",
                    {"anyOf": [{"type": "integer", "minimum": 1}, {"const": ""}]},
                    "Page number (empty: the first).",
                ),
                _query(
                    "page_size",
                    {
                        "anyOf": [
                            {"type": "integer", "minimum": 1, "maximum": 100},
                            {"const": ""},
                        ]
                    },
                    "Page size (empty: 20).",
                ),
                _query(
                    "speaker",
                    {"type": "string", "maxLength": 100, "pattern": schema.NO_NUL},
                    "Only what this speaker said (their name, case-insensitive).",
                ),
                _query("status", {"enum": [*_RECORDING_STATUS, ""]}, "Only this status."),
                _query(
                    "created_after",
                    {
                        "anyOf": [
                            {"type": "string", "format": "date", "pattern": f"^{_DATE}$"},
                            {"const": ""},
                        ]
                    },
                    "Recordings made on or after this day (YYYY-MM-DD, UTC).",
                ),
                _query(
                    "created_before",
                    {
                        "anyOf": [
                            {"type": "string", "format": "date", "pattern": f"^{_DATE}$"},
                            {"const": ""},
                        ]
                    },
                    "Recordings made before this day (YYYY-MM-DD, UTC).",
                ),
                _query(
                    "recording",
                    {
                        "anyOf": [
                            {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                            {"const": ""},
                        ]
                    },
                    "Only this recording.",
                ),
            ),
        )
    },
    "/api/v1/ask/": {
        "post": _op(
            "Ask a question of all your recordings; the answer cites checked moments",
            ("200", _json_response("The answer.", "Answer")),
            body="AskQuestion",
            errors=("400", "401", "415", "429", "503"),
            tag="search",
        )
    },
    "/api/v1/recordings/{id}/ask/": {
        "post": _op(
            "Ask a question of one recording; the answer cites checked moments",
            ("200", _json_response("The answer.", "Answer")),
            body="AskQuestion",
            errors=("400", "401", "404", "415", "429", "503"),
            params=(_ID,),
            tag="search",
        )
    },
    "/api/v1/webhooks/": {
        "get": _op(
            "Your webhooks",
            ("200", _json_response("Webhooks.", "WebhookList")),
            errors=("401", "503"),
            tag="webhooks",
        ),
        "post": _op(
            "Register a webhook; the answer holds its signing secret (shown once)",
            ("201", _json_response("The webhook.", "Webhook")),
            body="WebhookCreate",
            errors=("400", "401", "409", "415", "503"),
            tag="webhooks",
        ),
    },
    "/api/v1/webhooks/{id}/": {
        "delete": _op("Delete a webhook", _NO_CONTENT, params=(_ID,), tag="webhooks")
    },
    "/api/v1/webhooks/{id}/deliveries/": {
        "get": _op(
            "Every delivery of a webhook with its attempts",
            ("200", _json_response("Deliveries.", "DeliveryList")),
            params=(_ID,),
            tag="webhooks",
        )
    },
    "/api/v1/subtitles/{id}.vtt": {
        "get": _op(
            "The transcript as WebVTT, through the signed transcript_vtt_url (no token)",
            (
                "200",
                {
                    "description": "The WebVTT file.",
                    "content": {"text/vtt": {"schema": {"type": "string"}}},
                },
            ),
            errors=("403", "404", "503"),
            public=True,
            params=(
                _ID,
                _query("exp", {"type": "integer"}, "Expiry (Unix time), from the link."),
                _query("sig", {"type": "string"}, "Signature, from the link."),
            ),
        )
    },
    "/favicon.ico": {
        "get": _op(
            "The tab icon",
            ("200", {"description": "A PNG.", "content": {"image/png": {}}}),
            errors=(),
            public=True,
            tag="health",
        )
    },
    "/healthz": {
        "get": _op(
            "The process is up",
            ("200", _json_response("Up.", "Health")),
            errors=(),
            public=True,
            tag="health",
        )
    },
    "/readyz": {
        "get": _op(
            "The database and the object store answer",
            ("200", _json_response("Ready.", "Health")),
            errors=("503",),
            public=True,
            tag="health",
        )
    },
}


def document(
    server_url: str,
    *,
    max_upload_bytes: int | None = None,
    language_pattern: str | None = None,
    max_chunk_bytes: int | None = None,
) -> JSON:
    """The OpenAPI 3.1 document, with *server_url* as the server, the upload and chunk
    size limits the server applies and the language codes its transcriber takes."""
    schemas = SCHEMAS
    if max_upload_bytes is not None:
        upload = copy.deepcopy(SCHEMAS["RequestUpload"])
        upload["properties"]["file_size"]["maximum"] = max_upload_bytes
        schemas = {**SCHEMAS, "RequestUpload": upload}
    if max_chunk_bytes is not None:
        chunk = copy.deepcopy(SCHEMAS["LiveChunk"])
        chunk["properties"]["size"]["maximum"] = max_chunk_bytes
        schemas = {**schemas, "LiveChunk": chunk}
    if language_pattern is not None:
        schemas = dict(schemas)
        for name, schema in schemas.items():
            field = schema.get("properties", {}).get("language")
            if isinstance(field, dict) and "pattern" in field:
                changed = copy.deepcopy(schema)
                changed["properties"]["language"]["pattern"] = f"^{language_pattern}$"
                schemas[name] = changed
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Elyune API",
            "version": "1.0.0",
            "description": "Upload screen recordings, follow their processing, read "
            "transcripts and analyses. Authenticate with `POST /api/token/` and send "
            "`Authorization: Bearer <access>`.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The METRICS_TOKEN of the server (/metrics only).",
                },
            },
        },
    }


# --------------------------------------------------------------------------- operator view
# The staff-only routes of :mod:`elyune_http.operator`.

_STAFF_403 = _json_response("The caller is not a staff user (an operator).", "Error")
_JOB_FILTER = ["pending", "running", "succeeded", "failed", "partial", "stuck"]

for _body in schema.OPERATOR_BODIES:
    SCHEMAS[_body.name] = _body.json_schema()
SCHEMAS["UserUpdate"] = schema.USER_PATCH.json_schema(partial=True)
SCHEMAS.update(
    {
        "User": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "username": {"type": "string"},
                "is_active": {"type": "boolean"},
                "is_staff": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "username", "is_active", "is_staff", "created_at"],
        },
        "UserList": {
            "type": "object",
            "properties": {
                "count": {"type": "integer"},
                "results": {"type": "array", "items": _ref("User")},
            },
            "required": ["count", "results"],
        },
        "OperatorJob": {
            "allOf": [
                _ref("Job"),
                {
                    "type": "object",
                    "properties": {
                        "stuck": {
                            "type": "boolean",
                            "description": "a step runs on an expired lease (its worker "
                            "died or its progress stopped moving); each step also has "
                            "`stuck` and `lease_expires_at`",
                        },
                        "recording": {
                            "type": ["object", "null"],
                            "properties": {
                                "id": {"type": "string"},
                                "title": {"type": "string"},
                                "filename": {"type": "string"},
                                "status": {"enum": _RECORDING_STATUS},
                                "error": _nullable("string"),
                                "duration": _nullable("number"),
                                "created_at": {"type": "string"},
                            },
                        },
                        "owner": {
                            "type": ["object", "null"],
                            "properties": {
                                "id": {"type": "string"},
                                "username": {"type": "string"},
                            },
                        },
                    },
                    "required": ["stuck", "recording", "owner"],
                },
            ]
        },
        "OperatorJobPage": {
            "type": "object",
            "properties": {
                "count": {"type": "integer"},
                "page": {"type": "integer"},
                "page_size": {"type": "integer"},
                "results": {"type": "array", "items": _ref("OperatorJob")},
            },
            "required": ["count", "page", "page_size", "results"],
        },
        "QueueOverview": {
            "type": "object",
            "properties": {
                "backend": _nullable("string", description="inprocess or redis"),
                "available": {"type": "boolean"},
                "error": _nullable("string"),
                "waiting": _nullable("integer", description="queued, not taken yet"),
                "running": _nullable("integer", description="taken, not acknowledged"),
                "consumers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "idle_seconds": _nullable("number"),
                            "pending": {"type": "integer"},
                        },
                    },
                },
                "workers": {
                    "type": "array",
                    "description": "workers that started a step in the last hour",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "last_seen": {"type": "string"},
                            "running": {"type": "integer"},
                        },
                    },
                },
                "jobs": {"type": "object", "additionalProperties": {"type": "integer"}},
                "stuck_steps": {"type": "integer"},
            },
            "required": ["available", "workers", "jobs", "stuck_steps"],
        },
    }
)


def _staff_op(summary: str, ok: tuple[str, JSON], **kwargs: Any) -> JSON:
    errors = kwargs.pop("errors", ("401", "503"))
    operation = _op(summary, ok, errors=errors, tag="operator", **kwargs)
    operation["responses"]["403"] = _STAFF_403
    return operation


_PAGE = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1_000_000}, {"const": ""}]}
PATHS.update(
    {
        "/api/v1/operator/jobs/": {
            "get": _staff_op(
                "Every user's jobs, newest first (staff only)",
                ("200", _json_response("A page of jobs.", "OperatorJobPage")),
                errors=("400", "401", "503"),
                params=(
                    _query("status", {"enum": [*_JOB_FILTER, ""]}, "A job status, or stuck."),
                    _query("page", _PAGE, "Page number (empty: the first)."),
                    _query(
                        "page_size",
                        {
                            "anyOf": [
                                {"type": "integer", "minimum": 1, "maximum": 200},
                                {"const": ""},
                            ]
                        },
                        "Page size (empty: 50).",
                    ),
                ),
            )
        },
        "/api/v1/operator/jobs/{id}/": {
            "get": _staff_op(
                "A job of any user: steps, attempts, workers, leases, errors (staff only)",
                ("200", _json_response("The job.", "OperatorJob")),
                errors=("401", "404", "503"),
                params=(_ID,),
            )
        },
        "/api/v1/operator/jobs/{id}/retry/": {
            "post": {
                **_staff_op(
                    "Retry a job's failed steps, or one failed or stuck step (staff only)",
                    ("202", _json_response("Queued.", "Queued")),
                    errors=("400", "401", "404", "409", "415", "503"),
                    params=(_ID,),
                ),
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("JobRetry")}},
                },
            }
        },
        "/api/v1/operator/queue/": {
            "get": _staff_op(
                "The queue's depth, its consumers and the workers seen recently (staff only)",
                ("200", _json_response("The queue.", "QueueOverview")),
            )
        },
        "/api/v1/operator/users/": {
            "get": _staff_op(
                "Every user (staff only)", ("200", _json_response("Users.", "UserList"))
            ),
            "post": _staff_op(
                "Create a user (staff only)",
                ("201", _json_response("The user.", "User")),
                body="UserCreate",
                errors=("400", "401", "409", "415", "503"),
            ),
        },
        "/api/v1/operator/users/{id}/": {
            "patch": _staff_op(
                "Deactivate or activate a user, make one staff or not (staff only; not yourself)",
                ("200", _json_response("The user.", "User")),
                body="UserUpdate",
                errors=("400", "401", "404", "409", "415", "503"),
                params=(_ID,),
            )
        },
        "/metrics": {
            "get": {
                **_op(
                    "Prometheus metrics: jobs, steps, step durations, the queue, HTTP "
                    "requests, webhook deliveries (the METRICS_TOKEN or a staff token)",
                    (
                        "200",
                        {
                            "description": "The Prometheus text format (0.0.4).",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                    ),
                    errors=("401", "503"),
                    tag="health",
                ),
                "security": [{"bearerAuth": []}, {"metricsToken": []}],
            }
        },
        "/api/v1/operator/users/{id}/password/": {
            "post": _staff_op(
                "Reset a user's password; it ends the user's sessions (staff only)",
                _NO_CONTENT,
                body="UserPassword",
                errors=("400", "401", "404", "415", "503"),
                params=(_ID,),
            )
        },
    }
)
PATHS["/metrics"]["get"]["responses"]["403"] = _json_response(
    "A token of a user who is not staff.", "Error"
)

# --------------------------------------------------------------------------- multipart uploads
# The resumable uploads of :mod:`elyune_http.multipart` (docs/api.md, "Multipart uploads").

for _body in schema.MULTIPART_BODIES:
    SCHEMAS[_body.name] = _body.json_schema()
SCHEMAS["MultipartComplete"]["properties"]["parts"]["items"] = _ref("MultipartPart")
_UPLOAD_ID_QUERY = {
    "name": "upload_id",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
    "description": "The upload's id (from POST .../multipart/).",
}
SCHEMAS.update(
    {
        "MultipartUpload": {
            "type": "object",
            "properties": {
                "upload_id": {"type": "string"},
                "part_size": {
                    "type": "integer",
                    "description": "Cut the file in parts of this many bytes (8 MiB), the "
                    "last smaller; any cut works if every part but the last has 5 MiB.",
                },
                "parts": {"type": "integer", "description": "How many parts that makes."},
            },
            "required": ["upload_id", "part_size", "parts"],
        },
        "MultipartSignedParts": {
            "type": "object",
            "properties": {
                "upload_id": {"type": "string"},
                "expires_in": {"type": "integer", "description": "Seconds the URLs work."},
                "parts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "number": {"type": "integer"},
                            "url": {
                                "type": "string",
                                "description": "PUT the part's bytes here; keep the "
                                "answer's ETag header.",
                            },
                        },
                        "required": ["number", "url"],
                    },
                },
            },
            "required": ["upload_id", "expires_in", "parts"],
        },
        "MultipartParts": {
            "type": "object",
            "properties": {
                "upload_id": {"type": "string"},
                "part_size": {"type": "integer"},
                "parts_expected": {"type": "integer"},
                "parts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "number": {"type": "integer"},
                            "size": {"type": "integer"},
                            "etag": {"type": "string"},
                        },
                        "required": ["number", "size", "etag"],
                    },
                },
            },
            "required": ["upload_id", "part_size", "parts_expected", "parts"],
        },
    }
)
PATHS.update(
    {
        "/api/v1/recordings/{id}/multipart/": {
            "post": _op(
                "Start a resumable multipart upload of a recording awaiting its file",
                ("201", _json_response("The upload and how to cut the file.", "MultipartUpload")),
                errors=("401", "404", "409", "429", "503"),
                params=(_ID,),
            ),
            "get": _op(
                "The parts of a multipart upload stored so far (to resume it)",
                ("200", _json_response("The stored parts by number.", "MultipartParts")),
                errors=("400", "401", "404", "409", "503"),
                params=(_ID, _UPLOAD_ID_QUERY),
            ),
            "delete": _op(
                "Abort a multipart upload (its parts are deleted)",
                _NO_CONTENT,
                errors=("400", "401", "404", "409", "503"),
                params=(_ID, _UPLOAD_ID_QUERY),
            ),
        },
        "/api/v1/recordings/{id}/multipart/parts/": {
            "post": _op(
                "Presigned PUT URLs for parts of a multipart upload",
                ("200", _json_response("A URL per part.", "MultipartSignedParts")),
                body="MultipartSignParts",
                errors=("400", "401", "404", "409", "415", "503"),
                params=(_ID,),
            )
        },
        "/api/v1/recordings/{id}/multipart/complete/": {
            "post": _op(
                "Join the parts into the recording's file, then as upload-complete",
                ("200", _json_response("Queued (or already queued).", "UploadCompleted")),
                body="MultipartComplete",
                errors=("400", "401", "404", "409", "415", "503"),
                params=(_ID,),
            )
        },
        "/api/v1/storage-parts/{upload_id}/{number}": {
            "put": _op(
                "Embedded mode: store one part through its signed URL (answers its ETag)",
                (
                    "200",
                    {
                        "description": "Stored; the ETag header (exposed to browsers) "
                        "is the part's MD5 in quotes.",
                        "headers": {"ETag": {"schema": {"type": "string"}}},
                    },
                ),
                errors=("403", "404", "413"),
                public=True,
                params=(
                    {
                        "name": "upload_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "number",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10_000},
                    },
                ),
                tag="storage",
            )
        },
    }
)


# --------------------------------------------------------------------------- live uploads
# The routes of :mod:`elyune_http.live`; request-upload with ``"upload": "live"``.

_upload = SCHEMAS["RequestUpload"]
_upload["required"] = [name for name in _upload.get("required", []) if name != "file_size"]
_upload["if"] = {"properties": {"upload": {"const": "live"}}, "required": ["upload"]}
_upload["then"] = {}
_upload["else"] = {"required": ["file_size"]}
SCHEMAS["LiveChunks"]["properties"]["chunks"]["items"] = _ref("LiveChunk")
_INDEXES = {"type": "array", "items": {"type": "integer"}}
SCHEMAS.update(
    {
        "LiveUploadTicket": {
            "type": "object",
            "properties": {
                "recording_id": {"type": "string"},
                "upload": {"const": "live"},
                "chunks_url": {"type": "string"},
                "upload_status_url": {"type": "string"},
                "finish_url": {"type": "string"},
                "max_chunk_size": {"type": "integer"},
                "chunk_url_expires_in": {"type": "integer"},
                "s3_key": {"type": "string"},
                "recording": _ref("Recording"),
            },
            "required": [
                "recording_id",
                "upload",
                "chunks_url",
                "upload_status_url",
                "finish_url",
                "max_chunk_size",
                "chunk_url_expires_in",
            ],
        },
        "LiveChunkTickets": {
            "type": "object",
            "properties": {
                "chunks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "stored": {"type": "boolean"},
                            "upload_url": _nullable("string"),
                            "method": {"enum": ["PUT", None]},
                            "headers": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                        "required": ["index", "stored", "upload_url", "method", "headers"],
                    },
                },
                "expires_in": {"type": "integer"},
            },
            "required": ["chunks", "expires_in"],
        },
        "LiveUploadStatus": {
            "type": "object",
            "properties": {
                "recording_id": {"type": "string"},
                "upload": {"const": "live"},
                "state": {"enum": ["recording", "finished", "abandoned"]},
                "received": _INDEXES,
                "received_ranges": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "minItems": 2,
                        "maxItems": 2,
                    },
                },
                "missing": _INDEXES,
                "refused": _INDEXES,
                "received_bytes": {"type": "integer"},
                "expected_chunks": _nullable("integer"),
                "note": _nullable("string"),
                "progress": {"type": "object"},
            },
            "required": [
                "upload",
                "state",
                "received",
                "received_ranges",
                "missing",
                "refused",
                "received_bytes",
                "expected_chunks",
                "note",
                "progress",
            ],
        },
        "LiveFinished": {
            "type": "object",
            "properties": {
                "recording_id": {"type": "string"},
                "status": {"enum": _RECORDING_STATUS},
                "state": {"enum": ["finished", "abandoned"]},
                "chunks": {"type": "integer"},
            },
            "required": ["recording_id", "status", "state", "chunks"],
        },
        "ChunksMissing": {
            "type": "object",
            "description": "Field name -> messages; `missing`: the chunks not arrived yet.",
            "properties": {"missing": _INDEXES},
            "additionalProperties": {
                "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
            },
        },
    }
)
PATHS["/api/v1/recordings/request-upload/"]["post"]["responses"]["201"] = {
    "description": "Where and how to upload (a file, or live in chunks).",
    "content": {
        "application/json": {"schema": {"anyOf": [_ref("UploadTicket"), _ref("LiveUploadTicket")]}}
    },
}
_LIVE_409 = _json_response(
    "The live upload is finished (no more chunks), or a chunk is stored with other content.",
    "ValidationError",
)
PATHS.update(
    {
        "/api/v1/recordings/{id}/chunks/": {
            "post": {
                **_op(
                    "Declare chunks of a live upload and get a signed PUT URL for each",
                    ("200", _json_response("How to send each chunk.", "LiveChunkTickets")),
                    body="LiveChunks",
                    errors=("400", "401", "404", "415", "429", "503"),
                    params=(_ID,),
                ),
            }
        },
        "/api/v1/recordings/{id}/upload/": {
            "get": _op(
                "What arrived of a live upload (404 for a recording uploaded whole)",
                (
                    "200",
                    _json_response("Received, missing and refused chunks.", "LiveUploadStatus"),
                ),
                params=(_ID,),
            )
        },
        "/api/v1/recordings/{id}/finish/": {
            "post": _op(
                "Finish a live upload once chunks 0 to N-1 have arrived",
                ("202", _json_response("Finished (or finished before).", "LiveFinished")),
                body="LiveFinish",
                errors=("400", "401", "404", "415", "503"),
                params=(_ID,),
            )
        },
    }
)
PATHS["/api/v1/recordings/{id}/chunks/"]["post"]["responses"]["409"] = _LIVE_409
PATHS["/api/v1/recordings/{id}/finish/"]["post"]["responses"]["409"] = _json_response(
    "Chunks have not arrived (`missing`), or the upload was finished otherwise.",
    "ChunksMissing",
)
