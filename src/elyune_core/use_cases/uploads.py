"""The upload flow of the browser extension: ask for a URL, upload, say it is done."""

from __future__ import annotations

from datetime import timedelta

import attrs

from elyune_core._keys import chunk_owner, sanitize_filename, source_key, source_owner
from elyune_core.entities import LiveState, Recording, RecordingStatus, content_type_for
from elyune_core.errors import (
    ConflictError,
    InvalidInputError,
    InvalidStateError,
    ObjectNotFoundError,
    RecordingNotFoundError,
    UploadIncompleteError,
)
from elyune_core.ids import JobId, RecordingId, UserId
from elyune_core.ports import (
    Clock,
    EventPublisher,
    IdSource,
    LanguageSupport,
    ObjectStore,
    PresignedPost,
    RecordingEvent,
    UnitOfWorkFactory,
)
from elyune_core.use_cases.start_processing import StartProcessing, StartProcessingInput

QUALITIES = ("360p", "480p", "720p", "1080p", "1440p", "2160p", "4k", "auto")
MAX_FPS = 240


@attrs.frozen
class UploadPolicy:
    """Limits of uploads: the largest file and how long an upload URL works."""

    max_bytes: int = 2048 * 1024 * 1024
    url_expires: timedelta = timedelta(hours=1)


@attrs.frozen
class RequestUploadInput:
    """What the extension declares about the file it is about to upload."""

    owner_id: UserId
    filename: str
    file_size: int
    quality: str | None = None
    fps: int | None = None
    has_system_audio: bool = False
    has_microphone: bool = False
    title: str | None = None
    language: str | None = None
    num_speakers: int | None = None
    max_speakers: int | None = None


@attrs.frozen
class RequestUploadResult:
    """The new recording and how to upload its file (a PUT URL or a form POST)."""

    recording: Recording
    upload_url: str
    upload_post: PresignedPost
    expires_in: int
    content_type: str


