"""Process a live recording while it is recorded, so that little is left when it stops.

The chunks of a live upload are pieces of one WebM stream (only chunk 0 carries the
header). ``AdvanceLiveRecording`` reads the contiguous chunks it has not read yet and:

- cuts the stream at cluster boundaries and decodes the new clusters' audio into raw
  16 kHz pieces (``live/audio/NNNNNN.pcm``) that follow each other on the recording's
  clock;
- transcribes each stretch of about ``stretch_seconds`` that ends at a pause
  (``live/stretches/NNNNNN.json``: segments, words and the voices' embeddings), so at
  the end only the last few seconds are left;
- when it has nothing else to do, drafts the stretch that is growing (``live/drafts/``:
  the audio waiting so far, cut at its last pause): should the recording stop before
  that stretch is complete, the draft's part up to its pause becomes a stretch and only
  what follows the pause is left to transcribe;
- encodes the video in segments that start at keyframes (``live/video/NNNNNN.seg``),
  in a task of its own beside the transcript's work, so that a segment being encoded
  (the slow part) never holds up a stretch, and the stop gives it up rather than wait.

Everything it knows lives in the object store and in the upload's ``cursor`` (JSON, in
the database), written after the objects it points to: a worker that dies loses nothing
but the piece it was making, and the next one (after the lease ran out) goes on from the
cursor. Only one worker advances a recording at a time (a lease in the row).

When the upload is finished (or abandoned) and its audio is transcribed to the end, the
recording's processing job starts; its steps take the pieces instead of decoding the
whole file (see :class:`LiveSteps`): the transcript needs only the speaker clustering,
the MP4 the video since the last segment (encoded by the transcode step, so the
transcript never waits for the video) and a join.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from elyune_core._keys import chunk_key, live_piece_key, live_prefix
from elyune_core.entities import (
    FileKind,
    LiveState,
    LiveUpload,
    MediaInfo,
    Recording,
    RecordingStatus,
    Segment,
    Word,
)
from elyune_core.errors import (
    ConflictError,
    InvalidMediaError,
    ObjectNotFoundError,
    RecordingNotFoundError,
)
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import (
    Clock,
    ClusterMark,
    EventPublisher,
    LiveMedia,
    ObjectStore,
    ProgressCallback,
    RecordingEvent,
    StreamTracks,
    StretchRequest,
    StretchResult,
    Transcriber,
    UnitOfWorkFactory,
    Workspace,
)
from elyune_core.use_cases.live_upload import received_chunks
from elyune_core.use_cases.start_processing import StartProcessing, StartProcessingInput

logger = logging.getLogger(__name__)

CURSOR_VERSION = 1


@attrs.frozen
class LiveProcessingPolicy:
    """How the live processor cuts its work.

    ``audio_seconds``: decode audio once this much new media has arrived.
    ``stretch_seconds``: transcribe once this much audio is waiting (cut at a pause).
    ``segment_seconds``: the shortest video segment (a segment ends at a keyframe).
    ``lease``: how long a worker owns a recording without a sign of life.
    ``max_seconds``: the longest a live recording may run; later media is not kept.
    ``context_seconds``: audio before a stretch heard again with it (not kept).
    ``draft_seconds``: when idle, draft the growing stretch once this much audio waits
    (and again with each new piece of audio); 0 drafts nothing.
    ``poll_seconds``: how often a run looks for new chunks while only its video works.
    ``last_stretch_seconds``: at the stop, audio left up to this long is transcribed as
    one stretch (with its context, one 30 s window of the speech model).
    """

    audio_seconds: float = 4.0
    stretch_seconds: float = 20.0
    segment_seconds: float = 10.0
    lease: timedelta = timedelta(seconds=30)
    max_seconds: float = 4 * 3600.0
    prompt_chars: int = 200
    #: seconds of audio before a stretch given with it, for context (not kept)
    context_seconds: float = 3.0
    draft_seconds: float = 8.0
    poll_seconds: float = 0.5
    last_stretch_seconds: float = 27.0


@attrs.frozen
class AdvanceResult:
    """What one call did: ``busy`` when another worker holds the lease; ``started``
    when it made the last pieces and started the processing job."""

    recording_id: RecordingId
    busy: bool = False
    started: bool = False
    transcribed_until: float = 0.0
    media_seconds: float = 0.0


class LostLeaseError(ConflictError):
    """Another worker took the recording over (this one was too slow to renew)."""


# --------------------------------------------------------------------------- cursor


@attrs.define
class _Position:
    """A byte position in the stream: chunk index and offset in it, and the media time
    there (a cluster boundary)."""

    chunk: int = 0
    offset: int = 0
    time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"chunk": self.chunk, "offset": self.offset, "time": self.time}

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> _Position:
        if not data:
            return cls()
        return cls(int(data["chunk"]), int(data["offset"]), float(data["time"]))


@attrs.frozen
class _Draft:
    """A stored draft of the stretch from ``begin``: it heard the audio up to ``heard``
    and ends at its pause ``until``; ``taken`` once the stop split the last stretch."""

    begin: float
    heard: float
    until: float
    taken: bool = False

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> _Draft | None:
        if not data:
            return None
        return cls(
            float(data["begin"]),
            float(data["heard"]),
            float(data["until"]),
            bool(data.get("taken", False)),
        )


@attrs.define
class _Cursor:
    """The processor's progress, saved as ``LiveUpload.cursor``."""

    header_size: int | None = None
    tracks: StreamTracks | None = None
    chunk_sizes: list[int] = attrs.field(factory=list)
    media_seconds: float = 0.0
    audio: _Position = attrs.field(factory=_Position)
    audio_starts: list[float] = attrs.field(factory=list)
    audio_end: float = 0.0
    video: _Position = attrs.field(factory=_Position)
    video_starts: list[float] = attrs.field(factory=list)
    video_end: float = 0.0
    stretch_ends: list[float] = attrs.field(factory=list)
    transcribed_until: float = 0.0
    #: the stored draft of the growing stretch: where it begins (``transcribed_until``
    #: when it was made), the audio it heard up to, and its pause (``None``: no draft)
    draft: _Draft | None = None
    prompt: str = ""
    language: str | None = None
    stream_done: bool = False
    truncated: bool = False

    @property
    def chunks_processed(self) -> int:
        return len(self.chunk_sizes)

    def to_json(self) -> dict[str, Any]:
        tracks = None if self.tracks is None else attrs.asdict(self.tracks)
        return {
            "version": CURSOR_VERSION,
            "header_size": self.header_size,
            "tracks": tracks,
            "chunk_sizes": list(self.chunk_sizes),
            "chunks_processed": self.chunks_processed,
            "media_seconds": round(self.media_seconds, 3),
            "audio": self.audio.to_json(),
            "audio_starts": [round(s, 6) for s in self.audio_starts],
            "audio_end": round(self.audio_end, 6),
            "video": self.video.to_json(),
            "video_starts": [round(s, 6) for s in self.video_starts],
            "video_end": round(self.video_end, 6),
            "video_until": round(self.video_end, 3),
            "stretch_ends": [round(s, 6) for s in self.stretch_ends],
            "transcribed_until": round(self.transcribed_until, 3),
            "draft": None if self.draft is None else attrs.asdict(self.draft),
            "prompt": self.prompt,
            "language": self.language,
            "stream_done": self.stream_done,
            "truncated": self.truncated,
        }

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _Cursor:
        if not data or data.get("version") != CURSOR_VERSION:
            return cls()
        tracks = data.get("tracks")
        return cls(
            header_size=data.get("header_size"),
            tracks=None if tracks is None else StreamTracks(**tracks),
            chunk_sizes=[int(s) for s in data.get("chunk_sizes", [])],
            media_seconds=float(data.get("media_seconds", 0.0)),
            audio=_Position.of(data.get("audio")),
            audio_starts=[float(s) for s in data.get("audio_starts", [])],
            audio_end=float(data.get("audio_end", 0.0)),
            video=_Position.of(data.get("video")),
            video_starts=[float(s) for s in data.get("video_starts", [])],
            video_end=float(data.get("video_end", 0.0)),
            stretch_ends=[float(s) for s in data.get("stretch_ends", [])],
            transcribed_until=float(data.get("transcribed_until", 0.0)),
            draft=_Draft.of(data.get("draft")),
            prompt=str(data.get("prompt", "")),
            language=data.get("language"),
            stream_done=bool(data.get("stream_done", False)),
            truncated=bool(data.get("truncated", False)),
        )

    @property
    def has_audio(self) -> bool:
        return self.tracks is not None and self.tracks.has_audio

    @property
    def has_video(self) -> bool:
        return self.tracks is not None and self.tracks.has_video


