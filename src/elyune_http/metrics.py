"""``/metrics`` in the Prometheus text format (the ``prometheus-client`` package).

Two kinds of series:

* **HTTP requests and latency** by method, route pattern (``/api/v1/recordings/{id}/``,
  never the raw path: ids would make a series per recording) and status, counted by a
  middleware in each API process. With ``elyune serve --workers N`` the processes share
  them through prometheus_client's multi-process mode: ``run`` (:mod:`elyune_http.app`)
  points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before it starts the processes,
  each writes its samples there, and a scrape, whichever process answers it, reads them
  all.
* **Jobs, steps, step durations, the queue, webhook deliveries**, computed at scrape
  time from the database and the queue (``QueueOverview``): the same answer from every
  process, and they include what the workers (other processes, other machines) did.

Access: ``Authorization: Bearer <METRICS_TOKEN>`` when that variable is set, or a staff
user's access token; anything else is a 401 (no or a wrong token) or a 403 (a token of a
user who is not staff). Without ``METRICS_TOKEN`` only staff tokens work, so nothing
leaks to the public by default.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from elyune_adapters.container import resolve
from elyune_core import JobStatus, StepName, StepStatus
from elyune_core.entities import DeliveryStatus
from elyune_core.errors import AuthenticationError
from elyune_core.ports import STEP_DURATION_BUCKETS
from elyune_core.use_cases import QueueReport
from elyune_http.keys import CONTAINER, SETTINGS
from elyune_http.middleware import Handler, bearer_token

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    """The request counter and latency histogram of one app, in its own registry (so
    that several apps in one process, as in tests, do not collide). *shared_dir* is the
    multi-process folder when the process is one of several."""

    def __init__(self, shared_dir: str | None) -> None:
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "elyune_http_requests",
            "HTTP requests answered, by method, route pattern and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "elyune_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the handler), by route pattern.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The HTTP series: this process's, or every process's in multi-process mode."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry(auto_describe=True)
        MultiProcessCollector(registry, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


METRICS = web.AppKey("metrics", HttpMetrics)


def route_of(request: web.Request) -> str:
    """The route pattern that served *request* (``unmatched`` when none did)."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count each request and time it, by route pattern."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics = request.app[METRICS]
        route = route_of(request)
        method = request.method if request.method in _METHODS else "other"
        metrics.requests.labels(method, route, str(status)).inc()
        metrics.latency.labels(method, route).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Snapshot(Collector):
    """The database- and queue-backed series of one scrape."""

    def __init__(self, report: QueueReport) -> None:
        self._report = report

    def collect(self) -> Iterator[Metric]:
        report = self._report
        statistics = report.statistics
        jobs = GaugeMetricFamily("elyune_jobs", "Processing jobs by status.", labels=["status"])
        for status in JobStatus:
            jobs.add_metric([status.value], statistics.jobs.get(status.value, 0))
        yield jobs
        steps = GaugeMetricFamily(
            "elyune_steps",
            "Steps of processing jobs by step and status.",
            labels=["step", "status"],
        )
        for name in StepName:
            for state in StepStatus:
                steps.add_metric(
                    [name.value, state.value], statistics.steps.get((name.value, state.value), 0)
                )
        yield steps
        yield GaugeMetricFamily(
            "elyune_steps_stuck",
            "Steps running on an expired lease (their worker died or stopped progressing).",
            value=statistics.stuck_steps,
        )
        durations = HistogramMetricFamily(
            "elyune_step_duration_seconds",
            "Duration of the last attempt of each succeeded step, by step.",
            labels=["step"],
        )
        for name in StepName:
            found = statistics.durations.get(name.value)
            counts = found.buckets if found else (0,) * len(STEP_DURATION_BUCKETS)
            buckets = [(_bound(b), c) for b, c in zip(STEP_DURATION_BUCKETS, counts, strict=True)]
            buckets.append(("+Inf", found.count if found else 0))
            durations.add_metric([name.value], buckets, found.total if found else 0.0)
        yield durations
        queue = report.queue
        yield GaugeMetricFamily(
            "elyune_queue_up", "1 when the job queue answered this scrape.", value=int(bool(queue))
        )
        if queue is not None:
            yield GaugeMetricFamily(
                "elyune_queue_waiting",
                "Steps queued, not yet taken by a worker.",
                value=queue.waiting,
            )
            yield GaugeMetricFamily(
                "elyune_queue_running",
                "Steps a worker took and has not acknowledged yet.",
                value=queue.running,
            )
            yield GaugeMetricFamily(
                "elyune_queue_consumers",
                "Workers reading the queue.",
                value=len(queue.consumers),
            )
        yield GaugeMetricFamily(
            "elyune_workers_recent",
            "Workers that started a step in the last hour.",
            value=len(report.workers),
        )
        deliveries = GaugeMetricFamily(
            "elyune_webhook_deliveries",
            "Webhook deliveries by outcome (pending: still being tried).",
            labels=["status"],
        )
        for delivery in DeliveryStatus:
            deliveries.add_metric([delivery.value], report.deliveries.get(delivery.value, 0))
        yield deliveries


def _bound(value: float) -> str:
    return repr(float(value))


async def _allowed(request: web.Request) -> None:
    """A 401 or 403 unless the request carries the metrics token or a staff token."""
    token = bearer_token(request)
    expected = request.app[SETTINGS].http.metrics_token
    if (
        token is not None
        and expected is not None
        and hmac.compare_digest(token.encode(), expected.encode())
    ):
        return
    if token is None:
        raise web.HTTPUnauthorized(
            text='{"detail": "Authentication credentials were not provided."}',
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    try:
        authenticate = await resolve(request.app[CONTAINER].authenticate())
        session = await authenticate.session(token)
    except AuthenticationError:
        raise web.HTTPUnauthorized(
            text='{"detail": "Given token not valid for /metrics."}',
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        ) from None
    if not session.user.is_staff:
        raise web.HTTPForbidden(
            text='{"detail": "Only staff users or the metrics token may read /metrics."}',
            content_type="application/json",
        )


async def scrape(request: web.Request) -> web.Response:
    """The metrics, for Prometheus."""
    await _allowed(request)
    report = await (await resolve(request.app[CONTAINER].queue_overview())).execute()
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(report))
    body = request.app[METRICS].exposition() + generate_latest(snapshot)
    return web.Response(
        body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
    )


def setup(app: web.Application) -> None:
    """Add ``/metrics`` to *app*; its middleware is :func:`http_metrics`."""
    app[METRICS] = HttpMetrics(os.environ.get(MULTIPROC_ENV) or None)
    app.router.add_get("/metrics", scrape)


@contextlib.contextmanager
def shared_between_processes() -> Iterator[Path]:
    """Let the API processes started inside share their HTTP series: a fresh folder in
    ``PROMETHEUS_MULTIPROC_DIR`` (the one named there already, emptied, or a new one,
    removed at the end). Start the processes inside (they read it when they start)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # samples of an earlier run
            stale.unlink()
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="elyune-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "METRICS",
    "HttpMetrics",
    "http_metrics",
    "route_of",
    "setup",
    "shared_between_processes",
]