class RequestUpload:
    """Create a recording awaiting its upload and sign URLs to upload it directly.

    Rules: the size is more than 0 and at most the policy's maximum; the file name is
    sanitised; quality is one of ``QUALITIES``; fps is between 1 and ``MAX_FPS``. The
    PUT URL and the form POST both allow only this recording's key, and the POST policy
    refuses a body larger than the declared size.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        clock: Clock,
        ids: IdSource,
        policy: UploadPolicy,
        languages: LanguageSupport | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._languages = languages

    async def execute(self, data: RequestUploadInput) -> RequestUploadResult:
        """Validate the declaration, create the recording and sign the upload."""
        self._validate(data)
        recording_id = RecordingId(self._ids.new_id())
        filename = sanitize_filename(data.filename)
        key = source_key(data.owner_id, recording_id, filename)
        now = self._clock.now()
        recording = Recording.awaiting_upload(
            recording_id,
            data.owner_id,
            filename,
            key,
            now,
            title=data.title,
            file_size=data.file_size,
            quality=data.quality,
            fps=data.fps,
            has_system_audio=data.has_system_audio,
            has_microphone=data.has_microphone,
            language=data.language,
            num_speakers=data.num_speakers,
            max_speakers=data.max_speakers,
        )
        content_type = content_type_for(filename)
        expires = self._policy.url_expires
        put_url = await self._store.presign_put(key, expires, content_type, data.file_size)
        post = await self._store.presign_post(key, expires, data.file_size)
        async with self._uow() as uow:
            await uow.recordings.add(recording)
            await uow.commit()
        return RequestUploadResult(
            recording=recording,
            upload_url=put_url,
            upload_post=post,
            expires_in=int(expires.total_seconds()),
            content_type=content_type,
        )

    def _validate(self, data: RequestUploadInput) -> None:
        validate_upload_request(data, self._policy, self._languages)


def validate_upload_request(
    data: RequestUploadInput,
    policy: UploadPolicy,
    languages: LanguageSupport | None = None,
    *,
    check_size: bool = True,
) -> None:
    """Raise ``InvalidInputError`` for a declaration that breaks :class:`RequestUpload`'s
    rules (without the size rule when *check_size* is false: a live upload's size is
    not known in advance)."""
    errors: dict[str, str] = {}
    limit_mb = policy.max_bytes // (1024 * 1024)
    if check_size and data.file_size <= 0:
        errors["file_size"] = "Ensure this value is greater than 0."
    elif check_size and data.file_size > policy.max_bytes:
        errors["file_size"] = f"The file is larger than the limit of {limit_mb} MB."
    if not data.filename.strip():
        errors["filename"] = "This field may not be blank."
    elif len(data.filename) > 255:
        errors["filename"] = "Ensure this field has no more than 255 characters."
    if data.quality is not None and data.quality not in QUALITIES:
        errors["quality"] = f'"{data.quality}" is not a valid choice ({", ".join(QUALITIES)}).'
    if data.fps is not None and not 1 <= data.fps <= MAX_FPS:
        errors["fps"] = f"Ensure this value is between 1 and {MAX_FPS}."
    errors.update(speaker_hint_errors(data.num_speakers, data.max_speakers))
    if errors:
        raise InvalidInputError(errors)
    if data.language is not None:
        check_language(data.language, languages)


#: the most speakers a hint may name
MAX_SPEAKER_HINT = 20


def speaker_hint_errors(num_speakers: int | None, max_speakers: int | None) -> dict[str, str]:
    """Field errors of the diarization hints: whole numbers from 1 to ``MAX_SPEAKER_HINT``.
    When both are given, ``num_speakers`` (an exact count) wins over ``max_speakers``, so
    no combination is refused (a rule across fields that no schema could state)."""
    errors: dict[str, str] = {}
    for field, value in (("num_speakers", num_speakers), ("max_speakers", max_speakers)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors[field] = "A valid integer is required."
        elif not 1 <= value <= MAX_SPEAKER_HINT:
            errors[field] = f"Ensure this value is between 1 and {MAX_SPEAKER_HINT}."
    return errors


def check_language(language: str, support: LanguageSupport | None = None) -> str:
    """Return *language* if it looks like a language code (``en``, ``pt-BR``, ``multi``)
    and, given *support*, the transcriber can use it: a request names a bad language
    now, not when its transcription fails."""
    parts = language.split("-")
    ok = (
        0 < len(language) <= 20
        and parts[0].isascii()
        and parts[0].isalpha()
        and 2 <= len(parts[0]) <= 8
        and all(p.isascii() and p.isalnum() and 1 <= len(p) <= 8 for p in parts[1:])
    )
    if not ok:
        raise InvalidInputError({"language": "Use a language code like en, de or pt-BR."})
    problem = None if support is None else support.problem(language)
    if problem is not None:
        raise InvalidInputError({"language": problem})
    return language


@attrs.frozen
class CompleteUploadInput:
    """The extension says the upload of *s3_key* is done."""

    owner_id: UserId
    recording_id: RecordingId
    s3_key: str


@attrs.frozen
class CompleteUploadResult:
    """The recording and its job (``queued`` is false when it was done before)."""

    recording: Recording
    job_id: JobId
    queued: bool


class CompleteUpload:
    """Check the uploaded object and queue the recording's processing job.

    Rules: the key must be this recording's own; the object must exist with exactly the
    declared size (a stat, not trust). A second call changes nothing and queues nothing.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: ObjectStore,
        events: EventPublisher,
        clock: Clock,
        start: StartProcessing,
    ) -> None:
        self._uow = uow
        self._store = store
        self._events = events
        self._clock = clock
        self._start = start

    async def execute(self, data: CompleteUploadInput) -> CompleteUploadResult:
        """Mark the recording uploaded and start processing it."""
        async with self._uow() as uow:
            recording = await uow.recordings.get(data.recording_id, data.owner_id)
            job = await uow.jobs.for_recording(recording.id)
        if data.s3_key != recording.source_key:
            raise InvalidStateError({"s3_key": "This key does not belong to this recording."})
        if recording.status is not RecordingStatus.AWAITING_UPLOAD and job is not None:
            return CompleteUploadResult(recording, job.id, queued=False)
        try:
            info = await self._store.stat(recording.source_key)
        except ObjectNotFoundError:
            raise UploadIncompleteError(
                {"s3_key": "No file has been uploaded under this key yet."}
            ) from None
        if info.size != recording.file_size:
            raise UploadIncompleteError(
                {
                    "s3_key": f"The uploaded file has {info.size} bytes but "
                    f"{recording.file_size} were declared."
                }
            )
        now = self._clock.now()
        async with self._uow() as uow:
            current = await uow.recordings.lock(recording.id)
            first = current.status is RecordingStatus.AWAITING_UPLOAD
            if first:
                current = current.mark_uploaded(info.size, now)
                await uow.recordings.save(current)
                await uow.commit()
        if first:
            await self._events.publish(
                RecordingEvent(
                    type="recording.uploaded",
                    recording_id=current.id,
                    owner_id=current.owner_id,
                    occurred_at=now,
                    data={"size": info.size, "filename": current.filename},
                )
            )
        started = await self._start.execute(StartProcessingInput(current.id))
        async with self._uow() as uow:
            current = await uow.recordings.get(current.id)
        return CompleteUploadResult(current, started.job_id, queued=started.created)


