"""Add a recording from a local file (the CLI's ``elyune process``)."""

from __future__ import annotations

from pathlib import Path

import attrs

from elyune_core._keys import sanitize_filename, source_key
from elyune_core.entities import Recording
from elyune_core.errors import InvalidInputError
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import (
    Clock,
    EventPublisher,
    IdSource,
    LanguageSupport,
    ObjectStore,
    RecordingEvent,
    UnitOfWorkFactory,
)
from elyune_core.use_cases.uploads import check_language, speaker_hint_errors


@attrs.frozen
class ImportRecordingInput:
    """A local media file and what to call it."""

    owner_id: UserId
    path: Path
    title: str | None = None
    language: str | None = None
    num_speakers: int | None = None
    max_speakers: int | None = None


@attrs.frozen
class ImportRecordingResult:
    """The new recording."""

    recording: Recording


class ImportRecording:
    """Copy a local file into the object store as a new, uploaded recording.

    Rules: the file name is sanitised and only a known media extension is kept in the
    key; the title defaults to the file name without its extension. The caller starts
    processing (``StartProcessing``).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        events: EventPublisher,
        clock: Clock,
        ids: IdSource,
        languages: LanguageSupport | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._events = events
        self._clock = clock
        self._ids = ids
        self._languages = languages

    async def execute(self, data: ImportRecordingInput) -> ImportRecordingResult:
        """Store *data.path* and create its recording."""
        hint_errors = speaker_hint_errors(data.num_speakers, data.max_speakers)
        if hint_errors:
            raise InvalidInputError(hint_errors)
        if data.language is not None:
            check_language(data.language, self._languages)
        recording_id = RecordingId(self._ids.new_id())
        filename = sanitize_filename(data.path.name)
        key = source_key(data.owner_id, recording_id, filename)
        now = self._clock.now()
        draft = Recording.awaiting_upload(
            recording_id,
            data.owner_id,
            filename,
            key,
            now,
            title=data.title,
            language=data.language,
            num_speakers=data.num_speakers,
            max_speakers=data.max_speakers,
        )
        info = await self._store.put_file(key, data.path, "application/octet-stream")
        recording = draft.mark_uploaded(info.size, self._clock.now())
        recording = attrs.evolve(recording, file_size=info.size)
        async with self._uow() as uow:
            await uow.recordings.add(recording)
            await uow.commit()
        await self._events.publish(
            RecordingEvent(
                type="recording.uploaded",
                recording_id=recording.id,
                owner_id=recording.owner_id,
                occurred_at=recording.updated_at,
                data={"size": info.size, "filename": filename},
            )
        )
        return ImportRecordingResult(recording)


__all__ = [
    "ImportRecording",
    "ImportRecordingInput",
    "ImportRecordingResult",
]
