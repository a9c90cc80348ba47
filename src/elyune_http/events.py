"""Live progress as server-sent events: one event per step change, closed at the end.

Every ``step`` and ``done`` event has an id that says which state of the job the client
has seen, so a reconnecting ``EventSource`` (which sends it back as ``Last-Event-ID``)
gets only what changed since. A reconnect after ``done`` of a job that is still finished
gets ``204 No Content``, which tells the browser to stop reconnecting. A stream also
ends when its access token expires (an ``error`` event; the reconnect with that token
is refused) and when the recording's upload URL has expired without an upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import (
    ElyuneError,
    GetRecordingInput,
    JobStatus,
    RecordingDetails,
    RecordingId,
    RecordingStatus,
    progress,
)
from elyune_core.entities import Step
from elyune_http.keys import CONTAINER, SETTINGS, TOKEN_EXPIRES, USER
from elyune_http.middleware import cors_headers
from elyune_http.present import step_to_dict

routes = web.RouteTableDef()
HEARTBEAT = 15.0
POLL = 1.0
# An upload that started just before its URL expired may still be running.
UPLOAD_GRACE = timedelta(minutes=15)
DONE = "done"
EXPIRED = "expired"


def _stamp(step: Step) -> str:
    """A short fingerprint of what a client saw of *step*."""
    state = f"{step.status.value}|{step.attempts}|{step.progress}|{step.error}"
    return hashlib.blake2s(state.encode(), digest_size=4).hexdigest()


def _last_event(request: web.Request) -> tuple[str, list[str]]:
    """The job id and step fingerprints (or ``done``/``expired``) the client last saw."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("lastEventId") or ""
    job_id, _, rest = raw[:512].partition(":")
    return job_id, rest.split(".") if rest else []


def _finished(details: RecordingDetails) -> bool:
    job = details.job
    return job is not None and job.status.finished


def _upload_deadline(
    request: web.Request, details: RecordingDetails, live: dict[str, Any] | None = None
) -> datetime | None:
    """When to give up on a recording that is still waiting for its file (never for a
    live recording: it comes chunk by chunk, for as long as it is recorded)."""
    if details.recording.status is not RecordingStatus.AWAITING_UPLOAD or details.job:
        return None
    if live is not None:
        return None
    ttl = timedelta(seconds=request.app[SETTINGS].http.upload_url_seconds)
    return details.recording.created_at + ttl + UPLOAD_GRACE


@routes.get("/api/v1/recordings/{id:[A-Za-z0-9_-]{1,64}}/events/")
async def recording_events(request: web.Request) -> web.StreamResponse:
    """Stream ``step`` events as the job's steps change, then ``done`` and close.

    While a live recording is recorded, ``live`` events say how far its processing has
    caught up (``transcribed_until``, ``media_seconds``, ``lag_seconds``) each time it
    moves. The first events describe the current state, so a client that connects late
    misses nothing. Changes are noticed at once in this process and within a second when the
    steps run in other processes (workers).
    """
    container = request.app[CONTAINER]
    recording_id = RecordingId(request.match_info["id"])
    get = await resolve(container.get_recording())
    query = GetRecordingInput(recording_id, request[USER].id)
    details = await get.execute(query)  # 404 before the stream starts
    live_progress = await resolve(container.get_live_progress())
    live = await live_progress.execute(recording_id, request[USER].id)
    last_job, last_seen = _last_event(request)
    now = datetime.now(UTC)
    never_uploaded = _upload_deadline(request, details, live)
    if (
        _finished(details)
        and details.job is not None
        and last_job == details.job.id
        and last_seen == [DONE]
    ) or (
        never_uploaded is not None
        and never_uploaded <= now
        and last_job == recording_id
        and last_seen == [EXPIRED]
    ):
        return web.Response(status=204, headers=cors_headers(request))
    token_expires = request.get(TOKEN_EXPIRES)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **cors_headers(request),
        }
    )
    await response.prepare(request)
    seen: dict[str, str] = {}
    if details.job is not None and last_job == details.job.id and DONE not in last_seen:
        for step, stamp in zip(details.job.steps, last_seen, strict=False):
            seen[step.name.value] = stamp
    last_write = time.monotonic()
    live_seen: dict[str, Any] | None = None
    async with container.events().subscribe(recording_id) as queue:
        while True:
            if live is not None and live != live_seen and not live["processed"]:
                live_seen = live
                await _send(response, "live", live)
                last_write = time.monotonic()
            job = details.job
            if job is not None:
                changed = False
                for step in job.steps:
                    stamp = _stamp(step)
                    if seen.get(step.name.value) != stamp:
                        seen[step.name.value] = stamp
                        changed = True
                        payload = {
                            **step_to_dict(step),
                            "recording_status": details.recording.status.value,
                            "progress_total": progress(job),
                        }
                        stamps = ".".join(seen.get(s.name.value, "-") for s in job.steps)
                        await _send(response, "step", payload, f"{job.id}:{stamps}")
                if changed:
                    last_write = time.monotonic()
                if _finished(details):
                    usable = job.status in (JobStatus.SUCCEEDED, JobStatus.PARTIAL)
                    await _send(
                        response,
                        "done",
                        {  # from the job: the recording row may not have caught up yet
                            "status": "ready" if usable else "failed",
                            "job_status": job.status.value,
                            "error": job.error,
                            # ready, but the MP4 or the thumbnail failed (retry re-runs it)
                            "partial": job.status is JobStatus.PARTIAL,
                            "failed_steps": [
                                s.name.value for s in job.steps if s.status.value == "failed"
                            ],
                        },
                        f"{job.id}:{DONE}",
                    )
                    break
            now = datetime.now(UTC)
            never_uploaded = _upload_deadline(request, details, live)
            if never_uploaded is not None and never_uploaded <= now:
                await _send(
                    response,
                    "error",
                    {"detail": "The recording was never uploaded: its upload URL has expired."},
                    f"{recording_id}:{EXPIRED}",
                )
                break
            if token_expires is not None and token_expires <= now:
                await _send(
                    response,
                    "error",
                    {
                        "detail": "The access token has expired; reconnect with a new one.",
                        "code": "token_not_valid",
                    },
                )
                break
            deadlines = [d for d in (never_uploaded, token_expires) if d is not None]
            wait = min([POLL, *((d - now).total_seconds() for d in deadlines)])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.get(), timeout=max(wait, 0.01))
            if time.monotonic() - last_write > HEARTBEAT:
                await response.write(b": keep-alive\n\n")
                last_write = time.monotonic()
            try:
                details = await get.execute(query)
                if live is not None:
                    live = await live_progress.execute(recording_id, request[USER].id)
            except ElyuneError as exc:  # deleted meanwhile, or the database is away
                await _send(response, "error", {"detail": str(exc)})
                break
    await response.write_eof()
    return response


async def _send(
    response: web.StreamResponse, event: str, data: dict[str, Any], event_id: str | None = None
) -> None:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"id: {event_id}\n" if event_id is not None else ""
    await response.write(f"{head}event: {event}\ndata: {body}\n\n".encode())
