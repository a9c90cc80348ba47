"""Re-queue work that nobody is doing (lost messages, crashed workers)."""

from __future__ import annotations

import attrs

from elyune_core._pipeline import ready_steps
from elyune_core.ports import Clock, JobQueue, LiveQueue, UnitOfWorkFactory
from elyune_core.use_cases.live_upload import FinalizeIdleLiveUploads


@attrs.frozen
class ReconcileResult:
    """How many steps were queued again (and live recordings kicked)."""

    jobs: int
    queued: int
    live: int = 0


class Reconcile:
    """Queue every step that could run now: pending with its dependencies met, or running
    on an expired lease.

    Rules: queueing is idempotent (a step is claimed once, whatever the deliveries), so
    this may run as often as wanted, in any number of workers.

    Live recordings whose processing nobody holds (no lease, or an expired one) are
    kicked too, so that a worker that died mid-recording is replaced, and live uploads
    idle for too long are finished with what arrived (``FinalizeIdleLiveUploads``).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        queue: JobQueue,
        clock: Clock,
        live_queue: LiveQueue | None = None,
        finalize_idle: FinalizeIdleLiveUploads | None = None,
    ) -> None:
        self._finalize_idle = finalize_idle
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._live_queue = live_queue

    async def execute(self) -> ReconcileResult:
        """Queue the ready steps of every unfinished job."""
        async with self._uow() as uow:
            jobs = await uow.jobs.unfinished()
        now = self._clock.now()
        queued = 0
        touched = 0
        for job in jobs:
            steps = ready_steps(job, now)
            touched += bool(steps)
            for step in steps:
                await self._queue.enqueue(job.id, step)
                queued += 1
        return ReconcileResult(touched, queued, await self._kick_live())

    async def _kick_live(self) -> int:
        if self._finalize_idle is not None:  # live uploads nobody finished: finish them
            await self._finalize_idle.execute(self._clock.now())
        if self._live_queue is None:
            return 0
        async with self._uow() as uow:
            uploads = await uow.live.active()
        now = self._clock.now()
        kicked = 0
        for live in uploads:
            if not live.leased(now):
                await self._live_queue.kick(live.recording_id)
                kicked += 1
        return kicked


__all__ = [
    "Reconcile",
    "ReconcileResult",
]
