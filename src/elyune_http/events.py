"""Live progress as server-sent events: one event per step change, closed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import ElyuneError, GetRecordingInput, JobStatus, RecordingId
from elyune_core.codec import step_to_dict
from elyune_core.pipeline import progress
from elyune_http.keys import CONTAINER, USER
from elyune_http.middleware import cors_headers

routes = web.RouteTableDef()
HEARTBEAT = 15.0
POLL = 1.0


@routes.get("/api/v1/recordings/{id:[A-Za-z0-9_-]{1,64}}/events/")
async def recording_events(request: web.Request) -> web.StreamResponse:
    """Stream ``step`` events as the job's steps change, then ``done`` and close.

    The first events describe the current state, so a client that connects late misses
    nothing. Changes are noticed at once in this process and within a second when the
    steps run in other processes (workers).
    """
    container = request.app[CONTAINER]
    recording_id = RecordingId(request.match_info["id"])
    get = await resolve(container.get_recording())
    query = GetRecordingInput(recording_id, request[USER].id)
    details = await get.execute(query)  # 404 before the stream starts
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **cors_headers(request),
        }
    )
    await response.prepare(request)
    seen: dict[str, tuple[Any, ...]] = {}
    last_write = time.monotonic()
    async with container.events().subscribe(recording_id) as queue:
        while True:
            job = details.job
            if job is not None:
                for step in job.steps:
                    state = (step.status, step.attempts, step.progress, step.error)
                    if seen.get(step.name.value) != state:
                        seen[step.name.value] = state
                        payload = {
                            **step_to_dict(step),
                            "recording_status": details.recording.status.value,
                            "progress_total": progress(job),
                        }
                        await _send(response, "step", payload)
                        last_write = time.monotonic()
                if job.status.finished:
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
                    )
                    break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.get(), timeout=POLL)
            if time.monotonic() - last_write > HEARTBEAT:
                await response.write(b": keep-alive\n\n")
                last_write = time.monotonic()
            try:
                details = await get.execute(query)
            except ElyuneError as exc:  # deleted meanwhile, or the database is away
                await _send(response, "error", {"detail": str(exc)})
                break
    await response.write_eof()
    return response


async def _send(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    await response.write(f"event: {event}\ndata: {body}\n\n".encode())