# --------------------------------------------------------------------------- stretches


def stretch_to_json(result: StretchResult) -> dict[str, Any]:
    """The stored form of a transcribed stretch."""
    return {
        "start": result.start,
        "until": result.until,
        "text": result.text,
        "language": result.language,
        "language_confidence": result.language_confidence,
        "segments": [
            [s.id, s.start, s.end, s.text, s.speaker, s.confidence] for s in result.segments
        ],
        "words": [
            [w.text, w.start, w.end, w.confidence, w.speaker, w.punctuated] for w in result.words
        ],
        "voice_data": dict(result.voice_data),
    }


def stretch_of_json(data: Mapping[str, Any]) -> StretchResult:
    """A transcribed stretch read back from its stored form."""
    return StretchResult(
        start=float(data["start"]),
        until=float(data["until"]),
        text=str(data["text"]),
        language=data.get("language"),
        language_confidence=data.get("language_confidence"),
        segments=tuple(
            Segment(id=s[0], start=s[1], end=s[2], text=s[3], speaker=s[4], confidence=s[5])
            for s in data["segments"]
        ),
        words=tuple(
            Word(text=w[0], start=w[1], end=w[2], confidence=w[3], speaker=w[4], punctuated=w[5])
            for w in data["words"]
        ),
        voice_data=data.get("voice_data") or {},
    )


# --------------------------------------------------------------------------- the processor


class _Chunks:
    """Reads a live recording's stream from its stored chunks."""

    def __init__(self, store: ObjectStore, owner_id: UserId, recording_id: RecordingId) -> None:
        self._store = store
        self._owner_id = owner_id
        self._recording_id = recording_id

    async def chunk(self, index: int) -> bytes:
        key = chunk_key(self._owner_id, self._recording_id, index)
        return b"".join([part async for part in self._store.iter_bytes(key)])

    async def read(self, cursor: _Cursor, position: _Position, end: int | None = None) -> bytes:
        """The stream's bytes from *position* to the end of chunk *end* - 1 (of the chunks
        read so far by default)."""
        parts: list[bytes] = []
        last = cursor.chunks_processed if end is None else min(end, cursor.chunks_processed)
        for index in range(position.chunk, last):
            data = await self.chunk(index)
            parts.append(data[position.offset :] if index == position.chunk else data)
        return b"".join(parts)

    async def header(self, cursor: _Cursor) -> bytes:
        """The stream's header (the first ``header_size`` bytes)."""
        data = await self.chunk(0)
        size = cursor.header_size or 0
        if len(data) < size:  # the header spans several chunks
            data = await self.read(cursor, _Position())
        return data[:size]


def _within_limit(clusters: tuple[ClusterMark, ...], max_seconds: float) -> tuple[ClusterMark, ...]:
    """The clusters that start before the length limit."""
    return tuple(c for c in clusters if c.start < max_seconds or not c.start)


