"""The event hub of a process: live progress and webhooks for what happens in this process.

Not a test fake: every Elyune process, in production too, fans out its own events through
one of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from elyune_core.ids import RecordingId
from elyune_core.ports import EventPublisher, RecordingEvent

logger = logging.getLogger("elyune.events")

Listener = Callable[[RecordingEvent], Awaitable[None]]


class ProcessEventHub(EventPublisher):
    """Fans events out to queues of subscribers and to listeners (webhooks).

    A slow subscriber never blocks the pipeline: its queue is bounded and drops the
    oldest event when full. A failing listener is logged, never raised.
    """

    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: set[tuple[RecordingId | None, asyncio.Queue[RecordingEvent]]] = set()
        self._listeners: list[Listener] = []
        self._size = queue_size

    def add_listener(self, listener: Listener) -> None:
        """Call *listener* with every event."""
        self._listeners.append(listener)

    async def publish(self, event: RecordingEvent) -> None:
        for recording_id, queue in list(self._subscribers):
            if recording_id is not None and recording_id != event.recording_id:
                continue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:  # a listener's bug must not fail the pipeline
                logger.exception("event listener failed for %s", event.type)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, recording_id: RecordingId | None = None
    ) -> AsyncIterator[asyncio.Queue[RecordingEvent]]:
        """A queue receiving the events of *recording_id* (all when ``None``)."""
        queue: asyncio.Queue[RecordingEvent] = asyncio.Queue(self._size)
        entry = (recording_id, queue)
        self._subscribers.add(entry)
        try:
            yield queue
        finally:
            self._subscribers.discard(entry)
