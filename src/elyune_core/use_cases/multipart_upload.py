"""Resumable multipart uploads of large recorded files (a variant of the upload flow).

A recording created by ``RequestUpload`` may receive its file in parts instead of one
PUT: start a multipart upload, sign PUT URLs for the parts (any order, any time, again
after a failure), list what is stored to resume, then complete. Completing joins the
parts into the recording's source key and runs the normal ``CompleteUpload``.

The upload id is bound to the recording by the store itself: every call names the
recording's own source key, and a store knows which key an upload id belongs to (S3
answers NoSuchUpload, the embedded store keeps the key beside the parts), so one
user's upload id is useless on another recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import attrs

from elyune_core.entities import Recording, RecordingStatus, content_type_for
from elyune_core.errors import InvalidInputError, InvalidStateError, ObjectNotFoundError
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import MultipartStore, UnitOfWorkFactory, UploadPart
from elyune_core.use_cases.uploads import (
    CompleteUpload,
    CompleteUploadInput,
    CompleteUploadResult,
)

MiB = 1024 * 1024
#: the size of every part but the last that the API proposes
PART_SIZE = 8 * MiB
#: S3's smallest part (every part but the last)
MIN_PART_SIZE = 5 * MiB
#: S3's largest part
MAX_PART_SIZE = 5 * 1024 * MiB
#: S3's part numbers run from 1 to this
MAX_PARTS = 10_000
#: the most part URLs one request may sign
MAX_SIGNED_PARTS = 1_000

_UNKNOWN = "No multipart upload with this id is in progress for this recording."


def part_size_for(file_size: int) -> int:
    """``PART_SIZE``, or more (whole MiB) when the file needs more than ``MAX_PARTS``."""
    needed = -(-file_size // MAX_PARTS)
    return max(PART_SIZE, -(-needed // MiB) * MiB)


def normalize_etag(etag: str) -> str:
    """An ETag without its quotes (S3 quotes them; clients send either form)."""
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def check_parts(requested: Sequence[UploadPart], stored: Sequence[UploadPart]) -> list[UploadPart]:
    """The stored parts named by *requested*, checked by S3's rules.

    Rules: at least one part; numbers from 1 to ``MAX_PARTS``, in ascending order, each
    once; every part is stored with exactly the given ETag; every part but the last
    has at least ``MIN_PART_SIZE`` bytes. Raises ``InvalidInputError`` on ``parts``,
    naming the part.
    """
    if not requested:
        raise InvalidStateError({"parts": "Name at least one part."})
    by_number = {part.number: part for part in stored}
    chosen: list[UploadPart] = []
    previous = 0
    for part in requested:
        if not 1 <= part.number <= MAX_PARTS:
            raise InvalidStateError(
                {"parts": f"Part number {part.number} is not between 1 and {MAX_PARTS}."}
            )
        if part.number <= previous:
            raise InvalidStateError(
                {"parts": f"Part {part.number} is out of order: list parts by ascending number."}
            )
        previous = part.number
        found = by_number.get(part.number)
        if found is None:
            raise InvalidStateError({"parts": f"Part {part.number} has not been uploaded."})
        if normalize_etag(found.etag) != normalize_etag(part.etag):
            raise InvalidStateError(
                {"parts": f"Part {part.number}'s ETag does not match the stored part."}
            )
        chosen.append(found)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise InvalidStateError(
                {
                    "parts": f"Part {part.number} has {part.size} bytes: every part but "
                    f"the last needs at least {MIN_PART_SIZE} bytes (5 MiB)."
                }
            )
    return chosen


@attrs.frozen
class MultipartInput:
    """Which recording (of which user) and, after the start, which upload."""

    owner_id: UserId
    recording_id: RecordingId
    upload_id: str = ""


@attrs.frozen
class StartMultipartResult:
    """The new upload: its id, the part size to cut the file by and the part count."""

    upload_id: str
    part_size: int
    parts: int


@attrs.frozen
class SignedPart:
    """A URL that accepts one PUT of part *number*."""

    number: int
    url: str


@attrs.frozen
class SignPartsInput:
    """Sign PUT URLs for parts *numbers* of an upload."""

    upload: MultipartInput
    numbers: tuple[int, ...]


@attrs.frozen
class SignPartsResult:
    """The signed URLs, in the order asked, and how long they work."""

    parts: tuple[SignedPart, ...]
    expires_in: int


@attrs.frozen
class ListPartsResult:
    """The parts stored so far, the part size and how many parts the file needs."""

    upload_id: str
    part_size: int
    parts_expected: int
    parts: tuple[UploadPart, ...]


@attrs.frozen
class CompleteMultipartInput:
    """Join the listed parts (number and ETag) into the recording's file."""

    upload: MultipartInput
    parts: tuple[UploadPart, ...]


class _MultipartUseCase:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        multipart: MultipartStore,
        url_expires: timedelta = timedelta(hours=1),
    ) -> None:
        self._uow = uow
        self._multipart = multipart
        self._expires = url_expires

    async def _awaiting(self, data: MultipartInput) -> Recording:
        """The user's recording (``RecordingNotFoundError`` for another's), still
        awaiting its file (``InvalidStateError`` once uploaded)."""
        async with self._uow() as uow:
            recording = await uow.recordings.get(data.recording_id, data.owner_id)
        if recording.status is not RecordingStatus.AWAITING_UPLOAD:
            raise InvalidStateError({"detail": "This recording's file has already been uploaded."})
        return recording

    async def _stored(self, recording: Recording, upload_id: str) -> Sequence[UploadPart]:
        """The upload's stored parts; an unknown or another recording's id is refused."""
        if not upload_id or len(upload_id) > 1024:
            raise InvalidStateError({"upload_id": _UNKNOWN})
        try:
            return await self._multipart.list_parts(recording.source_key, upload_id)
        except ObjectNotFoundError:
            raise InvalidStateError({"upload_id": _UNKNOWN}) from None


