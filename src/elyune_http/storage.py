"""The embedded object store's signed URLs, served by the API itself.

``PUT`` streams the body to disk in constant memory; ``POST`` does the same for a form
upload. Either stores a recording's file once, with exactly its declared size, only while
the recording awaits it (see ``_store``); ``GET`` serves a file (with ranges,
so videos can seek). Refusals look like S3's: 403 for a bad or expired signature.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from elyune_adapters.container import resolve
from elyune_core import InvalidTokenError, ObjectNotFoundError, check_key
from elyune_core.errors import (
    ConflictError,
    InvalidKeyError,
    RecordingNotFoundError,
    UploadInProgressError,
)
from elyune_core.use_cases import UploadTarget
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


USED = "This upload URL was already used."
DELETED = "This upload URL's recording was deleted."


async def _target(
    request: web.Request, key: str
) -> tuple[UploadTarget | None, web.Response | None]:
    """What an upload to *key* may store, or the refusal to answer."""
    find = await resolve(request.app[CONTAINER].find_upload_target())
    try:
        return await find.execute(key), None
    except RecordingNotFoundError:
        return None, problem(403, {"detail": DELETED})
    except ConflictError as exc:
        return None, problem(403, {"detail": str(exc) or USED})


async def _deleted(request: web.Request, key: str) -> bool:
    find = await resolve(request.app[CONTAINER].find_upload_target())
    try:
        await find.execute(key)
    except RecordingNotFoundError:
        return True
    except ConflictError:
        return False
    return False


BAD_DIGEST = "The Content-MD5 you specified did not match what we received."


async def _store(
    request: web.Request,
    receiver: Any,
    key: str,
    chunks: AsyncIterator[bytes],
    signed: Any,
    content_md5: str | None = None,
) -> web.Response | None:
    """Stream *chunks* into *key*: one upload at a time, of exactly the declared size.

    ``None`` when stored, else the refusal. A refused upload stores nothing, so the URL
    stays usable while its recording awaits the file; a stored file is never replaced
    (not by a second PUT, nor by the form POST), and nothing is stored for a deleted
    recording. A live upload's chunk must also come with the ``Content-MD5`` its URL
    was signed for, which must still be the declared one, and its bytes must have that
    digest (else S3's ``BadDigest``); sending the same chunk again stores it again.
    """
    target, refused = await _target(request, key)
    if target is None:
        return refused
    if target.chunk_index is not None and signed.op != "put":
        return problem(403, {"detail": "Send a live upload's chunks with PUT."})
    if target.content_md5 is not None:
        if signed.md5 != target.content_md5:
            return problem(403, {"detail": "This chunk was declared again since: use its new URL."})
        if content_md5 != signed.md5:
            return problem(
                403,
                {
                    "detail": "Send the Content-MD5 header the URL was signed for.",
                    "code": "SignatureDoesNotMatch",
                },
            )
    expected = target.size
    limit = signed.size
    if expected > limit:  # the signature allows less than the recording declares
        return problem(413, {"detail": f"The upload may have at most {limit} bytes."})
    try:
        with receiver.claim(key):
            if not target.replace and receiver.exists(key):
                return problem(403, {"detail": USED})
            writer = receiver.writer(key)
            try:
                async for chunk in chunks:
                    if writer.size + len(chunk) > expected:
                        return problem(
                            413, {"detail": f"The upload may have at most {expected} bytes."}
                        )
                    writer.write(chunk)
                if writer.size != expected:
                    return problem(
                        400,
                        {
                            "detail": f"The upload had {writer.size} bytes but {expected} were "
                            "declared; nothing was stored: send the whole file again."
                        },
                    )
                digest = base64.b64encode(writer.md5).decode()
                if target.content_md5 is not None and digest != target.content_md5:
                    return problem(400, {"detail": BAD_DIGEST, "code": "BadDigest"})
                try:
                    await asyncio.to_thread(writer.commit, replace=target.replace)
                except FileExistsError:
                    return problem(403, {"detail": USED})
                except FileNotFoundError:  # the folder went with its recording
                    return problem(403, {"detail": DELETED})
            finally:
                writer.abort()
            if await _deleted(request, key):  # while its file arrived: keep no orphan
                receiver.remove(key)
                return problem(403, {"detail": DELETED})
    except UploadInProgressError:
        return problem(409, {"detail": "Another upload to this URL is in progress."})
    return None


async def _chunks_of_put(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(CHUNK):
        yield chunk


async def _chunks_of_part(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


@routes.put("/api/v1/storage/{key:.+}")
async def put_object(request: web.Request) -> web.Response:
    """Store the body under the signed key (exactly the recording's declared size)."""
    receiver = await _receiver(request)
    key = _key(request)
    try:
        signed = receiver.verify("put", key, request.query)
    except InvalidTokenError as exc:
        return problem(403, {"detail": str(exc)})
    if request.content_length is not None and request.content_length > signed.size:
        return problem(413, {"detail": f"The upload may have at most {signed.size} bytes."})
    content_md5 = request.headers.get("Content-MD5")
    refused = await _store(request, receiver, key, _chunks_of_put(request), signed, content_md5)
    if refused is not None:
        return refused
    if signed.md5:  # a chunk: S3's ETag of a single PUT, the hex MD5
        etag = base64.b64decode(signed.md5).hex()
        return web.Response(status=200, headers={"ETag": f'"{etag}"'})
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
        refused = await _store(request, receiver, signed.key, _chunks_of_part(part), signed)
        if refused is not None:
            if refused.status == 413:  # S3's words for a form over its policy's range
                return problem(
                    400,
                    {
                        "detail": "Your proposed upload exceeds the maximum allowed size "
                        f"of {signed.size} bytes."
                    },
                )
            return refused
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
