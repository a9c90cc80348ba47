"""The operator API: every user's jobs, retries, the queue, the users (staff only).

Every route here answers 401 without a valid token (the authentication middleware) and
403 to a user who is not staff, before it looks anything up: a non-staff user learns
nothing about other users' data here. The regular routes keep their per-user isolation
(another user's recording is a 404 to everyone, staff included); staff see other users'
jobs and recordings through these routes only.

``GET /api/v1/me/`` (any user, in :mod:`elyune_http.views`) tells the web app whether to show
the operator view (``is_staff``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import InvalidInputError, JobId, JobStatus, StepName, User, UserId
from elyune_core.entities import iso_time
from elyune_core.use_cases import (
    CreateUserInput,
    JobOverview,
    ListJobsInput,
    QueueReport,
    RetryStepInput,
    SetPasswordInput,
    SetUserFlagsInput,
)
from elyune_http import schema
from elyune_http.keys import CONTAINER, USER
from elyune_http.middleware import json_dumps
from elyune_http.present import job_to_dict

routes = web.RouteTableDef()
ID = r"{id:[A-Za-z0-9_-]{1,64}}"
PREFIX = "/api/v1/operator"
JOB_FILTERS = (*(s.value for s in JobStatus), "stuck")
MAX_PAGE = 1_000_000


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, dumps=json_dumps, headers={"Cache-Control": "no-store"}
    )


def staff(request: web.Request) -> User:
    """The request's user if staff; a 403 otherwise (401 came earlier without a token)."""
    user: User = request[USER]
    if not user.is_staff:
        raise web.HTTPForbidden(
            text='{"detail": "Only staff users may use the operator view."}',
            content_type="application/json",
        )
    return user


def user_to_dict(user: User) -> dict[str, Any]:
    """A user as the operator API shows it (never the password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "created_at": iso_time(user.created_at),
    }


def overview_to_dict(overview: JobOverview) -> dict[str, Any]:
    """A job with its steps (attempts, worker, lease, error), recording and owner."""
    body = job_to_dict(overview.job)
    body["stuck"] = overview.stuck
    for data, step in zip(body["steps"], overview.job.steps, strict=True):
        data["lease_expires_at"] = iso_time(step.lease_expires_at)
        data["stuck"] = step.name in overview.stuck_steps
    recording = overview.recording
    body["recording"] = (
        None
        if recording is None
        else {
            "id": recording.id,
            "title": recording.title,
            "filename": recording.filename,
            "status": recording.status.value,
            "error": recording.error,
            "duration": recording.duration,
            "created_at": iso_time(recording.created_at),
        }
    )
    owner = overview.owner
    body["owner"] = None if owner is None else {"id": owner.id, "username": owner.username}
    return body


def _page_number(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError({name: "A valid integer is required."}) from None
    if not 1 <= value <= top:
        raise InvalidInputError({name: f"Ensure this value is between 1 and {top}."})
    return value


# --------------------------------------------------------------------------- who am I


# --------------------------------------------------------------------------- jobs


@routes.get(f"{PREFIX}/jobs/")
async def list_jobs(request: web.Request) -> web.Response:
    """Every user's jobs, newest first: ``?status=`` a job status or ``stuck``."""
    staff(request)
    page = _page_number(request, "page", 1, MAX_PAGE)
    size = _page_number(request, "page_size", 50, 200)
    wanted = request.query.get("status", "")
    if wanted and wanted not in JOB_FILTERS:
        raise InvalidInputError(
            {"status": f'Select a valid choice. "{wanted[:50]}" is not one of the choices.'}
        )
    result = await (await resolve(request.app[CONTAINER].list_jobs())).execute(
        ListJobsInput(
            status=JobStatus(wanted) if wanted and wanted != "stuck" else None,
            stuck=wanted == "stuck",
            offset=(page - 1) * size,
            limit=size,
        )
    )
    return _json(
        {
            "count": result.total,
            "page": page,
            "page_size": size,
            "results": [overview_to_dict(item) for item in result.items],
        }
    )


