"""Read a recording with its job, transcript and analyses; list recordings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import attrs

from elyune_core.entities import (
    Analysis,
    FileKind,
    Job,
    Recording,
    RecordingStatus,
    Transcript,
)
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import ObjectStore, Page, RecordingQuery, UnitOfWorkFactory


@attrs.frozen
class GetRecordingInput:
    """The recording to read; with ``owner_id``, only if that user owns it. With
    ``urls``, short-lived download URLs of its files are signed too."""

    recording_id: RecordingId
    owner_id: UserId | None = None
    urls: bool = False


@attrs.frozen
class RecordingDetails:
    """A recording and everything Elyune made of it so far."""

    recording: Recording
    job: Job | None
    transcript: Transcript | None
    analyses: tuple[Analysis, ...]
    urls: Mapping[FileKind, str] = attrs.field(factory=dict)


class GetRecording:
    """Return a recording with its job, transcript and analyses.

    Rules: another user's recording is reported as not found (``RecordingNotFoundError``).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore | None = None,
        url_expires: timedelta = timedelta(minutes=15),
    ) -> None:
        self._uow = uow
        self._store = store
        self._expires = url_expires

    async def execute(self, data: GetRecordingInput) -> RecordingDetails:
        """Read *data.recording_id*."""
        async with self._uow() as uow:
            recording = await uow.recordings.get(data.recording_id, data.owner_id)
            job = await uow.jobs.for_recording(recording.id)
            transcript = await uow.transcripts.get(recording.id)
            analyses = tuple(await uow.analyses.list(recording.id))
        urls: dict[FileKind, str] = {}
        if data.urls and self._store is not None:
            stem = recording.title.strip() or "recording"
            for stored in recording.files:
                extension = stored.key.rsplit(".", 1)[-1]
                name = f"{stem}.{extension}" if stored.kind is not FileKind.SOURCE else None
                urls[stored.kind] = await self._store.presign_get(
                    stored.key, self._expires, name or recording.filename
                )
        return RecordingDetails(recording, job, transcript, analyses, urls)


@attrs.frozen
class ListRecordingsInput:
    """Filters and page of a listing."""

    owner_id: UserId | None = None
    status: RecordingStatus | None = None
    search: str | None = None
    offset: int = 0
    limit: int = 20


class ListRecordings:
    """List recordings newest first, only the owner's when ``owner_id`` is given."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, data: ListRecordingsInput) -> Page[Recording]:
        """Return one page of recordings."""
        query = RecordingQuery(
            owner_id=data.owner_id,
            status=data.status,
            search=data.search,
            offset=max(data.offset, 0),
            limit=min(max(data.limit, 1), 100),
        )
        async with self._uow() as uow:
            return await uow.recordings.list(query)


__all__ = [
    "GetRecording",
    "GetRecordingInput",
    "ListRecordings",
    "ListRecordingsInput",
    "RecordingDetails",
]