class AdvanceLiveRecording:
    """Catch a live recording's processing up with the chunks that have arrived.

    Rules:

    - One worker at a time: the call takes the upload's lease, or returns ``busy``.
    - Only contiguous chunks are read (a gap waits for its chunk); a finished upload is
      read up to its ``expected_chunks``.
    - Each piece is written before the cursor that names it, so a crash redoes at most
      one piece and never skips one.
    - Once the upload is finished and all its audio is transcribed, the processing job
      starts (``LiveUpload.processed``): the transcript does not wait for the video, whose
      rest (since the last segment) the job's transcode step encodes. A recording without
      audio, or without a video segment yet, waits for its video here.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        media: LiveMedia,
        transcriber: Transcriber,
        workspace: Workspace,
        events: EventPublisher,
        clock: Clock,
        start: StartProcessing,
        worker: str,
        policy: LiveProcessingPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._media = media
        self._transcriber = transcriber
        self._workspace = workspace
        self._events = events
        self._clock = clock
        self._start = start
        self._worker = worker
        self._policy = policy or LiveProcessingPolicy()
        self._headers: dict[RecordingId, bytes] = {}

    async def execute(self, recording_id: RecordingId) -> AdvanceResult:
        """Advance *recording_id* as far as its chunks allow."""
        result = AdvanceResult(recording_id, busy=True)
        for _ in range(100):  # re-check after releasing: a kick may have been missed
            live = await self._acquire(recording_id)
            if live is None:
                return result
            try:
                result = await self._run(live)
            except LostLeaseError:
                return AdvanceResult(recording_id, busy=True)
            except InvalidMediaError as exc:  # permanent: say so, never retry
                await self._fail(live, f"The live recording could not be read: {exc}")
                return AdvanceResult(recording_id)
            finally:
                await self._release(recording_id)
            if result.started or not await self._more_to_do(recording_id):
                return result
        return result

    # ----------------------------------------------------------------- lease

    async def _acquire(self, recording_id: RecordingId) -> LiveUpload | None:
        now = self._clock.now()
        async with self._uow() as uow:
            try:
                live = await uow.live.lock(recording_id)
            except RecordingNotFoundError:
                return None
            if live.processed:
                return None
            if live.leased(now) and live.lease_owner != self._worker:
                return None
            live = attrs.evolve(
                live,
                lease_owner=self._worker,
                lease_until=now + self._policy.lease,
                version=live.version + 1,
            )
            await uow.live.save(live)
            await uow.commit()
        return live

    async def _release(self, recording_id: RecordingId) -> None:
        try:
            async with self._uow() as uow:
                live = await uow.live.lock(recording_id)
                if live.lease_owner != self._worker:
                    return
                await uow.live.save(
                    attrs.evolve(live, lease_owner=None, lease_until=None, version=live.version + 1)
                )
                await uow.commit()
        except RecordingNotFoundError:
            return

    async def _save(self, recording_id: RecordingId, cursor: _Cursor) -> LiveUpload:
        """Store *cursor* and renew the lease (``LostLeaseError`` if it was taken)."""
        now = self._clock.now()
        async with self._uow() as uow:
            live = await uow.live.lock(recording_id)
            if live.lease_owner != self._worker:
                raise LostLeaseError("the lease was taken over")
            live = attrs.evolve(
                live,
                cursor=cursor.to_json(),
                lease_until=now + self._policy.lease,
                updated_at=now,
                version=live.version + 1,
            )
            await uow.live.save(live)
            await uow.commit()
        return live

    async def _more_to_do(self, recording_id: RecordingId) -> bool:
        """Whether chunks or a finish arrived that the last run did not see."""
        async with self._uow() as uow:
            live = await uow.live.find(recording_id)
        if live is None or live.processed:
            return False
        cursor = _Cursor.of(live.cursor)
        if live.state is not LiveState.RECORDING:
            return True
        available = await self._contiguous(live, cursor.chunks_processed)
        return available > cursor.chunks_processed

    # ----------------------------------------------------------------- the work

    async def _contiguous(self, live: LiveUpload, processed: int) -> int:
        """How many chunks from 0 on have arrived (up to ``expected_chunks``), given that
        the first *processed* have: only the declarations and stored chunks after those
        are read, so a step costs the same at the end of an hour as at its start."""
        async with self._uow() as uow:
            declarations = await uow.live.chunks(live.recording_id, processed)
        after = chunk_key(live.owner_id, live.recording_id, processed - 1) if processed else None
        listing = await self._store.list(
            f"{live_prefix(live.owner_id, live.recording_id)}chunks/", start_after=after
        )
        received = set(received_chunks(listing, declarations).received)
        count = processed
        while count in received:
            count += 1
        if live.expected_chunks is not None:
            count = min(count, live.expected_chunks)
        return count

    async def _run(self, live: LiveUpload) -> AdvanceResult:
        """The transcript's work (audio pieces, stretches, drafts) here, the video's
        segments beside it (:class:`_VideoBranch`): encoding a segment, the slow part,
        never holds up a stretch, and the stop does not wait for it."""
        cursor = _Cursor.of(live.cursor)
        async with self._uow() as uow:
            recording = await uow.recordings.get(live.recording_id)
        video = _VideoBranch(self, live, recording, cursor)
        try:
            while True:
                live, cursor, moved = await self._step(live, recording, cursor)
                video.start()
                if cursor.stream_done and self._caught_up(cursor):
                    # what the video has not encoded yet, the transcode step encodes
                    await video.stop()
                    started = await self._finish(live, recording, cursor)
                    return self._result(live, cursor, started=started)
                if not moved:
                    if not video.running:
                        return self._result(live, cursor)
                    # look for new chunks now and then while the video works
                    await video.wait(self._policy.poll_seconds)
        finally:
            await video.close()

    def _result(self, live: LiveUpload, cursor: _Cursor, *, started: bool = False) -> AdvanceResult:
        return AdvanceResult(
            live.recording_id,
            started=started,
            transcribed_until=cursor.transcribed_until,
            media_seconds=cursor.media_seconds,
        )

    def _caught_up(self, cursor: _Cursor) -> bool:
        audio_done = not cursor.has_audio or (
            cursor.audio.chunk >= cursor.chunks_processed
            and (
                not self._transcriber.supports_stretches
                or cursor.transcribed_until >= cursor.audio_end - 1e-6
            )
        )
        video_done = not cursor.has_video or cursor.video.chunk >= cursor.chunks_processed
        if cursor.has_audio and cursor.video_starts:  # the transcode step encodes the rest
            return audio_done
        return audio_done and video_done

    async def _step(
        self, live: LiveUpload, recording: Recording, cursor: _Cursor
    ) -> tuple[LiveUpload, _Cursor, bool]:
        """Do the most urgent piece of work; whether there was any."""
        async with self._uow() as uow:
            current = await uow.live.get(live.recording_id)
        live = attrs.evolve(current, lease_owner=live.lease_owner, lease_until=live.lease_until)
        available = await self._contiguous(live, cursor.chunks_processed)
        final = live.state is not LiveState.RECORDING and available >= (live.expected_chunks or 0)
        if available > cursor.chunks_processed:
            sizes = await self._chunk_sizes(live, cursor.chunks_processed, available)
            cursor.chunk_sizes.extend(sizes)
            if cursor.header_size is None:
                await self._read_header(live, cursor)
            live = await self._save(live.recording_id, cursor)
        if final and not cursor.stream_done:
            cursor.stream_done = True
            live = await self._save(live.recording_id, cursor)
        if cursor.header_size is None:
            if cursor.stream_done:
                raise InvalidMediaError("the live recording holds no complete WebM header")
            return live, cursor, False
        # the transcript first, then drafts (idle work); the video has its own branch
        for work in (self._audio, self._stretch, self._draft):
            began = time.monotonic()
            if await work(live, recording, cursor):
                _log_work(live, work.__name__.strip("_"), began, cursor)
                live = await self._save(live.recording_id, cursor)
                if work != self._audio:  # an event per stretch, not per piece
                    await self._progress(live, cursor)
                return live, cursor, True
        return live, cursor, False

    async def _chunk_sizes(self, live: LiveUpload, first: int, end: int) -> list[int]:
        sizes: list[int] = []
        for index in range(first, end):
            info = await self._store.stat(chunk_key(live.owner_id, live.recording_id, index))
            sizes.append(info.size)
        return sizes

    async def _read(self, live: LiveUpload, cursor: _Cursor, position: _Position) -> bytes:
        """The stream's bytes from *position* to the end of the chunks read so far."""
        return await _Chunks(self._store, live.owner_id, live.recording_id).read(cursor, position)

    def _advance(
        self, cursor: _Cursor, position: _Position, consumed: int, time: float
    ) -> _Position:
        """*position* moved on by *consumed* bytes, at media time *time*."""
        chunk, offset = position.chunk, position.offset + consumed
        while chunk < cursor.chunks_processed and offset >= cursor.chunk_sizes[chunk]:
            offset -= cursor.chunk_sizes[chunk]
            chunk += 1
        return _Position(chunk, offset, time)

    async def _read_header(self, live: LiveUpload, cursor: _Cursor) -> None:
        data = await self._read(live, cursor, _Position())
        scan = self._media.scan(data, at_start=True, final=False)
        if scan.tracks is None or scan.header_size <= 0:
            return  # the header is not complete yet
        cursor.header_size = scan.header_size
        cursor.tracks = scan.tracks
        start = self._advance(cursor, _Position(), scan.header_size, 0.0)
        cursor.audio = attrs.evolve(start)
        cursor.video = attrs.evolve(start)

    async def _header(self, live: LiveUpload, cursor: _Cursor) -> bytes:
        cached = self._headers.get(live.recording_id)
        if cached is not None:
            return cached
        header = await _Chunks(self._store, live.owner_id, live.recording_id).header(cursor)
        if len(self._headers) >= 64:  # a cache, not a record of every recording seen
            self._headers.pop(next(iter(self._headers)))
        self._headers[live.recording_id] = header
        return header

    async def _window(
        self,
        live: LiveUpload,
        cursor: _Cursor,
        position: _Position,
        seconds: float,
        enough: Callable[[tuple[ClusterMark, ...]], bool],
    ) -> tuple[bytes, tuple[ClusterMark, ...], int, bool]:
        """The stream from *position* on, read a window of chunks at a time until its
        clusters are *enough* (or the chunks run out): the bytes, their complete clusters,
        the bytes those take, and whether the window reaches the last chunk read so far.

        The first window holds about twice *seconds* of chunks, and each next one twice
        the last: a step reads what its piece needs, not everything since its position,
        so a branch that fell behind (the video, on a busy machine) costs no more memory
        or scanning per piece than one that keeps up."""
        header = await self._header(live, cursor)
        chunks = _Chunks(self._store, live.owner_id, live.recording_id)
        count = max(int(2 * seconds) + 4, 8)
        while True:
            end = min(position.chunk + count, cursor.chunks_processed)
            data = await chunks.read(cursor, position, end)
            to_end = end >= cursor.chunks_processed
            clusters, consumed = self._clusters(data, cursor, header, cursor.stream_done and to_end)
            if to_end or enough(clusters):
                return data, clusters, consumed, to_end
            count *= 2

    def _clusters(
        self, data: bytes, cursor: _Cursor, header: bytes, final: bool
    ) -> tuple[tuple[ClusterMark, ...], int]:
        scan = self._media.scan(data, at_start=False, final=final, header=header)
        clusters = _within_limit(scan.clusters, self._policy.max_seconds)
        if len(clusters) < len(scan.clusters):
            cursor.truncated = True
        consumed = clusters[-1].offset + clusters[-1].size if clusters else 0
        if cursor.truncated:
            consumed = len(data)  # what lies beyond the limit is dropped
        return clusters, consumed

    async def _audio(self, live: LiveUpload, recording: Recording, cursor: _Cursor) -> bool:
        """Decode the audio of the clusters that arrived since the last piece."""
        if not cursor.has_audio or cursor.audio.chunk >= cursor.chunks_processed:
            return False
        since = cursor.audio.time

        def enough(clusters: tuple[ClusterMark, ...]) -> bool:
            return any(c.end - since >= self._policy.audio_seconds for c in clusters)

        data, clusters, consumed, to_end = await self._window(
            live, cursor, cursor.audio, self._policy.audio_seconds, enough
        )
        header = await self._header(live, cursor)
        done = cursor.stream_done and to_end
        if clusters:
            cursor.media_seconds = max(cursor.media_seconds, clusters[-1].end)
        # a piece is the clusters up to the first that reaches ``audio_seconds`` past the
        # last piece (the rest once the stream is done): its bounds follow the stream, not
        # the moments chunks happened to arrive (chunks sent one by one or held and sent
        # together at the end give the same pieces), so a rerun decodes the same pieces
        reach = next(
            (
                n
                for n, c in enumerate(clusters)
                if c.end - cursor.audio.time >= self._policy.audio_seconds
            ),
            None,
        )
        ready = bool(clusters) and (done or reach is not None)
        if ready and reach is not None:  # also at the end: a backlog is cut the same way
            clusters = clusters[: reach + 1]
            consumed = clusters[-1].offset + clusters[-1].size
        if not ready:
            if done:  # nothing decodable is left
                cursor.audio = self._advance(cursor, cursor.audio, len(data), cursor.audio.time)
                return True
            return False
        body = data[clusters[0].offset : clusters[-1].offset + clusters[-1].size]
        number = len(cursor.audio_starts)
        key = live_piece_key(live.owner_id, live.recording_id, "audio", number, "pcm")
        async with self._workspace.scratch("live-audio") as scratch:
            source, target = scratch / "body.webm", scratch / "audio.pcm"
            source.write_bytes(body)
            end = await self._media.decode_audio(header, source, target, cursor.audio_end)
            await self._store.put_file(key, target, "application/octet-stream")
        cursor.audio_starts.append(cursor.audio_end)
        cursor.audio_end = max(end, cursor.audio_end)
        cursor.audio = self._advance(cursor, cursor.audio, consumed, clusters[-1].end)
        return True

    async def _stretch(self, live: LiveUpload, recording: Recording, cursor: _Cursor) -> bool:
        """Transcribe the next stretch of audio that ends at a pause (all of what is left
        once the stream is done: first, if a draft of it is stored, the draft's part up to
        its pause, so that only what follows is left to transcribe)."""
        if not cursor.has_audio or not self._transcriber.supports_stretches:
            return False
        waiting = cursor.audio_end - cursor.transcribed_until
        audio_done = cursor.stream_done and cursor.audio.chunk >= cursor.chunks_processed
        if waiting <= 1e-6 or (waiting < self._policy.stretch_seconds and not audio_done):
            return False
        # stretches of ``stretch_seconds`` (cut at a pause near their end by the engine),
        # the rest in one last stretch: their bounds follow the audio alone; at the stop
        # a rest of up to ``last_stretch_seconds`` is one stretch (one engine pass, not two)
        last = max(self._policy.stretch_seconds, self._policy.last_stretch_seconds)
        final = audio_done and waiting < last
        draft = self._split_at_stop(cursor) if final else None
        if draft is not None:
            await self._split(live, cursor, draft)
            return True
        end = (
            cursor.audio_end
            if final
            else min(cursor.audio_end, cursor.transcribed_until + self._policy.stretch_seconds)
        )
        result = await self._transcribe(live, recording, cursor, end, final=final)
        until = result.until if not final else end
        if until <= cursor.transcribed_until + 1e-6:
            until = end  # no pause found: cut where the stretch ends
        await self._commit(live, cursor, result, until)
        return True

    def _split_at_stop(self, cursor: _Cursor) -> _Draft | None:
        """The stored draft the stop takes: the latest one of the stretch from
        ``transcribed_until``, if it found a pause (``None``: the last stretch is
        transcribed in one go). A recording whose chunks came one by one to the stop, on
        a machine that kept up, has one; one whose last chunks were held until the stop
        (the network was down then), or whose worker was behind, may have none, and its
        last stretch is then cut where the audio ends rather than at a draft's pause
        (which may change a word or two there)."""
        draft = cursor.draft
        if draft is None or draft.taken:
            return None
        if abs(draft.begin - cursor.transcribed_until) > 1e-6:
            return None
        if draft.until <= draft.begin + 1e-6 or draft.heard > cursor.audio_end + 1e-6:
            return None
        return draft

    async def _split(self, live: LiveUpload, cursor: _Cursor, draft: _Draft) -> None:
        """At the stop: *draft* becomes a stretch up to its pause; what follows is the
        last stretch."""
        key = live_piece_key(live.owner_id, live.recording_id, "drafts", 0, "json")
        try:
            data = b"".join([part async for part in self._store.iter_bytes(key)])
        except ObjectNotFoundError:
            cursor.draft = attrs.evolve(draft, taken=True)  # lost: in one go, then
            return
        await self._commit(live, cursor, stretch_of_json(json.loads(data)), draft.until)
        cursor.draft = attrs.evolve(draft, taken=True)

    async def _draft(self, live: LiveUpload, recording: Recording, cursor: _Cursor) -> bool:
        """Idle work: draft the stretch that is growing (the audio waiting so far, cut at
        its last pause), so that a stop before it is complete leaves only what follows the
        pause to transcribe. A draft is made once ``draft_seconds`` of audio wait, and
        again with each new piece of audio; it is stored, not part of the transcript
        until the stop takes it (:meth:`_split`)."""
        minimum = self._policy.draft_seconds
        if minimum <= 0 or not cursor.has_audio or not self._transcriber.supports_stretches:
            return False
        if cursor.stream_done:
            return False  # the last stretch is transcribed now, not drafted
        begin, end = cursor.transcribed_until, cursor.audio_end
        waiting = end - begin
        if waiting < minimum or waiting >= self._policy.stretch_seconds:
            return False
        draft = cursor.draft
        if draft is not None and abs(draft.begin - begin) <= 1e-6 and draft.heard >= end - 1e-6:
            return False  # nothing new since the last draft
        result = await self._transcribe(live, recording, cursor, end, final=False)
        until = result.until if result.until > begin + 1e-6 else begin  # no pause: unusable
        key = live_piece_key(live.owner_id, live.recording_id, "drafts", 0, "json")
        await self._put_stretch(key, result, until)
        cursor.draft = _Draft(begin=begin, heard=end, until=until)
        return True

    async def _transcribe(
        self, live: LiveUpload, recording: Recording, cursor: _Cursor, end: float, *, final: bool
    ) -> StretchResult:
        """The stretch from ``transcribed_until`` to *end*, heard with its context."""
        begin = max(0.0, cursor.transcribed_until - self._policy.context_seconds)
        async with self._workspace.scratch("live-stretch") as scratch:
            wav = scratch / "stretch.wav"
            await self._write_wav(live, cursor, begin, end, wav, scratch)
            return await self._transcriber.transcribe_stretch(
                StretchRequest(
                    recording_id=live.recording_id,
                    audio=wav,
                    offset=begin,
                    language=recording.language or cursor.language,
                    prompt=cursor.prompt or None,
                    final=final,
                    context=cursor.transcribed_until - begin,
                )
            )

    async def _commit(
        self, live: LiveUpload, cursor: _Cursor, result: StretchResult, until: float
    ) -> None:
        """Store *result* as the next stretch, ending at *until*."""
        number = len(cursor.stretch_ends)
        key = live_piece_key(live.owner_id, live.recording_id, "stretches", number, "json")
        await self._put_stretch(key, result, until)
        cursor.stretch_ends.append(until)
        cursor.transcribed_until = until
        cursor.draft = None
        cursor.language = cursor.language or result.language
        text = f"{cursor.prompt} {result.text}".strip() if result.text else cursor.prompt
        cursor.prompt = text[-self._policy.prompt_chars :]

    async def _put_stretch(self, key: str, result: StretchResult, until: float) -> None:
        body = json.dumps(stretch_to_json(attrs.evolve(result, until=until))).encode()
        await self._store.put_bytes(key, body, "application/json")

    async def _write_wav(
        self,
        live: LiveUpload,
        cursor: _Cursor,
        start: float,
        end: float,
        target: Path,
        scratch: Path,
    ) -> None:
        """Write the audio of [start, end) from the stored pieces to *target*."""
        pieces: list[tuple[Path, float]] = []
        starts = cursor.audio_starts
        for number, piece_start in enumerate(starts):
            piece_end = starts[number + 1] if number + 1 < len(starts) else cursor.audio_end
            if piece_end <= start or piece_start >= end:
                continue
            key = live_piece_key(live.owner_id, live.recording_id, "audio", number, "pcm")
            path = scratch / f"piece-{number:06d}.pcm"
            await self._fetch(key, path)
            pieces.append((path, piece_start))
        await self._media.write_wav(pieces, start, end, target)

    async def _fetch(self, key: str, path: Path) -> None:
        with path.open("wb") as out:
            async for part in self._store.iter_bytes(key):
                out.write(part)

    async def _video(
        self,
        live: LiveUpload,
        recording: Recording,
        cursor: _Cursor,
        stop: asyncio.Event | None = None,
    ) -> bool:
        """Encode the next video segment: from a keyframe to the first keyframe at least
        ``segment_seconds`` later (to the end once the stream is done). Once *stop* is
        set, a segment being encoded is given up (``False``: nothing changed)."""
        if not cursor.has_video or cursor.video.chunk >= cursor.chunks_processed:
            return False

        def cut_of(clusters: tuple[ClusterMark, ...]) -> int | None:
            start = clusters[0].start if clusters else cursor.video.time
            return next(
                (
                    i
                    for i, c in enumerate(clusters)
                    if i > 0 and c.keyframe and c.start - start >= self._policy.segment_seconds
                ),
                None,
            )

        data, clusters, consumed, to_end = await self._window(
            live,
            cursor,
            cursor.video,
            self._policy.segment_seconds,
            lambda found: cut_of(found) is not None,
        )
        header = await self._header(live, cursor)
        done = cursor.stream_done and to_end
        if clusters:
            cursor.media_seconds = max(cursor.media_seconds, clusters[-1].end)
        cut = cut_of(clusters)
        if cut is None and not (done and clusters):
            if done:
                cursor.video = self._advance(cursor, cursor.video, len(data), cursor.video.time)
                return True
            return False
        chosen = clusters if cut is None else clusters[:cut]
        end = chosen[-1].end if cut is None else clusters[cut].start
        size = chosen[-1].offset + chosen[-1].size
        body = data[chosen[0].offset : size]
        number = len(cursor.video_starts)
        key = live_piece_key(live.owner_id, live.recording_id, "video", number, "seg")
        seg_start = cursor.video_end if number else 0.0
        duration = max(end - seg_start, 0.04)
        assert cursor.tracks is not None
        async with self._workspace.scratch("live-video") as scratch:
            source, target = scratch / "body.webm", scratch / "segment.seg"
            await asyncio.to_thread(source.write_bytes, body)
            del data, body
            encoding = self._media.encode_segment(header, source, target, cursor.tracks, duration)
            if not await _unless_stopped(encoding, stop):
                return False
            await self._store.put_file(key, target, "application/octet-stream")
        cursor.video_starts.append(seg_start)
        cursor.video_end = seg_start + duration
        consumed = consumed if cut is None else size
        cursor.video = self._advance(cursor, cursor.video, consumed, end)
        return True

    # ----------------------------------------------------------------- the end

    async def _finish(self, live: LiveUpload, recording: Recording, cursor: _Cursor) -> bool:
        """Hand the recording to its processing job."""
        size = sum(cursor.chunk_sizes)
        now = self._clock.now()
        async with self._uow() as uow:
            current = await uow.recordings.lock(live.recording_id)
            if current.file(FileKind.SOURCE) is None:  # assembled by a step of the job
                current = current.mark_uploaded(size, now)
            current = attrs.evolve(current, media=live_media_info(cursor.to_json()))
            await uow.recordings.save(current)
            row = await uow.live.lock(live.recording_id)
            note = row.note
            if cursor.truncated:
                limit = _clock(self._policy.max_seconds)
                note = f"{note + ' ' if note else ''}Only the first {limit} were kept (the limit)."
            await uow.live.save(
                attrs.evolve(
                    row,
                    cursor=cursor.to_json(),
                    note=note,
                    processed=True,
                    updated_at=now,
                    version=row.version + 1,
                )
            )
            await uow.commit()
        stretched = bool(cursor.stretch_ends) and self._transcriber.supports_stretches
        await self._start.execute(StartProcessingInput(live.recording_id, from_stretches=stretched))
        return True

    async def _fail(self, live: LiveUpload, reason: str) -> None:
        """End a live recording that cannot be processed, with a readable reason."""
        now = self._clock.now()
        async with self._uow() as uow:
            try:
                recording = await uow.recordings.lock(live.recording_id)
                row = await uow.live.lock(live.recording_id)
            except RecordingNotFoundError:
                return
            await uow.recordings.save(
                attrs.evolve(recording, status=RecordingStatus.FAILED, error=reason, updated_at=now)
            )
            await uow.live.save(
                attrs.evolve(
                    row, processed=True, note=reason, updated_at=now, version=row.version + 1
                )
            )
            await uow.commit()
        await self._events.publish(
            RecordingEvent(
                type="processing.failed",
                recording_id=live.recording_id,
                owner_id=live.owner_id,
                occurred_at=now,
                data={"error": reason},
            )
        )

    async def _progress(self, live: LiveUpload, cursor: _Cursor) -> None:
        await self._events.publish(
            RecordingEvent(
                type="live.progress",
                recording_id=live.recording_id,
                owner_id=live.owner_id,
                occurred_at=self._clock.now(),
                data=live_progress(cursor.to_json()),
            )
        )


