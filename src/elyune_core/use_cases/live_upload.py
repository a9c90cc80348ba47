"""Live (chunked, resumable) uploads: a recording uploaded while it is recorded.

The client starts one (``RequestLiveUpload``), declares chunks and gets a signed PUT URL
for each (``DeclareChunks``), PUTs their bytes to the store, asks what arrived
(``GetLiveUpload``) and finishes with the chunk count (``FinishLiveUpload``). An upload
that stops sending chunks is finished by ``FinalizeIdleLiveUploads``. Which stored
chunks count as received is :func:`received_chunks`, the one rule the processing uses
too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from elyune_core._keys import MAX_CHUNKS, chunk_key, chunk_owner, live_prefix, source_key
from elyune_core._keys import sanitize_filename as _sanitize_filename
from elyune_core.entities import (
    ChunkDeclaration,
    LiveState,
    LiveUpload,
    Recording,
    RecordingStatus,
)
from elyune_core.errors import (
    ChunksMissingError,
    InvalidInputError,
    InvalidStateError,
    NotLiveUploadError,
    ObjectNotFoundError,
    RecordingNotFoundError,
)
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import (
    Clock,
    EventPublisher,
    IdSource,
    LanguageSupport,
    LiveQueue,
    ObjectInfo,
    ObjectStore,
    RecordingEvent,
    UnitOfWork,
    UnitOfWorkFactory,
)
from elyune_core.use_cases.uploads import RequestUploadInput, UploadPolicy, validate_upload_request

#: the content type of every chunk (MediaRecorder's WebM pieces)
CHUNK_CONTENT_TYPE = "video/webm"
#: the most chunks one request may declare
MAX_CHUNKS_PER_REQUEST = 50
#: the error of a live recording none of whose chunks arrived
NO_CHUNK_ARRIVED = "No chunk of this live recording arrived."
NOT_LIVE = "This recording was not uploaded live."

_HEX_MD5 = re.compile(r"[0-9a-f]{32}")


@attrs.frozen
class LivePolicy:
    """Limits of live uploads: the largest chunk, how long a chunk's URL works, and the
    silence after which an upload that is still recording is finished automatically."""

    max_chunk_size: int = 32 * 1024 * 1024
    chunk_url_expires: timedelta = timedelta(minutes=15)
    idle: timedelta = timedelta(seconds=900)


# --------------------------------------------------------------------------- the rule


@attrs.frozen
class ReceivedChunks:
    """Which declared chunks are stored as declared (``received``, with their sizes in
    ``sizes``) and which stored objects differ from their declaration (``refused``)."""

    received: tuple[int, ...]
    refused: tuple[int, ...]
    sizes: Mapping[int, int] = attrs.field(factory=dict)

    @property
    def received_bytes(self) -> int:
        """The bytes of the received chunks."""
        return sum(self.sizes.values())

    def contiguous(self) -> int:
        """How many chunks from 0 on arrived without a gap (k: chunks 0 to k-1)."""
        have = set(self.received)
        count = 0
        while count in have:
            count += 1
        return count

    def missing(self, declared: Iterable[int]) -> tuple[int, ...]:
        """The indexes of *declared* that have not been received."""
        have = set(self.received)
        return tuple(sorted(i for i in set(declared) if i not in have))


def md5_hex(content_md5: str) -> str | None:
    """The hex digest of a base64 ``Content-MD5`` value, or ``None`` when it is not the
    base64 of 16 bytes."""
    try:
        raw = base64.b64decode(content_md5.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return raw.hex() if len(raw) == 16 else None


def received_chunks(
    listing: Sequence[ObjectInfo], declarations: Mapping[int, ChunkDeclaration]
) -> ReceivedChunks:
    """The chunks of a store listing under ``live_prefix(...) + "chunks/"`` that are
    received: declared, with the declared size and, when the object's ETag is a hex MD5
    (an object stored by one PUT), the declared digest. A stored declared chunk that
    differs is refused (it should be deleted); objects that are not chunk keys, or
    whose index was never declared, are ignored."""
    received: dict[int, int] = {}
    refused: list[int] = []
    for info in listing:
        owner = chunk_owner(info.key)
        if owner is None:
            continue
        index = owner[2]
        declared = declarations.get(index)
        if declared is None:
            continue
        etag = (info.etag or "").strip('"').lower()
        digest_ok = not _HEX_MD5.fullmatch(etag) or etag == md5_hex(declared.md5)
        if info.size == declared.size and digest_ok:
            received[index] = info.size
        else:
            refused.append(index)
    return ReceivedChunks(
        received=tuple(sorted(received)),
        refused=tuple(sorted(refused)),
        sizes=dict(sorted(received.items())),
    )


def chunk_ranges(indexes: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted *indexes* as inclusive ranges: ``[0, 1, 2, 5]`` -> ``[(0, 2), (5, 5)]``."""
    ranges: list[tuple[int, int]] = []
    for index in sorted(set(indexes)):
        if ranges and ranges[-1][1] == index - 1:
            ranges[-1] = (ranges[-1][0], index)
        else:
            ranges.append((index, index))
    return ranges


