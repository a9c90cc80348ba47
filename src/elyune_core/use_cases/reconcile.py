"""Re-queue work that nobody is doing (lost messages, crashed workers)."""

from __future__ import annotations

import attrs

from elyune_core._pipeline import ready_steps
from elyune_core.ports import Clock, JobQueue, UnitOfWorkFactory


@attrs.frozen
class ReconcileResult:
    """How many steps were queued again."""

    jobs: int
    queued: int


class Reconcile:
    """Queue every step that could run now: pending with its dependencies met, or running
    on an expired lease.

    Rules: queueing is idempotent (a step is claimed once, whatever the deliveries), so
    this may run as often as wanted, in any number of workers.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, queue: JobQueue, clock: Clock) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock

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
        return ReconcileResult(touched, queued)


__all__ = [
    "Reconcile",
    "ReconcileResult",
]
