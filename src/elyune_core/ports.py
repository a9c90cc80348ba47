"""Ports: what the core needs from the outside world, as ``typing.Protocol`` classes.

Adapters in ``elyune_adapters`` implement them (and list the port as a base class so
mypy checks them where they are defined). Ports speak domain types only: keys, paths of
local scratch files, entities; never an SDK's types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import attrs

from elyune_core._search import (
    AnswerDraft,
    AnswerKind,
    Passage,
    SearchDocument,
    SearchHit,
    SearchQuery,
)
from elyune_core.entities import (
    Analysis,
    AnalysisContent,
    AnalysisKind,
    ChunkDeclaration,
    ImageInfo,
    Job,
    JobStatus,
    LiveUpload,
    MediaInfo,
    Recording,
    RecordingStatus,
    Segment,
    SpeakerVoice,
    StepName,
    Transcript,
    User,
    VoiceProfile,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    Word,
)
from elyune_core.errors import TranscriptionFailedError
from elyune_core.ids import JobId, RecordingId, UserId, VoiceProfileId, WebhookId

# --------------------------------------------------------------------------- basics


class Clock(Protocol):
    """Source of the current time (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """Return the current time."""
        ...


class IdSource(Protocol):
    """Source of new unique ids."""

    def new_id(self) -> str:
        """Return a new id, unique across processes."""
        ...


class PasswordHasher(Protocol):
    """Hashes and checks passwords with a memory-hard KDF."""

    def hash(self, password: str) -> str:
        """Return a self-describing hash of *password*."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether *password* matches *password_hash*."""
        ...


# --------------------------------------------------------------------------- storage


@attrs.frozen
class ObjectInfo:
    """Metadata of a stored object."""

    key: str
    size: int
    content_type: str | None = None
    etag: str | None = None
    modified_at: datetime | None = None


@attrs.frozen
class PresignedPost:
    """A browser form upload: POST ``fields`` plus the file to ``url``."""

    url: str
    fields: Mapping[str, str]


@attrs.frozen
class DeletedObjects:
    """What a prefix delete removed."""

    count: int
    bytes: int


class ObjectStore(Protocol):
    """Stores the files of recordings under keys like ``recordings/<owner>/<id>/source.webm``.

    Keys are validated by :func:`elyune_core._keys.check_key`; a key that escapes its
    prefix raises ``InvalidKeyError``. Unreachable stores raise
    ``ObjectStoreUnavailableError``; missing objects ``ObjectNotFoundError``.
    """

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        """Store the local file at *path* under *key* (streamed, never all in memory)."""
        ...

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        """Store *data* under *key*."""
        ...

    async def stat(self, key: str) -> ObjectInfo:
        """Return the metadata of *key*."""
        ...

    def local_copy(
        self, key: str, *, max_size: int | None = None
    ) -> AbstractAsyncContextManager[Path]:
        """Give a local, read-only file with the object's bytes for the ``async with`` body.

        With *max_size*, an object holding more bytes raises
        :class:`~elyune_core.errors.ObjectChangedError`, and no more than ``max_size + 1``
        bytes are ever copied (a replaced upload cannot fill a worker's disk).
        """
        ...

    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object's bytes in chunks."""
        ...

    async def delete_prefix(self, prefix: str) -> DeletedObjects:
        """Delete every object under *prefix*."""
        ...

    async def presign_get(
        self, key: str, expires: timedelta, download_name: str | None = None
    ) -> str:
        """Return a URL that downloads *key* until *expires* has passed."""
        ...

    async def presign_put(
        self,
        key: str,
        expires: timedelta,
        content_type: str,
        size: int,
        content_md5: str | None = None,
    ) -> str:
        """Return a URL that accepts one PUT of at most *size* bytes to *key*.

        With *content_md5* (the base64 MD5 of the body), the URL is signed for that
        ``Content-MD5`` header: the client must send it, and the store refuses a body
        whose digest differs (storing nothing).
        """
        ...

    async def list(self, prefix: str, start_after: str | None = None) -> Sequence[ObjectInfo]:
        """The objects under *prefix* (ending with ``/``), in key order, only those whose
        key sorts after *start_after* when given (S3's ``StartAfter``); ``etag`` is the
        hex MD5 of the bytes for an object stored by one PUT."""
        ...

    async def presign_post(self, key: str, expires: timedelta, max_size: int) -> PresignedPost:
        """Return a form upload whose policy limits the body to *max_size* bytes."""
        ...

    async def check(self) -> None:
        """Raise ``ObjectStoreUnavailableError`` unless the store answers."""
        ...


@attrs.frozen
class UploadPart:
    """A stored part of a multipart upload: its number (from 1), size and ETag."""

    number: int
    size: int
    etag: str


class MultipartStore(Protocol):
    """S3 multipart uploads of large files, signed for browsers (each part a presigned
    ``UploadPart`` PUT; every part but the last at least 5 MiB)."""

    async def create_multipart(self, key: str, content_type: str) -> str:
        """Start a multipart upload to *key*; return its upload id."""
        ...

    async def presign_part(self, key: str, upload_id: str, number: int, expires: timedelta) -> str:
        """A URL that accepts one PUT of part *number* (1 to 10,000)."""
        ...

    async def list_parts(self, key: str, upload_id: str) -> Sequence[UploadPart]:
        """The parts stored so far, by number (a client resumes from them)."""
        ...

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[UploadPart]
    ) -> ObjectInfo:
        """Join *parts* (numbers and ETags as listed) into the object *key*."""
        ...

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts (nothing left behind)."""
        ...


class Workspace(Protocol):
    """Scratch space on local disk for one step."""

    def scratch(self, label: str) -> AbstractAsyncContextManager[Path]:
        """Give an empty directory that is removed, with its contents, on exit."""
        ...


# --------------------------------------------------------------------------- engines

ProgressCallback = Callable[[float], Awaitable[None]]


class Transcoder(Protocol):
    """Reads and converts media files on local disk.

    Methods that take *on_progress* await it with a rising fraction (0 to 1) while they
    work: the pipeline renews a step's lease only while that fraction moves.
    """

    async def probe(self, source: Path, on_progress: ProgressCallback | None = None) -> MediaInfo:
        """Return streams, codecs and the decoded duration of *source*.

        Raises ``InvalidMediaError`` for an empty, truncated or non-media file.
        """
        ...

    async def transcode(
        self,
        source: Path,
        target: Path,
        media: MediaInfo,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Write an H.264/AAC MP4 (``+faststart``) of *source* to *target*."""
        ...

    async def extract_audio(
        self,
        source: Path,
        target: Path,
        media: MediaInfo,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Write the audio of *source* as 16 kHz mono PCM WAV to *target*."""
        ...

    async def thumbnail(self, source: Path, target: Path, media: MediaInfo) -> ImageInfo:
        """Write a JPEG poster frame of *source* to *target* and return its size."""
        ...


@attrs.frozen
class StreamTracks:
    """The tracks a WebM stream's header declares."""

    has_audio: bool
    has_video: bool
    audio_codec: str | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None


@attrs.frozen
class ClusterMark:
    """A complete cluster found in scanned stream bytes.

    ``offset`` and ``size`` are bytes within the scanned data; ``start`` is the cluster's
    time in seconds from the start of the recording and ``end`` the end of its last
    block (its start plus the last frame's duration when known); ``keyframe`` says that
    its first video frame is a keyframe (always true without video), so a video segment
    may start with it.
    """

    offset: int
    size: int
    start: float
    end: float
    keyframe: bool


@attrs.frozen
class StreamScan:
    """What ``LiveMedia.scan`` found: the header (when the data began with it), the
    complete clusters in order, and ``consumed``, the bytes up to the end of the last
    of them (the rest is an unfinished cluster, to be scanned again with more bytes)."""

    header_size: int
    tracks: StreamTracks | None
    clusters: tuple[ClusterMark, ...]
    consumed: int


class LiveMedia(Protocol):
    """Media work on a WebM stream that arrives in pieces (MediaRecorder's chunks).

    Only the stream's first bytes carry the header; *body* files hold whole clusters cut
    from the stream at cluster boundaries, and each call gets the header beside them.
    """

    def scan(self, data: bytes, *, at_start: bool, final: bool, header: bytes = b"") -> StreamScan:
        """Find the header (when *at_start*) and the complete clusters in *data*, which
        begins at a cluster boundary (or at the stream's start). With *final*, the data
        is the rest of the stream: its last cluster is complete too. *header*, when the
        data does not begin the stream, is the stream's header (``data[:header_size]`` of
        the first scan): its timecode scale and tracks tell cluster times and which
        frames are video keyframes (without it: 1 ms, and a cluster is a keyframe when
        every track's first frame in it is). Raises ``InvalidMediaError`` for bytes that
        are not a WebM/Matroska stream."""
        ...

    async def decode_audio(self, header: bytes, body: Path, target: Path, start: float) -> float:
        """Write the audio of *body*'s clusters to *target* as raw 16 kHz mono s16le
        samples from *start* seconds of the recording on (silence where no audio frame
        covers), and return the recording time the samples end at."""
        ...

    async def encode_segment(
        self,
        header: bytes,
        body: Path,
        target: Path,
        tracks: StreamTracks,
        duration: float,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Encode *body*'s clusters (which begin with a video keyframe) to an H.264/AAC
        segment of exactly *duration* seconds that ``join`` can put end to end;
        *on_progress* is awaited with the encoded fraction as it rises."""
        ...

    async def join(self, segments: Sequence[Path], target: Path) -> None:
        """Join *segments* in order into one MP4 (``+faststart``), copying the streams."""
        ...

    async def write_wav(
        self, pieces: Sequence[tuple[Path, float]], start: float, end: float, target: Path
    ) -> None:
        """Write a 16 kHz mono WAV of recording time [*start*, *end*) to *target* from
        raw s16le *pieces* that follow each other (each with the time it begins at)."""
        ...


@attrs.frozen
class TranscriptionRequest:
    """Audio to transcribe: a 16 kHz mono WAV on local disk.

    ``on_progress``, when set, takes the share of the audio transcribed so far (0 to 1):
    the pipeline renews a step's lease only while it moves.
    """

    recording_id: RecordingId
    audio: Path
    language: str | None = None
    duration: float | None = None
    #: speaker-count hints for the diarization: exactly this many, or at most this many
    num_speakers: int | None = None
    max_speakers: int | None = None
    on_progress: ProgressCallback | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class TranscriptionResult:
    """What a ``Transcriber`` recognised."""

    text: str
    language: str | None
    segments: tuple[Segment, ...]
    words: tuple[Word, ...]
    engine: str
    language_confidence: float | None = None
    duration: float | None = None
    speaker_count: int | None = None
    request_id: str | None = None
    audio_seconds: float | None = None
    #: each speaker's voice (mean embedding), when the engine computed them
    voices: tuple[SpeakerVoice, ...] = ()


@attrs.frozen
class StretchRequest:
    """A stretch of a live recording's audio to transcribe as it is recorded.

    ``audio`` is a 16 kHz mono WAV whose first sample is at ``offset`` seconds of the
    recording. Unless ``final``, the engine transcribes up to a pause near the end (the
    rest comes again in the next stretch); ``prompt`` is the text before the stretch.
    """

    recording_id: RecordingId
    audio: Path
    offset: float
    language: str | None = None
    prompt: str | None = None
    final: bool = False
    #: the audio's first *context* seconds come before the stretch (the end of the one
    #: before, heard again so that the stretch's first words have their context): what
    #: is said in them is not kept, and the stretch starts at ``offset + context``
    context: float = 0.0


@attrs.frozen
class StretchResult:
    """What a stretch gave: segments and words at recording times (segment ids local to
    the stretch), and ``until``, the recording time the stretch was transcribed to.

    ``voice_data`` is the engine's own JSON-able record of the speakers' voices in the
    stretch (speech windows and embeddings) that ``label_stretches`` clusters later.
    """

    start: float
    until: float
    text: str
    language: str | None
    segments: tuple[Segment, ...]
    words: tuple[Word, ...]
    language_confidence: float | None = None
    voice_data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class LabelRequest:
    """Every stretch of a recording, to be joined into one transcript with speakers."""

    recording_id: RecordingId
    stretches: tuple[StretchResult, ...]
    duration: float
    language: str | None = None
    num_speakers: int | None = None
    max_speakers: int | None = None


class Transcriber(Protocol):
    """Speech to text with timestamps (and speakers, where the engine knows them).

    An engine with ``supports_stretches`` also transcribes a live recording stretch by
    stretch (``transcribe_stretch``) and labels the speakers over all of them at the end
    (``label_stretches``); the others transcribe the whole audio once it is complete.
    """

    name: str
    supports_stretches: bool = False

    async def transcribe_stretch(self, request: StretchRequest) -> StretchResult:
        """Transcribe one stretch of a live recording (see :class:`StretchRequest`)."""
        raise TranscriptionFailedError(f"{self.name} cannot transcribe while recording")

    async def label_stretches(self, request: LabelRequest) -> TranscriptionResult:
        """Join the stretches into one result with speakers clustered over the whole
        recording, as ``transcribe`` would have labelled the whole file."""
        raise TranscriptionFailedError(f"{self.name} cannot transcribe while recording")

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Transcribe the audio of *request*; an engine that can tell awaits
        ``request.on_progress`` with the share of the audio done so far.

        Raises ``TranscriptionFailedError`` (``transient`` when worth retrying).
        """
        ...

    async def warm(self) -> None:
        """Load what the first transcription would wait for (a local model) now; hosted
        engines have nothing to load. Raises ``TranscriptionFailedError``."""
        return


class LanguageSupport(Protocol):
    """Which spoken languages the configured transcriber can be told to use."""

    def problem(self, language: str) -> str | None:
        """``None`` when *language* can be used; else why not (a message for the user)."""
        ...

    def pattern(self) -> str:
        """A regular expression (ECMA-262, whole value) matching exactly the codes that
        :meth:`problem` accepts: the API's document states it."""
        ...


@attrs.frozen
class AnalysisRequest:
    """A transcript to analyse, with what the analyses should know about it."""

    transcript: Transcript
    kinds: tuple[AnalysisKind, ...]
    speaker_names: Mapping[str, str] = attrs.field(factory=dict)
    title: str = ""
    duration: float | None = None


@attrs.frozen
class AnalysisOutcome:
    """The result of one kind: ``content`` or a readable ``error``."""

    kind: AnalysisKind
    content: AnalysisContent | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class Analyzer(Protocol):
    """Turns a transcript into summary, action items, key points and sentiment."""

    name: str

    async def analyze(self, request: AnalysisRequest) -> Mapping[AnalysisKind, AnalysisOutcome]:
        """Return one outcome per requested kind.

        Raises ``AnalysisFailedError`` when the whole call failed (``transient`` when
        worth retrying).
        """
        ...


# --------------------------------------------------------------------------- persistence

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing and the total number of matches."""

    items: tuple[T, ...]
    total: int


@attrs.frozen
class RecordingQuery:
    """Filters of a recording listing, newest first."""

    owner_id: UserId | None = None
    status: RecordingStatus | None = None
    search: str | None = None
    offset: int = 0
    limit: int = 20
    created_before: datetime | None = None
    created_after: datetime | None = None


@attrs.frozen
class JobQuery:
    """Filters of the operator's job listing, newest first: a *status*, and/or only the
    jobs with a step stuck at *stuck_at* (running on an expired lease)."""

    status: JobStatus | None = None
    stuck_at: datetime | None = None
    offset: int = 0
    limit: int = 50


#: Upper bounds (seconds) of the step-duration histogram buckets (``+Inf`` is implied).
STEP_DURATION_BUCKETS: tuple[float, ...] = (
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip


@attrs.frozen
class StepDurations:
    """The durations of one step's finished attempts: how many, their sum, and how many
    took at most each bound of ``STEP_DURATION_BUCKETS`` (cumulative, in that order)."""

    count: int
    total: float
    buckets: tuple[int, ...]


@attrs.frozen
class WorkerActivity:
    """A worker as the database saw it: the last step it started and how many it runs."""

    name: str
    last_seen: datetime
    running: int


@attrs.frozen
class JobStatistics:
    """Counts of jobs and steps by status, stuck steps, the durations of succeeded steps
    by step name, and the workers that started a step recently."""

    jobs: Mapping[str, int]
    steps: Mapping[tuple[str, str], int]
    stuck_steps: int
    durations: Mapping[str, StepDurations]
    workers: tuple[WorkerActivity, ...] = ()


class UserRepository(Protocol):
    """Users."""

    async def add(self, user: User) -> None:
        """Insert *user*; a taken user name raises ``ConflictError``."""
        ...

    async def get(self, user_id: UserId) -> User:
        """Return the user or raise ``UserNotFoundError``."""
        ...

    async def get_by_username(self, username: str) -> User | None:
        """Return the user called *username*, if any."""
        ...

    async def list(self) -> Sequence[User]:
        """Every user, by name."""
        ...

    async def save(self, user: User) -> None:
        """Update *user*."""
        ...


class RecordingRepository(Protocol):
    """Recordings with their stored files."""

    async def add(self, recording: Recording) -> None:
        """Insert *recording*."""
        ...

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        """Return the recording; with *owner_id*, only if that user owns it.

        Raises ``RecordingNotFoundError`` otherwise (another user's recording is
        indistinguishable from a missing one).
        """
        ...

    async def lock(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        """Like ``get``, and no other unit of work can change the recording until this
        one ends (read-modify-write of a recording always goes through ``lock``)."""
        ...

    async def list(self, query: RecordingQuery) -> Page[Recording]:
        """Recordings matching *query*, newest first."""
        ...

    async def save(self, recording: Recording) -> None:
        """Update *recording* and its files."""
        ...

    async def delete(self, recording_id: RecordingId) -> None:
        """Delete the recording and every row that belongs to it."""
        ...


class JobRepository(Protocol):
    """Processing jobs and their steps.

    ``lock`` serialises writers of one job: between ``lock`` and the end of the unit of
    work no other unit of work can change that job, so claims are atomic.
    """

    async def add(self, job: Job) -> None:
        """Insert *job* with its steps."""
        ...

    async def get(self, job_id: JobId) -> Job:
        """Return the job or raise ``JobNotFoundError``."""
        ...

    async def lock(self, job_id: JobId) -> Job:
        """Lock the job for this unit of work and return its current state."""
        ...

    async def for_recording(self, recording_id: RecordingId) -> Job | None:
        """The job of *recording_id*, if it has one."""
        ...

    async def save(self, job: Job) -> None:
        """Update the job and its steps."""
        ...

    async def list(self, status: JobStatus | None = None, limit: int = 50) -> Sequence[Job]:
        """Jobs, newest first, optionally of one status."""
        ...

    async def unfinished(self, limit: int = 500) -> Sequence[Job]:
        """Jobs that are pending or running (for the reconciler)."""
        ...

    async def search(self, query: JobQuery) -> Page[Job]:
        """Jobs matching *query*, newest first, and how many match (operators)."""
        ...

    async def statistics(self, now: datetime, since: datetime) -> JobStatistics:
        """Counts for monitoring at *now*; the workers are those that started a step at
        or after *since*."""
        ...


class TranscriptRepository(Protocol):
    """One transcript per recording."""

    async def get(self, recording_id: RecordingId) -> Transcript | None:
        """The transcript of *recording_id*, if any."""
        ...

    async def save(self, transcript: Transcript) -> None:
        """Store *transcript*, replacing an earlier one of the same recording."""
        ...


class AnalysisRepository(Protocol):
    """Analyses, one per recording and kind."""

    async def list(self, recording_id: RecordingId) -> Sequence[Analysis]:
        """The analyses of *recording_id*."""
        ...

    async def save(self, analysis: Analysis) -> None:
        """Store *analysis*, replacing an earlier one of the same recording and kind."""
        ...


class TokenRepository(Protocol):
    """Remembers refresh tokens that were used, so each works once."""

    async def use(self, jti: str, user_id: UserId, expires_at: datetime) -> bool:
        """Mark token *jti* used; ``False`` if it was used before."""
        ...


class WebhookRepository(Protocol):
    """Webhook endpoints and their deliveries."""

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Insert *endpoint*."""
        ...

    async def get(self, webhook_id: WebhookId, owner_id: UserId) -> WebhookEndpoint:
        """The owner's endpoint, or ``WebhookNotFoundError``."""
        ...

    async def list(self, owner_id: UserId) -> Sequence[WebhookEndpoint]:
        """The owner's endpoints, oldest first."""
        ...

    async def delete(self, webhook_id: WebhookId) -> None:
        """Delete the endpoint and its deliveries."""
        ...

    async def subscribed(self, owner_id: UserId, event: WebhookEvent) -> Sequence[WebhookEndpoint]:
        """The owner's active endpoints that want *event*."""
        ...

    async def add_delivery(self, delivery: WebhookDelivery) -> None:
        """Insert *delivery*."""
        ...

    async def save_delivery(self, delivery: WebhookDelivery) -> None:
        """Update *delivery* (status, attempts, next attempt)."""
        ...

    async def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int = 50,
        *,
        per_owner: int | None = None,
        per_endpoint: int | None = None,
        skip_owners: Collection[UserId] = (),
        skip_endpoints: Collection[WebhookId] = (),
    ) -> Sequence[WebhookDelivery]:
        """Pending deliveries due at *now*, oldest first; each is pushed back to
        *lease_until* so that no other sender takes it while this one sends it.

        At most *per_owner* of one owner's and *per_endpoint* of one endpoint's are
        taken (the oldest of each), none of *skip_owners*' or *skip_endpoints*': one
        user's backlog cannot fill a claim that another user's delivery waits for.
        """
        ...

    async def deliveries(
        self, webhook_id: WebhookId, limit: int = 100
    ) -> Sequence[WebhookDelivery]:
        """The endpoint's deliveries, newest first."""
        ...

    async def delivery_counts(self) -> Mapping[str, int]:
        """How many deliveries of every user there are by status (monitoring)."""
        ...


class VoiceProfileRepository(Protocol):
    """Users' voice profiles with what each recording contributed to them.

    A user's profile names are unique by :func:`elyune_core._voices.name_key` (case and
    spacing do not count). Writers call ``lock_owner`` first: a profile is read, changed
    and saved whole, so two units of work changing one user's profiles must not overlap.
    """

    async def lock_owner(self, owner_id: UserId) -> None:
        """Until this unit of work ends, no other can change *owner_id*'s profiles (every
        writer takes this lock before the recordings it changes)."""
        ...

    async def list(self, owner_id: UserId) -> Sequence[VoiceProfile]:
        """The owner's profiles with their contributions, by name."""
        ...

    async def get(self, profile_id: VoiceProfileId, owner_id: UserId) -> VoiceProfile:
        """The owner's profile, or ``VoiceProfileNotFoundError`` (also for another user's)."""
        ...

    async def find_by_name(self, owner_id: UserId, name: str) -> VoiceProfile | None:
        """The owner's profile whose name is *name* (by ``name_key``), if any."""
        ...

    async def with_recording(self, recording_id: RecordingId) -> Sequence[VoiceProfile]:
        """The profiles that *recording_id* contributed to."""
        ...

    async def add(self, profile: VoiceProfile) -> None:
        """Insert *profile* and its contributions; a taken name raises ``ConflictError``."""
        ...

    async def save(self, profile: VoiceProfile) -> None:
        """Update the name and replace the contributions of *profile*; a name another
        profile of the owner has raises ``ConflictError``."""
        ...

    async def delete(self, profile_id: VoiceProfileId) -> None:
        """Delete the profile and its contributions."""
        ...

    async def matched_recordings(
        self, owner_id: UserId, profile_id: VoiceProfileId
    ) -> Sequence[RecordingId]:
        """The owner's recordings with a speaker matched to *profile_id*."""
        ...


class SearchIndex(Protocol):
    """The full-text index of the recordings' documents (see ``elyune_core._search``).

    Writes take part in the unit of work's transaction: an index change is committed
    or rolled back with the rows it was made from.
    """

    async def replace(self, recording_id: RecordingId, documents: Sequence[SearchDocument]) -> None:
        """Make *documents* the indexed documents of *recording_id* (earlier ones go)."""
        ...

    async def remove(self, recording_id: RecordingId) -> None:
        """Drop every indexed document of *recording_id*."""
        ...

    async def search(self, query: SearchQuery) -> Page[SearchHit]:
        """The owner's documents matching *query*, best first, with the total count.

        Only documents of ``query.owner_id``'s recordings are ever returned.
        """
        ...

    async def record_usage(
        self,
        owner_id: UserId,
        recording_id: RecordingId | None,
        engine: str,
        input_tokens: int,
        output_tokens: int,
        at: datetime,
    ) -> None:
        """Remember the tokens one answer used (for usage reports)."""
        ...

    async def answer_tokens(self, since: datetime) -> Mapping[UserId, tuple[int, int]]:
        """Input and output tokens of the answers given since *since*, per user."""
        ...


class LiveUploadRepository(Protocol):
    """Live (chunked) uploads and the chunks their clients declared; a recording's rows
    go with it when it is deleted."""

    async def add(self, live: LiveUpload) -> None:
        """Insert a new live upload."""
        ...

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> LiveUpload:
        """The live upload of *recording_id* (of *owner_id* when given), else
        ``RecordingNotFoundError``."""
        ...

    async def find(self, recording_id: RecordingId) -> LiveUpload | None:
        """The live upload of *recording_id*, or ``None`` for a recording uploaded whole."""
        ...

    async def lock(self, recording_id: RecordingId) -> LiveUpload:
        """Like ``get``, holding the row until the unit of work ends."""
        ...

    async def save(self, live: LiveUpload) -> None:
        """Update a live upload."""
        ...

    async def declare(self, recording_id: RecordingId, chunks: Sequence[ChunkDeclaration]) -> None:
        """Insert or replace the declarations of *chunks* (by index)."""
        ...

    async def chunks(
        self, recording_id: RecordingId, start: int = 0
    ) -> Mapping[int, ChunkDeclaration]:
        """Every declared chunk from index *start* on, by index."""
        ...

    async def declared(
        self, recording_id: RecordingId, indexes: Collection[int]
    ) -> Mapping[int, ChunkDeclaration]:
        """The declarations of the chunks *indexes* (those that are declared), by index:
        one chunk request reads its own chunks, not the whole recording's."""
        ...

    async def declared_bytes(self, recording_id: RecordingId) -> int:
        """The sizes of every declared chunk, added up (0 for none)."""
        ...

    async def active(self, limit: int = 500) -> Sequence[LiveUpload]:
        """Live uploads whose processing is not done: still recording, or finished but
        not yet ``processed`` (the reconciler sweeps them)."""
        ...


class UnitOfWork(Protocol):
    """A transaction over the repositories; rolled back unless ``commit`` was called."""

    users: UserRepository
    recordings: RecordingRepository
    jobs: JobRepository
    transcripts: TranscriptRepository
    analyses: AnalysisRepository
    tokens: TokenRepository
    webhooks: WebhookRepository
    voice_profiles: VoiceProfileRepository
    search: SearchIndex
    live: LiveUploadRepository

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Make the changes of this unit of work durable."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# --------------------------------------------------------------------------- answers


@attrs.frozen
class AnswerRequest:
    """A question and the retrieved passages an answer may cite.

    ``problems`` and ``previous`` are set when an earlier answer's citations failed the
    checks: the answerer is asked again once, told what was wrong.
    """

    question: str
    passages: tuple[Passage, ...]
    language: str | None = None
    problems: tuple[str, ...] = ()
    previous: AnswerDraft | None = None


class Answerer(Protocol):
    """Answers a question from transcript passages, citing the segments it used."""

    name: str
    kind: AnswerKind
    #: how many passages (and characters of them) one answer may be given
    max_passages: int
    char_budget: int

    async def answer(self, request: AnswerRequest) -> AnswerDraft:
        """An answer citing passages of *request*.

        Raises ``AnswerUnavailableError`` when the engine cannot be used right now.
        """
        ...


# --------------------------------------------------------------------------- auth


@attrs.frozen
class TokenPair:
    """An access token and a refresh token."""

    access: str = attrs.field(repr=False)
    refresh: str = attrs.field(repr=False)
    access_expires_in: int
    refresh_expires_in: int


@attrs.frozen
class TokenClaims:
    """What a verified token says."""

    user_id: UserId
    jti: str
    type: str
    issued_at: datetime
    expires_at: datetime
    session: str | None = None  # the user's session stamp when the token was issued


class TokenService(Protocol):
    """Issues and verifies signed tokens (JWT)."""

    def issue(self, user_id: UserId, now: datetime, session: str = "") -> TokenPair:
        """A new access and refresh token for *user_id*, carrying its *session* stamp."""
        ...

    def verify(self, token: str, expected_type: str, now: datetime) -> TokenClaims:
        """The claims of *token*; ``InvalidTokenError`` unless it is valid, unexpired and
        of *expected_type* (``access`` or ``refresh``)."""
        ...


# --------------------------------------------------------------------------- webhooks


class WebhookSender(Protocol):
    """Sends one webhook HTTP request."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST *body* to *url* and return the status code; raise ``ServiceUnavailableError``
        for network failures and timeouts."""
        ...


class UrlGuard(Protocol):
    """Decides whether a webhook URL may be called (no loopback or private addresses)."""

    async def check(self, url: str) -> None:
        """Raise ``InvalidInputError`` (field ``url``) if *url* may not be called."""
        ...


# --------------------------------------------------------------------------- work and events


class JobQueue(Protocol):
    """Hands steps of jobs to workers (in-process, or taskiq over Redis).

    Only ``enqueue`` is required; a queue whose messages can wait (a stream read by
    workers elsewhere) also overrides ``offer``, ``taken`` and ``requeue``, and one that
    runs steps in this process overrides ``join``. The defaults suit a queue that runs
    or forgets each step at once.
    """

    async def enqueue(self, job_id: JobId, step: StepName) -> None:
        """Ask a worker to run *step* of *job_id*; delivery may repeat."""
        ...

    async def offer(self, job_id: JobId, step: StepName) -> bool:
        """Queue *step* unless a message for it is still waiting; whether one was sent."""
        await self.enqueue(job_id, step)
        return True

    async def taken(self, job_id: JobId, step: StepName) -> None:
        """A worker took the message of *step*: a new one may be queued once its claim
        is visible."""
        return

    async def requeue(self, job_id: JobId, step: StepName) -> None:
        """Queue *step* again at once (a worker handed it back)."""
        await self.enqueue(job_id, step)

    async def join(self) -> None:
        """Wait until the steps this process runs, and those they queue, are recorded
        (nothing to wait for when workers elsewhere run them)."""
        return


class LiveQueue(Protocol):
    """Asks a worker to advance a live recording's processing (``AdvanceLiveRecording``).

    Kicks may repeat or be lost: the work is leased in the database, and the reconciler
    kicks every live recording whose lease has expired."""

    async def kick(self, recording_id: RecordingId) -> None:
        """Ask for *recording_id*'s live processing to catch up."""
        ...


@attrs.frozen
class QueueConsumer:
    """A worker the queue knows: its name, seconds since it last asked for work (``None``
    when unknown) and how many of its messages are not yet acknowledged."""

    name: str
    idle_seconds: float | None
    pending: int


@attrs.frozen
class QueueStats:
    """The depth of a job queue: steps waiting for a worker, steps taken but not yet
    finished, and the workers reading it."""

    backend: str
    waiting: int
    running: int
    consumers: tuple[QueueConsumer, ...] = ()


class QueueMonitor(Protocol):
    """Tells how deep a job queue is and who reads it (the operator view, ``/metrics``)."""

    async def stats(self) -> QueueStats:
        """The queue's current depth; ``QueueUnavailableError`` when it cannot be asked."""
        ...


@attrs.frozen
class RecordingEvent:
    """Something that happened to a recording, for live progress and webhooks.

    ``type`` is one of ``recording.uploaded``, ``step.updated``, ``transcript.ready``,
    ``analysis.ready``, ``processing.completed``, ``processing.failed``.
    """

    type: str
    recording_id: RecordingId
    owner_id: UserId
    occurred_at: datetime
    data: Mapping[str, object] = attrs.field(factory=dict)


class EventPublisher(Protocol):
    """Publishes recording events; never raises for a subscriber's failure."""

    async def publish(self, event: RecordingEvent) -> None:
        """Publish *event*."""
        ...


__all__ = [
    "STEP_DURATION_BUCKETS",
    "AnalysisOutcome",
    "AnalysisRepository",
    "AnalysisRequest",
    "Analyzer",
    "AnswerRequest",
    "Answerer",
    "Clock",
    "DeletedObjects",
    "EventPublisher",
    "IdSource",
    "JobQuery",
    "JobQueue",
    "JobRepository",
    "JobStatistics",
    "ObjectInfo",
    "ObjectStore",
    "Page",
    "PasswordHasher",
    "PresignedPost",
    "ProgressCallback",
    "QueueConsumer",
    "QueueMonitor",
    "QueueStats",
    "RecordingEvent",
    "RecordingQuery",
    "RecordingRepository",
    "SearchIndex",
    "StepDurations",
    "TokenClaims",
    "TokenPair",
    "TokenRepository",
    "TokenService",
    "Transcoder",
    "Transcriber",
    "TranscriptRepository",
    "TranscriptionRequest",
    "TranscriptionResult",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UrlGuard",
    "UserRepository",
    "VoiceProfileRepository",
    "WebhookRepository",
    "WebhookSender",
    "WorkerActivity",
    "Workspace",
]
