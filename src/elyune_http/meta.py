"""Health checks, the OpenAPI document and its docs page (assets served locally)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from aiohttp import web

from elyune_adapters.container import resolve
from elyune_core import ElyuneError
from elyune_http import openapi
from elyune_http.keys import CONTAINER, SETTINGS
from elyune_http.middleware import json_dumps

routes = web.RouteTableDef()

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Elyune API</title>
  <link rel="icon" type="image/png" href="/favicon.ico">
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
"""
DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/api/schema/", dom_id: "#swagger-ui",
  deepLinking: true, persistAuthorization: true});
"""


@functools.cache
def swagger_assets() -> Path | None:
    """Where the swagger-ui-bundle-v2 package keeps Swagger UI 5's files (it reads
    OpenAPI 3.1). The package installs as ``swagger_ui_bundle``, like the older
    swagger-ui-bundle (Swagger UI 4, which cannot): where both are installed, the
    module's ``swagger_ui_path`` is whichever came last, so the newest bundled Swagger
    UI of version 5 or later is looked up instead."""
    try:
        import swagger_ui_bundle
    except ImportError:  # pragma: no cover - it is a dependency
        return None
    found = []
    for folder in (Path(swagger_ui_bundle.__file__).parent / "vendor").glob("swagger-ui-*"):
        version = tuple(
            int(p) for p in folder.name.removeprefix("swagger-ui-").split(".") if p.isdigit()
        )
        if version and version[0] >= 5 and (folder / "swagger-ui-bundle.js").is_file():
            found.append((version, folder))
    return max(found)[1] if found else None


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process answers."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The database and the object store answer."""
    container = request.app[CONTAINER]
    checks: dict[str, str] = {}

    async def database() -> None:
        async with (await resolve(container.uow()))() as uow:
            await uow.users.get_by_username("")

    async def store() -> None:
        await (await resolve(container.object_store())).check()

    for name, check in (("database", database), ("object_store", store)):
        try:
            await asyncio.wait_for(check(), timeout=5)
            checks[name] = "ok"
        except (ElyuneError, TimeoutError) as exc:
            checks[name] = str(exc) or "timed out"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


@routes.get("/api/schema/")
async def schema_document(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document."""
    http = request.app[SETTINGS].http
    languages = request.app[CONTAINER].languages()
    document = openapi.document(
        http.public_url,
        max_upload_bytes=http.max_upload_mb << 20,
        max_chunk_bytes=http.live_max_chunk_mb << 20,
        language_pattern=languages.pattern(),
    )
    return web.json_response(document, dumps=json_dumps)


@routes.get("/api/docs/")
async def docs_page(request: web.Request) -> web.Response:
    """Swagger UI over the OpenAPI document, with no CDN."""
    if swagger_assets() is None:  # pragma: no cover - it is a dependency
        return web.Response(
            status=503,
            text="The docs page needs Swagger UI 5: pip install swagger-ui-bundle-v2",
        )
    return web.Response(text=DOCS_PAGE, content_type="text/html")


@routes.get("/api/docs/init.js")
async def docs_init(request: web.Request) -> web.Response:
    """The script that starts Swagger UI (kept out of the page for a strict CSP)."""
    return web.Response(text=DOCS_INIT, content_type="application/javascript")


@routes.get("/api/docs/assets/{name:[A-Za-z0-9._-]+}")
async def docs_asset(request: web.Request) -> web.StreamResponse:
    """Swagger UI's JavaScript and CSS, from the installed package."""
    folder = swagger_assets()
    name = request.match_info["name"]
    if folder is None or name not in {"swagger-ui.css", "swagger-ui-bundle.js"}:
        raise web.HTTPNotFound()
    return web.FileResponse(folder / name, headers={"Cache-Control": "public, max-age=86400"})


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.StreamResponse:
    """The tab icon browsers ask for on their own (Swagger UI's, from the package)."""
    folder = swagger_assets()
    if folder is None:  # pragma: no cover - it is a dependency
        raise web.HTTPNotFound()
    return web.FileResponse(
        folder / "favicon-32x32.png",
        headers={"Cache-Control": "public, max-age=86400", "Content-Type": "image/png"},
    )
