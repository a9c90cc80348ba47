"""Entities and value objects of Elyune.

All of them are frozen attrs classes: a state change returns a new object
(``attrs.evolve``). Time and new ids are passed in, never read here, so behaviour is
deterministic under test. Serialization lives at the edges: the stored forms in
:mod:`elyune_adapters.sql.columns`, the JSON the API and CLI print in
:mod:`elyune_http.present`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

import attrs

from elyune_core.ids import DeliveryId, JobId, RecordingId, UserId, WebhookId

# --------------------------------------------------------------------------- users


@attrs.frozen
class User:
    """A person who owns recordings; ``password_hash`` comes from a ``PasswordHasher``."""

    id: UserId
    username: str
    password_hash: str
    created_at: datetime
    is_active: bool = True

    def with_password_hash(self, password_hash: str) -> User:
        """Return the user with a new password hash."""
        return attrs.evolve(self, password_hash=password_hash)

    @property
    def session_stamp(self) -> str:
        """What every token of the user carries: it changes with the password, so a new
        password ends every session (refresh and access tokens) issued before it."""
        digest = hashlib.sha256(f"elyune-session:{self.password_hash}".encode())
        return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- media


@attrs.frozen
class MediaInfo:
    """What ``probe`` learned about a media file; ``duration`` is decoded, not trusted."""

    duration: float
    format_name: str
    has_video: bool
    has_audio: bool
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    size: int | None = None


@attrs.frozen
class ImageInfo:
    """Pixel size of a produced image."""

    width: int
    height: int


class FileKind(StrEnum):
    """The stored files of a recording."""

    SOURCE = "source"
    VIDEO = "video"
    AUDIO = "audio"
    THUMBNAIL = "thumbnail"


@attrs.frozen
class StoredFile:
    """One object of a recording in the object store."""

    kind: FileKind
    key: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None


# --------------------------------------------------------------------------- recordings


class RecordingStatus(StrEnum):
    """Life cycle of a recording; it follows its processing job once uploaded."""

    AWAITING_UPLOAD = "awaiting_upload"
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


@attrs.frozen
class Recording:
    """A screen recording and everything stored for it.

    ``file_size`` is the size the uploader declared; the stored source must match it.
    ``speaker_names`` maps a transcript's speaker labels (``"0"``) to names.
    ``num_speakers``/``max_speakers`` are the user's hints for the diarization (exactly
    this many speakers / at most this many).
    """

    id: RecordingId
    owner_id: UserId
    title: str
    filename: str
    source_key: str
    status: RecordingStatus
    created_at: datetime
    updated_at: datetime
    file_size: int = 0
    description: str = ""
    quality: str | None = None
    fps: int | None = None
    has_system_audio: bool = False
    has_microphone: bool = False
    language: str | None = None
    media: MediaInfo | None = None
    files: tuple[StoredFile, ...] = ()
    error: str | None = None
    speaker_names: Mapping[str, str] = attrs.field(factory=dict)
    num_speakers: int | None = None
    max_speakers: int | None = None

    @classmethod
    def awaiting_upload(
        cls,
        recording_id: RecordingId,
        owner_id: UserId,
        filename: str,
        source_key: str,
        now: datetime,
        *,
        title: str | None = None,
        **fields: Any,
    ) -> Recording:
        """A new recording whose file is still to be uploaded; the title defaults to the
        file name without its extension."""
        title = (title or filename.rsplit(".", 1)[0] or "Recording")[:200]
        return cls(
            id=recording_id,
            owner_id=owner_id,
            title=title,
            filename=filename,
            source_key=source_key,
            status=RecordingStatus.AWAITING_UPLOAD,
            created_at=now,
            updated_at=now,
            **fields,
        )

    @property
    def duration(self) -> float | None:
        """Decoded duration in seconds, once probed."""
        return self.media.duration if self.media else None

    def file(self, kind: FileKind) -> StoredFile | None:
        """Return the stored file of *kind*, if there is one."""
        return next((f for f in self.files if f.kind is kind), None)

    def with_file(self, stored: StoredFile, now: datetime) -> Recording:
        """Return the recording with *stored* added, replacing a file of the same kind."""
        files = (*tuple(f for f in self.files if f.kind is not stored.kind), stored)
        return attrs.evolve(self, files=files, updated_at=now)

    def with_media(self, media: MediaInfo, now: datetime) -> Recording:
        """Return the recording with probe results."""
        return attrs.evolve(self, media=media, updated_at=now)

    def mark_uploaded(self, size: int, now: datetime) -> Recording:
        """The source object is stored with *size* bytes."""
        source = StoredFile(FileKind.SOURCE, self.source_key, size, content_type_for(self.filename))
        return attrs.evolve(
            self.with_file(source, now), status=RecordingStatus.UPLOADED, error=None
        )

    def follow_job(self, job: Job, now: datetime) -> Recording:
        """Return the recording with the status (and failure reason) of *job*: a
        ``partial`` job leaves it ``ready`` with the reason of what failed in ``error``."""
        status = {
            JobStatus.PENDING: RecordingStatus.UPLOADED,
            JobStatus.RUNNING: RecordingStatus.PROCESSING,
            JobStatus.SUCCEEDED: RecordingStatus.READY,
            JobStatus.PARTIAL: RecordingStatus.READY,
            JobStatus.FAILED: RecordingStatus.FAILED,
        }[job.status]
        error = job.error if job.status in (JobStatus.FAILED, JobStatus.PARTIAL) else None
        if status is self.status and error == self.error:
            return self
        return attrs.evolve(self, status=status, error=error, updated_at=now)

    def edit(
        self,
        now: datetime,
        *,
        title: str | None = None,
        description: str | None = None,
        language: str | None = None,
        clear_language: bool = False,
        speakers: Mapping[str, int | None] | None = None,
    ) -> Recording:
        """Return the recording with the user-editable fields changed.

        *speakers* sets the hints it names (``num_speakers``, ``max_speakers``); ``None``
        as a value clears one.
        """
        hints = dict(speakers or {})
        return attrs.evolve(
            self,
            title=self.title if title is None else title,
            description=self.description if description is None else description,
            language=None if clear_language else (language or self.language),
            num_speakers=hints.get("num_speakers", self.num_speakers),
            max_speakers=hints.get("max_speakers", self.max_speakers),
            updated_at=now,
        )

    def with_speaker_names(self, names: Mapping[str, str], now: datetime) -> Recording:
        """Return the recording with speaker labels renamed; an empty name removes one."""
        merged = dict(self.speaker_names)
        for label, name in names.items():
            if name:
                merged[label] = name
            else:
                merged.pop(label, None)
        return attrs.evolve(self, speaker_names=merged, updated_at=now)

    def speaker_name(self, label: str | None) -> str | None:
        """Display name of speaker *label*: its given name, else ``Speaker <label>``."""
        return None if label is None else speaker_display(label, self.speaker_names)


def speaker_display(label: str, names: Mapping[str, str]) -> str:
    """How speaker *label* is shown: the name given in *names*, else ``Speaker <label>``."""
    return names.get(label) or f"Speaker {label}"


def iso_time(moment: datetime | None) -> str | None:
    """*moment* in ISO 8601 with ``Z`` for UTC (how every time is written out)."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def content_type_for(filename: str) -> str:
    """The media type of a recording's file, from its extension."""
    lower = filename.lower()
    for suffix, ctype in (
        (".webm", "video/webm"),
        (".mp4", "video/mp4"),
        (".mkv", "video/x-matroska"),
        (".mov", "video/quicktime"),
        (".ogg", "audio/ogg"),
        (".wav", "audio/wav"),
        (".mp3", "audio/mpeg"),
        (".m4a", "audio/mp4"),
    ):
        if lower.endswith(suffix):
            return ctype
    return "application/octet-stream"


