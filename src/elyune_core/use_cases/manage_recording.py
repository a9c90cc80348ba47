"""Edit, rename speakers of, delete and expire recordings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from elyune_core._keys import recording_prefix
from elyune_core.entities import Recording
from elyune_core.errors import InvalidInputError, RecordingNotFoundError
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import (
    Clock,
    IdSource,
    LanguageSupport,
    ObjectStore,
    RecordingQuery,
    UnitOfWorkFactory,
)
from elyune_core.use_cases.search import reindex_recording
from elyune_core.use_cases.uploads import check_language, speaker_hint_errors
from elyune_core.use_cases.voice_profiles import forget_recording, learn_speaker_names


@attrs.frozen
class UpdateRecordingInput:
    """New values of the user-editable fields (``None`` leaves a field unchanged;
    ``clear_language`` removes the language; ``speakers`` holds the diarization hints
    given, ``num_speakers``/``max_speakers``, where ``None`` clears one)."""

    owner_id: UserId
    recording_id: RecordingId
    title: str | None = None
    description: str | None = None
    language: str | None = None
    clear_language: bool = False
    speakers: Mapping[str, int | None] = attrs.field(factory=dict)


class UpdateRecording:
    """Change the title, description or language of the owner's recording.

    Rules: the title is 1 to 200 characters, the description at most 5000, the language
    a language code (it applies to the next transcription).
    """

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, languages: LanguageSupport | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._languages = languages

    async def execute(self, data: UpdateRecordingInput) -> Recording:
        """Apply the changes and return the recording."""
        errors: dict[str, str] = {}
        if data.title is not None and not 0 < len(data.title.strip()) <= 200:
            errors["title"] = "Use 1 to 200 characters."
        if data.description is not None and len(data.description) > 5000:
            errors["description"] = "Ensure this field has no more than 5000 characters."
        if errors:
            raise InvalidInputError(errors)
        if data.language is not None:
            check_language(data.language, self._languages)
        async with self._uow() as uow:
            recording = await uow.recordings.lock(data.recording_id, data.owner_id)
            hints = {
                "num_speakers": recording.num_speakers,
                "max_speakers": recording.max_speakers,
                **data.speakers,
            }
            hint_errors = speaker_hint_errors(hints["num_speakers"], hints["max_speakers"])
            if hint_errors:
                raise InvalidInputError(hint_errors)
            recording = recording.edit(
                self._clock.now(),
                title=None if data.title is None else data.title.strip(),
                description=data.description,
                language=data.language,
                clear_language=data.clear_language,
                speakers=data.speakers,
            )
            await uow.recordings.save(recording)
            if data.title is not None or data.description is not None or data.language:
                await reindex_recording(uow, recording.id)  # searchable text or its stemming
            await uow.commit()
        return recording


@attrs.frozen
class RenameSpeakersInput:
    """Names for speaker labels (``{"0": "Alice"}``); an empty name removes one."""

    owner_id: UserId
    recording_id: RecordingId
    names: Mapping[str, str]


class RenameSpeakers:
    """Name the speakers of a recording; names flow into transcripts, exports and analyses.

    Rules: labels are the transcript's speaker labels (digits); names are at most 100
    characters. A name given here replaces a voice profile's match, and the speaker's
    voice goes to the owner's profile of that name (see :mod:`.voice_profiles`).
    """

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, ids: IdSource) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def execute(self, data: RenameSpeakersInput) -> Recording:
        """Store the names and return the recording."""
        errors = {
            str(label): "Speaker labels are numbers like 0 or 1; names at most 100 characters."
            for label, name in data.names.items()
            if not (isinstance(label, str) and label.isascii() and label.isdigit())
            or len(label) > 4
            or not isinstance(name, str)
            or len(name) > 100
        }
        if errors or not data.names:
            raise InvalidInputError(errors or {"detail": "Give at least one speaker name."})
        async with self._uow() as uow:
            await uow.voice_profiles.lock_owner(data.owner_id)  # before any recording
            recording = await uow.recordings.lock(data.recording_id, data.owner_id)
            names = {k: v.strip() for k, v in data.names.items()}
            now = self._clock.now()
            recording = recording.with_speaker_names(names, now)
            recording = await learn_speaker_names(uow, recording, names, self._ids, now)
            await uow.recordings.save(recording)
            await reindex_recording(uow, recording.id)  # hits show the new names
            await uow.commit()
        return recording


@attrs.frozen
class DeletedRecording:
    """What deleting a recording removed."""

    recording_id: RecordingId
    objects: int
    bytes: int


class DeleteRecording:
    """Delete a recording: every stored object under its prefix, then its rows.

    Rules: only the owner may (another user's recording is not found). Objects go first,
    so a store outage leaves the recording in place to delete again, not orphaned files.
    What the recording gave to voice profiles goes with it.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, store: ObjectStore, clock: Clock) -> None:
        self._uow = uow
        self._store = store
        self._clock = clock

    async def execute(
        self, recording_id: RecordingId, owner_id: UserId | None = None
    ) -> DeletedRecording:
        """Delete the recording and return what was removed."""
        async with self._uow() as uow:
            recording = await uow.recordings.get(recording_id, owner_id)
        prefix = recording_prefix(recording.owner_id, recording.id)
        removed = await self._store.delete_prefix(prefix)
        async with self._uow() as uow:
            await uow.voice_profiles.lock_owner(recording.owner_id)
            await forget_recording(uow, recording.id, self._clock.now())
            await uow.search.remove(recording.id)
            await uow.recordings.delete(recording.id)
            await uow.commit()
        late = await self._store.delete_prefix(prefix)  # outputs of a step still running
        return DeletedRecording(
            recording.id, removed.count + late.count, removed.bytes + late.bytes
        )


@attrs.frozen
class CleanupResult:
    """What a retention run removed (or, in a dry run, would remove)."""

    recordings: tuple[Recording, ...]
    objects: int
    bytes: int
    dry_run: bool


class CleanupRecordings:
    """Delete every recording created before a cutoff, with all its objects and rows."""

    def __init__(self, *, uow: UnitOfWorkFactory, delete: DeleteRecording) -> None:
        self._uow = uow
        self._delete = delete

    async def execute(self, cutoff: datetime, *, dry_run: bool = False) -> CleanupResult:
        """Remove (or with *dry_run* only count) recordings older than *cutoff*."""
        candidates: list[Recording] = []
        async with self._uow() as uow:
            while True:
                page = await uow.recordings.list(
                    RecordingQuery(created_before=cutoff, offset=len(candidates), limit=500)
                )
                candidates.extend(page.items)
                if len(page.items) < 500:
                    break
        if dry_run:
            objects = sum(len(r.files) for r in candidates)
            size = sum(f.size for r in candidates for f in r.files)
            return CleanupResult(tuple(candidates), objects, size, dry_run=True)
        removed: list[Recording] = []
        objects = size = 0
        for recording in candidates:
            try:
                deleted = await self._delete.execute(recording.id)
            except RecordingNotFoundError:  # deleted meanwhile
                continue
            removed.append(recording)
            objects += deleted.objects
            size += deleted.bytes
        return CleanupResult(tuple(removed), objects, size, dry_run=False)


__all__ = [
    "CleanupRecordings",
    "CleanupResult",
    "DeleteRecording",
    "DeletedRecording",
    "RenameSpeakers",
    "RenameSpeakersInput",
    "UpdateRecording",
    "UpdateRecordingInput",
]