def chunks_prefix(owner_id: UserId, recording_id: RecordingId) -> str:
    """The prefix under which a live upload's chunks are stored."""
    return f"{live_prefix(owner_id, recording_id)}chunks/"


async def _stored(
    store: ObjectStore, live: LiveUpload, declarations: Mapping[int, ChunkDeclaration]
) -> ReceivedChunks:
    listing = await store.list(chunks_prefix(live.owner_id, live.recording_id))
    return received_chunks(listing, declarations)


async def _stored_among(
    store: ObjectStore,
    live: LiveUpload,
    declarations: Mapping[int, ChunkDeclaration],
    indexes: Iterable[int],
) -> ReceivedChunks:
    """:func:`_stored` for the chunks *indexes* alone (one ``stat`` each, not a listing of
    the whole recording: a chunk request costs the same at the end of an hour)."""
    found: list[ObjectInfo] = []
    for index in indexes:
        if index not in declarations:
            continue
        try:
            found.append(await store.stat(chunk_key(live.owner_id, live.recording_id, index)))
        except ObjectNotFoundError:
            continue
    return received_chunks(found, declarations)


async def _kick(kicks: LiveQueue | None, recording_id: RecordingId) -> None:
    if kicks is not None:
        await kicks.kick(recording_id)


async def _live_of(uow: UnitOfWork, recording_id: RecordingId, owner_id: UserId) -> LiveUpload:
    """The owner's live upload (``NotLiveUploadError`` for a recording uploaded whole)."""
    await uow.recordings.get(recording_id, owner_id)  # another user's: not found
    live = await uow.live.find(recording_id)
    if live is None or live.owner_id != owner_id:
        raise NotLiveUploadError(NOT_LIVE)
    return live


# --------------------------------------------------------------------------- start


@attrs.frozen
class RequestLiveUploadResult:
    """The new recording, its live upload, and the chunk limits."""

    recording: Recording
    live: LiveUpload
    max_chunk_size: int
    chunk_url_expires_in: int


class RequestLiveUpload:
    """Create a recording awaiting its upload together with its live upload.

    Rules: the declaration is validated as ``RequestUpload`` does; the size is not known
    yet, so ``file_size`` is optional (0: not given) and ignored, though checked when
    given; the recording (``awaiting_upload``) and the
    live upload (``recording``) are created in one transaction.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        policy: UploadPolicy,
        live_policy: LivePolicy,
        languages: LanguageSupport | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._live = live_policy
        self._languages = languages

    async def execute(self, data: RequestUploadInput) -> RequestLiveUploadResult:
        """Validate the declaration and create the recording and its live upload."""
        check_size = data.file_size != 0  # given (and ignored): checked as usual
        validate_upload_request(data, self._policy, self._languages, check_size=check_size)
        recording_id = RecordingId(self._ids.new_id())
        filename = _sanitize_filename(data.filename)
        now = self._clock.now()
        recording = Recording.awaiting_upload(
            recording_id,
            data.owner_id,
            filename,
            source_key(data.owner_id, recording_id, filename),
            now,
            title=data.title,
            file_size=0,
            quality=data.quality,
            fps=data.fps,
            has_system_audio=data.has_system_audio,
            has_microphone=data.has_microphone,
            language=data.language,
            num_speakers=data.num_speakers,
            max_speakers=data.max_speakers,
        )
        live = LiveUpload(
            recording_id=recording_id,
            owner_id=data.owner_id,
            state=LiveState.RECORDING,
            created_at=now,
            updated_at=now,
            last_chunk_at=now,
        )
        async with self._uow() as uow:
            await uow.recordings.add(recording)
            await uow.live.add(live)
            await uow.commit()
        return RequestLiveUploadResult(
            recording=recording,
            live=live,
            max_chunk_size=self._live.max_chunk_size,
            chunk_url_expires_in=int(self._live.chunk_url_expires.total_seconds()),
        )


# --------------------------------------------------------------------------- chunks


@attrs.frozen
class ChunkSpec:
    """A chunk as a client declares it: index, size and base64 MD5 of its bytes."""

    index: int
    size: int
    md5: str


@attrs.frozen
class DeclareChunksInput:
    """Chunks of the owner's live recording about to be sent."""

    owner_id: UserId
    recording_id: RecordingId
    chunks: tuple[ChunkSpec, ...]


