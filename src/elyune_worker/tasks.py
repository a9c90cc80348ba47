"""The taskiq task of a worker, and the hooks that give it a container.

``WORKER_STARTUP`` builds the container (from the settings :func:`run_worker` put in the
broker's state, else from :func:`load_settings`), starts its resources and keeps it in
``state.container``; ``WORKER_SHUTDOWN`` closes it. The task receives ids only, runs
``RunStep`` and acknowledges its message once the step is recorded.

The queue adapter sends messages naming ``RUN_STEP_TASK`` without importing this
module; only workers register the task. Run a worker with ``elyune worker``. taskiq's
own command also runs these tasks, but without the reconciler, with taskiq's defaults
(up to 100 messages at once) and without a grace period unless
``--wait-tasks-timeout`` is given::

    taskiq worker elyune_adapters.queue.taskiq:broker elyune_worker.tasks
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from taskiq import AcknowledgeType, Context, TaskiqDepends, TaskiqEvents, TaskiqState

from elyune_adapters.container import Container, create_container, resolve
from elyune_adapters.queue.taskiq import ADVANCE_LIVE_TASK, RUN_STEP_TASK, broker
from elyune_adapters.settings import load_settings
from elyune_core.entities import StepName
from elyune_core.errors import ElyuneError, QueueUnavailableError
from elyune_core.ids import JobId, RecordingId
from elyune_core.use_cases import RunStepInput

logger = logging.getLogger("elyune.worker")


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def start_worker(state: TaskiqState) -> None:
    """Build and start the worker's container."""
    settings = state.get("settings") or load_settings()
    container = create_container(settings)
    state.container = container
    state.running = set()
    await resolve(container.init_resources())
    state.worker = container.worker()
    # Build the adapters and load the speech model now, not in the first step.
    await resolve(container.run_step())
    transcriber = await resolve(container.transcriber())
    try:
        await transcriber.warm()
    except ElyuneError as exc:  # the transcribe step reports it where users see it
        logger.warning("could not load the speech model at start: %s", exc)


@broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
async def stop_worker(state: TaskiqState) -> None:
    """Close the worker's container."""
    container: Container | None = state.get("container")
    if container is not None:
        state.container = None
        await resolve(container.shutdown_resources())


@broker.task(task_name=RUN_STEP_TASK, ack_type=AcknowledgeType.MANUAL.value)
async def run_step(job_id: str, step: str, context: Context = TaskiqDepends()) -> dict[str, Any]:
    """Run *step* of *job_id* with ``RunStep``; acknowledge the message once it is recorded.

    A task cancelled because the worker is stopping has had its step handed back by
    ``RunStep``; it queues the step again for another worker and acknowledges. When the
    step could not be recorded (the database is unavailable) the message is left
    unacknowledged, to be delivered again; when only queueing the next steps failed, it
    is acknowledged and the reconciler queues them.
    """
    state = context.state
    container: Container = state.container
    worker: str = state.worker
    try:
        name = StepName(step)
    except ValueError:
        logger.error("worker %s dropped a message for an unknown step %r", worker, step)
        await context.ack()
        return {"ran": False}
    job = JobId(job_id)
    queue = await resolve(container.job_queue())
    await queue.taken(job, name)
    use_case = await resolve(container.run_step())
    current = asyncio.current_task()
    assert current is not None
    running: set[asyncio.Task[Any]] = state.running
    running.add(current)
    started = time.monotonic()
    try:
        result = await use_case.execute(RunStepInput(job, name, worker))
    except asyncio.CancelledError:
        with contextlib.suppress(ElyuneError):  # else the reconciler queues it
            await queue.requeue(job, name)
        await context.ack()
        logger.info("worker %s handed back %s of job %s", worker, name.value, job_id)
        current.uncancel()  # the step is recorded as pending: this message is done
        return {"ran": False, "status": "pending"}
    except QueueUnavailableError as exc:  # only raised after the step was recorded
        await context.ack()
        logger.warning(
            "worker %s: %s of job %s recorded, but the next steps could not be queued "
            "(%s); the reconciler will",
            worker,
            name.value,
            job_id,
            exc,
        )
        return {"ran": True}
    except ElyuneError as exc:  # not recorded: the message stays pending, comes again
        logger.warning("worker %s could not run %s of job %s: %s", worker, name.value, job_id, exc)
        return {"ran": False}
    finally:
        running.discard(current)
    await context.ack()
    if result.ran:
        logger.info(
            "worker %s: %s of job %s %s in %.1f s (attempt %d)%s",
            worker,
            name.value,
            job_id,
            result.status.value,
            time.monotonic() - started,
            result.attempts,
            f": {result.error}" if result.error else "",
        )
    else:
        logger.info(
            "worker %s: %s of job %s not run here (it is %s)",
            worker,
            name.value,
            job_id,
            result.status.value,
        )
    return {"ran": result.ran, "status": result.status.value, "attempts": result.attempts}


__all__ = ["logger", "run_step", "start_worker", "stop_worker"]


@broker.task(task_name=ADVANCE_LIVE_TASK, ack_type=AcknowledgeType.MANUAL.value)
async def advance_live(recording_id: str, context: Context = TaskiqDepends()) -> dict[str, Any]:
    """Catch a live recording's processing up with its chunks (``AdvanceLiveRecording``).

    The message is acknowledged whatever happens: the work is leased in the database,
    and the reconciler kicks a live recording again once its lease has run out.
    """
    state = context.state
    container: Container = state.container
    worker: str = state.worker
    recording = RecordingId(recording_id)
    queue = await resolve(container.live_queue())
    taken = getattr(queue, "taken", None)
    if taken is not None:
        await taken(recording)
    current = asyncio.current_task()
    assert current is not None
    running: set[asyncio.Task[Any]] = state.running
    running.add(current)
    try:
        use_case = await resolve(container.advance_live())
        result = await use_case.execute(recording)
    except asyncio.CancelledError:
        await context.ack()
        current.uncancel()  # the lease runs out; the reconciler kicks it again
        return {"ran": False}
    except ElyuneError as exc:
        await context.ack()
        logger.warning("worker %s could not advance live recording %s: %s", worker, recording, exc)
        return {"ran": False, "error": str(exc)}
    except Exception:  # a defect: logged, and the reconciler kicks it again
        await context.ack()
        logger.exception("worker %s failed to advance live recording %s", worker, recording)
        return {"ran": False}
    finally:
        running.discard(current)
    await context.ack()
    if not result.busy:
        logger.info(
            "worker %s: live recording %s advanced: %.1f s received, transcribed to %.1f s%s",
            worker,
            recording,
            result.media_seconds,
            result.transcribed_until,
            "; processing started" if result.started else "",
        )
    return {
        "ran": not result.busy,
        "started": result.started,
        "transcribed_until": result.transcribed_until,
    }