class StartMultipart(_MultipartUseCase):
    """Start a multipart upload of a recording's file.

    Rules: only the owner, only while the recording awaits its file; the parts are
    ``part_size_for(file_size)`` bytes (8 MiB for files up to 78 GiB), the last smaller.
    Starting again gives a new upload (the old one stays until aborted).
    """

    async def execute(self, data: MultipartInput) -> StartMultipartResult:
        """Create the upload in the store."""
        recording = await self._awaiting(data)
        size = recording.file_size or 0
        upload_id = await self._multipart.create_multipart(
            recording.source_key, content_type_for(recording.filename)
        )
        part_size = part_size_for(size)
        return StartMultipartResult(upload_id, part_size, max(1, -(-size // part_size)))


class SignParts(_MultipartUseCase):
    """Sign PUT URLs for parts of a recording's multipart upload.

    Rules: the upload must be this recording's; 1 to ``MAX_SIGNED_PARTS`` numbers per
    request, each from 1 to ``MAX_PARTS`` and at most once.
    """

    async def execute(self, data: SignPartsInput) -> SignPartsResult:
        """Check the upload and sign one URL per number."""
        numbers = data.numbers
        if not numbers:
            raise InvalidInputError({"numbers": "Name at least one part number."})
        if len(numbers) > MAX_SIGNED_PARTS:
            raise InvalidInputError(
                {"numbers": f"Ask for at most {MAX_SIGNED_PARTS} part URLs at a time."}
            )
        for number in numbers:
            if not 1 <= number <= MAX_PARTS:
                raise InvalidInputError(
                    {"numbers": f"Part number {number} is not between 1 and {MAX_PARTS}."}
                )
        if len(set(numbers)) != len(numbers):
            raise InvalidStateError({"numbers": "Each part number may appear only once."})
        recording = await self._awaiting(data.upload)
        await self._stored(recording, data.upload.upload_id)
        signed = tuple(
            [
                SignedPart(
                    number,
                    await self._multipart.presign_part(
                        recording.source_key, data.upload.upload_id, number, self._expires
                    ),
                )
                for number in numbers
            ]
        )
        return SignPartsResult(signed, int(self._expires.total_seconds()))


class ListMultipartParts(_MultipartUseCase):
    """The parts of a recording's multipart upload stored so far (to resume it).

    Rules: the upload must be this recording's, which still awaits its file.
    """

    async def execute(self, data: MultipartInput) -> ListPartsResult:
        """List the stored parts by number."""
        recording = await self._awaiting(data)
        parts = await self._stored(recording, data.upload_id)
        size = recording.file_size or 0
        part_size = part_size_for(size)
        return ListPartsResult(
            data.upload_id,
            part_size,
            max(1, -(-size // part_size)),
            tuple(sorted(parts, key=lambda part: part.number)),
        )


class AbortMultipart(_MultipartUseCase):
    """Drop a recording's multipart upload and its parts.

    Rules: the upload must be this recording's; the recording keeps awaiting its file.
    """

    async def execute(self, data: MultipartInput) -> None:
        """Abort the upload."""
        recording = await self._awaiting(data)
        await self._stored(recording, data.upload_id)
        try:
            await self._multipart.abort_multipart(recording.source_key, data.upload_id)
        except ObjectNotFoundError:
            raise InvalidStateError({"upload_id": _UNKNOWN}) from None


class CompleteMultipart(_MultipartUseCase):
    """Join a recording's parts into its source file, then complete the upload.

    Rules: the upload must be this recording's; the parts obey ``check_parts``; their
    sizes add up to exactly the declared file size (checked before joining, so a
    mistake leaves the upload open to fix). Then ``CompleteUpload`` runs its own
    checks and queues processing, with the same result as upload-complete. Once the
    recording has its file, a repeated call only repeats ``CompleteUpload``'s answer.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        multipart: MultipartStore,
        complete: CompleteUpload,
    ) -> None:
        super().__init__(uow=uow, multipart=multipart)
        self._complete = complete

    async def execute(self, data: CompleteMultipartInput) -> CompleteUploadResult:
        """Check and join the parts; mark the recording uploaded and start processing."""
        upload = data.upload
        async with self._uow() as uow:
            recording = await uow.recordings.get(upload.recording_id, upload.owner_id)
        if recording.status is RecordingStatus.AWAITING_UPLOAD:
            stored = await self._stored(recording, upload.upload_id)
            chosen = check_parts(data.parts, stored)
            total = sum(part.size for part in chosen)
            if total != recording.file_size:
                raise InvalidInputError(
                    {
                        "parts": f"The parts have {total} bytes but {recording.file_size} "
                        "were declared: upload the missing parts and list them all."
                    }
                )
            try:
                await self._multipart.complete_multipart(
                    recording.source_key, upload.upload_id, chosen
                )
            except ObjectNotFoundError:
                raise InvalidStateError({"upload_id": _UNKNOWN}) from None
        return await self._complete.execute(
            CompleteUploadInput(upload.owner_id, upload.recording_id, recording.source_key)
        )


__all__ = [
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_SIGNED_PARTS",
    "MIN_PART_SIZE",
    "PART_SIZE",
    "AbortMultipart",
    "CompleteMultipart",
    "CompleteMultipartInput",
    "ListMultipartParts",
    "ListPartsResult",
    "MultipartInput",
    "SignParts",
    "SignPartsInput",
    "SignPartsResult",
    "SignedPart",
    "StartMultipart",
    "StartMultipartResult",
    "check_parts",
    "normalize_etag",
    "part_size_for",
]