@attrs.frozen
class UploadTarget:
    """What an upload to a key may store: *size* bytes exactly, with the base64 MD5
    *content_md5* when given (a live upload's chunk), for *recording*.

    ``replace`` says that a second upload of the same bytes may store them again (a
    chunk, whose digest is checked); a recording's whole file is stored once.
    """

    recording: Recording
    size: int
    content_md5: str | None = None
    chunk_index: int | None = None
    replace: bool = False


class FindUploadTarget:
    """What an upload to *key* may store (the embedded store's check).

    Rules: *key* is the source key of an existing recording (``RecordingNotFoundError``
    after it was deleted) that still awaits its upload (``ConflictError`` once
    upload-complete accepted a file). The store accepts exactly the declared size.
    Or *key* is a chunk key (``chunk_key``) of a live upload that is still recording
    (``ConflictError`` once finished) and of a declared chunk (``RecordingNotFoundError``
    otherwise): the store accepts exactly the declared size and digest.
    """

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, key: str) -> UploadTarget:
        """What an upload to *key* may store."""
        chunk = chunk_owner(key)
        if chunk is not None:
            return await self._chunk(*chunk)
        owner = source_owner(key)
        if owner is None:
            raise RecordingNotFoundError("No recording awaits a file under this key.")
        async with self._uow() as uow:
            recording = await uow.recordings.get(owner[1], owner[0])
        if recording.source_key != key:
            raise RecordingNotFoundError("No recording awaits a file under this key.")
        if recording.status is not RecordingStatus.AWAITING_UPLOAD:
            raise ConflictError("This upload URL was already used.")
        return UploadTarget(recording, recording.file_size)

    async def _chunk(self, owner_id: UserId, recording_id: RecordingId, index: int) -> UploadTarget:
        async with self._uow() as uow:
            recording = await uow.recordings.get(recording_id, owner_id)
            live = await uow.live.get(recording_id, owner_id)
            declared = (await uow.live.declared(recording_id, [index])).get(index)
        if live.state is not LiveState.RECORDING:
            raise ConflictError("This live upload is finished: it takes no more chunks.")
        if declared is None:
            raise RecordingNotFoundError(f"Chunk {index} has not been declared.")
        return UploadTarget(recording, declared.size, declared.md5, chunk_index=index, replace=True)


__all__ = [
    "MAX_FPS",
    "MAX_SPEAKER_HINT",
    "QUALITIES",
    "CompleteUpload",
    "CompleteUploadInput",
    "CompleteUploadResult",
    "FindUploadTarget",
    "RequestUpload",
    "RequestUploadInput",
    "RequestUploadResult",
    "UploadPolicy",
    "UploadTarget",
    "check_language",
    "speaker_hint_errors",
    "validate_upload_request",
]
