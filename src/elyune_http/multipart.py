"""Resumable multipart uploads of a recording's file (large files recorded earlier).

On a recording created by request-upload (still awaiting its file):

- ``POST /api/v1/recordings/{id}/multipart/`` starts an upload:
  ``{"upload_id", "part_size", "parts"}``;
- ``POST .../multipart/parts/`` ``{"upload_id", "numbers"}`` signs a PUT URL per part;
- ``GET .../multipart/?upload_id=`` lists the stored parts (to resume);
- ``POST .../multipart/complete/`` ``{"upload_id", "parts": [{"number", "etag"}]}``
  joins them and answers as upload-complete;
- ``DELETE .../multipart/?upload_id=`` aborts.

In the embedded mode the part URLs point at ``PUT /api/v1/storage-parts/{upload}/{n}``
below (public: the signature is the credential), which answers the part's ``ETag``
(exposed to browsers by the CORS middleware).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import InvalidTokenError, ObjectNotFoundError, RecordingId, User
from elyune_core.errors import ConflictError, InvalidInputError, RecordingNotFoundError
from elyune_core.ports import UploadPart
from elyune_core.use_cases.multipart_upload import (
    MAX_PART_SIZE,
    MAX_PARTS,
    CompleteMultipartInput,
    MultipartInput,
    SignPartsInput,
)
from elyune_http import present, schema
from elyune_http.keys import CONTAINER, LIMITER, USER
from elyune_http.middleware import json_dumps, problem
from elyune_http.views import ID

routes = web.RouteTableDef()
BASE = f"/api/v1/recordings/{ID}/multipart/"
PARTS_ROUTE = "/api/v1/storage-parts/{upload_id}/{number}"
CHUNK = 256 * 1024


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=json_dumps)


def _upload(request: web.Request, upload_id: str = "") -> MultipartInput:
    user: User = request[USER]
    return MultipartInput(user.id, RecordingId(request.match_info["id"]), upload_id)


def _query_upload_id(request: web.Request) -> str:
    upload_id = request.query.get("upload_id", "")
    if not upload_id:
        raise InvalidInputError({"upload_id": "This query parameter is required."})
    return upload_id


@routes.post(BASE)
async def start_multipart(request: web.Request) -> web.Response:
    """Start a multipart upload of the recording's file (rate-limited as request-upload)."""
    user: User = request[USER]
    await request.app[LIMITER].hit(
        f"upload:user:{user.id}", f"upload:ip:{request.remote or 'unknown'}"
    )
    use_case = await resolve(request.app[CONTAINER].start_multipart())
    result = await use_case.execute(_upload(request))
    return _json(
        {"upload_id": result.upload_id, "part_size": result.part_size, "parts": result.parts},
        status=201,
    )


@routes.post(BASE + "parts/")
async def sign_parts(request: web.Request) -> web.Response:
    """Presigned PUT URLs for the numbered parts."""
    data = await schema.read_json(request, schema.MULTIPART_PARTS)
    use_case = await resolve(request.app[CONTAINER].sign_multipart_parts())
    result = await use_case.execute(
        SignPartsInput(_upload(request, data["upload_id"]), tuple(data["numbers"]))
    )
    return _json(
        {
            "upload_id": data["upload_id"],
            "expires_in": result.expires_in,
            "parts": [{"number": part.number, "url": part.url} for part in result.parts],
        }
    )


@routes.get(BASE)
async def list_parts(request: web.Request) -> web.Response:
    """The parts stored so far (number, size, etag), to resume the upload."""
    use_case = await resolve(request.app[CONTAINER].list_multipart_parts())
    result = await use_case.execute(_upload(request, _query_upload_id(request)))
    return _json(
        {
            "upload_id": result.upload_id,
            "part_size": result.part_size,
            "parts_expected": result.parts_expected,
            "parts": [
                {"number": part.number, "size": part.size, "etag": part.etag}
                for part in result.parts
            ],
        }
    )


def _parts(raw: list[Any]) -> tuple[UploadPart, ...]:
    """The ``parts`` of a complete request, each checked as a MultipartPart body."""
    parts = []
    for index, item in enumerate(raw):
        try:
            part = schema.MULTIPART_PART.parse(item)
        except InvalidInputError as exc:
            problems = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())
            raise InvalidInputError({"parts": f"Item {index}: {problems}"}) from None
        parts.append(UploadPart(part["number"], 0, part["etag"]))
    return tuple(parts)


@routes.post(BASE + "complete/")
async def complete_multipart(request: web.Request) -> web.Response:
    """Join the parts into the recording's file; answer as upload-complete."""
    data = await schema.read_json(request, schema.MULTIPART_COMPLETE)
    parts = _parts(data["parts"])
    use_case = await resolve(request.app[CONTAINER].complete_multipart())
    result = await use_case.execute(
        CompleteMultipartInput(_upload(request, data["upload_id"]), parts)
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


@routes.delete(BASE)
async def abort_multipart(request: web.Request) -> web.Response:
    """Abort the upload: its parts are deleted, the recording still awaits its file."""
    use_case = await resolve(request.app[CONTAINER].abort_multipart())
    await use_case.execute(_upload(request, _query_upload_id(request)))
    return web.Response(status=204)


# --------------------------------------------------------------------------- embedded parts


@routes.put(PARTS_ROUTE)
async def put_part(request: web.Request) -> web.Response:
    """Store one part through its signed URL; answer its ``ETag`` (the part's MD5).

    Refusals look like S3's: 403 for a bad or expired signature, 404 for an upload that
    was completed or aborted. A part is at most what the recording still lacks: the
    declared size less the other parts stored.
    """
    container = request.app[CONTAINER]
    multipart = await resolve(container.local_multipart())
    if multipart is None:  # S3 mode: the browser talks to the bucket
        raise web.HTTPNotFound()
    upload_id = request.match_info["upload_id"]
    try:
        number = int(request.match_info["number"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not 1 <= number <= MAX_PARTS:
        raise web.HTTPNotFound()
    try:
        multipart.verify_part(upload_id, number, request.query)
    except InvalidTokenError as exc:
        return problem(403, {"detail": str(exc)})
    gone = problem(404, {"detail": "This multipart upload was completed or aborted."})
    try:
        key = multipart.key_of(upload_id)
        stored = await asyncio.to_thread(multipart.parts_of, upload_id)
    except ObjectNotFoundError:
        return gone
    find = await resolve(container.find_upload_target())
    try:
        target = await find.execute(key)
    except RecordingNotFoundError:
        return problem(403, {"detail": "This upload URL's recording was deleted."})
    except ConflictError:
        return problem(403, {"detail": "This recording's file was already uploaded."})
    others = sum(part.size for part in stored if part.number != number)
    limit = min(MAX_PART_SIZE, max(0, (target.recording.file_size or 0) - others))
    too_big = problem(
        413,
        {
            "detail": f"This part may have at most {limit} bytes (the declared size less the "
            "other parts stored)."
        },
    )
    if request.content_length is not None and request.content_length > limit:
        return too_big
    try:
        writer = multipart.part_writer(upload_id, number)
    except ObjectNotFoundError:
        return gone
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            if writer.size + len(chunk) > limit:
                return too_big
            writer.write(chunk)
        try:
            etag = await asyncio.to_thread(writer.commit)
        except ObjectNotFoundError:
            return gone
    finally:
        writer.abort()
    return web.Response(status=200, headers={"ETag": f'"{etag}"'})


__all__ = ["routes"]