class _VideoBranch:
    """The video segments of one :meth:`AdvanceLiveRecording._run`, encoded in a task of
    their own beside the transcript's work, on the same cursor (its video fields are
    this branch's alone; the intake of chunks stays with the run). Its errors are raised
    in the run when it next looks at the branch."""

    def __init__(
        self,
        advance: AdvanceLiveRecording,
        live: LiveUpload,
        recording: Recording,
        cursor: _Cursor,
    ) -> None:
        self._advance = advance
        self._live = live
        self._recording = recording
        self._cursor = cursor
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        #: (chunks, stream done) when it last found no segment to encode
        self._idle_at: tuple[int, bool] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Encode segments if there may be one (a chunk arrived since it last found
        none); raise the error it stopped with."""
        self._raise()
        cursor = self._cursor
        if self.running or self._stop.is_set() or not cursor.has_video:
            return
        if cursor.video.chunk >= cursor.chunks_processed:
            return
        if self._idle_at == (cursor.chunks_processed, cursor.stream_done):
            return
        self._task = asyncio.get_running_loop().create_task(self._encode())

    async def _encode(self) -> None:
        advance, cursor = self._advance, self._cursor
        while not self._stop.is_set():
            seen = (cursor.chunks_processed, cursor.stream_done)
            began = time.monotonic()
            if not await advance._video(self._live, self._recording, cursor, self._stop):
                self._idle_at = seen
                return
            _log_work(self._live, "video", began, cursor)
            self._live = await advance._save(self._live.recording_id, cursor)
            await advance._progress(self._live, cursor)

    async def wait(self, timeout: float) -> None:
        """Wait until the branch ends or *timeout* seconds pass."""
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=timeout)
        self._raise()

    async def stop(self) -> None:
        """Give up the segment being encoded and end the branch."""
        self._stop.set()
        if self._task is not None:
            await asyncio.wait({self._task})
        self._raise()

    async def close(self) -> None:
        """Cancel the branch if it still runs (the run is leaving)."""
        self._stop.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _raise(self) -> None:
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            error = task.exception()
            if error is not None:
                self._task = None
                raise error


async def _unless_stopped(work: Awaitable[None], stop: asyncio.Event | None) -> bool:
    """Run *work* to its end unless *stop* is set first (then cancel it); whether it
    ran to its end."""
    if stop is None:
        await work
        return True
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, stopped, return_exceptions=True)
    if task.cancelled():
        return False
    task.result()  # its error, if it failed
    return True


def _log_work(live: LiveUpload, name: str, began: float, cursor: _Cursor) -> None:
    logger.debug(
        "live %s: %s in %.2f s (media %.1f s, audio %.1f s, transcribed %.1f s, video %.1f s)",
        live.recording_id,
        name,
        time.monotonic() - began,
        cursor.media_seconds,
        cursor.audio_end,
        cursor.transcribed_until,
        cursor.video_end,
    )


class GetLiveProgress:
    """How far a live recording's processing has caught up, from the database only
    (cheap enough to ask every second): ``None`` for a recording uploaded whole.

    Rules: only the owner's recordings (``RecordingNotFoundError`` otherwise).
    """

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, recording_id: RecordingId, owner_id: UserId) -> dict[str, Any] | None:
        """The progress of *recording_id*, with the upload's state and note."""
        async with self._uow() as uow:
            live = await uow.live.find(recording_id)
        if live is None or live.owner_id != owner_id:
            return None
        return {
            "state": live.state.value,
            "processed": live.processed,
            "note": live.note,
            **live_progress(live.cursor),
        }


