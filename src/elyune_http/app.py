"""The aiohttp application: routes, middlewares and the container's life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.connection
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from elyune_adapters.container import Container, create_container, resolve
from elyune_adapters.ratelimit import RateLimiter
from elyune_adapters.settings import Settings, load_settings
from elyune_core import ElyuneError
from elyune_http import events, meta, storage, views
from elyune_http.caches import TokenCache
from elyune_http.keys import CONTAINER, LIMITER, SETTINGS, TOKENS
from elyune_http.middleware import authentication, cors, errors, request_log

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
    app[TOKENS] = TokenCache()
    app[LIMITER] = _ContainerLimiter(app[CONTAINER])
    app.add_routes(meta.routes)
    app.add_routes(views.routes)
    app.add_routes(events.routes)
    app.add_routes(storage.routes)
    app.cleanup_ctx.append(_lifecycle)
    return app


class _ContainerLimiter(RateLimiter):
    """The container's rate limiter (in memory, or in Redis), resolved on first use."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._limiter: RateLimiter | None = None

    async def hit(self, *keys: str) -> None:
        if self._limiter is None:
            self._limiter = await resolve(self._container.rate_limiter())
        await self._limiter.hit(*keys)

    async def close(self) -> None:
        return None  # the container closes it


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


def run(settings: Settings | None = None, *, setup: Callable[[], None] | None = None) -> None:
    """Serve the API on the configured host and port until interrupted.

    With ``settings.http.workers`` > 1, that many processes serve the one port
    (``SO_REUSEPORT``: the kernel spreads the connections); this one waits for them and
    stops them all on SIGINT/SIGTERM or when one exits. *setup* (a picklable callable,
    e.g. the CLI's logging set-up) runs first in every worker process.
    """
    settings = settings or load_settings()
    if settings.http.workers <= 1:
        _serve(settings, False, None)
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_serve, args=(settings, True, setup), name=f"elyune-api-{n}")
        for n in range(settings.http.workers)
    ]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        logger.info("serving with %d worker processes", len(processes))
        while not stopping and all(p.is_alive() for p in processes):
            multiprocessing.connection.wait([p.sentinel for p in processes], timeout=1.0)
        if not stopping:
            logger.error("an API worker process exited; stopping the others")
            stop(signal.SIGTERM, None)
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not stopping:
        raise SystemExit(1)


def _serve(settings: Settings, reuse_port: bool, setup: Callable[[], None] | None) -> None:
    if setup is not None:
        setup()
    try:
        import uvloop  # a faster event loop where available

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - Windows
        pass
    if reuse_port:  # a worker process: the parent stops it with SIGTERM
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    web.run_app(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        access_log=None,
        reuse_port=reuse_port,
        print=lambda line: logger.info(line),
    )
