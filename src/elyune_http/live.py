"""Handlers of live (chunked, resumable) uploads: declare chunks and get their URLs, ask
what arrived, finish. ``request-upload`` with ``"upload": "live"`` starts one
(:func:`start_live_upload`, called by that route's handler)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import RecordingId, User
from elyune_core.errors import InvalidInputError
from elyune_core.use_cases import (
    ChunkSpec,
    DeclareChunksInput,
    FinishLiveUploadInput,
    GetLiveUploadInput,
    RequestUploadInput,
)
from elyune_http import present, schema
from elyune_http.keys import CONTAINER, USE_CASES, USER
from elyune_http.middleware import json_dumps

routes = web.RouteTableDef()
ID = r"{id:(?!request-upload/)[A-Za-z0-9_-]{1,64}}"


def _user(request: web.Request) -> User:
    user: User = request[USER]
    return user


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=json_dumps)


def _id(request: web.Request) -> RecordingId:
    return RecordingId(request.match_info["id"])


async def start_live_upload(request: web.Request, data: RequestUploadInput) -> web.Response:
    """Create a recording uploaded live; answer its routes and chunk limits."""
    result = await (await request.app[USE_CASES].get("request_live_upload")).execute(data)
    return _json(present.live_upload_response(result), status=201)


def _chunk_specs(items: list[Any]) -> tuple[ChunkSpec, ...]:
    specs = []
    for n, item in enumerate(items):
        try:
            chunk = schema.LIVE_CHUNK.parse(item)
        except InvalidInputError as exc:
            field, messages = next(iter(exc.errors.items()))
            raise InvalidInputError({"chunks": f"Chunk {n}: {field}: {messages[0]}"}) from None
        specs.append(ChunkSpec(chunk["index"], chunk["size"], chunk["md5"]))
    return tuple(specs)


@routes.post(f"/api/v1/recordings/{ID}/chunks/")
async def declare_chunks(request: web.Request) -> web.Response:
    """Declare chunks of a live upload; answer a signed PUT URL for each."""
    user = _user(request)
    data = await schema.read_json(request, schema.LIVE_CHUNKS)
    limiter = await resolve(request.app[CONTAINER].chunk_rate_limiter())
    await limiter.hit(f"chunks:user:{user.id}")
    result = await (await request.app[USE_CASES].get("declare_chunks")).execute(
        DeclareChunksInput(user.id, _id(request), _chunk_specs(data["chunks"]))
    )
    return _json(present.chunk_tickets(result))


@routes.get(f"/api/v1/recordings/{ID}/upload/")
async def live_status(request: web.Request) -> web.Response:
    """What arrived of a live upload (404 for a recording uploaded whole)."""
    status = await (await request.app[USE_CASES].get("get_live_upload")).execute(
        GetLiveUploadInput(_user(request).id, _id(request))
    )
    return _json(present.live_status(status))


@routes.post(f"/api/v1/recordings/{ID}/finish/")
async def finish(request: web.Request) -> web.Response:
    """Finish a live upload once chunks 0 to N-1 arrived (202; the same again)."""
    data = await schema.read_json(request, schema.LIVE_FINISH)
    result = await (await request.app[USE_CASES].get("finish_live_upload")).execute(
        FinishLiveUploadInput(_user(request).id, _id(request), data["chunks"])
    )
    return _json(present.live_finished(result), status=202)
