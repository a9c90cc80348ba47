"""The embedded object store's signed URLs, served by the API itself.

``PUT`` streams the body to disk in constant memory and refuses more bytes than the URL
allows; ``POST`` does the same for a form upload; ``GET`` serves a file (with ranges,
so videos can seek). Refusals look like S3's: 403 for a bad or expired signature.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from elyune_adapters.container import resolve
from elyune_core import InvalidTokenError, ObjectNotFoundError, check_key
from elyune_core.errors import InvalidKeyError
from elyune_http.keys import CONTAINER
from elyune_http.middleware import problem

routes = web.RouteTableDef()
# Chunks are written straight from the event loop (a copy into the page cache takes
# microseconds); handing each to a thread made glibc grow an arena per thread.
CHUNK = 256 * 1024


async def _receiver(request: web.Request) -> Any:
    receiver = await resolve(request.app[CONTAINER].upload_receiver())
    if receiver is None:  # S3 mode: the browser talks to the bucket, not to us
        raise web.HTTPNotFound()
    return receiver


def _key(request: web.Request) -> str:
    try:
        return check_key(request.match_info["key"])
    except InvalidKeyError:
        raise web.HTTPNotFound() from None


@routes.put("/api/v1/storage/{key:.+}")
async def put_object(request: web.Request) -> web.Response:
    """Store the body under the signed key (at most the signed size)."""
    receiver = await _receiver(request)
    key = _key(request)
    try:
        signed = receiver.verify("put", key, request.query)
    except InvalidTokenError as exc:
        return problem(403, {"detail": str(exc)})
    if receiver.exists(key):  # one upload per URL: no replacing a file being processed
        return problem(403, {"detail": "This upload URL was already used."})
    if request.content_length is not None and request.content_length > signed.size:
        return problem(413, {"detail": f"The upload may have at most {signed.size} bytes."})
    writer = receiver.writer(key)
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            if writer.size + len(chunk) > signed.size:
                return problem(413, {"detail": f"The upload may have at most {signed.size} bytes."})
            writer.write(chunk)
        await asyncio.to_thread(writer.commit)
    finally:
        writer.abort()
    return web.Response(status=200, headers={"ETag": f'"{key.rsplit("/", 1)[0][-12:]}"'})


@routes.post("/api/v1/storage/")
async def post_object(request: web.Request) -> web.Response:
    """A form upload: fields ``key``, ``policy``, ``signature``, then ``file``."""
    receiver = await _receiver(request)
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        return problem(400, {"detail": "Send a multipart/form-data body."})
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            return problem(400, {"detail": "Nested multipart bodies are not supported."})
        if part.name != "file":
            if part.name and len(fields) < 20:
                fields[part.name] = (await part.read(decode=True))[:4096].decode(errors="replace")
            continue
        try:
            signed = receiver.verify_post(fields)
        except InvalidTokenError as exc:
            return problem(403, {"detail": str(exc)})
        writer = receiver.writer(signed.key)
        try:
            while chunk := await part.read_chunk(CHUNK):
                if writer.size + len(chunk) > signed.size:
                    return problem(
                        400,
                        {
                            "detail": f"Your proposed upload exceeds the maximum allowed size "
                            f"of {signed.size} bytes."
                        },
                    )
                writer.write(chunk)
            if writer.size == 0:
                return problem(
                    400,
                    {"detail": "Your proposed upload is smaller than the minimum allowed size."},
                )
            await asyncio.to_thread(writer.commit)
        finally:
            writer.abort()
        return web.Response(status=204)
    return problem(400, {"detail": "The form has no file field."})


@routes.get("/api/v1/storage/{key:.+}")
async def get_object(request: web.Request) -> web.StreamResponse:
    """Download a file through a signed URL (supports ranges)."""
    receiver = await _receiver(request)
    key = _key(request)
    try:
        signed = receiver.verify("get", key, request.query)
        path = receiver.path(key)
    except InvalidTokenError as exc:
        return problem(403, {"detail": str(exc)})
    except ObjectNotFoundError:
        return problem(404, {"detail": "Not found."})
    headers = {"Cache-Control": "private, max-age=300"}
    if signed.filename:
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(signed.filename)}"
    return web.FileResponse(path, headers=headers)
