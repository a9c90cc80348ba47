"""The aiohttp application: routes, middlewares and the container's life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from elyune_adapters.container import Container, create_container, resolve
from elyune_adapters.settings import Settings, load_settings
from elyune_core import ElyuneError
from elyune_http import events, meta, storage, views
from elyune_http.caches import TokenCache
from elyune_http.keys import CONTAINER, LIMITER, SETTINGS, TOKENS
from elyune_http.middleware import authentication, cors, errors, request_log
from elyune_http.ratelimit import RateLimiter

logger = logging.getLogger("elyune.http")

MAX_JSON_BODY = 1024 * 1024


def create_app(
    settings: Settings | None = None, *, container: Container | None = None
) -> web.Application:
    """Build the API for *settings* (from the environment by default).

    Pass a *container* to override adapters (tests). The container's resources start
    with the app and stop with it; in embedded mode the app also runs the jobs.
    """
    settings = settings or load_settings()
    app = web.Application(
        middlewares=[
            request_log,
            cors,
            errors,
            web.normalize_path_middleware(append_slash=True, merge_slashes=True),
            authentication,
        ],
        client_max_size=MAX_JSON_BODY,
    )
    app[SETTINGS] = settings
    app[CONTAINER] = container or create_container(settings)
    app[LIMITER] = RateLimiter(settings.http.rate_limit_per_minute, 60.0)
    app[TOKENS] = TokenCache()
    app.add_routes(meta.routes)
    app.add_routes(views.routes)
    app.add_routes(events.routes)
    app.add_routes(storage.routes)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    container = app[CONTAINER]
    await resolve(container.init_resources())
    try:
        await (await resolve(container.reconcile())).execute()  # resume jobs cut by a restart
    except ElyuneError as exc:
        logger.warning("could not resume unfinished jobs: %s", exc)
    deliveries = asyncio.create_task(_deliver_webhooks(container))
    # What start-up built (modules, the container, models) lives as long as the process:
    # keep it out of the collector's full passes, which otherwise walk it again and again
    # and pause requests for tens of milliseconds.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        deliveries.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await deliveries
        await resolve(container.shutdown_resources())


async def _deliver_webhooks(container: Container, idle: float = 1.0) -> None:
    """Send due webhook deliveries, concurrently within their bounds, forever."""
    await (await resolve(container.deliver_webhooks())).run(idle)


def run(settings: Settings | None = None) -> None:
    """Serve the API on the configured host and port until interrupted."""
    settings = settings or load_settings()
    try:
        import uvloop  # a faster event loop where available

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - Windows
        pass
    web.run_app(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        access_log=None,
        print=lambda line: logger.info(line),
    )
