"""``elyune worker``: run pipeline steps from the Redis queue in this process."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from typing import Annotated

import attrs
import typer

from elyune_adapters.settings import Settings
from elyune_cli.runtime import configure_logging, fail, guarded, settings
from elyune_worker import run_worker

NO_BROKER = (
    "elyune worker needs a queue: set REDIS_URL (or CELERY_BROKER_URL). Without one, jobs "
    "run inside the process that starts them (elyune process, elyune serve)."
)


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            max=64,
            help="Steps this worker runs at once (default: WORKER_CONCURRENCY, else 2).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a worker: take processing steps from the Redis queue until stopped.

    Start any number, on any machines sharing Redis, the database and the
    object store. Each worker also queues again, at start and every
    RECONCILE_SECONDS (10), the steps nobody is doing (lost messages,
    crashed workers, steps stuck without progress).

    SIGTERM or Ctrl-C: no new steps; the running ones may finish within
    WORKER_GRACE_SECONDS (30), then (or at a second signal) they are handed
    back to the queue. The exit code is 0.

    CPU: a running step may start one ffmpeg. FFMPEG_THREADS caps its
    threads; unset, each slot of the worker gets an equal share of its CPUs.
    With several workers on one machine, set FFMPEG_THREADS to
    cores / (workers x concurrency), and WHISPER_THREADS likewise.
    """
    config = settings()
    if config.queue.kind != "redis":
        fail(NO_BROKER, 2)
    if concurrency is not None:
        config = attrs.evolve(config, queue=attrs.evolve(config.queue, concurrency=concurrency))
    configure_logging(config, verbose=True)
    guarded(lambda: asyncio.run(_serve(config)))
    _exit_now_if_threads_linger()


#: Seconds a stopped worker waits for its last threads before it exits anyway.
LINGER_SECONDS = 5.0


def _exit_now_if_threads_linger() -> None:
    """Exit once the worker has said it stopped, even if a thread is stuck in native
    code (a library that never returns): its engines and ffmpeg were already killed, and
    what it was doing was handed back, so waiting on it would only keep a dead worker
    alive."""
    deadline = time.monotonic() + LINGER_SECONDS
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threading.enumerate() if t.is_alive() and not t.daemon]
    stuck = [name for name in stuck if name != threading.current_thread().name]
    if stuck:
        logging.getLogger("elyune.worker").warning(
            "exiting although %d thread(s) did not stop: %s", len(stuck), ", ".join(stuck)
        )
        logging.shutdown()
        os._exit(0)


async def _serve(config: Settings) -> None:
    """Run the worker; the first SIGTERM/SIGINT stops it, a second one hurries it."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()

    def on_signal(signum: signal.Signals) -> None:
        if stop.is_set():
            logging.getLogger("elyune.worker").info("%s again: handing back now", signum.name)
            hurry.set()
        else:
            logging.getLogger("elyune.worker").info("%s: stopping", signum.name)
            stop.set()

    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await run_worker(config, stop, hurry=hurry)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


__all__ = ["worker"]
