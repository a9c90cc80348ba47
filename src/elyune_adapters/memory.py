"""In-memory fakes of every port, for tests and for trying the core as a library.

They behave like the real adapters where it matters (a unit of work commits or rolls
back; job locks serialise writers; keys are checked) and record what was asked of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import re
import tempfile
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import attrs

from elyune_core import (
    AnswerDraft,
    AnswerKind,
    SearchDocument,
    SearchHit,
    SearchQuery,
    Snippet,
    check_key,
    name_key,
)
from elyune_core.entities import (
    ActionItem,
    ActionItems,
    Analysis,
    AnalysisContent,
    AnalysisKind,
    ChunkDeclaration,
    DeliveryStatus,
    ImageInfo,
    Job,
    JobStatus,
    KeyPoint,
    KeyPoints,
    LiveState,
    LiveUpload,
    MediaInfo,
    Recording,
    Segment,
    Sentiment,
    SentimentLabel,
    StepName,
    StepStatus,
    Summary,
    Transcript,
    User,
    VoiceProfile,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    Word,
)
from elyune_core.errors import (
    ConflictError,
    ElyuneError,
    InvalidMediaError,
    JobNotFoundError,
    ObjectChangedError,
    ObjectNotFoundError,
    RecordingNotFoundError,
    UserNotFoundError,
    VoiceProfileNotFoundError,
    WebhookNotFoundError,
)
from elyune_core.ids import DeliveryId, JobId, RecordingId, UserId, VoiceProfileId, WebhookId
from elyune_core.ports import (
    STEP_DURATION_BUCKETS,
    AnalysisOutcome,
    AnalysisRepository,
    AnalysisRequest,
    Analyzer,
    Answerer,
    AnswerRequest,
    Clock,
    DeletedObjects,
    EventPublisher,
    IdSource,
    JobQuery,
    JobQueue,
    JobRepository,
    JobStatistics,
    LiveUploadRepository,
    ObjectInfo,
    ObjectStore,
    Page,
    PasswordHasher,
    PresignedPost,
    ProgressCallback,
    QueueConsumer,
    QueueMonitor,
    QueueStats,
    RecordingEvent,
    RecordingQuery,
    RecordingRepository,
    SearchIndex,
    StepDurations,
    TokenRepository,
    Transcoder,
    Transcriber,
    TranscriptionRequest,
    TranscriptionResult,
    TranscriptRepository,
    UnitOfWork,
    UserRepository,
    VoiceProfileRepository,
    WebhookRepository,
    WorkerActivity,
)

# --------------------------------------------------------------------------- basics


class FixedClock(Clock):
    """A clock that only moves when told to (``advance``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.current += timedelta(seconds=seconds)


class SequentialIds(IdSource):
    """Ids ``id-1``, ``id-2``, ..."""

    def __init__(self, prefix: str = "id") -> None:
        self._counter = itertools.count(1)
        self._prefix = prefix

    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"


class PlainPasswordHasher(PasswordHasher):
    """A reversible 'hash' for tests only: fast and obviously fake."""

    def hash(self, password: str) -> str:
        return f"plain${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == f"plain${password}"


# --------------------------------------------------------------------------- persistence


@attrs.define
class InMemoryState:
    """The 'database' shared by the in-memory units of work.

    ``failing_commits`` holds errors that successive commits raise (a database blip).
    """

    users: dict[UserId, User] = attrs.field(factory=dict)
    recordings: dict[RecordingId, Recording] = attrs.field(factory=dict)
    jobs: dict[JobId, Job] = attrs.field(factory=dict)
    transcripts: dict[RecordingId, Transcript] = attrs.field(factory=dict)
    analyses: dict[tuple[RecordingId, AnalysisKind], Analysis] = attrs.field(factory=dict)
    used_tokens: dict[str, datetime] = attrs.field(factory=dict)
    webhooks: dict[WebhookId, WebhookEndpoint] = attrs.field(factory=dict)
    deliveries: dict[DeliveryId, WebhookDelivery] = attrs.field(factory=dict)
    voice_profiles: dict[VoiceProfileId, VoiceProfile] = attrs.field(factory=dict)
    search_docs: dict[RecordingId, tuple[SearchDocument, ...]] = attrs.field(factory=dict)
    live_uploads: dict[RecordingId, LiveUpload] = attrs.field(factory=dict)
    live_chunks: dict[tuple[RecordingId, int], ChunkDeclaration] = attrs.field(factory=dict)
    answer_usage: list[tuple[UserId, RecordingId | None, str, int, int, datetime]] = attrs.field(
        factory=list
    )
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    commits: int = 0
    failing_commits: list[ElyuneError] = attrs.field(factory=list)


class _Users(UserRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def add(self, user: User) -> None:
        if any(u.username == user.username for u in self._s.users.values()):
            raise ConflictError(f"A user called {user.username!r} already exists.")
        self._s.users[user.id] = user

    async def get(self, user_id: UserId) -> User:
        try:
            return self._s.users[user_id]
        except KeyError:
            raise UserNotFoundError("No such user.") from None

    async def get_by_username(self, username: str) -> User | None:
        return next((u for u in self._s.users.values() if u.username == username), None)

    async def list(self) -> Sequence[User]:
        return sorted(self._s.users.values(), key=lambda u: u.username)

    async def save(self, user: User) -> None:
        self._s.users[user.id] = user


class _Recordings(RecordingRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def add(self, recording: Recording) -> None:
        self._s.recordings[recording.id] = recording

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        found = self._s.recordings.get(recording_id)
        if found is None or (owner_id is not None and found.owner_id != owner_id):
            raise RecordingNotFoundError("Not found.")
        return found

    async def lock(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        return await self.get(recording_id, owner_id)  # the unit of work holds the lock

    async def list(self, query: RecordingQuery) -> Page[Recording]:
        items = [
            r
            for r in self._s.recordings.values()
            if (query.owner_id is None or r.owner_id == query.owner_id)
            and (query.status is None or r.status is query.status)
            and (not query.search or query.search.lower() in r.title.lower())
            and (query.created_before is None or r.created_at < query.created_before)
            and (query.created_after is None or r.created_at >= query.created_after)
        ]
        items.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return Page(tuple(items[query.offset : query.offset + query.limit]), len(items))

    async def save(self, recording: Recording) -> None:
        self._s.recordings[recording.id] = recording

    async def delete(self, recording_id: RecordingId) -> None:
        self._s.recordings.pop(recording_id, None)
        self._s.transcripts.pop(recording_id, None)
        for key in [k for k in self._s.analyses if k[0] == recording_id]:
            del self._s.analyses[key]
        for job_id in [j.id for j in self._s.jobs.values() if j.recording_id == recording_id]:
            del self._s.jobs[job_id]
        self._s.live_uploads.pop(recording_id, None)
        for chunk in [k for k in self._s.live_chunks if k[0] == recording_id]:
            del self._s.live_chunks[chunk]


class _Jobs(JobRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def add(self, job: Job) -> None:
        if any(j.recording_id == job.recording_id for j in self._s.jobs.values()):
            raise ConflictError("The recording already has a processing job.")
        self._s.jobs[job.id] = job

    async def get(self, job_id: JobId) -> Job:
        try:
            return self._s.jobs[job_id]
        except KeyError:
            raise JobNotFoundError(f"No job {job_id}.") from None

    async def lock(self, job_id: JobId) -> Job:
        return await self.get(job_id)  # the unit of work holds the global lock

    async def for_recording(self, recording_id: RecordingId) -> Job | None:
        return next((j for j in self._s.jobs.values() if j.recording_id == recording_id), None)

    async def save(self, job: Job) -> None:
        self._s.jobs[job.id] = job

    async def list(self, status: JobStatus | None = None, limit: int = 50) -> Sequence[Job]:
        jobs = [j for j in self._s.jobs.values() if status is None or j.status is status]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]

    async def unfinished(self, limit: int = 500) -> Sequence[Job]:
        pending = (JobStatus.PENDING, JobStatus.RUNNING)
        jobs = [j for j in self._s.jobs.values() if j.status in pending]
        return sorted(jobs, key=lambda j: j.created_at)[:limit]

    async def search(self, query: JobQuery) -> Page[Job]:
        stuck_at = query.stuck_at
        jobs = [
            j
            for j in self._s.jobs.values()
            if (query.status is None or j.status is query.status)
            and (stuck_at is None or j.stuck(stuck_at))
        ]
        jobs.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        return Page(tuple(jobs[query.offset : query.offset + query.limit]), len(jobs))

    async def statistics(self, now: datetime, since: datetime) -> JobStatistics:
        return job_statistics(list(self._s.jobs.values()), now, since)


def job_statistics(jobs: Sequence[Job], now: datetime, since: datetime) -> JobStatistics:
    """The :class:`JobStatistics` of *jobs*, computed in Python (the fake's, and what
    the SQL adapter must agree with)."""
    by_job: Counter[str] = Counter(j.status.value for j in jobs)
    by_step: Counter[tuple[str, str]] = Counter()
    stuck = 0
    durations: dict[str, list[float]] = {}
    seen: dict[str, datetime] = {}
    running: Counter[str] = Counter()
    for job in jobs:
        for step in job.steps:
            by_step[(step.name.value, step.status.value)] += 1
            stuck += step.stuck(now)
            if step.status is StepStatus.SUCCEEDED and step.duration is not None:
                durations.setdefault(step.name.value, []).append(step.duration)
            if step.worker and step.started_at is not None and step.started_at >= since:
                seen[step.worker] = max(seen.get(step.worker, step.started_at), step.started_at)
                running[step.worker] += step.status is StepStatus.RUNNING
    return JobStatistics(
        jobs=dict(by_job),
        steps=dict(by_step),
        stuck_steps=stuck,
        durations={
            name: StepDurations(
                len(values),
                sum(values),
                tuple(sum(v <= bound for v in values) for bound in STEP_DURATION_BUCKETS),
            )
            for name, values in durations.items()
        },
        workers=tuple(
            WorkerActivity(name, last, running[name])
            for name, last in sorted(seen.items(), key=lambda item: item[1], reverse=True)
        ),
    )


class _Transcripts(TranscriptRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def get(self, recording_id: RecordingId) -> Transcript | None:
        return self._s.transcripts.get(recording_id)

    async def save(self, transcript: Transcript) -> None:
        self._s.transcripts[transcript.recording_id] = transcript


class _Analyses(AnalysisRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def list(self, recording_id: RecordingId) -> Sequence[Analysis]:
        order = list(AnalysisKind)
        found = [a for (rid, _), a in self._s.analyses.items() if rid == recording_id]
        return sorted(found, key=lambda a: order.index(a.kind))

    async def save(self, analysis: Analysis) -> None:
        self._s.analyses[(analysis.recording_id, analysis.kind)] = analysis


class _Tokens(TokenRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def use(self, jti: str, user_id: UserId, expires_at: datetime) -> bool:
        if jti in self._s.used_tokens:
            return False
        self._s.used_tokens[jti] = expires_at
        return True


class _Webhooks(WebhookRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def add(self, endpoint: WebhookEndpoint) -> None:
        self._s.webhooks[endpoint.id] = endpoint

    async def get(self, webhook_id: WebhookId, owner_id: UserId) -> WebhookEndpoint:
        found = self._s.webhooks.get(webhook_id)
        if found is None or found.owner_id != owner_id:
            raise WebhookNotFoundError("Not found.")
        return found

    async def list(self, owner_id: UserId) -> Sequence[WebhookEndpoint]:
        mine = [w for w in self._s.webhooks.values() if w.owner_id == owner_id]
        return sorted(mine, key=lambda w: (w.created_at, w.id))

    async def delete(self, webhook_id: WebhookId) -> None:
        self._s.webhooks.pop(webhook_id, None)
        for key in [k for k, d in self._s.deliveries.items() if d.endpoint_id == webhook_id]:
            del self._s.deliveries[key]

    async def subscribed(self, owner_id: UserId, event: WebhookEvent) -> Sequence[WebhookEndpoint]:
        return [w for w in await self.list(owner_id) if w.is_active and event in w.events]

    async def add_delivery(self, delivery: WebhookDelivery) -> None:
        self._s.deliveries[delivery.id] = delivery

    async def save_delivery(self, delivery: WebhookDelivery) -> None:
        self._s.deliveries[delivery.id] = delivery

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
        due = [
            d
            for d in self._s.deliveries.values()
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
            and d.owner_id not in skip_owners
            and d.endpoint_id not in skip_endpoints
        ]
        owners: Counter[UserId] = Counter()
        endpoints: Counter[WebhookId] = Counter()
        claimed: list[WebhookDelivery] = []
        for delivery in sorted(due, key=lambda d: (d.next_attempt_at or now, d.id)):
            if len(claimed) >= limit:
                break
            if per_owner is not None and owners[delivery.owner_id] >= per_owner:
                continue
            if per_endpoint is not None and endpoints[delivery.endpoint_id] >= per_endpoint:
                continue
            owners[delivery.owner_id] += 1
            endpoints[delivery.endpoint_id] += 1
            claimed.append(delivery)
        for delivery in claimed:
            self._s.deliveries[delivery.id] = attrs.evolve(delivery, next_attempt_at=lease_until)
        return claimed

    async def deliveries(
        self, webhook_id: WebhookId, limit: int = 100
    ) -> Sequence[WebhookDelivery]:
        found = [d for d in self._s.deliveries.values() if d.endpoint_id == webhook_id]
        return sorted(found, key=lambda d: d.created_at, reverse=True)[:limit]

    async def delivery_counts(self) -> Mapping[str, int]:
        return dict(Counter(d.status.value for d in self._s.deliveries.values()))


class _VoiceProfiles(VoiceProfileRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def lock_owner(self, owner_id: UserId) -> None:
        return None  # the unit of work holds the one global lock

    async def list(self, owner_id: UserId) -> Sequence[VoiceProfile]:
        mine = [p for p in self._s.voice_profiles.values() if p.owner_id == owner_id]
        return sorted(mine, key=lambda p: (name_key(p.name), p.id))

    async def get(self, profile_id: VoiceProfileId, owner_id: UserId) -> VoiceProfile:
        found = self._s.voice_profiles.get(profile_id)
        if found is None or found.owner_id != owner_id:
            raise VoiceProfileNotFoundError("Not found.")
        return found

    async def find_by_name(self, owner_id: UserId, name: str) -> VoiceProfile | None:
        key = name_key(name)
        return next(
            (p for p in await self.list(owner_id) if name_key(p.name) == key),
            None,
        )

    async def with_recording(self, recording_id: RecordingId) -> Sequence[VoiceProfile]:
        return [
            p
            for p in self._s.voice_profiles.values()
            if any(c.recording_id == recording_id for c in p.contributions)
        ]

    async def add(self, profile: VoiceProfile) -> None:
        self._check_name(profile)
        self._s.voice_profiles[profile.id] = profile

    async def save(self, profile: VoiceProfile) -> None:
        self._check_name(profile)
        self._s.voice_profiles[profile.id] = profile

    async def delete(self, profile_id: VoiceProfileId) -> None:
        self._s.voice_profiles.pop(profile_id, None)

    async def matched_recordings(
        self, owner_id: UserId, profile_id: VoiceProfileId
    ) -> Sequence[RecordingId]:
        return [
            r.id
            for r in self._s.recordings.values()
            if r.owner_id == owner_id
            and any(m.profile_id == profile_id for m in r.speaker_matches.values())
        ]

    def _check_name(self, profile: VoiceProfile) -> None:
        key = name_key(profile.name)
        for other in self._s.voice_profiles.values():
            mine = other.owner_id == profile.owner_id and other.id != profile.id
            if mine and name_key(other.name) == key:
                raise ConflictError(f"A voice profile called {other.name!r} already exists.")


class _LiveUploads(LiveUploadRepository):
    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def add(self, live: LiveUpload) -> None:
        if live.recording_id in self._s.live_uploads:
            raise ConflictError("The change conflicts with existing data.")
        if live.recording_id not in self._s.recordings:
            raise ConflictError("The change conflicts with existing data.")
        self._s.live_uploads[live.recording_id] = live

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> LiveUpload:
        found = self._s.live_uploads.get(recording_id)
        if found is None or (owner_id is not None and found.owner_id != owner_id):
            raise RecordingNotFoundError("Not found.")
        return found

    async def find(self, recording_id: RecordingId) -> LiveUpload | None:
        return self._s.live_uploads.get(recording_id)

    async def lock(self, recording_id: RecordingId) -> LiveUpload:
        return await self.get(recording_id)  # the unit of work holds the lock

    async def save(self, live: LiveUpload) -> None:
        if live.recording_id in self._s.live_uploads:
            self._s.live_uploads[live.recording_id] = live

    async def declare(self, recording_id: RecordingId, chunks: Sequence[ChunkDeclaration]) -> None:
        if chunks and recording_id not in self._s.recordings:
            raise ConflictError("The change conflicts with existing data.")
        for chunk in chunks:
            self._s.live_chunks[(recording_id, chunk.index)] = chunk

    async def chunks(
        self, recording_id: RecordingId, start: int = 0
    ) -> Mapping[int, ChunkDeclaration]:
        found = [
            c
            for (rid, _), c in self._s.live_chunks.items()
            if rid == recording_id and c.index >= start
        ]
        return {c.index: c for c in sorted(found, key=lambda c: c.index)}

    async def declared(
        self, recording_id: RecordingId, indexes: Collection[int]
    ) -> Mapping[int, ChunkDeclaration]:
        found = (self._s.live_chunks.get((recording_id, index)) for index in sorted(set(indexes)))
        return {c.index: c for c in found if c is not None}

    async def declared_bytes(self, recording_id: RecordingId) -> int:
        return sum(c.size for (rid, _), c in self._s.live_chunks.items() if rid == recording_id)

    async def active(self, limit: int = 500) -> Sequence[LiveUpload]:
        found = [
            live
            for live in self._s.live_uploads.values()
            if live.state is LiveState.RECORDING or not live.processed
        ]
        found.sort(key=lambda live: (live.updated_at, live.recording_id))
        return found[:limit]


def _stem(word: str) -> str:
    """A crude English stemmer, enough for the fake to match "decided" with "decide"."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class InMemorySearchIndex(SearchIndex):
    """Documents per recording; a search scans them (words matched after crude stemming).

    Ranking: matched term occurrences over document length; documents of other owners
    are never looked at.
    """

    def __init__(self, state: InMemoryState) -> None:
        self._s = state

    async def replace(self, recording_id: RecordingId, documents: Sequence[SearchDocument]) -> None:
        self._s.search_docs[recording_id] = tuple(documents)

    async def remove(self, recording_id: RecordingId) -> None:
        self._s.search_docs.pop(recording_id, None)

    async def search(self, query: SearchQuery) -> Page[SearchHit]:
        phrases = [tuple(_stem(w) for w in p) for p in query.terms.phrases]
        hits: list[SearchHit] = []
        for recording_id, docs in self._s.search_docs.items():
            recording = self._s.recordings.get(recording_id)
            if recording is None or recording.owner_id != query.owner_id:
                continue
            if query.recording_id is not None and recording_id != query.recording_id:
                continue
            if query.status is not None and recording.status is not query.status:
                continue
            if query.created_after is not None and recording.created_at < query.created_after:
                continue
            if query.created_before is not None and recording.created_at >= query.created_before:
                continue
            for doc in docs:
                if doc.owner_id != query.owner_id:
                    continue
                if query.kinds and doc.kind not in query.kinds:
                    continue
                if query.speaker is not None and (doc.speaker_name or "").casefold() != (
                    query.speaker.casefold()
                ):
                    continue
                tokens = [
                    (m.start(), m.end(), _stem(m.group().casefold()))
                    for m in _WORDS.finditer(doc.text)
                ]
                stems = [t[2] for t in tokens]
                marked: set[int] = set()
                matched = 0
                for phrase in phrases:
                    found = [
                        i
                        for i in range(len(stems) - len(phrase) + 1)
                        if tuple(stems[i : i + len(phrase)]) == phrase
                    ]
                    if found:
                        matched += 1
                        for i in found:
                            marked.update(range(i, i + len(phrase)))
                if not matched or (query.mode == "all" and matched < len(phrases)):
                    continue
                snippet_text = doc.text
                spans = tuple((tokens[i][0], tokens[i][1]) for i in sorted(marked))
                hits.append(
                    SearchHit(
                        recording_id=recording_id,
                        recording_title=recording.title,
                        recording_created_at=recording.created_at,
                        recording_status=recording.status,
                        kind=doc.kind,
                        field=doc.field,
                        position=doc.position,
                        score=round(len(marked) / (1 + len(stems)) + matched, 6),
                        snippet=Snippet(snippet_text, spans),
                        text=doc.text,
                        start=doc.start,
                        end=doc.end,
                        speaker=doc.speaker,
                        speaker_name=doc.speaker_name,
                    )
                )
        hits.sort(key=lambda h: (-h.score, h.recording_id, h.kind.value, h.position))
        return Page(tuple(hits[query.offset : query.offset + query.limit]), len(hits))

    async def record_usage(
        self,
        owner_id: UserId,
        recording_id: RecordingId | None,
        engine: str,
        input_tokens: int,
        output_tokens: int,
        at: datetime,
    ) -> None:
        self._s.answer_usage.append(
            (owner_id, recording_id, engine, input_tokens, output_tokens, at)
        )

    async def answer_tokens(self, since: datetime) -> Mapping[UserId, tuple[int, int]]:
        totals: dict[UserId, tuple[int, int]] = {}
        for owner, _, _, tokens_in, tokens_out, at in self._s.answer_usage:
            if at >= since:
                old = totals.get(owner, (0, 0))
                totals[owner] = (old[0] + tokens_in, old[1] + tokens_out)
        return totals


_WORDS = re.compile(r"\w+")


class InMemoryUnitOfWork(UnitOfWork):
    """A transaction over an :class:`InMemoryState`: works on a copy, applied on commit.

    One unit of work runs at a time (a global lock), which is stricter than the SQL
    adapter's per-job lock and just as correct.
    """

    def __init__(self, state: InMemoryState) -> None:
        self._state = state
        self._work: InMemoryState | None = None

    async def __aenter__(self) -> InMemoryUnitOfWork:
        await self._state.lock.acquire()
        self._work = InMemoryState(
            users=dict(self._state.users),
            recordings=dict(self._state.recordings),
            jobs=dict(self._state.jobs),
            transcripts=dict(self._state.transcripts),
            analyses=dict(self._state.analyses),
            used_tokens=dict(self._state.used_tokens),
            webhooks=dict(self._state.webhooks),
            deliveries=dict(self._state.deliveries),
            voice_profiles=dict(self._state.voice_profiles),
            search_docs=dict(self._state.search_docs),
            answer_usage=list(self._state.answer_usage),
            live_uploads=dict(self._state.live_uploads),
            live_chunks=dict(self._state.live_chunks),
        )
        self.users = _Users(self._work)
        self.recordings = _Recordings(self._work)
        self.jobs = _Jobs(self._work)
        self.transcripts = _Transcripts(self._work)
        self.analyses = _Analyses(self._work)
        self.tokens = _Tokens(self._work)
        self.webhooks = _Webhooks(self._work)
        self.voice_profiles = _VoiceProfiles(self._work)
        self.search = InMemorySearchIndex(self._work)
        self.live = _LiveUploads(self._work)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._work = None
        self._state.lock.release()

    async def commit(self) -> None:
        assert self._work is not None, "commit() outside of 'async with'"
        if self._state.failing_commits:
            raise self._state.failing_commits.pop(0)
        names = ("users", "recordings", "jobs", "transcripts", "analyses")
        for name in (
            *names,
            "used_tokens",
            "webhooks",
            "deliveries",
            "voice_profiles",
            "search_docs",
            "answer_usage",
            "live_uploads",
            "live_chunks",
        ):
            setattr(self._state, name, copy.copy(getattr(self._work, name)))
        self._state.commits += 1


def in_memory_uow(state: InMemoryState) -> Callable[[], InMemoryUnitOfWork]:
    """A unit-of-work factory over *state*."""
    return lambda: InMemoryUnitOfWork(state)


# --------------------------------------------------------------------------- storage


class InMemoryObjectStore(ObjectStore):
    """Objects in a dict; ``local_copy`` writes a temporary file. ``failing_puts`` holds
    errors that successive ``put_file`` calls raise (an outage)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.failing_puts: list[ElyuneError] = []
        self._stamps: dict[str, tuple[str, datetime]] = {}  # key: (etag, modified at)

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        if self.failing_puts:
            raise self.failing_puts.pop(0)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"No such file: {path}") from exc
        return await self.put_bytes(key, data, content_type)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        self.objects[check_key(key)] = (data, content_type)
        self._stamps[key] = (hashlib.md5(data).hexdigest(), datetime.now(UTC))  # noqa: S324
        return ObjectInfo(key=key, size=len(data), content_type=content_type)

    async def stat(self, key: str) -> ObjectInfo:
        data, ctype = self._get(key)
        etag, modified = self._stamps.get(key, (hashlib.md5(data).hexdigest(), datetime.now(UTC)))  # noqa: S324
        return ObjectInfo(
            key=key, size=len(data), content_type=ctype, etag=etag, modified_at=modified
        )

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str, *, max_size: int | None = None) -> AsyncIterator[Path]:
        data, _ = self._get(key)
        if max_size is not None and len(data) > max_size:
            raise ObjectChangedError()
        with tempfile.TemporaryDirectory(prefix="elyune-fake-") as folder:
            path = Path(folder) / key.rsplit("/", 1)[-1]
            path.write_bytes(data)
            yield path

    async def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        data, _ = self._get(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete_prefix(self, prefix: str) -> DeletedObjects:
        check_key(prefix.rstrip("/"))
        doomed = [k for k in self.objects if k.startswith(prefix)]
        size = sum(len(self.objects[k][0]) for k in doomed)
        for key in doomed:
            del self.objects[key]
        return DeletedObjects(len(doomed), size)

    async def presign_get(
        self, key: str, expires: timedelta, download_name: str | None = None
    ) -> str:
        return f"memory://get/{check_key(key)}?expires={int(expires.total_seconds())}"

    async def presign_put(
        self,
        key: str,
        expires: timedelta,
        content_type: str,
        size: int,
        content_md5: str | None = None,
    ) -> str:
        url = f"memory://put/{check_key(key)}?size={size}"
        if content_md5 is not None:
            url += f"&md5={urllib.parse.quote(content_md5, safe='')}"
        return url

    async def list(self, prefix: str, start_after: str | None = None) -> Sequence[ObjectInfo]:
        check_key(prefix.rstrip("/"))
        return [
            await self.stat(key)
            for key in sorted(self.objects)
            if key.startswith(prefix) and (start_after is None or key > start_after)
        ]

    async def presign_post(self, key: str, expires: timedelta, max_size: int) -> PresignedPost:
        return PresignedPost(url="memory://post/", fields={"key": check_key(key)})

    async def check(self) -> None:
        return None

    def _get(self, key: str) -> tuple[bytes, str]:
        try:
            return self.objects[check_key(key)]
        except KeyError:
            raise ObjectNotFoundError(f"No object {key}.") from None


# --------------------------------------------------------------------------- engines


class FakeTranscoder(Transcoder):
    """Pretends to convert: sources starting with ``b"MEDIA"`` are valid media.

    ``media`` is what ``probe`` returns; ``fail`` maps a method name to errors raised
    on successive calls (then it succeeds); ``calls`` records method names; ``gate``
    holds the transcode until it is set; ``hang`` names methods that never return (a
    stuck engine) and report no progress.
    """

    def __init__(self, media: MediaInfo | None = None) -> None:
        self.media = media or MediaInfo(
            duration=30.0,
            format_name="matroska,webm",
            has_video=True,
            has_audio=True,
            video_codec="vp9",
            audio_codec="opus",
            width=1280,
            height=720,
        )
        self.fail: dict[str, list[ElyuneError]] = {}
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.hang: set[str] = set()

    async def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.hang:
            await asyncio.Event().wait()
        if self.gate is not None and name == "transcode":
            await self.gate.wait()
        errors = self.fail.get(name)
        if errors:
            raise errors.pop(0)

    async def probe(self, source: Path, on_progress: ProgressCallback | None = None) -> MediaInfo:
        await self._call("probe")
        if not source.read_bytes().startswith(b"MEDIA"):
            raise InvalidMediaError("the file is not a video or audio file")
        return self.media

    async def transcode(
        self,
        source: Path,
        target: Path,
        media: MediaInfo,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        await self._call("transcode")
        if on_progress is not None:
            await on_progress(0.5)
        target.write_bytes(b"MP4" + source.read_bytes())

    async def extract_audio(
        self,
        source: Path,
        target: Path,
        media: MediaInfo,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        await self._call("extract_audio")
        target.write_bytes(b"RIFF" + source.read_bytes()[:16])

    async def thumbnail(self, source: Path, target: Path, media: MediaInfo) -> ImageInfo:
        await self._call("thumbnail")
        target.write_bytes(b"\xff\xd8JPEG")
        return ImageInfo(width=640, height=360)


def sample_transcript_result(engine: str = "fake") -> TranscriptionResult:
    """A short two-speaker meeting, as a transcriber would return it."""
    lines = [
        ("0", 0.0, 4.0, "Welcome everyone, the launch went really well."),
        ("1", 4.5, 9.0, "Great. I will send the release notes by Friday."),
        ("0", 9.5, 14.0, "Bob, can you review the onboarding guide tomorrow?"),
    ]
    segments = tuple(
        Segment(id=i, start=s, end=e, text=text, speaker=spk, confidence=0.9)
        for i, (spk, s, e, text) in enumerate(lines)
    )
    words: list[Word] = []
    for segment in segments:
        tokens = segment.text.split()
        step = (segment.end - segment.start) / len(tokens)
        for n, token in enumerate(tokens):
            start = segment.start + n * step
            words.append(
                Word(
                    text=token.strip(".,?").lower(),
                    start=round(start, 3),
                    end=round(start + step, 3),
                    confidence=0.9,
                    speaker=segment.speaker,
                    punctuated=token,
                )
            )
    return TranscriptionResult(
        text=" ".join(s.text for s in segments),
        language="en",
        segments=segments,
        words=tuple(words),
        engine=engine,
        language_confidence=0.99,
        duration=14.0,
        speaker_count=2,
    )


class FakeTranscriber(Transcriber):
    """Returns ``result`` (a canned meeting by default) and records the requests.

    ``fail`` holds errors raised by successive calls; while ``hangs`` is above zero, a
    call never returns and reports no progress (a stuck engine), and counts it down.
    """

    name = "fake"
    supports_stretches = False  # transcribes whole recordings only

    def __init__(self, result: TranscriptionResult | None = None) -> None:
        self.result = result or sample_transcript_result()
        self.requests: list[TranscriptionRequest] = []
        self.fail: list[ElyuneError] = []
        self.hangs = 0

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        self.requests.append(request)
        if self.hangs > 0:
            self.hangs -= 1
            await asyncio.Event().wait()
        if self.fail:
            raise self.fail.pop(0)
        if request.on_progress is not None:
            await request.on_progress(1.0)
        return self.result


class FakeAnalyzer(Analyzer):
    """Builds simple analyses from the transcript; ``broken`` kinds fail."""

    name = "fake"

    def __init__(self) -> None:
        self.requests: list[AnalysisRequest] = []
        self.broken: set[AnalysisKind] = set()

    async def analyze(self, request: AnalysisRequest) -> Mapping[AnalysisKind, AnalysisOutcome]:
        self.requests.append(request)
        transcript = request.transcript
        first = transcript.segments[0] if transcript.segments else None
        contents: dict[AnalysisKind, AnalysisContent] = {
            AnalysisKind.SUMMARY: Summary(title="Meeting", text=transcript.text[:200]),
            AnalysisKind.ACTION_ITEMS: ActionItems(
                tuple(
                    ActionItem(text=s.text, timestamp=s.start, segment_id=s.id, speaker=s.speaker)
                    for s in transcript.segments
                    if " will " in f" {s.text} " or "can you" in s.text.lower()
                )
            ),
            AnalysisKind.KEY_POINTS: KeyPoints(
                ()
                if first is None
                else (KeyPoint(text=first.text, timestamp=first.start, segment_id=first.id),)
            ),
            AnalysisKind.SENTIMENT: Sentiment(label=SentimentLabel.POSITIVE, score=0.5),
        }
        return {
            kind: AnalysisOutcome(kind=kind, error="broken on purpose")
            if kind in self.broken
            else AnalysisOutcome(kind=kind, content=contents[kind], input_tokens=10)
            for kind in request.kinds
        }


# --------------------------------------------------------------------------- work and events


class ScriptedAnswerer(Answerer):
    """An answerer that returns scripted drafts in order and records each request.

    A script entry may be a function of the request (to cite what was retrieved).
    """

    name = "scripted"
    kind = AnswerKind.GENERATIVE

    def __init__(
        self,
        *drafts: AnswerDraft | Callable[[AnswerRequest], AnswerDraft],
        max_passages: int = 20,
        char_budget: int = 20_000,
    ) -> None:
        self._drafts = list(drafts)
        self.requests: list[AnswerRequest] = []
        self.max_passages = max_passages
        self.char_budget = char_budget

    async def answer(self, request: AnswerRequest) -> AnswerDraft:
        self.requests.append(request)
        item = self._drafts.pop(0)
        return item(request) if callable(item) else item


class RecordingJobQueue(JobQueue, QueueMonitor):
    """Records enqueued steps; with a *runner*, runs them as tasks (like in-process)."""

    def __init__(self, runner: Callable[[JobId, StepName], Awaitable[object]] | None = None):
        self.enqueued: list[tuple[JobId, StepName]] = []
        self.runner = runner
        self._tasks: set[asyncio.Task[object]] = set()

    async def enqueue(self, job_id: JobId, step: StepName) -> None:
        self.enqueued.append((job_id, step))
        if self.runner is not None:
            task: asyncio.Task[object] = asyncio.ensure_future(self.runner(job_id, step))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        """Wait for every step run so far (and those they enqueue)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def stats(self) -> QueueStats:
        """The steps it runs right now (nothing waits: each runs at once)."""
        return QueueStats("memory", 0, len(self._tasks), (QueueConsumer("memory", 0.0, 0),))


class EventLog(EventPublisher):
    """Keeps every published event."""

    def __init__(self) -> None:
        self.events: list[RecordingEvent] = []

    async def publish(self, event: RecordingEvent) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        """The event types, in order."""
        return [e.type for e in self.events]


__all__ = [
    "EventLog",
    "FakeAnalyzer",
    "FakeTranscoder",
    "FakeTranscriber",
    "FixedClock",
    "InMemoryObjectStore",
    "InMemorySearchIndex",
    "InMemoryState",
    "InMemoryUnitOfWork",
    "PlainPasswordHasher",
    "RecordingJobQueue",
    "ScriptedAnswerer",
    "SequentialIds",
    "in_memory_uow",
    "job_statistics",
    "sample_transcript_result",
]