@attrs.frozen
class ChunkTicket:
    """How to send one chunk: ``stored`` when it already is (no URL), else a PUT URL to
    send with ``headers``."""

    index: int
    stored: bool
    upload_url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class DeclareChunksResult:
    """One ticket per declared chunk, in the request's order."""

    chunks: tuple[ChunkTicket, ...]
    expires_in: int


def _chunk_errors(chunks: Sequence[ChunkSpec], max_size: int) -> str | None:
    if not 1 <= len(chunks) <= MAX_CHUNKS_PER_REQUEST:
        return f"Declare 1 to {MAX_CHUNKS_PER_REQUEST} chunks per request."
    for chunk in chunks:
        if not 0 <= chunk.index < MAX_CHUNKS:
            return f"Chunk index {chunk.index} is not between 0 and {MAX_CHUNKS - 1}."
        if not 1 <= chunk.size <= max_size:
            return f"Chunk {chunk.index} must have 1 to {max_size} bytes, not {chunk.size}."
        if md5_hex(chunk.md5) is None:
            return f"The md5 of chunk {chunk.index} is not the base64 of a 16-byte MD5."
    return None


class DeclareChunks:
    """Declare chunks of a live upload and sign a PUT URL for each.

    Rules: 1 to ``MAX_CHUNKS_PER_REQUEST`` chunks, each index 0 to ``MAX_CHUNKS - 1`` at
    most once, each size 1 to the policy's largest chunk, each md5 the base64 of 16
    bytes. The live upload must be recording (409 otherwise). A chunk already received
    with the same md5 is ``stored`` (no URL: an idempotent retry); received with
    another md5 is a 409; declared but not received, it is declared anew. The declared
    bytes in total stay within the upload policy's largest file. Every URL is signed
    for the chunk's size, type and ``Content-MD5``. Another user's recording is not
    found. A twice-declared index and the total over the limit are conflicts (409:
    ``InvalidStateError``), as no request schema can state them.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        clock: Clock,
        policy: UploadPolicy,
        live_policy: LivePolicy,
        kicks: LiveQueue | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._clock = clock
        self._policy = policy
        self._live = live_policy
        self._kicks = kicks

    async def execute(self, data: DeclareChunksInput) -> DeclareChunksResult:
        """Record the declarations and sign their URLs."""
        async with self._uow() as uow:
            live = await _live_of(uow, data.recording_id, data.owner_id)
            problem = _chunk_errors(data.chunks, self._live.max_chunk_size)
            if problem is not None:
                raise InvalidInputError({"chunks": problem})
            indexes = [chunk.index for chunk in data.chunks]
            declarations = await uow.live.declared(data.recording_id, indexes)
        twice = sorted({i for i in indexes if indexes.count(i) > 1})
        if twice:  # a conflict within the request (no JSON Schema can state it)
            raise InvalidStateError({"chunks": f"Chunk {twice[0]} is declared twice."})
        _check_recording(live)
        stored = await _stored_among(self._store, live, declarations, indexes)
        received = set(stored.received)
        fresh: list[ChunkSpec] = []
        tickets: dict[int, ChunkTicket] = {}
        for chunk in data.chunks:
            if chunk.index in received:
                if declarations[chunk.index].md5 != chunk.md5:
                    raise InvalidStateError(
                        {"chunks": f"Chunk {chunk.index} is already stored with other content."}
                    )
                tickets[chunk.index] = ChunkTicket(chunk.index, stored=True)
            else:
                fresh.append(chunk)
        now = self._clock.now()
        async with self._uow() as uow:
            live = await uow.live.lock(data.recording_id)
            _check_recording(live)
            replaced = await uow.live.declared(data.recording_id, [c.index for c in fresh])
            total = await uow.live.declared_bytes(data.recording_id)  # one sum, not every row
            total += sum(c.size for c in fresh) - sum(d.size for d in replaced.values())
            if total > self._policy.max_bytes:
                limit_mb = self._policy.max_bytes // (1024 * 1024)
                raise InvalidStateError(  # 409: what was declared before decides it
                    {"chunks": f"The recording would be larger than the limit of {limit_mb} MB."}
                )
            await uow.live.declare(
                data.recording_id,
                [ChunkDeclaration(c.index, c.size, c.md5, now) for c in fresh],
            )
            await uow.live.save(
                attrs.evolve(live, last_chunk_at=now, updated_at=now, version=live.version + 1)
            )
            await uow.commit()
        expires = self._live.chunk_url_expires
        for chunk in fresh:
            key = chunk_key(live.owner_id, live.recording_id, chunk.index)
            url = await self._store.presign_put(
                key, expires, CHUNK_CONTENT_TYPE, chunk.size, content_md5=chunk.md5
            )
            tickets[chunk.index] = ChunkTicket(
                chunk.index,
                stored=False,
                upload_url=url,
                headers={"Content-MD5": chunk.md5, "Content-Type": CHUNK_CONTENT_TYPE},
            )
        await _kick(self._kicks, live.recording_id)
        return DeclareChunksResult(
            chunks=tuple(tickets[c.index] for c in data.chunks),
            expires_in=int(expires.total_seconds()),
        )


def _check_recording(live: LiveUpload) -> None:
    if live.state is not LiveState.RECORDING:
        raise InvalidStateError(
            {"chunks": f"This live upload is {live.state.value}: it takes no more chunks."}
        )


# --------------------------------------------------------------------------- status


@attrs.frozen
class GetLiveUploadInput:
    """The owner asks how their live upload is going."""

    owner_id: UserId
    recording_id: RecordingId


#: the keys of the processor's cursor that the status shows as ``progress``
PROGRESS_KEYS = ("media_seconds", "transcribed_until", "video_until", "chunks_processed")


@attrs.frozen
class LiveUploadStatus:
    """A live upload, what arrived of it and what did not."""

    live: LiveUpload
    received: tuple[int, ...]
    missing: tuple[int, ...]
    refused: tuple[int, ...]
    received_bytes: int

    @property
    def received_ranges(self) -> list[tuple[int, int]]:
        """``received`` as inclusive ranges."""
        return chunk_ranges(self.received)

    @property
    def progress(self) -> dict[str, Any]:
        """The processor's progress (:data:`PROGRESS_KEYS` of its cursor)."""
        return {k: self.live.cursor[k] for k in PROGRESS_KEYS if k in self.live.cursor}


