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
from typing import Any

from aiohttp import web

from elyune_adapters import logs
from elyune_adapters.container import Container, create_container, derive_key, resolve
from elyune_adapters.ratelimit import RateLimiter
from elyune_adapters.settings import HttpSettings, Settings, load_settings
from elyune_core import ElyuneError
from elyune_http import events, live, meta, metrics, operator, search, storage, subtitles, views
from elyune_http import web as web_app
from elyune_http.caches import TokenCache, UseCases
from elyune_http.keys import CONTAINER, LIMITER, SETTINGS, SUBTITLES, TOKENS, USE_CASES
from elyune_http.links import SubtitleLinks
from elyune_http.middleware import authentication, cors, errors, request_log
from elyune_http.multipart import routes as multipart_routes  # resumable uploads
from elyune_http.redact import SECURITY_HEADERS, SafeRequestHandler

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
    logs.install()  # no secret in any log record, whatever the input
    app = web.Application(
        middlewares=[
            request_log,
            metrics.http_metrics,
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
    app[USE_CASES] = UseCases(app[CONTAINER])
    app[SUBTITLES] = SubtitleLinks(
        derive_key(app[CONTAINER].secret(), "subtitles"), settings.http.public_url
    )
    app[LIMITER] = _ContainerLimiter(app[CONTAINER])
    app.add_routes(meta.routes)
    app.add_routes(views.routes)
    app.add_routes(live.routes)
    app.add_routes(search.routes)
    app.add_routes(events.routes)
    app.add_routes(storage.routes)
    app.add_routes(subtitles.routes)
    app.add_routes(operator.routes)  # staff only
    app.add_routes(multipart_routes)  # resumable multipart uploads
    metrics.setup(app)  # /metrics
    web_app.setup(app)  # the web app at /
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer: no MIME sniffing, and a ``Server`` header without versions."""
    response.headers.update(SECURITY_HEADERS)


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


class BoundedSite(web.TCPSite):
    """A TCP site that holds at most *max_connections* open connections: one more is
    answered 503 and closed at once, so idle or slow clients cannot take every socket.
    Its connections refuse malformed requests without quoting them (:mod:`redact`)."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        body_timeout: float = 60.0,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(runner, host, port, reuse_port=reuse_port)
        self._max_connections = max_connections
        self._body_timeout = body_timeout

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        limit = self._max_connections

        loop = asyncio.get_running_loop()
        options = server._kwargs  # what AppRunner gives each connection's handler

        def protocol() -> asyncio.Protocol:
            if len(server.connections) >= limit:
                return _Refuse()
            return SafeRequestHandler(server, loop=loop, body_timeout=self._body_timeout, **options)

        self._server = await loop.create_server(
            protocol, self._host, self._port, reuse_port=self._reuse_port
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when asked for port 0)."""
        return int(self._bound_port or self._port)


class _Refuse(asyncio.Protocol):
    """Answers one 503 and closes: the server holds as many connections as it may."""

    BODY = b'{"detail": "The server is busy. Try again shortly."}'

    def connection_made(self, transport: Any) -> None:
        # (uvloop's transports, which `elyune serve` runs on, are no asyncio.Transport)
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nServer: Elyune\r\n"
            b"X-Content-Type-Options: nosniff\r\n"
            + f"Content-Length: {len(self.BODY)}\r\n\r\n".encode()
            + self.BODY
        )
        transport.close()


async def start_server(
    app: web.Application,
    http: HttpSettings,
    *,
    handle_signals: bool = False,
    reuse_port: bool = False,
) -> tuple[web.AppRunner, BoundedSite]:
    """Start serving *app* the way ``elyune serve`` does: no access log (it would print
    signed URLs' queries), a connection that has not sent a whole request's headers
    within ``header_timeout`` seconds (or idles that long between requests) is closed,
    so is one whose request body stalls for ``body_timeout`` seconds, and at most
    ``max_connections`` connections are open at once."""
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=http.header_timeout,
        handle_signals=handle_signals,
    )
    await runner.setup()
    site = BoundedSite(
        runner,
        http.host,
        http.port,
        max_connections=http.max_connections,
        body_timeout=http.body_timeout,
        reuse_port=reuse_port,
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site


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
    with metrics.shared_between_processes():  # the processes' HTTP series, for /metrics
        _serve_processes(settings, setup)


def _serve_processes(settings: Settings, setup: Callable[[], None] | None) -> None:
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

    async def serve() -> None:
        runner, site = await start_server(
            create_app(settings), settings.http, reuse_port=reuse_port
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # a worker process stops on its parent's SIGTERM only (Ctrl-C reaches the parent)
        signals = (signal.SIGTERM,) if reuse_port else (signal.SIGINT, signal.SIGTERM)
        for signum in signals:
            with contextlib.suppress(NotImplementedError):  # pragma: no cover - Windows
                loop.add_signal_handler(signum, stop.set)
        logger.info("serving on %s:%s", settings.http.host, site.port)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
