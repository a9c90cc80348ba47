"""Live (chunked) uploads and the chunks their clients declared."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    RowMapping,
    Select,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.reader import SyncReader
from elyune_core.entities import ChunkDeclaration, LiveState, LiveUpload
from elyune_core.errors import RecordingNotFoundError
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import LiveUploadRepository

_CHUNKS = (
    select(t.live_chunks)
    .where(t.live_chunks.c.recording_id == bindparam("recording_id"))
    .where(t.live_chunks.c.index >= bindparam("start"))
    .order_by(t.live_chunks.c.index)
)


@functools.cache
def _live_by_id(*, by_owner: bool, for_update: bool) -> Select[Any]:
    c = t.live_uploads.c
    query = select(t.live_uploads).where(c.recording_id == bindparam("recording_id"))
    if by_owner:
        query = query.where(c.owner_id == bindparam("owner_id"))
    return query.with_for_update() if for_update else query


def _live(row: RowMapping) -> LiveUpload:
    return LiveUpload(
        recording_id=RecordingId(row["recording_id"]),
        owner_id=UserId(row["owner_id"]),
        state=LiveState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_chunk_at=row["last_chunk_at"],
        expected_chunks=row["expected_chunks"],
        finished_at=row["finished_at"],
        cursor=dict(row["cursor"] or {}),
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
        version=row["version"],
        note=row["note"],
        processed=bool(row["processed"]),
    )


def _values(live: LiveUpload) -> dict[str, Any]:
    return {
        "state": live.state.value,
        "updated_at": live.updated_at,
        "last_chunk_at": live.last_chunk_at,
        "expected_chunks": live.expected_chunks,
        "finished_at": live.finished_at,
        "cursor": dict(live.cursor),
        "lease_owner": live.lease_owner,
        "lease_until": live.lease_until,
        "version": live.version,
        "note": live.note,
        "processed": live.processed,
    }


class SqlLiveUploadRepository(LiveUploadRepository):
    """Live uploads in ``live_uploads``, their declared chunks in ``live_chunks``."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def add(self, live: LiveUpload) -> None:
        await self._conn.execute(
            insert(t.live_uploads).values(
                recording_id=live.recording_id,
                owner_id=live.owner_id,
                created_at=live.created_at,
                **_values(live),
            )
        )

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> LiveUpload:
        return await self._one(recording_id, owner_id, for_update=False)

    async def find(self, recording_id: RecordingId) -> LiveUpload | None:
        query = _live_by_id(by_owner=False, for_update=False)
        row = (await self._conn.execute(query, {"recording_id": recording_id})).mappings().first()
        return None if row is None else _live(row)

    async def lock(self, recording_id: RecordingId) -> LiveUpload:
        # FOR UPDATE on PostgreSQL; SQLite writers already hold the database's write lock.
        postgres = self._conn.dialect.name == "postgresql"
        return await self._one(recording_id, None, for_update=postgres)

    async def save(self, live: LiveUpload) -> None:
        await self._conn.execute(
            update(t.live_uploads)
            .where(t.live_uploads.c.recording_id == live.recording_id)
            .values(**_values(live))
        )

    async def declare(self, recording_id: RecordingId, chunks: Sequence[ChunkDeclaration]) -> None:
        if not chunks:
            return
        c = t.live_chunks.c
        await self._conn.execute(
            delete(t.live_chunks).where(
                c.recording_id == recording_id, c.index.in_([chunk.index for chunk in chunks])
            )
        )
        await self._conn.execute(
            insert(t.live_chunks),
            [
                {
                    "recording_id": recording_id,
                    "index": chunk.index,
                    "size": chunk.size,
                    "md5": chunk.md5,
                    "declared_at": chunk.declared_at,
                }
                for chunk in chunks
            ],
        )

    async def chunks(
        self, recording_id: RecordingId, start: int = 0
    ) -> Mapping[int, ChunkDeclaration]:
        params = {"recording_id": recording_id, "start": start}
        rows = (await self._conn.execute(_CHUNKS, params)).mappings()
        return {row["index"]: _declaration(row) for row in rows}

    async def declared(
        self, recording_id: RecordingId, indexes: Collection[int]
    ) -> Mapping[int, ChunkDeclaration]:
        if not indexes:
            return {}
        c = t.live_chunks.c
        query = select(t.live_chunks).where(
            c.recording_id == recording_id, c.index.in_(sorted(set(indexes)))
        )
        rows = (await self._conn.execute(query)).mappings()
        return {row["index"]: _declaration(row) for row in rows}

    async def declared_bytes(self, recording_id: RecordingId) -> int:
        c = t.live_chunks.c
        query = select(func.coalesce(func.sum(c.size), 0)).where(c.recording_id == recording_id)
        return int((await self._conn.execute(query)).scalar_one())

    async def active(self, limit: int = 500) -> Sequence[LiveUpload]:
        c = t.live_uploads.c
        query = (
            select(t.live_uploads)
            .where(or_(c.state == LiveState.RECORDING.value, c.processed.is_(False)))
            .order_by(c.updated_at, c.recording_id)
            .limit(limit)
        )
        rows = (await self._conn.execute(query)).mappings().all()
        return [_live(row) for row in rows]

    async def _one(
        self, recording_id: RecordingId, owner_id: UserId | None, *, for_update: bool
    ) -> LiveUpload:
        query = _live_by_id(by_owner=owner_id is not None, for_update=for_update)
        params: dict[str, Any] = {"recording_id": recording_id}
        if owner_id is not None:
            params["owner_id"] = owner_id
        row = (await self._conn.execute(query, params)).mappings().first()
        if row is None:
            raise RecordingNotFoundError("Not found.")
        return _live(row)


def _declaration(row: RowMapping) -> ChunkDeclaration:
    return ChunkDeclaration(
        index=row["index"], size=row["size"], md5=row["md5"], declared_at=row["declared_at"]
    )


__all__ = ["SqlLiveUploadRepository"]
