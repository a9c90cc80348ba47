"""Routes of the web app: the page, its static files, and the cookie session."""

from __future__ import annotations

import contextlib
import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_adapters.settings import Settings
from elyune_core import InvalidInputError
from elyune_core.errors import InvalidTokenError
from elyune_core.use_cases import LoginInput
from elyune_http import schema
from elyune_http.keys import CONTAINER, LIMITER, SETTINGS
from elyune_http.middleware import json_dumps

STATIC = Path(__file__).parent / "static"
SESSION_PATH = "/app/session/"
REFRESH_COOKIE = "elyune_refresh"
CSRF_COOKIE = "elyune_csrf"
CSRF_HEADER = "X-CSRF-Token"
ASSETS = frozenset(
    p.name for p in STATIC.iterdir() if p.suffix in {".js", ".css", ".svg"} and p.is_file()
)
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
CSP_KEY = web.AppKey("web_csp", str)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    """The page's policy: scripts and styles from this server only (no inline code),
    media, images and uploads also from the object store's public origin, no frames."""
    media = ["'self'", _origin(settings.http.public_url)]
    storage = settings.storage
    if storage.kind == "minio":
        if storage.public_endpoint:
            media.append(_origin(storage.public_endpoint))
        elif storage.endpoint:
            media.append(f"{'https' if storage.secure else 'http'}://{storage.endpoint}")
    sources = " ".join(dict.fromkeys(media))
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {sources} data:",
            f"media-src {sources}",
            f"connect-src {sources}",
            "font-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _headers(request: web.Request, **more: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": request.app[CSP_KEY],
        **PAGE_HEADERS,
        **more,
    }


async def index(request: web.Request) -> web.StreamResponse:
    """The page (every view is a fragment of it: ``#/``, ``#/recordings/<id>``)."""
    return web.FileResponse(
        STATIC / "index.html",
        headers=_headers(
            request, **{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}
        ),
    )


async def asset(request: web.Request) -> web.StreamResponse:
    """A module, a style sheet or an icon of the page."""
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    path = STATIC / name
    return web.FileResponse(
        path,
        headers=_headers(
            request, **{"Content-Type": TYPES[path.suffix], "Cache-Control": "no-cache"}
        ),
    )


# --------------------------------------------------------------------------- session


def _secure(request: web.Request) -> bool:
    return request.secure or request.app[SETTINGS].http.public_url.startswith("https://")


def _same_origin(request: web.Request) -> None:
    """Refuse a session request sent by another origin's page (the ``Origin`` header
    browsers add to every POST), and one without the double-submitted CSRF token."""
    origin = request.headers.get("Origin")
    allowed = {
        _origin(request.app[SETTINGS].http.public_url),
        f"{request.scheme}://{request.host}",
    }
    if origin is not None and origin not in allowed:
        raise web.HTTPForbidden(
            text='{"detail": "Cross-origin session requests are refused."}',
            content_type="application/json",
        )


def _check_csrf(request: web.Request) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise web.HTTPForbidden(
            text='{"detail": "CSRF token missing or incorrect."}',
            content_type="application/json",
        )


def _session_response(request: web.Request, access: str, refresh: str) -> web.Response:
    settings = request.app[SETTINGS]
    response = web.json_response(
        {"access": access, "access_lifetime": settings.http.access_token_minutes * 60},
        dumps=json_dumps,
        headers={"Cache-Control": "no-store"},
    )
    secure = _secure(request)
    response.set_cookie(
        REFRESH_COOKIE,
        refresh,
        path=SESSION_PATH,
        max_age=int(settings.http.refresh_token_days * 86400),
        httponly=True,
        samesite="Strict",
        secure=secure,
    )
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response.set_cookie(CSRF_COOKIE, csrf, path="/", samesite="Strict", secure=secure)
    return response


def _end_session(response: web.Response) -> web.Response:
    response.del_cookie(REFRESH_COOKIE, path=SESSION_PATH)
    return response


async def login(request: web.Request) -> web.Response:
    """``{username, password}``: the access token in the body, the refresh token in
    the cookie. Rate limited like ``/api/token/``."""
    _same_origin(request)
    data = await schema.read_json(request, schema.TOKEN)
    client = request.remote or "unknown"
    await request.app[LIMITER].hit(f"token:ip:{client}", f"token:user:{data['username'].lower()}")
    pair = await (await resolve(request.app[CONTAINER].login())).execute(
        LoginInput(data["username"], data["password"])
    )
    return _session_response(request, pair.access, pair.refresh)


async def refresh(request: web.Request) -> web.Response:
    """A new access token for the refresh cookie, which rotates (each works once)."""
    _same_origin(request)
    _check_csrf(request)
    await request.app[LIMITER].hit(f"token:ip:{request.remote or 'unknown'}")
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return _no_session()
    try:
        pair = await (await resolve(request.app[CONTAINER].refresh_tokens())).execute(token)
    except (InvalidTokenError, InvalidInputError):
        return _end_session(_no_session())
    return _session_response(request, pair.access, pair.refresh)


async def logout(request: web.Request) -> web.Response:
    """Use the refresh cookie up (it cannot be replayed) and clear it."""
    _same_origin(request)
    _check_csrf(request)
    token = request.cookies.get(REFRESH_COOKIE)
    if token:
        with contextlib.suppress(InvalidTokenError, InvalidInputError):
            await (await resolve(request.app[CONTAINER].refresh_tokens())).execute(token)
    return _end_session(web.Response(status=204, headers={"Cache-Control": "no-store"}))


def _no_session() -> web.Response:
    body: dict[str, Any] = {"detail": "No session: log in again.", "code": "token_not_valid"}
    return web.json_response(body, status=401, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    """Add the web app's routes to *app* (the API's own application)."""
    app[CSP_KEY] = content_security_policy(app[SETTINGS])
    app.router.add_get("/", index)
    app.router.add_get("/app/static/{name:[A-Za-z0-9._-]+}", asset)
    app.router.add_post(SESSION_PATH, login)
    app.router.add_post(SESSION_PATH + "refresh/", refresh)
    app.router.add_post(SESSION_PATH + "logout/", logout)