class GetLiveUpload:
    """What arrived of a live upload.

    Rules: received chunks follow :func:`received_chunks`; a stored chunk that differs
    from its declaration is refused and deleted (its URL may send it again); missing
    chunks are declared and not received. A recording uploaded whole gives
    ``NotLiveUploadError``; another user's, ``RecordingNotFoundError``.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, store: ObjectStore) -> None:
        self._uow = uow
        self._store = store

    async def execute(self, data: GetLiveUploadInput) -> LiveUploadStatus:
        """The live upload's state and chunks."""
        async with self._uow() as uow:
            live = await _live_of(uow, data.recording_id, data.owner_id)
            declarations = await uow.live.chunks(data.recording_id)
        stored = await _stored(self._store, live, declarations)
        for index in stored.refused:
            await self._store.delete_prefix(chunk_key(live.owner_id, live.recording_id, index))
        return LiveUploadStatus(
            live=live,
            received=stored.received,
            missing=stored.missing(declarations),
            refused=stored.refused,
            received_bytes=stored.received_bytes,
        )


# --------------------------------------------------------------------------- finish


@attrs.frozen
class FinishLiveUploadInput:
    """The client says the recording ended after *chunks* chunks (0 to chunks-1)."""

    owner_id: UserId
    recording_id: RecordingId
    chunks: int


@attrs.frozen
class FinishLiveUploadResult:
    """The finished live upload and its recording."""

    recording: Recording
    live: LiveUpload


