"""Transcripts in ``transcripts`` (words as compact JSON), segments in ``transcript_segments``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    delete,
    insert,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.columns import (
    words_from_rows,
    words_to_rows,
)
from elyune_adapters.sql.reader import SyncReader
from elyune_adapters.sql.repositories.statements import _SEGMENTS, _TRANSCRIPT
from elyune_core.entities import (
    Segment,
    SpeakerVoice,
    Transcript,
)
from elyune_core.ids import RecordingId
from elyune_core.ports import (
    TranscriptRepository,
)


def _transcript(
    recording_id: RecordingId, row: Mapping[Any, Any], segments: Sequence[Mapping[Any, Any]]
) -> Transcript:
    """A transcript from its row and its segments' rows (in order)."""
    return Transcript(
        recording_id=recording_id,
        text=row["text"],
        language=row["language"],
        segments=tuple(
            Segment(
                id=s["idx"],
                start=s["start"],
                end=s["end"],
                text=s["text"],
                speaker=s["speaker"],
                confidence=s["confidence"],
            )
            for s in segments
        ),
        words=words_from_rows(row["words"] or []),
        engine=row["engine"],
        created_at=row["created_at"],
        language_confidence=row["language_confidence"],
        duration=row["duration"],
        speaker_count=row["speaker_count"],
        request_id=row["request_id"],
        audio_seconds=row["audio_seconds"],
        voices=tuple(
            SpeakerVoice(v["label"], tuple(v["embedding"]), v["seconds"])
            for v in row["voices"] or ()
        ),
    )


class SqlTranscriptRepository(TranscriptRepository):
    """Transcripts in ``transcripts`` (words as compact JSON), segments in their own table."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def get(self, recording_id: RecordingId) -> Transcript | None:
        params = {"recording_id": recording_id}
        row = (await self._conn.execute(_TRANSCRIPT, params)).mappings().first()
        if row is None:
            return None
        segments = (await self._conn.execute(_SEGMENTS, params)).mappings().all()
        return _transcript(recording_id, row, segments)

    async def save(self, transcript: Transcript) -> None:
        rid = transcript.recording_id
        await self._conn.execute(
            delete(t.transcript_segments).where(t.transcript_segments.c.recording_id == rid)
        )
        await self._conn.execute(delete(t.transcripts).where(t.transcripts.c.recording_id == rid))
        await self._conn.execute(
            insert(t.transcripts).values(
                recording_id=rid,
                text=transcript.text,
                language=transcript.language,
                language_confidence=transcript.language_confidence,
                engine=transcript.engine,
                duration=transcript.duration,
                speaker_count=transcript.speaker_count,
                request_id=transcript.request_id,
                audio_seconds=transcript.audio_seconds,
                words=words_to_rows(transcript.words),
                voices=[
                    {"label": v.label, "embedding": list(v.embedding), "seconds": v.seconds}
                    for v in transcript.voices
                ],
                created_at=transcript.created_at,
            )
        )
        if transcript.segments:
            await self._conn.execute(
                insert(t.transcript_segments),
                [
                    {
                        "recording_id": rid,
                        "idx": s.id,
                        "start": s.start,
                        "end": s.end,
                        "speaker": s.speaker,
                        "text": s.text,
                        "confidence": s.confidence,
                    }
                    for s in transcript.segments
                ],
            )