# --------------------------------------------------------------------------- jobs


class StepName(StrEnum):
    """The steps of a processing job, in a valid execution order."""

    PROBE = "probe"
    TRANSCODE = "transcode"
    EXTRACT_AUDIO = "extract_audio"
    THUMBNAIL = "thumbnail"
    TRANSCRIBE = "transcribe"
    ANALYZE = "analyze"


class StepStatus(StrEnum):
    """Status of one step."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def done(self) -> bool:
        """Whether the step will not run again without a retry."""
        return self in (StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.FAILED)


class JobStatus(StrEnum):
    """Status of a whole job, derived from its steps."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Finished with the transcript and analyses stored, but the MP4 or the thumbnail
    #: failed: the recording is usable (``ready``) and a retry re-runs only what failed.
    PARTIAL = "partial"

    @property
    def finished(self) -> bool:
        """Whether the job will not run again without a retry."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.PARTIAL)


@attrs.frozen
class Step:
    """One idempotent step of a job.

    A running step is leased by ``worker`` until ``lease_expires_at``; an expired lease
    may be taken over by another worker. A pending step with ``retry_at`` waits until
    then (a storage or database outage); ``outage_since`` is when that outage was first
    met, which bounds how long it is waited out.
    """

    name: StepName
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    output: Mapping[str, object] = attrs.field(factory=dict)
    worker: str | None = None
    lease_expires_at: datetime | None = None
    progress: float | None = None
    retry_at: datetime | None = None
    outage_since: datetime | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish of the last attempt."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def lease_expired(self, now: datetime) -> bool:
        """Whether a running step's lease has run out."""
        return self.lease_expires_at is None or self.lease_expires_at <= now

    def claim(self, worker: str, now: datetime, lease_until: datetime) -> Step:
        """Start an attempt of this step for *worker*."""
        return attrs.evolve(
            self,
            status=StepStatus.RUNNING,
            attempts=self.attempts + 1,
            started_at=now,
            finished_at=None,
            error=None,
            worker=worker,
            lease_expires_at=lease_until,
            progress=0.0,
            retry_at=None,
        )

    def renew(self, lease_until: datetime, progress: float | None = None) -> Step:
        """Extend the lease (and record progress) of a running step."""
        return attrs.evolve(
            self,
            lease_expires_at=lease_until,
            progress=self.progress if progress is None else progress,
        )

    def succeed(self, now: datetime, output: Mapping[str, object]) -> Step:
        """Finish the step with *output*."""
        return attrs.evolve(
            self,
            status=StepStatus.SUCCEEDED,
            finished_at=now,
            output=dict(output),
            error=None,
            lease_expires_at=None,
            progress=1.0,
            retry_at=None,
            outage_since=None,
        )

    def fail(self, now: datetime, reason: str) -> Step:
        """Finish the step as failed with a readable *reason*."""
        return attrs.evolve(
            self,
            status=StepStatus.FAILED,
            finished_at=now,
            error=reason,
            lease_expires_at=None,
            retry_at=None,
        )

    def release(self, reason: str, *, refund: bool = False) -> Step:
        """Give the step back to the queue after a transient failure; with *refund* (a
        worker that stopped on purpose) the attempt does not count."""
        return attrs.evolve(
            self,
            status=StepStatus.PENDING,
            error=reason,
            worker=None,
            lease_expires_at=None,
            attempts=max(self.attempts - 1, 0) if refund else self.attempts,
        )

    def wait_out(self, reason: str, now: datetime, until: datetime) -> Step:
        """Give the step back until *until* after a storage or database outage; the
        attempt does not count, and the outage's start is kept."""
        return attrs.evolve(
            self.release(reason, refund=True),
            retry_at=until,
            outage_since=self.outage_since or now,
        )

    def waiting(self, now: datetime) -> bool:
        """Whether a pending step still waits for its ``retry_at``."""
        return self.retry_at is not None and self.retry_at > now

    def skip(self, now: datetime, reason: str) -> Step:
        """Mark the step as not applicable (no audio track, no speech)."""
        return attrs.evolve(
            self,
            status=StepStatus.SKIPPED,
            finished_at=now,
            error=None,
            output={"reason": reason},
            worker=None,
            lease_expires_at=None,
        )

    def reset(self) -> Step:
        """Make a failed step pending again, with a fresh attempt budget."""
        return Step(name=self.name)


