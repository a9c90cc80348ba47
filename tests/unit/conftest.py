"""A core wired entirely to in-memory fakes."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from elyune_adapters.memory import (
    EventLog,
    FakeAnalyzer,
    FakeTranscoder,
    FakeTranscriber,
    FixedClock,
    InMemoryObjectStore,
    InMemoryState,
    RecordingJobQueue,
    SequentialIds,
    in_memory_uow,
)
from elyune_adapters.system import TempWorkspace
from elyune_core import (
    ImportRecording,
    ImportRecordingInput,
    PipelinePolicy,
    RunStep,
    RunStepInput,
    StartProcessing,
    StartProcessingInput,
    StepHandlers,
    UserId,
)


@attrs.define
class Core:
    """The use cases of the core over fakes, plus the fakes to inspect."""

    state: InMemoryState
    store: InMemoryObjectStore
    transcoder: FakeTranscoder
    transcriber: FakeTranscriber
    analyzer: FakeAnalyzer
    queue: RecordingJobQueue
    events: EventLog
    clock: FixedClock
    ids: SequentialIds
    sleeps: list[float]
    tmp: Path
    policy: PipelinePolicy

    def uow(self):
        return in_memory_uow(self.state)

    def run_step(self, worker: str = "w1") -> RunStep:
        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        handlers = StepHandlers(
            uow=self.uow(),
            store=self.store,
            workspace=TempWorkspace(self.tmp / "scratch"),
            transcoder=self.transcoder,
            transcriber=self.transcriber,
            analyzer=self.analyzer,
            clock=self.clock,
        )
        return RunStep(
            uow=self.uow(),
            handlers=handlers,
            queue=self.queue,
            events=self.events,
            clock=self.clock,
            policy=self.policy,
            sleep=sleep,
            rand=lambda: 0.0,
        )

    async def add_recording(
        self, content: bytes = b"MEDIA data", name: str = "talk.webm", **options
    ):
        path = self.tmp / name
        path.write_bytes(content)
        use_case = ImportRecording(
            uow=self.uow(), store=self.store, events=self.events, clock=self.clock, ids=self.ids
        )
        result = await use_case.execute(ImportRecordingInput(UserId("u1"), path, **options))
        return result.recording

    async def process(self, content: bytes = b"MEDIA data", **options):
        """Import a recording and run its whole job; return the recording id and job id."""
        recording = await self.add_recording(content, **options)
        start = StartProcessing(uow=self.uow(), queue=self.queue, clock=self.clock, ids=self.ids)
        started = await start.execute(StartProcessingInput(recording.id))
        await self.queue.join()
        return recording.id, started.job_id


@pytest.fixture
def core(tmp_path: Path) -> Core:
    state = InMemoryState()
    c = Core(
        state=state,
        store=InMemoryObjectStore(),
        transcoder=FakeTranscoder(),
        transcriber=FakeTranscriber(),
        analyzer=FakeAnalyzer(),
        queue=RecordingJobQueue(),
        events=EventLog(),
        clock=FixedClock(),
        ids=SequentialIds(),
        sleeps=[],
        tmp=tmp_path,
        policy=PipelinePolicy(max_attempts=3, backoff_base=2.0, jitter=0.25, lease_seconds=60),
    )

    async def runner(job_id, step):
        return await c.run_step().execute(RunStepInput(job_id, step, "w1"))

    c.queue.runner = runner
    return c
