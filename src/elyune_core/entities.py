"""Entities and value objects of Elyune.

All of them are frozen attrs classes: a state change returns a new object
(``attrs.evolve``). Time and new ids are passed in, never read here, so behaviour is
deterministic under test. Serialization lives at the edges: the stored forms in
:mod:`elyune_adapters.sql.columns`, the JSON the API and CLI print in
:mod:`elyune_http.present`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

import attrs

from elyune_core.ids import DeliveryId, JobId, RecordingId, UserId, VoiceProfileId, WebhookId

# --------------------------------------------------------------------------- users


@attrs.frozen
class User:
    """A person who owns recordings; ``password_hash`` comes from a ``PasswordHasher``.

    An inactive user cannot log in (and its tokens stop working); a staff user
    (``is_staff``) may also use the operator view: every job, the queue and the users.
    """

    id: UserId
    username: str
    password_hash: str
    created_at: datetime
    is_active: bool = True
    #: whether named speakers' voices are kept as profiles and matched in new recordings
    voice_profiles: bool = True
    is_staff: bool = False

    def with_password_hash(self, password_hash: str) -> User:
        """Return the user with a new password hash."""
        return attrs.evolve(self, password_hash=password_hash)

    def with_voice_profiles(self, enabled: bool) -> User:
        """Return the user with voice profiles turned on or off."""
        return attrs.evolve(self, voice_profiles=enabled)

    def with_flags(self, *, is_active: bool | None = None, is_staff: bool | None = None) -> User:
        """Return the user activated or deactivated, made staff or not (``None``: kept)."""
        return attrs.evolve(
            self,
            is_active=self.is_active if is_active is None else is_active,
            is_staff=self.is_staff if is_staff is None else is_staff,
        )

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
    ``speaker_matches`` holds the labels whose name in ``speaker_names`` came from a voice
    profile, not from the user: a label in ``speaker_names`` but not here was named by
    hand, and a match never replaces such a name.
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
    speaker_matches: Mapping[str, SpeakerMatch] = attrs.field(factory=dict)

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
        """Return the recording with speaker labels renamed by hand; an empty name removes
        one. A label named (or unnamed) by hand is no longer a profile's match."""
        merged = dict(self.speaker_names)
        matches = dict(self.speaker_matches)
        for label, name in names.items():
            matches.pop(label, None)
            if name:
                merged[label] = name
            else:
                merged.pop(label, None)
        return attrs.evolve(self, speaker_names=merged, speaker_matches=matches, updated_at=now)

    @property
    def manual_speaker_names(self) -> Mapping[str, str]:
        """The names the user gave by hand (not from a voice profile)."""
        return {k: v for k, v in self.speaker_names.items() if k not in self.speaker_matches}

    def with_speaker_matches(self, matches: Mapping[str, SpeakerMatch], now: datetime) -> Recording:
        """Return the recording with every earlier profile match replaced by *matches*;
        labels named by hand keep their names (a match for one is ignored)."""
        manual = self.manual_speaker_names
        kept = {k: m for k, m in matches.items() if k not in manual}
        if kept == dict(self.speaker_matches):
            return self
        names = {**{k: m.name for k, m in kept.items()}, **manual}
        return attrs.evolve(self, speaker_names=names, speaker_matches=kept, updated_at=now)

    def without_profile(self, profile_id: VoiceProfileId, now: datetime) -> Recording:
        """Return the recording without the matches of the profile *profile_id*."""
        matches = {k: m for k, m in self.speaker_matches.items() if m.profile_id != profile_id}
        return self.with_speaker_matches(matches, now)

    def with_profile_renamed(
        self, profile_id: VoiceProfileId, name: str, labels: Collection[str], now: datetime
    ) -> Recording:
        """Return the recording with profile *profile_id* now called *name*: its matches
        take the name, and so do the speakers *labels* named by hand that the profile
        learned from."""
        matches = {
            k: attrs.evolve(m, name=name) if m.profile_id == profile_id else m
            for k, m in self.speaker_matches.items()
        }
        names = dict(self.speaker_names)
        for label in [*labels, *(k for k, m in matches.items() if m.profile_id == profile_id)]:
            if label in names:
                names[label] = name
        return attrs.evolve(self, speaker_names=names, speaker_matches=matches, updated_at=now)

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

    def stuck(self, now: datetime) -> bool:
        """Whether the step is running on a lease that ran out: its worker is gone, or
        its progress stopped moving (a lease is renewed only while progress moves)."""
        return self.status is StepStatus.RUNNING and self.lease_expired(now)

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
    #: the recording was transcribed stretch by stretch while it was uploaded live: its
    #: transcript (labelling the stretches' speakers) needs the probe, not the WAV
    from_stretches: bool = False

    def step(self, name: StepName) -> Step:
        """Return the step called *name*."""
        for step in self.steps:
            if step.name is name:
                return step
        raise KeyError(name)

    def stuck(self, now: datetime) -> bool:
        """Whether a step of the job is stuck (see :meth:`Step.stuck`)."""
        return any(step.stuck(now) for step in self.steps)

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
class SpeakerMatch:
    """A speaker of a recording recognised as the voice of a profile.

    ``similarity`` is the cosine similarity of the speaker's voice to the profile's;
    ``confidence`` (0 to 1) is how likely that is the same person (calibrated on
    generated voices, see :mod:`elyune_core._voices`).
    """

    profile_id: VoiceProfileId
    name: str
    similarity: float
    confidence: float


@attrs.frozen
class VoiceContribution:
    """What one named speaker of one recording gave a voice profile."""

    recording_id: RecordingId
    label: str
    embedding: tuple[float, ...]
    seconds: float


