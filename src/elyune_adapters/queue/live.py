"""The embedded live queue: a live recording's processing runs as an asyncio task here.

A kick for a recording whose task is running sets a flag, and the task runs once more
when it ends, so a kick is never lost and a recording never has two tasks. Production
uses :class:`elyune_adapters.queue.taskiq.TaskiqLiveQueue` instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from elyune_core.errors import QueueUnavailableError
from elyune_core.ids import RecordingId
from elyune_core.ports import LiveQueue

logger = logging.getLogger("elyune.queue")

LiveRunner = Callable[[RecordingId], Awaitable[object]]


class InProcessLiveQueue(LiveQueue):
    """Runs ``AdvanceLiveRecording`` for kicked recordings, *concurrency* at a time."""

    def __init__(self, concurrency: int = 2) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[RecordingId, asyncio.Task[None]] = {}
        self._again: set[RecordingId] = set()
        self._runner: LiveRunner | None = None
        self._closed = False

    def attach(self, runner: LiveRunner) -> None:
        """Use *runner* (the use case's ``execute``) for kicked recordings."""
        self._runner = runner

    async def kick(self, recording_id: RecordingId) -> None:
        if self._runner is None or self._closed:
            raise QueueUnavailableError("The in-process live queue is not running.")
        if recording_id in self._tasks:
            self._again.add(recording_id)
            return
        task = asyncio.get_running_loop().create_task(self._run(recording_id))
        self._tasks[recording_id] = task

    async def _run(self, recording_id: RecordingId) -> None:
        assert self._runner is not None
        try:
            while True:
                self._again.discard(recording_id)
                async with self._slots:
                    try:
                        await self._runner(recording_id)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # the reconciler kicks it again
                        logger.exception("live processing of %s failed", recording_id)
                if recording_id not in self._again or self._closed:
                    return
        finally:
            self._tasks.pop(recording_id, None)

    @property
    def running(self) -> int:
        """Recordings being advanced now."""
        return len(self._tasks)

    async def join(self) -> None:
        """Wait until no live recording is being advanced."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        """Cancel what runs (its lease runs out; the reconciler kicks it again)."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["InProcessLiveQueue", "LiveRunner"]
