"""Analyses in ``analyses``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    and_,
    insert,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.columns import (
    content_from_column,
    content_to_column,
)
from elyune_adapters.sql.reader import SyncReader
from elyune_adapters.sql.repositories.statements import _ANALYSES
from elyune_core.entities import (
    Analysis,
    AnalysisKind,
    AnalysisStatus,
)
from elyune_core.ids import RecordingId
from elyune_core.ports import (
    AnalysisRepository,
)


def _analysis(row: Mapping[Any, Any]) -> Analysis:
    kind = AnalysisKind(row["kind"])
    content: Mapping[str, Any] | None = row["content"]
    return Analysis(
        recording_id=RecordingId(row["recording_id"]),
        kind=kind,
        status=AnalysisStatus(row["status"]),
        engine=row["engine"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        content=None if content is None else content_from_column(kind, content),
        error=row["error"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
    )


class SqlAnalysisRepository(AnalysisRepository):
    """Analyses in ``analyses``, one row per recording and kind."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def list(self, recording_id: RecordingId) -> Sequence[Analysis]:
        rows = (await self._conn.execute(_ANALYSES, {"recording_id": recording_id})).mappings()
        order = list(AnalysisKind)
        return sorted((_analysis(r) for r in rows), key=lambda a: order.index(a.kind))

    async def save(self, analysis: Analysis) -> None:
        values = {
            "status": analysis.status.value,
            "engine": analysis.engine,
            "content": None if analysis.content is None else content_to_column(analysis.content),
            "error": analysis.error,
            "input_tokens": analysis.input_tokens,
            "output_tokens": analysis.output_tokens,
            "created_at": analysis.created_at,
            "updated_at": analysis.updated_at,
        }
        where = and_(
            t.analyses.c.recording_id == analysis.recording_id,
            t.analyses.c.kind == analysis.kind.value,
        )
        result = await self._conn.execute(update(t.analyses).where(where).values(**values))
        if result.rowcount == 0:
            await self._conn.execute(
                insert(t.analyses).values(
                    recording_id=analysis.recording_id, kind=analysis.kind.value, **values
                )
            )