@routes.get(f"{PREFIX}/jobs/{ID}/")
async def get_job(request: web.Request) -> web.Response:
    """One job of any user."""
    staff(request)
    found = await (await resolve(request.app[CONTAINER].get_job())).execute(
        JobId(request.match_info["id"])
    )
    return _json(overview_to_dict(found))


@routes.post(f"{PREFIX}/jobs/{ID}/retry/")
async def retry_job(request: web.Request) -> web.Response:
    """Retry the failed steps, or one failed or stuck step (``{"step": name}``)."""
    staff(request)
    data = (
        await schema.read_json(request, schema.JOB_RETRY)
        if request.content_length or request.body_exists
        else {}
    )
    step = StepName(data["step"]) if data.get("step") else None
    container = request.app[CONTAINER]
    result = await (await resolve(container.retry_job_step())).execute(
        RetryStepInput(JobId(request.match_info["id"]), step)
    )
    return _json(
        {"job_id": result.job_id, "reset": list(result.reset), "queued": list(result.queued)},
        status=202,
    )


# --------------------------------------------------------------------------- the queue


def queue_to_dict(report: QueueReport) -> dict[str, Any]:
    """The queue's depth and workers, and the jobs and steps by status."""
    queue = report.queue
    statistics = report.statistics
    return {
        "backend": None if queue is None else queue.backend,
        "available": queue is not None,
        "error": report.error,
        "waiting": None if queue is None else queue.waiting,
        "running": None if queue is None else queue.running,
        "consumers": []
        if queue is None
        else [
            {"name": c.name, "idle_seconds": c.idle_seconds, "pending": c.pending}
            for c in queue.consumers
        ],
        "workers": [
            {"name": w.name, "last_seen": iso_time(w.last_seen), "running": w.running}
            for w in report.workers
        ],
        "jobs": dict(statistics.jobs),
        "stuck_steps": statistics.stuck_steps,
    }


@routes.get(f"{PREFIX}/queue/")
async def queue(request: web.Request) -> web.Response:
    """The queue's depth, its consumers, and the workers seen recently."""
    staff(request)
    report = await (await resolve(request.app[CONTAINER].queue_overview())).execute()
    return _json(queue_to_dict(report))


# --------------------------------------------------------------------------- users


@routes.get(f"{PREFIX}/users/")
async def list_users(request: web.Request) -> web.Response:
    """Every user, by name."""
    staff(request)
    async with (await resolve(request.app[CONTAINER].read_uow()))() as uow:
        users = await uow.users.list()
    return _json({"count": len(users), "results": [user_to_dict(u) for u in users]})


@routes.post(f"{PREFIX}/users/")
async def create_user(request: web.Request) -> web.Response:
    """A new user (a name taken: 409)."""
    staff(request)
    data = await schema.read_json(request, schema.USER_CREATE)
    user = await (await resolve(request.app[CONTAINER].create_user())).execute(
        CreateUserInput(data["username"], data["password"], is_staff=data.get("is_staff", False))
    )
    return _json(user_to_dict(user), status=201)


@routes.patch(f"{PREFIX}/users/{ID}/")
async def patch_user(request: web.Request) -> web.Response:
    """Deactivate or activate a user, make one staff or not (not yourself: 409)."""
    acting = staff(request)
    data = await schema.read_json(request, schema.USER_PATCH, partial=True)
    user = await (await resolve(request.app[CONTAINER].set_user_flags())).execute(
        SetUserFlagsInput(
            request.match_info["id"],
            is_active=data.get("is_active"),
            is_staff=data.get("is_staff"),
            by_id=True,
        ),
        acting=UserId(acting.id),
    )
    return _json(user_to_dict(user))


@routes.post(f"{PREFIX}/users/{ID}/password/")
async def set_password(request: web.Request) -> web.Response:
    """Reset a user's password; it ends the user's sessions."""
    staff(request)
    data = await schema.read_json(request, schema.USER_PASSWORD)
    await (await resolve(request.app[CONTAINER].set_password())).execute(
        SetPasswordInput(request.match_info["id"], data["password"], by_id=True)
    )
    return web.Response(status=204, headers={"Cache-Control": "no-store"})
