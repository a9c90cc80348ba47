"""Handlers of the REST API: parse the request, run a use case, render the result."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import (
    CONTENT_TYPES,
    AnalysisKind,
    GetRecordingInput,
    InvalidInputError,
    ListRecordingsInput,
    RecordingId,
    RecordingStatus,
    RetryJobInput,
    TranscriptFormat,
    TranscriptNotFoundError,
    User,
    VoiceProfileId,
    WebhookId,
    export,
    progress,
)
from elyune_core.use_cases import (
    CompleteUploadInput,
    CreateWebhookInput,
    LoginInput,
    RenameSpeakersInput,
    RenameVoiceProfileInput,
    RequestUploadInput,
    RerunAnalysisInput,
    SetVoiceProfilesInput,
    UpdateRecordingInput,
)
from elyune_http import live as live_upload
from elyune_http import present, schema
from elyune_http.keys import CONTAINER, LIMITER, SETTINGS, SUBTITLES, USE_CASES, USER
from elyune_http.middleware import json_dumps
from elyune_http.present import step_to_dict

routes = web.RouteTableDef()
# Not "request-upload": that path is its own resource (POST only), and an OPTIONS or GET
# on it must not be taken for a recording's (whose Allow lists GET, PATCH, DELETE).
ID = r"{id:(?!request-upload/)[A-Za-z0-9_-]{1,64}}"
MAX_PAGE = 1_000_000


def _user(request: web.Request) -> User:
    user: User = request[USER]
    return user


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=json_dumps)


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


# --------------------------------------------------------------------------- tokens


@routes.post("/api/token/")
async def obtain_token(request: web.Request) -> web.Response:
    """Log in: ``{username, password}`` -> ``{access, refresh}``."""
    data = await schema.read_json(request, schema.TOKEN)
    await request.app[LIMITER].hit(
        f"token:ip:{_client(request)}", f"token:user:{data['username'].lower()}"
    )
    pair = await (await resolve(request.app[CONTAINER].login())).execute(
        LoginInput(data["username"], data["password"])
    )
    return _json({"access": pair.access, "refresh": pair.refresh})


@routes.post("/api/token/refresh/")
async def refresh_token(request: web.Request) -> web.Response:
    """A new access token (and a rotated refresh token) for a refresh token."""
    data = await schema.read_json(request, schema.TOKEN_REFRESH)
    await request.app[LIMITER].hit(f"token:ip:{_client(request)}")
    pair = await (await resolve(request.app[CONTAINER].refresh_tokens())).execute(data["refresh"])
    return _json({"access": pair.access, "refresh": pair.refresh})


# --------------------------------------------------------------------------- uploads


@routes.post("/api/v1/recordings/request-upload/")
async def request_upload(request: web.Request) -> web.Response:
    """Create a recording awaiting upload; answer presigned upload URLs."""
    user = _user(request)
    data = await schema.read_json(request, schema.REQUEST_UPLOAD)
    live = data.get("upload") == "live"
    if not live and "file_size" not in data:
        raise InvalidInputError({"file_size": "This field is required."})
    await request.app[LIMITER].hit(f"upload:user:{user.id}", f"upload:ip:{_client(request)}")
    declared = RequestUploadInput(
        owner_id=user.id,
        filename=data["filename"],
        file_size=data.get("file_size", 0),
        quality=data.get("quality"),
        fps=data.get("fps"),
        has_system_audio=data.get("has_system_audio", False),
        has_microphone=data.get("has_microphone", False),
        title=data.get("title"),
        language=data.get("language"),
        num_speakers=data.get("num_speakers"),
        max_speakers=data.get("max_speakers"),
    )
    if live:
        return await live_upload.start_live_upload(request, declared)
    result = await (await request.app[USE_CASES].get("request_upload")).execute(declared)
    return _json(present.upload_response(result), status=201)


@routes.post(f"/api/v1/recordings/{ID}/upload-complete/")
async def upload_complete(request: web.Request) -> web.Response:
    """The upload is done: check the object and queue processing."""
    data = await schema.read_json(request, schema.UPLOAD_COMPLETE)
    result = await (await resolve(request.app[CONTAINER].complete_upload())).execute(
        CompleteUploadInput(
            _user(request).id, RecordingId(request.match_info["id"]), data["s3_key"]
        )
    )
    return _json(
        {
            "recording_id": result.recording.id,
            "status": result.recording.status.value,
            "job_id": result.job_id,
            "queued": result.queued,
            "recording": present.recording_summary(result.recording),
        }
    )


# --------------------------------------------------------------------------- recordings


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError({name: "A valid integer is required."}) from None


@routes.get("/api/v1/recordings/")
async def list_recordings(request: web.Request) -> web.Response:
    """The caller's recordings, newest first, paginated like DRF."""
    page = _int(request, "page", 1)
    size = _int(request, "page_size", 20)
    if not 1 <= page <= MAX_PAGE:
        raise web.HTTPNotFound(text='{"detail": "Invalid page."}', content_type="application/json")
    if not 1 <= size <= 100:
        raise InvalidInputError({"page_size": "Ensure this value is between 1 and 100."})
    status_raw = request.query.get("status")
    try:
        status = RecordingStatus(status_raw) if status_raw else None
    except ValueError:
        raise InvalidInputError(
            {"status": f'Select a valid choice. "{status_raw}" is not one of the choices.'}
        ) from None
    search = request.query.get("search") or None
    if search is not None and len(search) > 200:
        raise InvalidInputError({"search": "Ensure this field has no more than 200 characters."})
    if search is not None and "\x00" in search:
        raise InvalidInputError({"search": "Null characters are not allowed."})
    result = await (await request.app[USE_CASES].get("list_recordings")).execute(
        ListRecordingsInput(
            owner_id=_user(request).id,
            status=status,
            search=search,
            offset=(page - 1) * size,
            limit=size,
        )
    )
    if page > 1 and not result.items:
        raise web.HTTPNotFound(text='{"detail": "Invalid page."}', content_type="application/json")

    def link(number: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"}
        if number > 1:
            query["page"] = str(number)
        # The public URL, never the request's Host header (a client could name any host).
        base = request.app[SETTINGS].http.public_url + request.path
        return f"{base}?{urlencode(query)}" if query else base

    following = link(page + 1) if page * size < result.total else None
    previous = link(page - 1) if page > 1 else None
    return _json(present.page_body(result, previous, following))


async def _details(request: web.Request, urls: bool = True) -> Any:
    return await (await request.app[USE_CASES].get("get_recording")).execute(
        GetRecordingInput(RecordingId(request.match_info["id"]), _user(request).id, urls=urls)
    )


@routes.get(f"/api/v1/recordings/{ID}/")
async def get_recording(request: web.Request) -> web.Response:
    """One recording with short-lived download URLs, its job, transcript and analyses."""
    details = await _details(request)
    body = present.recording_detail(details)
    # A signed WebVTT link too: a <track src> cannot send the token.
    body["transcript_vtt_url"] = (
        None if details.transcript is None else request.app[SUBTITLES].url(details.recording.id)
    )
    return _json(body)


@routes.patch(f"/api/v1/recordings/{ID}/")
async def patch_recording(request: web.Request) -> web.Response:
    """Change title, description, language or the speaker-count hints."""
    data = await schema.read_json(request, schema.RECORDING_PATCH, partial=True)
    recording = await (await resolve(request.app[CONTAINER].update_recording())).execute(
        UpdateRecordingInput(
            owner_id=_user(request).id,
            recording_id=RecordingId(request.match_info["id"]),
            title=data.get("title"),
            description=data.get("description"),
            language=data.get("language"),
            clear_language="language" in data and data["language"] is None,
            speakers={k: data[k] for k in ("num_speakers", "max_speakers") if k in data},
        )
    )
    return _json(present.recording_summary(recording))


@routes.delete(f"/api/v1/recordings/{ID}/")
async def delete_recording(request: web.Request) -> web.Response:
    """Delete the recording, its rows and every stored object."""
    await (await resolve(request.app[CONTAINER].delete_recording())).execute(
        RecordingId(request.match_info["id"]), _user(request).id
    )
    return web.Response(status=204)


@routes.get(f"/api/v1/recordings/{ID}/status/")
async def recording_status(request: web.Request) -> web.Response:
    """Status for polling: the recording's, each step's, and progress in percent."""
    data = await _details(request, urls=False)
    job = data.job
    return _json(
        {
            "recording_id": data.recording.id,
            "status": data.recording.status.value,
            "error": data.recording.error,
            "progress": 0.0 if job is None else progress(job),
            "job_id": None if job is None else job.id,
            "job_status": None if job is None else job.status.value,
            "steps": [] if job is None else [step_to_dict(s) for s in job.steps],
        }
    )


@routes.get(f"/api/v1/recordings/{ID}/transcript/")
async def transcript(request: web.Request) -> web.Response:
    """The transcript as JSON, SRT, WebVTT or plain text (``?format=``)."""
    raw = request.query.get("format", "json")
    try:
        fmt = TranscriptFormat(raw)
    except ValueError:
        raise InvalidInputError(
            {"format": f'"{raw}" is not a valid choice (json, srt, vtt, txt).'}
        ) from None
    data = await _details(request, urls=False)
    if data.transcript is None:
        raise TranscriptNotFoundError("The recording has no transcript yet.")
    text = export(data.transcript, fmt, data.recording.speaker_names)
    headers = {}
    if fmt is not TranscriptFormat.JSON:
        name = f"transcript.{fmt.value}"
        headers["Content-Disposition"] = f'inline; filename="{name}"'
    return web.Response(
        text=text, content_type=CONTENT_TYPES[fmt], charset="utf-8", headers=headers
    )


@routes.post(f"/api/v1/recordings/{ID}/retry/")
async def retry(request: web.Request) -> web.Response:
    """Re-run only the failed steps."""
    result = await (await resolve(request.app[CONTAINER].retry_job())).execute(
        RetryJobInput(RecordingId(request.match_info["id"]), _user(request).id)
    )
    return _json(
        {"job_id": result.job_id, "reset": list(result.reset), "queued": list(result.queued)},
        status=202,
    )


@routes.post(f"/api/v1/recordings/{ID}/analyses/{{kind}}/rerun/")
async def rerun_analysis(request: web.Request) -> web.Response:
    """Run one analysis again from the stored transcript."""
    raw = request.match_info["kind"]
    try:
        kind = AnalysisKind(raw)
    except ValueError:
        raise web.HTTPNotFound() from None
    result = await (await resolve(request.app[CONTAINER].rerun_analysis())).execute(
        RerunAnalysisInput(RecordingId(request.match_info["id"]), kind, _user(request).id)
    )
    return _json(
        {"job_id": result.job_id, "kind": kind.value, "queued": list(result.queued)}, status=202
    )


@routes.patch(f"/api/v1/recordings/{ID}/speakers/")
async def rename_speakers(request: web.Request) -> web.Response:
    """Name speakers: ``{"0": "Alice"}``; an empty name removes one."""
    data = await schema.read_json(request, schema.SPEAKERS)
    recording = await (await resolve(request.app[CONTAINER].rename_speakers())).execute(
        RenameSpeakersInput(_user(request).id, RecordingId(request.match_info["id"]), data)
    )
    return _json(present.speaker_names_to_dict(recording))


# --------------------------------------------------------------------------- account


@routes.get("/api/v1/me/")
async def get_account(request: web.Request) -> web.Response:
    """The caller's account and settings."""
    user = await (await resolve(request.app[CONTAINER].get_user())).execute(_user(request).id)
    return _json(present.account_to_dict(user))


@routes.patch("/api/v1/me/")
async def patch_account(request: web.Request) -> web.Response:
    """Change the caller's settings: ``{"voice_profiles": false}`` opts out of voice
    profiles and deletes them."""
    data = await schema.read_json(request, schema.ACCOUNT_PATCH)
    result = await (await resolve(request.app[CONTAINER].set_voice_profiles())).execute(
        SetVoiceProfilesInput(_user(request).id, data["voice_profiles"])
    )
    return _json(present.account_to_dict(result.user, deleted_profiles=result.deleted))


# --------------------------------------------------------------------------- voice profiles

PROFILE_ID = r"{id:[A-Za-z0-9_-]{1,64}}"


@routes.get("/api/v1/voice-profiles/")
async def list_voice_profiles(request: web.Request) -> web.Response:
    """The caller's voice profiles, by name."""
    profiles = await (await resolve(request.app[CONTAINER].list_voice_profiles())).execute(
        _user(request).id
    )
    body = [present.voice_profile_to_dict(p) for p in profiles]
    return _json({"count": len(profiles), "results": body})


@routes.patch(f"/api/v1/voice-profiles/{PROFILE_ID}/")
async def rename_voice_profile(request: web.Request) -> web.Response:
    """Rename a voice profile: ``{"name": "Alice"}``."""
    data = await schema.read_json(request, schema.VOICE_PROFILE_PATCH)
    profile = await (await resolve(request.app[CONTAINER].rename_voice_profile())).execute(
        RenameVoiceProfileInput(
            _user(request).id, VoiceProfileId(request.match_info["id"]), data["name"]
        )
    )
    return _json(present.voice_profile_to_dict(profile))


@routes.delete(f"/api/v1/voice-profiles/{PROFILE_ID}/")
async def delete_voice_profile(request: web.Request) -> web.Response:
    """Delete a voice profile and its matches (names given by hand stay)."""
    await (await resolve(request.app[CONTAINER].delete_voice_profile())).execute(
        _user(request).id, VoiceProfileId(request.match_info["id"])
    )
    return web.Response(status=204)


# --------------------------------------------------------------------------- webhooks


@routes.post("/api/v1/webhooks/")
async def create_webhook(request: web.Request) -> web.Response:
    """Register a webhook; the signing secret is in this answer only."""
    data = await schema.read_json(request, schema.WEBHOOK)
    endpoint = await (await resolve(request.app[CONTAINER].create_webhook())).execute(
        CreateWebhookInput(
            owner_id=_user(request).id,
            url=data["url"],
            events=tuple(data["events"]),
            description=data.get("description", ""),
        )
    )
    return _json(present.webhook_to_dict(endpoint, secret=True), status=201)


@routes.get("/api/v1/webhooks/")
async def list_webhooks(request: web.Request) -> web.Response:
    """The caller's webhooks (without secrets)."""
    endpoints = await (await resolve(request.app[CONTAINER].list_webhooks())).execute(
        _user(request).id
    )
    return _json(
        {"count": len(endpoints), "results": [present.webhook_to_dict(e) for e in endpoints]}
    )


@routes.delete(f"/api/v1/webhooks/{ID}/")
async def delete_webhook(request: web.Request) -> web.Response:
    """Delete a webhook and its delivery log."""
    await (await resolve(request.app[CONTAINER].delete_webhook())).execute(
        WebhookId(request.match_info["id"]), _user(request).id
    )
    return web.Response(status=204)


@routes.get(f"/api/v1/webhooks/{ID}/deliveries/")
async def list_deliveries(request: web.Request) -> web.Response:
    """Every delivery of a webhook with each attempt's status or error."""
    deliveries = await (await resolve(request.app[CONTAINER].list_deliveries())).execute(
        WebhookId(request.match_info["id"]), _user(request).id
    )
    return _json(
        {"count": len(deliveries), "results": [present.delivery_to_dict(d) for d in deliveries]}
    )