@attrs.frozen
class VoiceProfile:
    """A user's named voice, learned from the speakers they named with its ``name``.

    Its ``embedding`` is the seconds-weighted, L2-normed mean of its contributions'
    embeddings: deleting a recording removes what it gave, and a profile with no
    contribution left is deleted.
    """

    id: VoiceProfileId
    owner_id: UserId
    name: str
    created_at: datetime
    updated_at: datetime
    contributions: tuple[VoiceContribution, ...] = ()

    @classmethod
    def new(
        cls, profile_id: VoiceProfileId, owner_id: UserId, name: str, now: datetime
    ) -> VoiceProfile:
        """A profile called *name* with nothing learned yet."""
        return cls(id=profile_id, owner_id=owner_id, name=name, created_at=now, updated_at=now)

    @property
    def seconds(self) -> float:
        """Seconds of speech the profile was built from."""
        return round(sum(c.seconds for c in self.contributions), 2)

    @property
    def embedding(self) -> tuple[float, ...]:
        """The seconds-weighted, L2-normed mean embedding (empty without contributions)."""
        parts = [c for c in self.contributions if c.seconds > 0 and c.embedding]
        if not parts:
            return ()
        size = len(parts[0].embedding)
        total = [0.0] * size
        for part in parts:
            if len(part.embedding) != size:
                continue
            for index, value in enumerate(part.embedding):
                total[index] += value * part.seconds
        norm = sum(v * v for v in total) ** 0.5
        return tuple(v / norm for v in total) if norm > 0 else ()

    @property
    def recording_ids(self) -> tuple[RecordingId, ...]:
        """The recordings that contributed, in order of contribution."""
        return tuple(dict.fromkeys(c.recording_id for c in self.contributions))

    @property
    def is_empty(self) -> bool:
        """Whether nothing is left to build the profile from."""
        return not self.contributions

    def has(self, recording_id: RecordingId, label: str) -> bool:
        """Whether speaker *label* of *recording_id* contributed."""
        return any(c.recording_id == recording_id and c.label == label for c in self.contributions)

    def with_contribution(self, contribution: VoiceContribution, now: datetime) -> VoiceProfile:
        """Return the profile with *contribution*, replacing an earlier one of the same
        recording and speaker."""
        kept = tuple(
            c
            for c in self.contributions
            if (c.recording_id, c.label) != (contribution.recording_id, contribution.label)
        )
        return attrs.evolve(self, contributions=(*kept, contribution), updated_at=now)

    def without(self, recording_id: RecordingId, label: str | None, now: datetime) -> VoiceProfile:
        """Return the profile without what *recording_id* gave (only speaker *label*'s,
        when given)."""
        kept = tuple(
            c
            for c in self.contributions
            if c.recording_id != recording_id or (label is not None and c.label != label)
        )
        if kept == self.contributions:
            return self
        return attrs.evolve(self, contributions=kept, updated_at=now)

    def renamed(self, name: str, now: datetime) -> VoiceProfile:
        """Return the profile called *name*."""
        return attrs.evolve(self, name=name, updated_at=now)


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
    #: how far the processing of a live recording has caught up while it is recorded
    LIVE_PROGRESS = "live.progress"


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
    "SpeakerMatch",
    "SpeakerSentiment",
    "SpeakerVoice",
    "Step",
    "StepName",
    "StepStatus",
    "StoredFile",
    "Summary",
    "Transcript",
    "User",
    "VoiceContribution",
    "VoiceProfile",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Word",
    "content_type_for",
    "iso_time",
    "speaker_display",
]


# --------------------------------------------------------------------------- live uploads


class LiveState(StrEnum):
    """Where a live (chunked) upload is: still recording, finished by the client with
    every chunk present, or finished automatically after a silence (``abandoned``)."""

    RECORDING = "recording"
    FINISHED = "finished"
    ABANDONED = "abandoned"


@attrs.frozen
class ChunkDeclaration:
    """A chunk of a live upload as the client declared it before sending its bytes.

    ``md5`` is the base64 MD5 of the chunk's bytes (the ``Content-MD5`` header the store
    checks); the stored object must have exactly ``size`` bytes with that digest.
    """

    index: int
    size: int
    md5: str
    declared_at: datetime


@attrs.frozen
class LiveUpload:
    """A recording uploaded while it is recorded, one chunk at a time.

    The chunks are pieces of one stream in index order (only chunk 0 carries the WebM
    header). ``expected_chunks`` is the count the client gave when it finished (or the
    count of contiguous chunks an abandoned upload was finalized with). ``cursor`` is the
    live processor's progress (JSON, opaque to everything else: see
    :mod:`elyune_core.use_cases.live_processing`); ``lease_owner``/``lease_until`` say which
    worker advances it now; ``version`` grows with each save. ``last_chunk_at`` is the
    last time a chunk was declared (the idle timeout counts from it); ``note`` tells
    a user how it ended when that was not their doing.
    """

    recording_id: RecordingId
    owner_id: UserId
    state: LiveState
    created_at: datetime
    updated_at: datetime
    last_chunk_at: datetime
    expected_chunks: int | None = None
    finished_at: datetime | None = None
    cursor: Mapping[str, Any] = attrs.field(factory=dict)
    lease_owner: str | None = None
    lease_until: datetime | None = None
    version: int = 0
    note: str | None = None
    #: the live processing is over: the recording's job took over
    processed: bool = False

    def leased(self, now: datetime) -> bool:
        """Whether a worker holds an unexpired lease on it."""
        return self.lease_until is not None and self.lease_until > now
