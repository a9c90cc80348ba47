"""Recordings in ``recordings`` and their files in ``recording_files``; listing totals."""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.columns import (
    media_from_column,
    media_to_column,
    speaker_matches_from_column,
    speaker_matches_to_column,
)
from elyune_adapters.sql.reader import SyncReader
from elyune_adapters.sql.repositories.statements import (
    _FILES_OF_ONE,
    _listing,
    _recording_by_id,
    _recording_with_files,
)
from elyune_core.entities import (
    FileKind,
    Recording,
    RecordingStatus,
    StoredFile,
)
from elyune_core.errors import (
    RecordingNotFoundError,
)
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import (
    Page,
    RecordingQuery,
    RecordingRepository,
)


def _recording(row: Mapping[Any, Any], files: Sequence[StoredFile]) -> Recording:
    media = row["media"]
    return Recording(
        id=RecordingId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        title=row["title"],
        filename=row["filename"],
        source_key=row["source_key"],
        status=RecordingStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        file_size=row["file_size"],
        description=row["description"] or "",
        quality=row["quality"],
        fps=row["fps"],
        has_system_audio=bool(row["has_system_audio"]),
        has_microphone=bool(row["has_microphone"]),
        language=row["language"],
        media=None if media is None else media_from_column(media),
        files=tuple(files),
        error=row["error"],
        speaker_names=dict(row["speaker_names"] or {}),
        num_speakers=row["num_speakers"],
        max_speakers=row["max_speakers"],
        speaker_matches=speaker_matches_from_column(row["speaker_matches"]),
    )


def _recording_values(recording: Recording) -> dict[str, Any]:
    return {
        "owner_id": recording.owner_id,
        "title": recording.title,
        "description": recording.description,
        "filename": recording.filename,
        "source_key": recording.source_key,
        "status": recording.status.value,
        "file_size": recording.file_size,
        "quality": recording.quality,
        "fps": recording.fps,
        "has_system_audio": recording.has_system_audio,
        "has_microphone": recording.has_microphone,
        "language": recording.language,
        "media": None if recording.media is None else media_to_column(recording.media),
        "error": recording.error,
        "speaker_names": dict(recording.speaker_names),
        "speaker_matches": speaker_matches_to_column(recording.speaker_matches),
        "num_speakers": recording.num_speakers,
        "max_speakers": recording.max_speakers,
        "created_at": recording.created_at,
        "updated_at": recording.updated_at,
    }


def _stored_file(row: Mapping[Any, Any], prefix: str = "") -> StoredFile:
    """The file in *row*, whose columns are named with *prefix* in a joined query."""
    return StoredFile(
        kind=FileKind(row[prefix + "kind"]),
        key=row[prefix + "key"],
        size=row[prefix + "size"],
        content_type=row[prefix + "content_type"],
        width=row[prefix + "width"],
        height=row[prefix + "height"],
    )


_FILE_ORDER = {kind: n for n, kind in enumerate(FileKind)}


def _sorted_files(files: Iterable[StoredFile]) -> builtins.list[StoredFile]:
    return sorted(files, key=lambda f: _FILE_ORDER[f.kind])


def _with_files(rows: Sequence[Mapping[Any, Any]]) -> builtins.list[Recording]:
    """Recordings from joined rows (one per stored file, ``f_`` columns), in row order."""
    first: dict[str, Mapping[Any, Any]] = {}
    files: dict[str, builtins.list[StoredFile]] = {}
    for row in rows:
        first.setdefault(row["id"], row)
        found = files.setdefault(row["id"], [])
        if row["f_kind"] is not None:
            found.append(_stored_file(row, "f_"))
    return [_recording(row, _sorted_files(files[key])) for key, row in first.items()]


_INSERT_RECORDING = insert(t.recordings)


class RecordingCounts:
    """Totals of recent listings, kept for *ttl* seconds (shared by units of work).

    Counting a user's recordings is the costliest part of a listing (thousands of index
    entries). A total is reused for a moment; adding or deleting a recording in this
    process forgets that owner's totals at once, so only changes made by other
    processes (status filters moved by workers) show up to *ttl* late.
    """

    def __init__(self, ttl: float = 2.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._totals: dict[tuple[object, ...], tuple[float, int]] = {}

    def get(self, key: tuple[object, ...]) -> int | None:
        found = self._totals.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: tuple[object, ...], total: int) -> None:
        if len(self._totals) >= self._size:
            self._totals.clear()
        self._totals[key] = (time.monotonic() + self._ttl, total)

    def forget(self, owner_id: UserId | None) -> None:
        """Forget the totals of *owner_id* (and unfiltered ones); ``None``: all totals."""
        if owner_id is None:
            self._totals.clear()
            return
        for key in [k for k in self._totals if k[0] in (owner_id, None)]:
            del self._totals[key]