class FinishLiveUpload:
    """Finish a live upload once chunks 0 to N-1 have all arrived.

    Rules: N is 1 to ``MAX_CHUNKS``; a missing chunk refuses it with the missing
    indexes (``ChunksMissingError``) and changes nothing. Then the live upload is
    ``finished`` with N expected chunks and the recording ``uploaded`` with the sum of
    their sizes, a ``recording.uploaded`` event, and a kick of the processing. A second
    call with the same N answers the same and publishes nothing; declared chunks from
    N on are ignored (the processing deletes them).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        events: EventPublisher,
        clock: Clock,
        kicks: LiveQueue | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._events = events
        self._clock = clock
        self._kicks = kicks

    async def execute(self, data: FinishLiveUploadInput) -> FinishLiveUploadResult:
        """Finish the upload (or confirm it was finished with the same count)."""
        count = data.chunks
        async with self._uow() as uow:
            live = await _live_of(uow, data.recording_id, data.owner_id)
            declarations = await uow.live.chunks(data.recording_id)
            recording = await uow.recordings.get(data.recording_id, data.owner_id)
        if isinstance(count, bool) or not 1 <= count <= MAX_CHUNKS:
            raise InvalidInputError({"chunks": f"Ensure this value is between 1 and {MAX_CHUNKS}."})
        if live.state is not LiveState.RECORDING:
            return FinishLiveUploadResult(recording, _same_finish(live, count))
        stored = await _stored(self._store, live, declarations)
        missing = stored.missing(range(count))
        if missing:
            raise ChunksMissingError(missing)
        size = sum(stored.sizes[i] for i in range(count))
        now = self._clock.now()
        async with self._uow() as uow:
            live = await uow.live.lock(data.recording_id)
            recording = await uow.recordings.lock(data.recording_id)
            if live.state is not LiveState.RECORDING:  # finished meanwhile
                return FinishLiveUploadResult(recording, _same_finish(live, count))
            live = attrs.evolve(
                live,
                state=LiveState.FINISHED,
                expected_chunks=count,
                finished_at=now,
                updated_at=now,
                version=live.version + 1,
            )
            recording = _uploaded(recording, size, now)
            await uow.live.save(live)
            await uow.recordings.save(recording)
            await uow.commit()
        await self._events.publish(_uploaded_event(recording, size, count, now))
        await _kick(self._kicks, live.recording_id)
        return FinishLiveUploadResult(recording, live)


def _same_finish(live: LiveUpload, count: int) -> LiveUpload:
    if live.state is LiveState.FINISHED and live.expected_chunks == count:
        return live
    if live.state is LiveState.FINISHED:
        raise InvalidStateError(
            {"chunks": f"This live upload was already finished with {live.expected_chunks} chunks."}
        )
    raise InvalidStateError(
        {"chunks": f"This live upload was finished automatically: {live.note or ''}".strip()}
    )


def _uploaded(recording: Recording, size: int, now: datetime) -> Recording:
    # No StoredFile: the source file is made from the chunks by the processing.
    if recording.status is not RecordingStatus.AWAITING_UPLOAD:
        return recording
    return attrs.evolve(
        recording, status=RecordingStatus.UPLOADED, file_size=size, error=None, updated_at=now
    )


def _uploaded_event(recording: Recording, size: int, count: int, now: datetime) -> RecordingEvent:
    return RecordingEvent(
        type="recording.uploaded",
        recording_id=recording.id,
        owner_id=recording.owner_id,
        occurred_at=now,
        data={"size": size, "filename": recording.filename, "live": True, "chunks": count},
    )


# --------------------------------------------------------------------------- idle


@attrs.frozen
class FinalizeIdleResult:
    """The live uploads finished automatically (``abandoned``) and those that failed for
    want of any chunk."""

    abandoned: tuple[RecordingId, ...] = ()
    failed: tuple[RecordingId, ...] = ()


def _minutes(idle: timedelta) -> str:
    seconds = int(idle.total_seconds())
    if seconds % 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def idle_note(idle: timedelta, kept: int, dropped: int) -> str:
    """The note of a live upload finished automatically after *idle* with chunks 0 to
    *kept*-1 kept and *dropped* received chunks after a gap left out."""
    kept_text = "chunk 0 was kept" if kept == 1 else f"chunks 0-{kept - 1} were kept"
    note = f"Finished automatically after {_minutes(idle)} without chunks; {kept_text}"
    if dropped == 1:
        return f"{note}, 1 later chunk was not."
    if dropped:
        return f"{note}, {dropped} later chunks were not."
    return f"{note}."


class FinalizeIdleLiveUploads:
    """Finish the live uploads that have had no chunk for the policy's idle time.

    Rules: a live upload still recording whose last chunk was declared more than
    ``idle`` before *now* keeps its contiguous received chunks 0 to k-1: it becomes
    ``abandoned`` with k expected chunks and a note saying so, its recording is
    ``uploaded`` (an event, a kick). With k = 0 the recording fails with
    :data:`NO_CHUNK_ARRIVED` and the live upload is ``processed``. Each upload is
    re-checked under its lock, so a chunk declared meanwhile keeps it recording.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        events: EventPublisher,
        live_policy: LivePolicy,
        kicks: LiveQueue | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._events = events
        self._live = live_policy
        self._kicks = kicks

    async def execute(self, now: datetime) -> FinalizeIdleResult:
        """Finish every idle live upload; return which."""
        deadline = now - self._live.idle
        async with self._uow() as uow:
            idle = [
                live
                for live in await uow.live.active()
                if live.state is LiveState.RECORDING and live.last_chunk_at < deadline
            ]
        abandoned: list[RecordingId] = []
        failed: list[RecordingId] = []
        for candidate in idle:
            outcome = await self._finalize(candidate, now, deadline)
            if outcome == "abandoned":
                abandoned.append(candidate.recording_id)
            elif outcome == "failed":
                failed.append(candidate.recording_id)
        return FinalizeIdleResult(tuple(abandoned), tuple(failed))

    async def _finalize(self, candidate: LiveUpload, now: datetime, deadline: datetime) -> str:
        async with self._uow() as uow:
            declarations = await uow.live.chunks(candidate.recording_id)
        stored = await _stored(self._store, candidate, declarations)
        kept = stored.contiguous()
        dropped = sum(1 for i in stored.received if i >= kept)
        size = sum(stored.sizes[i] for i in range(kept))
        try:
            async with self._uow() as uow:
                live = await uow.live.lock(candidate.recording_id)
                if live.state is not LiveState.RECORDING or live.last_chunk_at >= deadline:
                    return "skipped"
                recording = await uow.recordings.lock(live.recording_id)
                changed = attrs.evolve(
                    live,
                    state=LiveState.ABANDONED,
                    expected_chunks=kept,
                    finished_at=now,
                    updated_at=now,
                    version=live.version + 1,
                )
                if kept:
                    changed = attrs.evolve(changed, note=idle_note(self._live.idle, kept, dropped))
                    recording = _uploaded(recording, size, now)
                else:
                    changed = attrs.evolve(changed, note=NO_CHUNK_ARRIVED, processed=True)
                    recording = attrs.evolve(
                        recording,
                        status=RecordingStatus.FAILED,
                        error=NO_CHUNK_ARRIVED,
                        updated_at=now,
                    )
                await uow.live.save(changed)
                await uow.recordings.save(recording)
                await uow.commit()
        except RecordingNotFoundError:  # deleted meanwhile
            return "skipped"
        if kept:
            await self._events.publish(_uploaded_event(recording, size, kept, now))
            await _kick(self._kicks, live.recording_id)
            return "abandoned"
        await self._events.publish(
            RecordingEvent(
                type="processing.failed",
                recording_id=recording.id,
                owner_id=recording.owner_id,
                occurred_at=now,
                data={"error": NO_CHUNK_ARRIVED},
            )
        )
        return "failed"


__all__ = [
    "CHUNK_CONTENT_TYPE",
    "MAX_CHUNKS_PER_REQUEST",
    "NOT_LIVE",
    "NO_CHUNK_ARRIVED",
    "PROGRESS_KEYS",
    "ChunkSpec",
    "ChunkTicket",
    "DeclareChunks",
    "DeclareChunksInput",
    "DeclareChunksResult",
    "FinalizeIdleLiveUploads",
    "FinalizeIdleResult",
    "FinishLiveUpload",
    "FinishLiveUploadInput",
    "FinishLiveUploadResult",
    "GetLiveUpload",
    "GetLiveUploadInput",
    "LivePolicy",
    "LiveUploadStatus",
    "ReceivedChunks",
    "RequestLiveUpload",
    "RequestLiveUploadResult",
    "chunk_ranges",
    "chunks_prefix",
    "idle_note",
    "md5_hex",
    "received_chunks",
]