def live_progress(cursor: Mapping[str, Any]) -> dict[str, Any]:
    """How far the processing of a live recording has caught up (for its status, its
    events and webhooks): seconds of media received, transcribed and encoded."""
    media = float(cursor.get("media_seconds", 0.0))
    transcribed = float(cursor.get("transcribed_until", 0.0))
    return {
        "chunks_processed": int(cursor.get("chunks_processed", 0)),
        "media_seconds": round(media, 1),
        "transcribed_until": round(transcribed, 1),
        "transcribed_until_clock": _clock(transcribed),
        "video_until": round(float(cursor.get("video_until", 0.0)), 1),
        "lag_seconds": round(max(media - transcribed, 0.0), 1),
    }


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def live_media_info(cursor: Mapping[str, Any]) -> MediaInfo:
    """What the stream is, from the processor's cursor (no decoding of the whole file)."""
    tracks = cursor.get("tracks") or {}
    return MediaInfo(
        duration=float(cursor.get("media_seconds", 0.0)),
        format_name="matroska,webm",
        has_audio=bool(tracks.get("has_audio")),
        has_video=bool(tracks.get("has_video")),
        video_codec=tracks.get("video_codec"),
        audio_codec=tracks.get("audio_codec"),
        width=tracks.get("width"),
        height=tracks.get("height"),
    )