@attrs.frozen
class Job:
    """The processing job of a recording: its steps and their statuses."""

    id: JobId
    recording_id: RecordingId
    created_at: datetime
    steps: tuple[Step, ...]
    status: JobStatus = JobStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    def step(self, name: StepName) -> Step:
        """Return the step called *name*."""
        for step in self.steps:
            if step.name is name:
                return step
        raise KeyError(name)

    def with_step(self, step: Step) -> Job:
        """Return the job with *step* replacing the step of the same name."""
        return attrs.evolve(
            self, steps=tuple(step if s.name is step.name else s for s in self.steps)
        )


# --------------------------------------------------------------------------- transcripts


@attrs.frozen
class Word:
    """One recognised word with its timing (seconds from the start of the recording)."""

    text: str
    start: float
    end: float
    confidence: float | None = None
    speaker: str | None = None
    punctuated: str | None = None
    #: How sure the diarizer is of ``speaker`` (Deepgram's ``speaker_confidence``).
    speaker_confidence: float | None = None


@attrs.frozen
class Segment:
    """A stretch of speech by one speaker (an utterance or a sentence group)."""

    id: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    confidence: float | None = None


@attrs.frozen
class SpeakerVoice:
    """The voice of one speaker of a recording: its mean embedding and the speech behind it.

    ``embedding`` is an L2-normed speaker embedding (256 floats from the voice encoder);
    ``seconds`` is how much speech it was computed from.
    """

    label: str
    embedding: tuple[float, ...]
    seconds: float


