"""Middlewares: request ids and logs, errors as DRF-style JSON, CORS, authentication."""

from __future__ import annotations

import itertools
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from elyune_core.errors import (
    AuthenticationError,
    ChunksMissingError,
    ConflictError,
    ElyuneError,
    InvalidInputError,
    InvalidStateError,
    InvalidTokenError,
    NotFoundError,
    NotLiveUploadError,
    RateLimitedError,
    ServiceUnavailableError,
)
from elyune_http.keys import REQUEST_ID, SETTINGS, TOKEN_EXPIRES, TOKENS, USE_CASES, USER

logger = logging.getLogger("elyune.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# signed links, and the web app (its page, files and cookie session: web/routes.py)
PUBLIC_PREFIXES = (
    "/api/docs/",
    "/api/v1/storage/",
    "/api/v1/storage-parts/",  # multipart: the embedded store's signed part PUTs
    "/api/v1/subtitles/",
    "/app/",
)
PUBLIC_PATHS = frozenset(
    {
        "/api/token/",
        "/api/token/refresh/",
        "/healthz",
        "/readyz",
        "/api/schema/",
        "/api/docs/",
        "/favicon.ico",
        "/",
        "/metrics",  # its own check: the metrics token or a staff token (metrics.py)
    }
)


def problem(status: int, body: dict[str, object], **headers: str) -> web.Response:
    """A JSON error response."""
    return web.json_response(body, status=status, headers=headers or None)


_ID_PREFIX = secrets.token_hex(4)  # this process's; ids need to be unique, not secret
_ID_COUNTER = itertools.count(1)


def _new_request_id() -> str:
    """16 hex digits: the process's random prefix and a counter (no system call)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (``X-Request-ID``) and log one line when it ends."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else _new_request_id()
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-ID"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        user = request.get(USER)
        logger.info(
            "%s %s %s %.1fms rid=%s user=%s",
            request.method,
            request.path,  # never the query: signed URLs and tokens stay out of logs
            status,
            (time.perf_counter() - started) * 1000,
            request_id,
            user.id if user is not None else "-",
        )


def _fields(exc: ElyuneError) -> dict[str, Any]:
    errors = exc.errors if isinstance(exc, InvalidInputError) else {}
    if list(errors) == ["detail"]:
        return {"detail": errors["detail"][0]}
    return dict(errors)


def _detail(exc: ElyuneError) -> dict[str, Any]:
    return {"detail": str(exc)}


def _throttled(exc: ElyuneError) -> dict[str, Any]:
    return {"detail": f"Request was throttled. Expected available in {_wait(exc)} seconds."}


def _wait(exc: ElyuneError) -> int:
    return max(1, math.ceil(exc.retry_after if isinstance(exc, RateLimitedError) else 1.0))


_BEARER = {"WWW-Authenticate": 'Bearer realm="api"'}

#: How each core error is answered: the first row whose class matches wins (subclasses
#: before their parents); an error of no row is a 400 with its message.
_Answer = tuple[
    type[ElyuneError],
    int,
    Callable[[ElyuneError], dict[str, Any]],
    Callable[[ElyuneError], dict[str, str]],
]


def _missing(exc: ElyuneError) -> dict[str, Any]:
    return {**_fields(exc), "missing": list(getattr(exc, "missing", ()))}


ERROR_ANSWERS: tuple[_Answer, ...] = (
    (NotLiveUploadError, 404, _detail, lambda _: {}),
    (NotFoundError, 404, lambda _: {"detail": "Not found."}, lambda _: {}),
    (
        InvalidTokenError,
        401,
        lambda e: {"detail": str(e), "code": "token_not_valid"},
        lambda _: _BEARER,
    ),
    (AuthenticationError, 401, _detail, lambda _: _BEARER),
    (RateLimitedError, 429, _throttled, lambda e: {"Retry-After": str(_wait(e))}),
    (ConflictError, 409, _detail, lambda _: {}),
    (ServiceUnavailableError, 503, _detail, lambda _: {}),
    (ChunksMissingError, 409, _missing, lambda _: {}),
    (InvalidStateError, 409, _fields, lambda _: {}),
    (InvalidInputError, 400, _fields, lambda _: {}),
)


def error_response(exc: ElyuneError) -> web.Response:
    """The response for a core error, from :data:`ERROR_ANSWERS`."""
    for cls, status, body, headers in ERROR_ANSWERS:
        if isinstance(exc, cls):
            return problem(status, body(exc), **headers(exc))
    return problem(400, _detail(exc))


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into JSON: core errors by the table, HTTP errors with their
    status, anything unexpected into a 500 that names the request id (and is logged)."""
    try:
        return await handler(request)
    except ElyuneError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        detail = {
            404: "Not found.",
            405: f'Method "{request.method}" not allowed.',
            413: "Request body is too large.",
        }.get(exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Location")}
        return problem(exc.status, {"detail": detail}, **headers)
    except (ConnectionResetError, TimeoutError) as exc:
        raise web.HTTPServiceUnavailable() from exc
    except Exception:  # the one place that catches everything
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return problem(
            500,
            {"detail": "Internal server error.", "request_id": request.get(REQUEST_ID, "")},
        )


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS for the configured origins (``chrome-extension://<id>`` and web origins)."""
    origin = request.headers.get("Origin")
    allowed = request.app[SETTINGS].http.cors_origins
    ok = origin is not None and (origin in allowed or "*" in allowed)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        if not ok:
            return problem(403, {"detail": "Origin not allowed."})
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin or "",
                "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get(
                    "Access-Control-Request-Headers", "Authorization, Content-Type"
                ),
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )
    response = await handler(request)
    if not response.prepared:
        response.headers.update(cors_headers(request))
    return response


# What a page on another origin may read: ETag of an upload (multipart uploads and
# integrity checks need it), the download's name and ranges, and our own headers.
EXPOSED_HEADERS = ", ".join(
    (
        "ETag",
        "Content-Disposition",
        "Content-Length",
        "Content-Range",
        "Accept-Ranges",
        "Location",
        "Retry-After",
        "X-Request-ID",
    )
)


def cors_headers(request: web.Request) -> dict[str, str]:
    """The CORS headers for *request*'s origin (none when it is not allowed); streaming
    handlers set them before they prepare their response."""
    origin = request.headers.get("Origin")
    allowed = request.app[SETTINGS].http.cors_origins
    if origin is None or not (origin in allowed or "*" in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "jwt") or not token.strip():
        return None
    return token.strip()


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route but the public ones needs a valid access token."""
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or request.method == "OPTIONS":
        return await handler(request)
    token = bearer_token(request)
    if token is None and path.endswith("/events/"):
        token = request.query.get("access_token")  # EventSource cannot send headers
    if token is None:
        return problem(
            401,
            {"detail": "Authentication credentials were not provided."},
            **{"WWW-Authenticate": 'Bearer realm="api"'},
        )
    cache = request.app[TOKENS]
    session = cache.get(token)
    if session is None:
        authenticate = await request.app[USE_CASES].get("authenticate")
        session = await authenticate.session(token)
        cache.put(token, session)
    request[USER] = session.user
    request[TOKEN_EXPIRES] = session.expires_at
    return await handler(request)


def json_dumps(value: object) -> str:
    """Compact JSON that keeps non-ASCII text as it is (orjson: a listing is dozens of
    objects, and the standard encoder was a tenth of the request's time)."""
    return orjson.dumps(value).decode()