# --------------------------------------------------------------------------- the job's steps


@attrs.frozen
class LivePieces:
    """What the live processor left for a recording's job."""

    live: LiveUpload
    cursor: Mapping[str, Any]

    @property
    def audio_pieces(self) -> int:
        return len(self.cursor.get("audio_starts", []))

    @property
    def video_segments(self) -> int:
        return len(self.cursor.get("video_starts", []))

    @property
    def stretches(self) -> int:
        return len(self.cursor.get("stretch_ends", []))


class LiveSteps:
    """The job steps of a live recording, made from the pieces the processor left."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        media: LiveMedia,
        workspace: Workspace,
        policy: LiveProcessingPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._media = media
        self._workspace = workspace
        self._policy = policy or LiveProcessingPolicy()

    async def pieces(self, recording: Recording) -> LivePieces | None:
        """The pieces of *recording* if it was uploaded live and processed so."""
        async with self._uow() as uow:
            live = await uow.live.find(recording.id)
        if live is None or not live.processed or not live.cursor:
            return None
        if live.cursor.get("version") != CURSOR_VERSION or live.cursor.get("cleaned"):
            return None
        return LivePieces(live, live.cursor)

    async def clean(self, recording: Recording) -> None:
        """Delete the pieces of a live recording whose job has succeeded; later steps
        (a re-run) work from the assembled source like any upload."""
        pieces = await self.pieces(recording)
        if pieces is None:
            return
        await self._store.delete_prefix(live_prefix(recording.owner_id, recording.id))
        async with self._uow() as uow:
            try:
                row = await uow.live.lock(recording.id)
            except RecordingNotFoundError:
                return
            cursor = {**row.cursor, "cleaned": True}
            await uow.live.save(attrs.evolve(row, cursor=cursor, version=row.version + 1))
            await uow.commit()

    def piece_key(self, recording: Recording, kind: str, number: int, extension: str) -> str:
        return live_piece_key(recording.owner_id, recording.id, kind, number, extension)

    async def fetch(self, key: str, path: Path) -> None:
        with path.open("wb") as out:
            async for part in self._store.iter_bytes(key):
                out.write(part)

    async def join_video(
        self,
        recording: Recording,
        pieces: LivePieces,
        target: Path,
        on_progress: ProgressCallback | None = None,
    ) -> float:
        """Join the video segments into the MP4 at *target*, with the rest of the video
        since the last segment encoded first (the job started once the transcript was
        done, without waiting for it; *on_progress* hears how far that encoding is);
        return the seconds of that rest."""
        async with (
            self._workspace.scratch("live-join") as scratch,
            contextlib.AsyncExitStack() as stack,
        ):
            # the stored segments where they are (a local store copies nothing; S3
            # downloads each): an hour's are hundreds of megabytes
            paths: list[Path] = []
            for number in range(pieces.video_segments):
                key = self.piece_key(recording, "video", number, "seg")
                paths.append(await stack.enter_async_context(self._store.local_copy(key)))
            rest = scratch / "rest.seg"
            seconds = await self._encode_rest(recording, pieces, rest, on_progress)
            if seconds:
                paths.append(rest)
            if not paths:
                raise InvalidMediaError("the live recording has no video segment")
            await self._media.join(paths, target)
        return seconds

    async def _encode_rest(
        self,
        recording: Recording,
        pieces: LivePieces,
        target: Path,
        on_progress: ProgressCallback | None = None,
    ) -> float:
        """Encode the video from the cursor's video position to the end of the stream as
        one segment at *target*; return its seconds (0 if there was none)."""
        cursor = _Cursor.of(pieces.cursor)
        if not cursor.has_video or cursor.video.chunk >= cursor.chunks_processed:
            return 0.0
        assert cursor.tracks is not None
        chunks = _Chunks(self._store, recording.owner_id, recording.id)
        data = await chunks.read(cursor, cursor.video)
        header = await chunks.header(cursor)
        # the rest is as long as the video fell behind (minutes on a busy machine): scanned
        # and written off the event loop, which serves the API in the embedded mode
        scan = await asyncio.to_thread(
            self._media.scan, data, at_start=False, final=True, header=header
        )
        clusters = _within_limit(scan.clusters, self._policy.max_seconds)
        if not clusters:
            return 0.0
        start = cursor.video_end if cursor.video_starts else 0.0
        duration = max(clusters[-1].end - start, 0.04)
        async with self._workspace.scratch("live-rest") as scratch:
            source = scratch / "body.webm"
            body = memoryview(data)[clusters[0].offset : clusters[-1].offset + clusters[-1].size]
            await asyncio.to_thread(source.write_bytes, body)
            del data, body
            await self._media.encode_segment(
                header, source, target, cursor.tracks, duration, on_progress
            )
        return duration

    async def first_segment(self, recording: Recording, target: Path) -> None:
        await self.fetch(self.piece_key(recording, "video", 0, "seg"), target)

    async def write_audio(self, recording: Recording, pieces: LivePieces, target: Path) -> None:
        """Write the whole recording's audio as a 16 kHz mono WAV to *target*."""
        starts = [float(s) for s in pieces.cursor.get("audio_starts", [])]
        end = float(pieces.cursor.get("audio_end", 0.0))
        if not starts:
            raise InvalidMediaError("the live recording has no audio")
        async with self._workspace.scratch("live-wav") as scratch:
            parts: list[tuple[Path, float]] = []
            for number, start in enumerate(starts):
                path = scratch / f"piece-{number:06d}.pcm"
                await self.fetch(self.piece_key(recording, "audio", number, "pcm"), path)
                parts.append((path, start))
            await self._media.write_wav(parts, 0.0, end, target)

    async def stretches(
        self, recording: Recording, pieces: LivePieces
    ) -> tuple[StretchResult, ...]:
        """Every transcribed stretch, in order."""
        found: list[StretchResult] = []
        for number in range(pieces.stretches):
            key = self.piece_key(recording, "stretches", number, "json")
            data = b"".join([part async for part in self._store.iter_bytes(key)])
            found.append(stretch_of_json(json.loads(data)))
        return tuple(found)

    async def assemble_source(self, recording: Recording, pieces: LivePieces) -> int:
        """Store the chunks end to end as the recording's source file (for downloads and
        re-runs); return its size."""
        sizes = [int(s) for s in pieces.cursor.get("chunk_sizes", [])]
        async with self._workspace.scratch("live-source") as scratch:
            path = scratch / "source.webm"
            with path.open("wb") as out:
                for index in range(len(sizes)):
                    key = chunk_key(recording.owner_id, recording.id, index)
                    async for part in self._store.iter_bytes(key):
                        out.write(part)
            try:
                info = await self._store.put_file(recording.source_key, path, "video/webm")
            except ObjectNotFoundError:  # the recording was deleted meanwhile
                return 0
        return info.size


def has_file(recording: Recording, kind: FileKind) -> bool:
    return recording.file(kind) is not None


__all__ = [
    "CURSOR_VERSION",
    "AdvanceLiveRecording",
    "AdvanceResult",
    "GetLiveProgress",
    "LivePieces",
    "LiveProcessingPolicy",
    "LiveSteps",
    "LostLeaseError",
    "live_media_info",
    "live_progress",
    "stretch_of_json",
    "stretch_to_json",
]