@attrs.frozen
class Transcript:
    """The speech of a recording as text, segments and words.

    ``engine`` names what produced it (``whisper:base``, ``deepgram:nova-3``).
    ``audio_seconds`` is the audio the engine processed (what a paid engine bills).
    """

    recording_id: RecordingId
    text: str
    language: str | None
    segments: tuple[Segment, ...]
    words: tuple[Word, ...]
    engine: str
    created_at: datetime
    language_confidence: float | None = None
    duration: float | None = None
    speaker_count: int | None = None
    request_id: str | None = None
    audio_seconds: float | None = None
    #: each speaker's voice (mean speaker embedding), when it was computed
    voices: tuple[SpeakerVoice, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether no speech was recognised."""
        return not self.text.strip()

    @property
    def speakers(self) -> tuple[str, ...]:
        """Speaker labels in order of first appearance."""
        seen: dict[str, None] = {}
        for segment in self.segments:
            if segment.speaker is not None:
                seen.setdefault(segment.speaker, None)
        return tuple(seen)

    def segment_at(self, seconds: float) -> Segment | None:
        """The segment that contains *seconds*, or the nearest one before it."""
        best: Segment | None = None
        for segment in self.segments:
            if segment.start <= seconds + 1e-6:
                best = segment
            else:
                break
        return best


# --------------------------------------------------------------------------- analyses


class AnalysisKind(StrEnum):
    """The four analyses of a transcript."""

    SUMMARY = "summary"
    ACTION_ITEMS = "action_items"
    KEY_POINTS = "key_points"
    SENTIMENT = "sentiment"


class AnalysisStatus(StrEnum):
    """Status of one analysis."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class SentimentLabel(StrEnum):
    """The fixed set of sentiment labels."""

    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    MIXED = "mixed"


@attrs.frozen
class Summary:
    """A short title and a paragraph."""

    title: str
    text: str


@attrs.frozen
class ActionItem:
    """Something someone committed to, with where it was said."""

    text: str
    timestamp: float | None = None
    segment_id: int | None = None
    speaker: str | None = None
    owner: str | None = None
    due: str | None = None


@attrs.frozen
class ActionItems:
    """The action items of a recording."""

    items: tuple[ActionItem, ...] = ()


@attrs.frozen
class KeyPoint:
    """A main point, with where it was said."""

    text: str
    timestamp: float | None = None
    segment_id: int | None = None


@attrs.frozen
class KeyPoints:
    """The key points of a recording."""

    items: tuple[KeyPoint, ...] = ()


@attrs.frozen
class SpeakerSentiment:
    """The tone of one speaker."""

    speaker: str
    label: SentimentLabel
    score: float


@attrs.frozen
class Sentiment:
    """Overall tone (score in [-1, 1]) and the tone of each speaker."""

    label: SentimentLabel
    score: float
    speakers: tuple[SpeakerSentiment, ...] = ()
    explanation: str = ""


AnalysisContent: TypeAlias = Summary | ActionItems | KeyPoints | Sentiment


@attrs.frozen
class Analysis:
    """One of the four analyses of a recording, stored and re-run on its own."""

    recording_id: RecordingId
    kind: AnalysisKind
    status: AnalysisStatus
    engine: str
    created_at: datetime
    updated_at: datetime
    content: AnalysisContent | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


# --------------------------------------------------------------------------- webhooks


class WebhookEvent(StrEnum):
    """Events a webhook endpoint can subscribe to."""

    RECORDING_UPLOADED = "recording.uploaded"
    TRANSCRIPT_READY = "transcript.ready"
    ANALYSIS_READY = "analysis.ready"
    PROCESSING_COMPLETED = "processing.completed"
    PROCESSING_FAILED = "processing.failed"


@attrs.frozen
class WebhookEndpoint:
    """A URL of a user's that receives signed JSON deliveries of the chosen events."""

    id: WebhookId
    owner_id: UserId
    url: str
    events: tuple[WebhookEvent, ...]
    secret: str = attrs.field(repr=False)
    created_at: datetime
    description: str = ""
    is_active: bool = True


class DeliveryStatus(StrEnum):
    """Status of one webhook delivery."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen
class DeliveryAttempt:
    """One HTTP attempt of a delivery: the response status or the error."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@attrs.frozen
class WebhookDelivery:
    """One event sent (or to be sent) to one endpoint, with every attempt."""

    id: DeliveryId
    endpoint_id: WebhookId
    owner_id: UserId
    event: WebhookEvent
    payload: Mapping[str, object]
    created_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: tuple[DeliveryAttempt, ...] = ()
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None

    def record(self, attempt: DeliveryAttempt, retry_at: datetime | None) -> WebhookDelivery:
        """Add *attempt*; a 2xx succeeds, else retry at *retry_at* or fail for good."""
        ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
        if ok:
            status, next_at, delivered = DeliveryStatus.SUCCEEDED, None, attempt.at
        elif retry_at is not None:
            status, next_at, delivered = DeliveryStatus.PENDING, retry_at, None
        else:
            status, next_at, delivered = DeliveryStatus.FAILED, None, None
        return attrs.evolve(
            self,
            attempts=(*self.attempts, attempt),
            status=status,
            next_attempt_at=next_at,
            delivered_at=delivered,
        )


__all__ = [
    "ActionItem",
    "ActionItems",
    "Analysis",
    "AnalysisContent",
    "AnalysisKind",
    "AnalysisStatus",
    "DeliveryAttempt",
    "DeliveryStatus",
    "FileKind",
    "ImageInfo",
    "Job",
    "JobStatus",
    "KeyPoint",
    "KeyPoints",
    "MediaInfo",
    "Recording",
    "RecordingStatus",
    "Segment",
    "Sentiment",
    "SentimentLabel",
    "SpeakerSentiment",
    "SpeakerVoice",
    "Step",
    "StepName",
    "StepStatus",
    "StoredFile",
    "Summary",
    "Transcript",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Word",
    "content_type_for",
    "iso_time",
    "speaker_display",
]