class SqlRecordingRepository(RecordingRepository):
    """Recordings in ``recordings``, their files in ``recording_files``."""

    def __init__(
        self, conn: AsyncConnection | SyncReader, counts: RecordingCounts | None = None
    ) -> None:
        self._conn = conn
        self._counts = counts

    async def add(self, recording: Recording) -> None:
        # One statement built once (its compiled form is cached), and no DELETE of files
        # a new recording cannot have: request-upload is this INSERT and its commit.
        await self._conn.execute(
            _INSERT_RECORDING, {"id": recording.id, **_recording_values(recording)}
        )
        if recording.files:
            await self._write_files(recording, new=True)
        if self._counts is not None:
            self._counts.forget(recording.owner_id)

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        query = _recording_with_files(by_owner=owner_id is not None)
        params = {"recording_id": recording_id, "owner_id": owner_id}
        found = _with_files((await self._conn.execute(query, params)).mappings().all())
        if not found:
            raise RecordingNotFoundError("Not found.")
        return found[0]

    async def lock(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        # FOR UPDATE on PostgreSQL (of the recording's row alone, so not joined with its
        # files); SQLite writers already hold the database's write lock.
        query = _recording_by_id(
            by_owner=owner_id is not None, for_update=self._conn.dialect.name == "postgresql"
        )
        params = {"recording_id": recording_id, "owner_id": owner_id}
        row = (await self._conn.execute(query, params)).mappings().first()
        if row is None:
            raise RecordingNotFoundError("Not found.")
        files = (await self._conn.execute(_FILES_OF_ONE, {"recording_id": recording_id})).mappings()
        return _recording(row, _sorted_files(_stored_file(f) for f in files))

    async def list(self, query: RecordingQuery) -> Page[Recording]:
        count, page, counted = _listing(
            owner=query.owner_id is not None,
            status=query.status is not None,
            before=query.created_before is not None,
            after=query.created_after is not None,
            search=bool(query.search),
        )
        params: dict[str, Any] = {
            "owner_id": query.owner_id,
            "status": None if query.status is None else query.status.value,
            "before": query.created_before,
            "after": query.created_after,
            "pattern": "%" + _escape_like(query.search.lower()) + "%" if query.search else None,
            "offset": query.offset,
            "limit": query.limit,
        }
        key = (
            query.owner_id,
            query.status,
            query.search,
            query.created_before,
            query.created_after,
        )
        total = None if self._counts is None else self._counts.get(key)
        if total is not None:
            rows = (await self._conn.execute(page, params)).mappings().all()
        else:  # the page and its total in one statement; an empty page counts apart
            rows = (await self._conn.execute(counted, params)).mappings().all()
            if rows:
                total = rows[0]["x_total"]
            else:
                total = (await self._conn.execute(count, params)).scalar_one()
            if self._counts is not None:
                self._counts.put(key, total)
        return Page(items=tuple(_with_files(rows)), total=int(total))

    async def save(self, recording: Recording) -> None:
        await self._conn.execute(
            update(t.recordings)
            .where(t.recordings.c.id == recording.id)
            .values(**_recording_values(recording))
        )
        await self._write_files(recording)

    async def delete(self, recording_id: RecordingId) -> None:
        # Child rows go explicitly too, so a SQLite connection without foreign keys
        # enforced still leaves nothing behind.
        for table in (
            t.search_documents,
            t.analyses,
            t.transcript_segments,
            t.transcripts,
            t.recording_files,
            t.voice_profile_contributions,
            t.live_chunks,
            t.live_uploads,
        ):
            await self._conn.execute(delete(table).where(table.c.recording_id == recording_id))
        job_ids = select(t.jobs.c.id).where(t.jobs.c.recording_id == recording_id)
        await self._conn.execute(delete(t.job_steps).where(t.job_steps.c.job_id.in_(job_ids)))
        await self._conn.execute(delete(t.jobs).where(t.jobs.c.recording_id == recording_id))
        await self._conn.execute(delete(t.recordings).where(t.recordings.c.id == recording_id))
        if self._counts is not None:
            self._counts.forget(None)  # the owner is not at hand: forget every total

    async def _write_files(self, recording: Recording, *, new: bool = False) -> None:
        if not new:
            await self._conn.execute(
                delete(t.recording_files).where(t.recording_files.c.recording_id == recording.id)
            )
        if recording.files:
            await self._conn.execute(
                insert(t.recording_files),
                [
                    {
                        "recording_id": recording.id,
                        "kind": f.kind.value,
                        "key": f.key,
                        "size": f.size,
                        "content_type": f.content_type,
                        "width": f.width,
                        "height": f.height,
                    }
                    for f in recording.files
                ],
            )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
