"""The embedded job queue: steps run as asyncio tasks in this process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from elyune_core.entities import StepName
from elyune_core.errors import ElyuneError, QueueUnavailableError
from elyune_core.ids import JobId
from elyune_core.ports import JobQueue
from elyune_core.use_cases import PipelinePolicy, Reconcile, RunStep, RunStepInput

logger = logging.getLogger("elyune.queue")

Runner = Callable[[JobId, StepName], Awaitable[object]]


class InProcessJobQueue(JobQueue):
    """Runs each enqueued step as a task, at most *concurrency* at a time.

    The runner (``RunStep`` from the container) is attached after construction because
    the runner itself enqueues the steps that become ready.
    """

    def __init__(self, concurrency: int = 4) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: Runner | None = None
        self._closed = False

    def attach(self, runner: Runner) -> None:
        """Use *runner* to run steps."""
        self._runner = runner

    async def enqueue(self, job_id: JobId, step: StepName) -> None:
        if self._runner is None or self._closed:
            raise QueueUnavailableError("The in-process queue is not running.")
        task = asyncio.get_running_loop().create_task(self._run(job_id, step))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: JobId, step: StepName) -> None:
        assert self._runner is not None
        async with self._slots:
            try:
                await self._runner(job_id, step)
            except asyncio.CancelledError:
                raise
            except Exception:  # the task wrapper: log, the reconciler re-queues
                logger.exception("step %s of job %s could not run", step.value, job_id)

    @property
    def pending(self) -> int:
        """Steps queued or running."""
        return len(self._tasks)

    async def join(self) -> None:
        """Wait until no step is queued or running (including steps queued meanwhile)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel what is still running (its steps are picked up again later)."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def run_in_process(
    queue: InProcessJobQueue,
    run_step: Callable[[], Awaitable[RunStep]],
    reconcile: Callable[[], Awaitable[Reconcile]],
    policy: PipelinePolicy,
    worker: str,
) -> AsyncIterator[None]:
    """Let *queue* run steps with ``RunStep`` in this process, and re-queue, once a lease
    long, the steps nobody finished (those cut by a crash or a stall)."""

    async def run(job_id: JobId, step: StepName) -> object:
        use_case = await run_step()
        return await use_case.execute(RunStepInput(job_id, step, worker))

    async def reconcile_forever() -> None:
        while True:
            await asyncio.sleep(policy.lease_seconds)
            try:
                await (await reconcile()).execute()
            except ElyuneError as exc:
                logger.warning("could not re-queue unfinished steps: %s", exc)

    queue.attach(run)
    task = asyncio.create_task(reconcile_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


__all__ = ["InProcessJobQueue", "Runner", "run_in_process"]
