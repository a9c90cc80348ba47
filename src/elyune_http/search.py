"""Search and ask: ``GET /api/v1/search/``, ``POST /api/v1/ask/`` and
``POST /api/v1/recordings/{id}/ask/``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import MAX_QUERY_LENGTH, InvalidInputError, RecordingId, RecordingStatus, User
from elyune_core.use_cases import AskInput, SearchInput
from elyune_http import schema
from elyune_http.keys import CONTAINER, LIMITER, SETTINGS, USER
from elyune_http.middleware import json_dumps
from elyune_http.present import answer_to_dict, search_hit_to_dict

routes = web.RouteTableDef()
ID = r"{id:(?!request-upload/)[A-Za-z0-9_-]{1,64}}"
MAX_PAGE = 1_000_000
#: ``YYYY-MM-DD`` (a day past its month's end rolls over into the next month).
DATE = "(?:[1-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
RECORDING_ID = "[A-Za-z0-9_-]{1,64}"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=json_dumps)


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError({name: "A valid integer is required."}) from None


def parse_day(name: str, raw: str) -> datetime:
    """The start (UTC) of the day *raw* (``YYYY-MM-DD``), else ``InvalidInputError`` for
    the field *name* (the search's ``created_after``/``created_before``, here and in the
    CLI)."""
    if not re.fullmatch(DATE, raw):
        raise InvalidInputError({name: "Use a date like 2026-03-01 (YYYY-MM-DD)."})
    year, month, day = (int(x) for x in raw.split("-"))
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:  # 2026-02-31: not a day of the calendar
        raise InvalidInputError(
            {name: f"Use a date like 2026-03-01 (YYYY-MM-DD). {raw} is not a day of the calendar."}
        ) from None


def _day(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    return parse_day(name, raw)


def _text(request: web.Request, name: str, limit: int, *, required: bool = False) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise InvalidInputError({name: "This field is required."})
        return None
    if len(raw) > limit:
        raise InvalidInputError({name: f"Ensure this field has no more than {limit} characters."})
    if "\x00" in raw:
        raise InvalidInputError({name: "Null characters are not allowed."})
    if not schema.valid_text(raw):
        raise InvalidInputError({name: schema.LONE_SURROGATE})
    return raw


@routes.get("/api/v1/search/")
async def search(request: web.Request) -> web.Response:
    """Full-text search over the caller's transcripts, titles, speakers and analyses."""
    user: User = request[USER]
    page = _int(request, "page", 1)
    size = _int(request, "page_size", 20)
    if not 1 <= page <= MAX_PAGE:
        raise web.HTTPNotFound(text='{"detail": "Invalid page."}', content_type="application/json")
    if not 1 <= size <= 100:
        raise InvalidInputError({"page_size": "Ensure this value is between 1 and 100."})
    q = _text(request, "q", MAX_QUERY_LENGTH, required=True)
    assert q is not None
    if not q.strip():
        raise InvalidInputError({"q": "This field may not be blank."})
    status_raw = request.query.get("status")
    try:
        status = RecordingStatus(status_raw) if status_raw else None
    except ValueError:
        raise InvalidInputError(
            {"status": f'Select a valid choice. "{status_raw}" is not one of the choices.'}
        ) from None
    recording = request.query.get("recording") or None
    if recording is not None and not re.fullmatch(RECORDING_ID, recording):
        raise InvalidInputError({"recording": "Not a recording id."})
    result = await (await resolve(request.app[CONTAINER].search_recordings())).execute(
        SearchInput(
            owner_id=user.id,
            text=q,
            speaker=_text(request, "speaker", 100),
            status=status,
            created_after=_day(request, "created_after"),
            created_before=_day(request, "created_before"),
            recording_id=None if recording is None else RecordingId(recording),
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
        base = request.app[SETTINGS].http.public_url + request.path
        return f"{base}?{urlencode(query)}" if query else base

    return _json(
        {
            "count": result.total,
            "next": link(page + 1) if page * size < result.total else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": [search_hit_to_dict(h) for h in result.items],
        }
    )


async def _ask(request: web.Request, recording_id: RecordingId | None) -> web.Response:
    data = await schema.read_json(request, schema.ASK)
    user: User = request[USER]
    # an answer may cost a language model's tokens: limited like uploads, per user
    await request.app[LIMITER].hit(f"ask:user:{user.id}")
    answer = await (await resolve(request.app[CONTAINER].ask_question())).execute(
        AskInput(owner_id=user.id, question=data["question"], recording_id=recording_id)
    )
    return _json(answer_to_dict(answer))


@routes.post("/api/v1/ask/")
async def ask_all(request: web.Request) -> web.Response:
    """Answer a question from all of the caller's recordings, with checked citations."""
    return await _ask(request, None)


@routes.post(f"/api/v1/recordings/{ID}/ask/")
async def ask_one(request: web.Request) -> web.Response:
    """Answer a question from one recording, with checked citations."""
    return await _ask(request, RecordingId(request.match_info["id"]))


__all__ = ["parse_day", "routes"]
