"""SQL repositories: SQLAlchemy Core statements and row <-> entity conversion.

Every statement is portable SQL (SQLite and PostgreSQL). Rows are converted to entities
in small functions; no ORM mapping of the core's classes.
"""

from __future__ import annotations

import builtins
import functools
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.columns import (
    content_from_column,
    content_to_column,
    media_from_column,
    media_to_column,
    speaker_matches_from_column,
    speaker_matches_to_column,
    words_from_rows,
    words_to_rows,
)
from elyune_adapters.sql.reader import SyncReader
from elyune_adapters.sql.sealing import SecretBox
from elyune_core import name_key
from elyune_core.entities import (
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    DeliveryAttempt,
    DeliveryStatus,
    FileKind,
    Job,
    JobStatus,
    Recording,
    RecordingStatus,
    Segment,
    SpeakerVoice,
    Step,
    StepName,
    StepStatus,
    StoredFile,
    Transcript,
    User,
    VoiceContribution,
    VoiceProfile,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from elyune_core.errors import (
    ConflictError,
    JobNotFoundError,
    RecordingNotFoundError,
    UserNotFoundError,
    VoiceProfileNotFoundError,
    WebhookNotFoundError,
)
from elyune_core.ids import DeliveryId, JobId, RecordingId, UserId, VoiceProfileId, WebhookId
from elyune_core.ports import (
    STEP_DURATION_BUCKETS,
    AnalysisRepository,
    JobQuery,
    JobRepository,
    JobStatistics,
    Page,
    RecordingQuery,
    RecordingRepository,
    StepDurations,
    TokenRepository,
    TranscriptRepository,
    UserRepository,
    VoiceProfileRepository,
    WebhookRepository,
    WorkerActivity,
)

_STEP_ORDER = {name: index for index, name in enumerate(StepName)}


# --------------------------------------------------------------------------- users


def _user(row: RowMapping) -> User:
    return User(
        id=UserId(row["id"]),
        username=row["username"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        is_active=bool(row["is_active"]),
        voice_profiles=bool(row["voice_profiles"]),
        is_staff=bool(row["is_staff"]),
    )


class SqlUserRepository(UserRepository):
    """Users in the ``users`` table."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def add(self, user: User) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.users).values(
                        id=user.id,
                        username=user.username,
                        password_hash=user.password_hash,
                        is_active=user.is_active,
                        is_staff=user.is_staff,
                        created_at=user.created_at,
                        voice_profiles=user.voice_profiles,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"A user called {user.username!r} already exists.") from exc

    async def get(self, user_id: UserId) -> User:
        row = (
            (await self._conn.execute(select(t.users).where(t.users.c.id == user_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise UserNotFoundError("No such user.")
        return _user(row)

    async def get_by_username(self, username: str) -> User | None:
        row = (
            (await self._conn.execute(select(t.users).where(t.users.c.username == username)))
            .mappings()
            .first()
        )
        return None if row is None else _user(row)

    async def list(self) -> Sequence[User]:
        rows = (await self._conn.execute(select(t.users).order_by(t.users.c.username))).mappings()
        return [_user(r) for r in rows]

    async def save(self, user: User) -> None:
        await self._conn.execute(
            update(t.users)
            .where(t.users.c.id == user.id)
            .values(
                password_hash=user.password_hash,
                is_active=user.is_active,
                voice_profiles=user.voice_profiles,
                is_staff=user.is_staff,
            )
        )


# --------------------------------------------------------------------------- statements
# The API's hot reads use statements built once with bound parameters: building a
# SELECT and its cache key costs more than running it on an indexed table.

_FILES_OF_ONE = select(t.recording_files).where(
    t.recording_files.c.recording_id == bindparam("recording_id")
)
_STEPS_OF_ONE = select(t.job_steps).where(t.job_steps.c.job_id == bindparam("job_id"))
_STEPS_OF_MANY = select(t.job_steps).where(
    t.job_steps.c.job_id.in_(bindparam("ids", expanding=True))
)
_TRANSCRIPT = select(t.transcripts).where(t.transcripts.c.recording_id == bindparam("recording_id"))
_SEGMENTS = (
    select(t.transcript_segments)
    .where(t.transcript_segments.c.recording_id == bindparam("recording_id"))
    .order_by(t.transcript_segments.c.idx)
)
_ANALYSES = select(t.analyses).where(t.analyses.c.recording_id == bindparam("recording_id"))


_FILE_COLUMNS = tuple(c for c in t.recording_files.c if c.name != "recording_id")


_STEP_COLUMNS = tuple(c for c in t.job_steps.c if c.name != "job_id")
# A recording's job and its steps in one round trip (one row per step).
_JOB_OF_RECORDING = (
    select(t.jobs, *(column.label(f"s_{column.name}") for column in _STEP_COLUMNS))
    .select_from(t.jobs.outerjoin(t.job_steps, t.job_steps.c.job_id == t.jobs.c.id))
    .where(t.jobs.c.recording_id == bindparam("recording_id"))
)


@functools.cache
def _recording_by_id(*, by_owner: bool, for_update: bool) -> Select[Any]:
    query = select(t.recordings).where(t.recordings.c.id == bindparam("recording_id"))
    if by_owner:
        query = query.where(t.recordings.c.owner_id == bindparam("owner_id"))
    return query.with_for_update() if for_update else query


@functools.cache
def _recording_with_files(*, by_owner: bool) -> Select[Any]:
    """A recording and its files in one round trip (one row per file)."""
    f = t.recording_files.c
    query = (
        select(t.recordings, *(column.label(f"f_{column.name}") for column in _FILE_COLUMNS))
        .select_from(t.recordings.outerjoin(t.recording_files, f.recording_id == t.recordings.c.id))
        .where(t.recordings.c.id == bindparam("recording_id"))
    )
    if by_owner:
        query = query.where(t.recordings.c.owner_id == bindparam("owner_id"))
    return query


@functools.cache
def _listing(
    *, owner: bool, status: bool, before: bool, after: bool, search: bool
) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """The count and the page statements of a listing with these filters, and the page
    with the count as one more column (``x_total``: one round trip for both)."""
    r = t.recordings.c
    conditions = []
    if owner:
        conditions.append(r.owner_id == bindparam("owner_id"))
    if status:
        conditions.append(r.status == bindparam("status"))
    if before:
        conditions.append(r.created_at < bindparam("before"))
    if after:
        conditions.append(r.created_at >= bindparam("after"))
    if search:
        conditions.append(func.lower(r.title).like(bindparam("pattern"), escape="\\"))
    where = and_(True, *conditions)
    count = select(func.count()).select_from(t.recordings).where(where)
    page = (
        select(t.recordings)
        .where(where)
        .order_by(r.created_at.desc(), r.id.desc())
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery("page")
    )
    f = t.recording_files.c
    # One round trip: the page's rows, each repeated once per stored file (or once
    # with NULL file columns when it has none).
    with_files = (
        select(page, *(column.label(f"f_{column.name}") for column in _FILE_COLUMNS))
        .select_from(page.outerjoin(t.recording_files, f.recording_id == page.c.id))
        .order_by(page.c.created_at.desc(), page.c.id.desc())
    )
    counted = with_files.add_columns(count.scalar_subquery().label("x_total"))
    return count, with_files, counted


# --------------------------------------------------------------------------- recordings


def _recording(row: Mapping[Any, Any], files: Sequence[StoredFile]) -> Recording:
    media = row["media"]
    return Recording(
        id=RecordingId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        title=row["title"],
        filename=row["filename"],
        source_key=row["source_key"],
        status=RecordingStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        file_size=row["file_size"],
        description=row["description"] or "",
        quality=row["quality"],
        fps=row["fps"],
        has_system_audio=bool(row["has_system_audio"]),
        has_microphone=bool(row["has_microphone"]),
        language=row["language"],
        media=None if media is None else media_from_column(media),
        files=tuple(files),
        error=row["error"],
        speaker_names=dict(row["speaker_names"] or {}),
        num_speakers=row["num_speakers"],
        max_speakers=row["max_speakers"],
        speaker_matches=speaker_matches_from_column(row["speaker_matches"]),
    )


def _recording_values(recording: Recording) -> dict[str, Any]:
    return {
        "owner_id": recording.owner_id,
        "title": recording.title,
        "description": recording.description,
        "filename": recording.filename,
        "source_key": recording.source_key,
        "status": recording.status.value,
        "file_size": recording.file_size,
        "quality": recording.quality,
        "fps": recording.fps,
        "has_system_audio": recording.has_system_audio,
        "has_microphone": recording.has_microphone,
        "language": recording.language,
        "media": None if recording.media is None else media_to_column(recording.media),
        "error": recording.error,
        "speaker_names": dict(recording.speaker_names),
        "speaker_matches": speaker_matches_to_column(recording.speaker_matches),
        "num_speakers": recording.num_speakers,
        "max_speakers": recording.max_speakers,
        "created_at": recording.created_at,
        "updated_at": recording.updated_at,
    }


def _stored_file(row: Mapping[Any, Any], prefix: str = "") -> StoredFile:
    """The file in *row*, whose columns are named with *prefix* in a joined query."""
    return StoredFile(
        kind=FileKind(row[prefix + "kind"]),
        key=row[prefix + "key"],
        size=row[prefix + "size"],
        content_type=row[prefix + "content_type"],
        width=row[prefix + "width"],
        height=row[prefix + "height"],
    )


_FILE_ORDER = {kind: n for n, kind in enumerate(FileKind)}


def _sorted_files(files: Iterable[StoredFile]) -> builtins.list[StoredFile]:
    return sorted(files, key=lambda f: _FILE_ORDER[f.kind])


def _with_files(rows: Sequence[Mapping[Any, Any]]) -> builtins.list[Recording]:
    """Recordings from joined rows (one per stored file, ``f_`` columns), in row order."""
    first: dict[str, Mapping[Any, Any]] = {}
    files: dict[str, builtins.list[StoredFile]] = {}
    for row in rows:
        first.setdefault(row["id"], row)
        found = files.setdefault(row["id"], [])
        if row["f_kind"] is not None:
            found.append(_stored_file(row, "f_"))
    return [_recording(row, _sorted_files(files[key])) for key, row in first.items()]


_INSERT_RECORDING = insert(t.recordings)


class RecordingCounts:
    """Totals of recent listings, kept for *ttl* seconds (shared by units of work).

    Counting a user's recordings is the costliest part of a listing (thousands of index
    entries). A total is reused for a moment; adding or deleting a recording in this
    process forgets that owner's totals at once, so only changes made by other
    processes (status filters moved by workers) show up to *ttl* late.
    """

    def __init__(self, ttl: float = 2.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._totals: dict[tuple[object, ...], tuple[float, int]] = {}

    def get(self, key: tuple[object, ...]) -> int | None:
        found = self._totals.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: tuple[object, ...], total: int) -> None:
        if len(self._totals) >= self._size:
            self._totals.clear()
        self._totals[key] = (time.monotonic() + self._ttl, total)

    def forget(self, owner_id: UserId | None) -> None:
        """Forget the totals of *owner_id* (and unfiltered ones); ``None``: all totals."""
        if owner_id is None:
            self._totals.clear()
            return
        for key in [k for k in self._totals if k[0] in (owner_id, None)]:
            del self._totals[key]


class SqlRecordingRepository(RecordingRepository):
    """Recordings in ``recordings``, their files in ``recording_files``."""

    def __init__(
        self, conn: AsyncConnection | SyncReader, counts: RecordingCounts | None = None
    ) -> None:
        self._conn = conn
        self._counts = counts

    async def add(self, recording: Recording) -> None:
        # One statement built once (its compiled form is cached), and no DELETE of files
        # a new recording cannot have: request-upload is this INSERT and its commit.
        await self._conn.execute(
            _INSERT_RECORDING, {"id": recording.id, **_recording_values(recording)}
        )
        if recording.files:
            await self._write_files(recording, new=True)
        if self._counts is not None:
            self._counts.forget(recording.owner_id)

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        query = _recording_with_files(by_owner=owner_id is not None)
        params = {"recording_id": recording_id, "owner_id": owner_id}
        found = _with_files((await self._conn.execute(query, params)).mappings().all())
        if not found:
            raise RecordingNotFoundError("Not found.")
        return found[0]

    async def lock(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        # FOR UPDATE on PostgreSQL (of the recording's row alone, so not joined with its
        # files); SQLite writers already hold the database's write lock.
        query = _recording_by_id(
            by_owner=owner_id is not None, for_update=self._conn.dialect.name == "postgresql"
        )
        params = {"recording_id": recording_id, "owner_id": owner_id}
        row = (await self._conn.execute(query, params)).mappings().first()
        if row is None:
            raise RecordingNotFoundError("Not found.")
        files = (await self._conn.execute(_FILES_OF_ONE, {"recording_id": recording_id})).mappings()
        return _recording(row, _sorted_files(_stored_file(f) for f in files))

    async def list(self, query: RecordingQuery) -> Page[Recording]:
        count, page, counted = _listing(
            owner=query.owner_id is not None,
            status=query.status is not None,
            before=query.created_before is not None,
            after=query.created_after is not None,
            search=bool(query.search),
        )
        params: dict[str, Any] = {
            "owner_id": query.owner_id,
            "status": None if query.status is None else query.status.value,
            "before": query.created_before,
            "after": query.created_after,
            "pattern": "%" + _escape_like(query.search.lower()) + "%" if query.search else None,
            "offset": query.offset,
            "limit": query.limit,
        }
        key = (
            query.owner_id,
            query.status,
            query.search,
            query.created_before,
            query.created_after,
        )
        total = None if self._counts is None else self._counts.get(key)
        if total is not None:
            rows = (await self._conn.execute(page, params)).mappings().all()
        else:  # the page and its total in one statement; an empty page counts apart
            rows = (await self._conn.execute(counted, params)).mappings().all()
            if rows:
                total = rows[0]["x_total"]
            else:
                total = (await self._conn.execute(count, params)).scalar_one()
            if self._counts is not None:
                self._counts.put(key, total)
        return Page(items=tuple(_with_files(rows)), total=int(total))

    async def save(self, recording: Recording) -> None:
        await self._conn.execute(
            update(t.recordings)
            .where(t.recordings.c.id == recording.id)
            .values(**_recording_values(recording))
        )
        await self._write_files(recording)

    async def delete(self, recording_id: RecordingId) -> None:
        # Child rows go explicitly too, so a SQLite connection without foreign keys
        # enforced still leaves nothing behind.
        for table in (
            t.search_documents,
            t.analyses,
            t.transcript_segments,
            t.transcripts,
            t.recording_files,
            t.voice_profile_contributions,
        ):
            await self._conn.execute(delete(table).where(table.c.recording_id == recording_id))
        job_ids = select(t.jobs.c.id).where(t.jobs.c.recording_id == recording_id)
        await self._conn.execute(delete(t.job_steps).where(t.job_steps.c.job_id.in_(job_ids)))
        await self._conn.execute(delete(t.jobs).where(t.jobs.c.recording_id == recording_id))
        await self._conn.execute(delete(t.recordings).where(t.recordings.c.id == recording_id))
        if self._counts is not None:
            self._counts.forget(None)  # the owner is not at hand: forget every total

    async def _write_files(self, recording: Recording, *, new: bool = False) -> None:
        if not new:
            await self._conn.execute(
                delete(t.recording_files).where(t.recording_files.c.recording_id == recording.id)
            )
        if recording.files:
            await self._conn.execute(
                insert(t.recording_files),
                [
                    {
                        "recording_id": recording.id,
                        "kind": f.kind.value,
                        "key": f.key,
                        "size": f.size,
                        "content_type": f.content_type,
                        "width": f.width,
                        "height": f.height,
                    }
                    for f in recording.files
                ],
            )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --------------------------------------------------------------------------- jobs


def _step(row: Mapping[Any, Any], prefix: str = "") -> Step:
    """The step in *row*, whose columns are named with *prefix* in a joined query."""
    return Step(
        name=StepName(row[prefix + "name"]),
        status=StepStatus(row[prefix + "status"]),
        attempts=row[prefix + "attempts"],
        started_at=row[prefix + "started_at"],
        finished_at=row[prefix + "finished_at"],
        error=row[prefix + "error"],
        output=dict(row[prefix + "output"] or {}),
        worker=row[prefix + "worker"],
        lease_expires_at=row[prefix + "lease_expires_at"],
        progress=row[prefix + "progress"],
        retry_at=row[prefix + "retry_at"],
        outage_since=row[prefix + "outage_since"],
    )


def _step_values(step: Step) -> dict[str, Any]:
    return {
        "status": step.status.value,
        "attempts": step.attempts,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "error": step.error,
        "output": dict(step.output),
        "worker": step.worker,
        "lease_expires_at": step.lease_expires_at,
        "progress": step.progress,
        "retry_at": step.retry_at,
        "outage_since": step.outage_since,
    }


def _job(row: Mapping[Any, Any], steps: Sequence[Step]) -> Job:
    return Job(
        id=JobId(row["id"]),
        recording_id=RecordingId(row["recording_id"]),
        created_at=row["created_at"],
        steps=tuple(sorted(steps, key=lambda s: _STEP_ORDER[s.name])),
        status=JobStatus(row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )


class SqlJobRepository(JobRepository):
    """Jobs in ``jobs``, steps in ``job_steps``; ``lock`` takes the job row's write lock."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def add(self, job: Job) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.jobs).values(
                        id=job.id,
                        recording_id=job.recording_id,
                        status=job.status.value,
                        error=job.error,
                        created_at=job.created_at,
                        started_at=job.started_at,
                        finished_at=job.finished_at,
                        version=0,
                    )
                )
                await self._conn.execute(
                    insert(t.job_steps),
                    [
                        {
                            "job_id": job.id,
                            "name": s.name.value,
                            "position": _STEP_ORDER[s.name],
                            **_step_values(s),
                        }
                        for s in job.steps
                    ],
                )
        except IntegrityError as exc:
            raise ConflictError("The recording already has a processing job.") from exc

    async def get(self, job_id: JobId) -> Job:
        jobs = await self._load(select(t.jobs).where(t.jobs.c.id == job_id))
        if not jobs:
            raise JobNotFoundError(f"No job {job_id}.")
        return jobs[0]

    async def lock(self, job_id: JobId) -> Job:
        # An UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so
        # whoever locks first finishes its read-modify-write before the next one reads.
        result = await self._conn.execute(
            update(t.jobs).where(t.jobs.c.id == job_id).values(version=t.jobs.c.version + 1)
        )
        if result.rowcount == 0:
            raise JobNotFoundError(f"No job {job_id}.")
        return await self.get(job_id)

    async def for_recording(self, recording_id: RecordingId) -> Job | None:
        params = {"recording_id": recording_id}
        rows = (await self._conn.execute(_JOB_OF_RECORDING, params)).mappings().all()
        if not rows:
            return None
        steps = [_step(row, "s_") for row in rows if row["s_name"] is not None]
        return _job(rows[0], steps)

    async def save(self, job: Job) -> None:
        await self._conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job.id)
            .values(
                status=job.status.value,
                error=job.error,
                started_at=job.started_at,
                finished_at=job.finished_at,
            )
        )
        for step in job.steps:
            await self._conn.execute(
                update(t.job_steps)
                .where(and_(t.job_steps.c.job_id == job.id, t.job_steps.c.name == step.name.value))
                .values(**_step_values(step))
            )

    async def list(self, status: JobStatus | None = None, limit: int = 50) -> Sequence[Job]:
        query = select(t.jobs).order_by(t.jobs.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(t.jobs.c.status == status.value)
        return await self._load(query)

    async def unfinished(self, limit: int = 500) -> Sequence[Job]:
        query = (
            select(t.jobs)
            .where(
                or_(
                    t.jobs.c.status == JobStatus.PENDING.value,
                    t.jobs.c.status == JobStatus.RUNNING.value,
                )
            )
            .order_by(t.jobs.c.created_at)
            .limit(limit)
        )
        return await self._load(query)

    async def search(self, query: JobQuery) -> Page[Job]:
        conditions: list[Any] = []
        if query.status is not None:
            conditions.append(t.jobs.c.status == query.status.value)
        if query.stuck_at is not None:
            steps = t.job_steps.c
            conditions.append(
                select(steps.job_id)
                .where(
                    steps.job_id == t.jobs.c.id,
                    steps.status == StepStatus.RUNNING.value,
                    or_(steps.lease_expires_at.is_(None), steps.lease_expires_at <= query.stuck_at),
                )
                .exists()
            )
        where = and_(True, *conditions)
        total = (
            await self._conn.execute(select(func.count()).select_from(t.jobs).where(where))
        ).scalar_one()
        jobs = await self._load(
            select(t.jobs)
            .where(where)
            .order_by(t.jobs.c.created_at.desc(), t.jobs.c.id.desc())
            .offset(query.offset)
            .limit(query.limit)
        )
        return Page(tuple(jobs), int(total))

    async def statistics(self, now: datetime, since: datetime) -> JobStatistics:
        steps = t.job_steps.c
        jobs = {
            row[0]: int(row[1])
            for row in await self._conn.execute(
                select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status)
            )
        }
        by_step = {
            (row[0], row[1]): int(row[2])
            for row in await self._conn.execute(
                select(steps.name, steps.status, func.count()).group_by(steps.name, steps.status)
            )
        }
        stuck = (
            await self._conn.execute(
                select(func.count())
                .select_from(t.job_steps)
                .where(
                    steps.status == StepStatus.RUNNING.value,
                    or_(steps.lease_expires_at.is_(None), steps.lease_expires_at <= now),
                )
            )
        ).scalar_one()
        if self._conn.dialect.name == "postgresql":
            seconds: Any = func.extract("epoch", steps.finished_at - steps.started_at)
        else:  # SQLite keeps naive UTC text: julianday() reads it
            seconds = (
                func.julianday(steps.finished_at) - func.julianday(steps.started_at)
            ) * 86400.0
        buckets = [
            func.sum(case((seconds <= bound, 1), else_=0)) for bound in STEP_DURATION_BUCKETS
        ]
        durations = {
            row[0]: StepDurations(
                int(row[1]), float(row[2] or 0.0), tuple(int(v or 0) for v in row[3:])
            )
            for row in await self._conn.execute(
                select(steps.name, func.count(), func.sum(seconds), *buckets)
                .where(
                    steps.status == StepStatus.SUCCEEDED.value,
                    steps.started_at.is_not(None),
                    steps.finished_at.is_not(None),
                )
                .group_by(steps.name)
            )
        }
        running = func.sum(case((steps.status == StepStatus.RUNNING.value, 1), else_=0))
        last = func.max(steps.started_at)
        seen = await self._conn.execute(
            select(steps.worker, last.label("last"), running.label("running"))
            .where(steps.worker.is_not(None), steps.started_at >= since)
            .group_by(steps.worker)
            .order_by(last.desc())
            .limit(100)
        )
        workers = tuple(
            WorkerActivity(row["worker"], row["last"], int(row["running"] or 0))
            for row in seen.mappings()
        )
        return JobStatistics(jobs, by_step, int(stuck), durations, workers)

    async def _load(
        self, query: Select[Any], params: Mapping[str, Any] | None = None
    ) -> Sequence[Job]:
        rows = (await self._conn.execute(query, params)).mappings().all()
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        if len(ids) == 1:
            found = await self._conn.execute(_STEPS_OF_ONE, {"job_id": ids[0]})
        else:
            found = await self._conn.execute(_STEPS_OF_MANY, {"ids": ids})
        steps: dict[str, list[Step]] = {}
        for row in found.mappings():
            steps.setdefault(row["job_id"], []).append(_step(row))
        return [_job(r, steps.get(r["id"], [])) for r in rows]


# --------------------------------------------------------------------------- transcripts


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


# --------------------------------------------------------------------------- analyses


def _analysis(row: Mapping[Any, Any]) -> Analysis:
    kind = AnalysisKind(row["kind"])
    content: Mapping[str, Any] | None = row["content"]
    return Analysis(
        recording_id=RecordingId(row["recording_id"]),
        kind=kind,
        status=AnalysisStatus(row["status"]),
        engine=row["engine"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        content=None if content is None else content_from_column(kind, content),
        error=row["error"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
    )


class SqlAnalysisRepository(AnalysisRepository):
    """Analyses in ``analyses``, one row per recording and kind."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def list(self, recording_id: RecordingId) -> Sequence[Analysis]:
        rows = (await self._conn.execute(_ANALYSES, {"recording_id": recording_id})).mappings()
        order = list(AnalysisKind)
        return sorted((_analysis(r) for r in rows), key=lambda a: order.index(a.kind))

    async def save(self, analysis: Analysis) -> None:
        values = {
            "status": analysis.status.value,
            "engine": analysis.engine,
            "content": None if analysis.content is None else content_to_column(analysis.content),
            "error": analysis.error,
            "input_tokens": analysis.input_tokens,
            "output_tokens": analysis.output_tokens,
            "created_at": analysis.created_at,
            "updated_at": analysis.updated_at,
        }
        where = and_(
            t.analyses.c.recording_id == analysis.recording_id,
            t.analyses.c.kind == analysis.kind.value,
        )
        result = await self._conn.execute(update(t.analyses).where(where).values(**values))
        if result.rowcount == 0:
            await self._conn.execute(
                insert(t.analyses).values(
                    recording_id=analysis.recording_id, kind=analysis.kind.value, **values
                )
            )


# --------------------------------------------------------------------------- tokens


class SqlTokenRepository(TokenRepository):
    """Used refresh tokens in ``used_refresh_tokens`` (expired ones are pruned)."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def use(self, jti: str, user_id: UserId, expires_at: datetime) -> bool:
        await self._conn.execute(
            delete(t.used_refresh_tokens).where(
                t.used_refresh_tokens.c.expires_at < datetime.now(UTC)
            )
        )
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.used_refresh_tokens).values(
                        jti=jti, user_id=user_id, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True


# --------------------------------------------------------------------------- webhooks


def _endpoint(row: RowMapping, box: SecretBox | None) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=WebhookId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        url=row["url"],
        events=tuple(WebhookEvent(e) for e in row["events"]),
        secret=row["secret"] if box is None else box.open(row["secret"], row["id"]),
        created_at=row["created_at"],
        description=row["description"] or "",
        is_active=bool(row["is_active"]),
    )


def _delivery(row: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=DeliveryId(row["id"]),
        endpoint_id=WebhookId(row["endpoint_id"]),
        owner_id=UserId(row["owner_id"]),
        event=WebhookEvent(row["event"]),
        payload=dict(row["payload"]),
        created_at=row["created_at"],
        status=DeliveryStatus(row["status"]),
        attempts=tuple(
            DeliveryAttempt(
                at=datetime.fromisoformat(a["at"]),
                status_code=a["status_code"],
                error=a["error"],
                duration_ms=a["duration_ms"],
            )
            for a in row["attempts"]
        ),
        next_attempt_at=row["next_attempt_at"],
        delivered_at=row["delivered_at"],
    )


def _delivery_values(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "status": delivery.status.value,
        "attempts": [
            {
                "at": a.at.isoformat(),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in delivery.attempts
        ],
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": delivery.delivered_at,
    }


class SqlWebhookRepository(WebhookRepository):
    """Webhook endpoints in ``webhooks``, deliveries in ``webhook_deliveries``.

    With a *box*, signing secrets are stored encrypted (see ``sealing``).
    """

    def __init__(self, conn: AsyncConnection | SyncReader, box: SecretBox | None = None) -> None:
        self._conn = conn
        self._box = box

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._conn.execute(
            insert(t.webhooks).values(
                id=endpoint.id,
                owner_id=endpoint.owner_id,
                url=endpoint.url,
                events=[e.value for e in endpoint.events],
                secret=endpoint.secret
                if self._box is None
                else self._box.seal(endpoint.secret, endpoint.id),
                description=endpoint.description,
                is_active=endpoint.is_active,
                created_at=endpoint.created_at,
            )
        )

    async def get(self, webhook_id: WebhookId, owner_id: UserId) -> WebhookEndpoint:
        row = (
            (
                await self._conn.execute(
                    select(t.webhooks).where(
                        and_(t.webhooks.c.id == webhook_id, t.webhooks.c.owner_id == owner_id)
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise WebhookNotFoundError("Not found.")
        return _endpoint(row, self._box)

    async def list(self, owner_id: UserId) -> Sequence[WebhookEndpoint]:
        rows = (
            await self._conn.execute(
                select(t.webhooks)
                .where(t.webhooks.c.owner_id == owner_id)
                .order_by(t.webhooks.c.created_at, t.webhooks.c.id)
            )
        ).mappings()
        return [_endpoint(r, self._box) for r in rows]

    async def delete(self, webhook_id: WebhookId) -> None:
        await self._conn.execute(
            delete(t.webhook_deliveries).where(t.webhook_deliveries.c.endpoint_id == webhook_id)
        )
        await self._conn.execute(delete(t.webhooks).where(t.webhooks.c.id == webhook_id))

    async def subscribed(self, owner_id: UserId, event: WebhookEvent) -> Sequence[WebhookEndpoint]:
        return [
            e
            for e in await self.list(owner_id)
            if e.is_active and event in e.events  # few per user: filter in Python
        ]

    async def add_delivery(self, delivery: WebhookDelivery) -> None:
        await self._conn.execute(
            insert(t.webhook_deliveries).values(
                id=delivery.id,
                endpoint_id=delivery.endpoint_id,
                owner_id=delivery.owner_id,
                event=delivery.event.value,
                payload=dict(delivery.payload),
                created_at=delivery.created_at,
                **_delivery_values(delivery),
            )
        )

    async def save_delivery(self, delivery: WebhookDelivery) -> None:
        await self._conn.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.id == delivery.id)
            .values(**_delivery_values(delivery))
        )

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
        d = t.webhook_deliveries
        conditions = [d.c.status == DeliveryStatus.PENDING.value, d.c.next_attempt_at <= now]
        if skip_owners:
            conditions.append(d.c.owner_id.not_in(list(skip_owners)))
        if skip_endpoints:
            conditions.append(d.c.endpoint_id.not_in(list(skip_endpoints)))
        order = (d.c.next_attempt_at, d.c.id)
        if per_owner is None and per_endpoint is None:
            query = select(d).where(and_(*conditions)).order_by(*order).limit(limit)
        else:
            # The oldest few of each owner and of each endpoint (window functions), then
            # the oldest of those: one backlog cannot take every slot of the claim.
            ranked = (
                select(
                    d.c.id,
                    func.row_number()
                    .over(partition_by=d.c.owner_id, order_by=order)
                    .label("by_owner"),
                    func.row_number()
                    .over(partition_by=d.c.endpoint_id, order_by=order)
                    .label("by_endpoint"),
                )
                .where(and_(*conditions))
                .subquery()
            )
            fair = select(ranked.c.id)
            if per_owner is not None:
                fair = fair.where(ranked.c.by_owner <= per_owner)
            if per_endpoint is not None:
                fair = fair.where(ranked.c.by_endpoint <= per_endpoint)
            query = (
                select(d).where(and_(d.c.id.in_(fair), *conditions)).order_by(*order).limit(limit)
            )
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [_delivery(r) for r in (await self._conn.execute(query)).mappings()]
        if rows:
            await self._conn.execute(
                update(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.id.in_([d.id for d in rows]))
                .values(next_attempt_at=lease_until)
            )
        return rows

    async def deliveries(
        self, webhook_id: WebhookId, limit: int = 100
    ) -> Sequence[WebhookDelivery]:
        rows = (
            await self._conn.execute(
                select(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.endpoint_id == webhook_id)
                .order_by(t.webhook_deliveries.c.created_at.desc())
                .limit(limit)
            )
        ).mappings()
        return [_delivery(r) for r in rows]

    async def delivery_counts(self) -> Mapping[str, int]:
        status = t.webhook_deliveries.c.status
        rows = await self._conn.execute(select(status, func.count()).group_by(status))
        return {row[0]: int(row[1]) for row in rows}


# --------------------------------------------------------------------------- voice profiles


class SqlVoiceProfileRepository(VoiceProfileRepository):
    """Profiles in ``voice_profiles``, what recordings gave them in
    ``voice_profile_contributions`` (deleted with the profile or the recording)."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def lock_owner(self, owner_id: UserId) -> None:
        # FOR UPDATE of the owner's row on PostgreSQL; SQLite writers already hold the
        # database's write lock.
        query = select(t.users.c.id).where(t.users.c.id == owner_id)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        await self._conn.execute(query)

    async def list(self, owner_id: UserId) -> Sequence[VoiceProfile]:
        p = t.voice_profiles.c
        query = select(t.voice_profiles).where(p.owner_id == owner_id).order_by(p.name_key, p.id)
        return await self._load(query)

    async def get(self, profile_id: VoiceProfileId, owner_id: UserId) -> VoiceProfile:
        p = t.voice_profiles.c
        found = await self._load(
            select(t.voice_profiles).where(p.id == profile_id, p.owner_id == owner_id)
        )
        if not found:
            raise VoiceProfileNotFoundError("Not found.")
        return found[0]

    async def find_by_name(self, owner_id: UserId, name: str) -> VoiceProfile | None:
        p = t.voice_profiles.c
        found = await self._load(
            select(t.voice_profiles).where(p.owner_id == owner_id, p.name_key == name_key(name))
        )
        return found[0] if found else None

    async def with_recording(self, recording_id: RecordingId) -> Sequence[VoiceProfile]:
        c = t.voice_profile_contributions.c
        ids = select(c.profile_id).where(c.recording_id == recording_id)
        return await self._load(select(t.voice_profiles).where(t.voice_profiles.c.id.in_(ids)))

    async def add(self, profile: VoiceProfile) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.voice_profiles).values(
                        id=profile.id,
                        owner_id=profile.owner_id,
                        created_at=profile.created_at,
                        **self._values(profile),
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"A voice profile called {profile.name!r} already exists.") from exc
        await self._write_contributions(profile)

    async def save(self, profile: VoiceProfile) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    update(t.voice_profiles)
                    .where(t.voice_profiles.c.id == profile.id)
                    .values(**self._values(profile))
                )
        except IntegrityError as exc:
            raise ConflictError(f"A voice profile called {profile.name!r} already exists.") from exc
        c = t.voice_profile_contributions.c
        await self._conn.execute(
            delete(t.voice_profile_contributions).where(c.profile_id == profile.id)
        )
        await self._write_contributions(profile)

    async def delete(self, profile_id: VoiceProfileId) -> None:
        c = t.voice_profile_contributions.c
        await self._conn.execute(
            delete(t.voice_profile_contributions).where(c.profile_id == profile_id)
        )
        await self._conn.execute(
            delete(t.voice_profiles).where(t.voice_profiles.c.id == profile_id)
        )

    async def matched_recordings(
        self, owner_id: UserId, profile_id: VoiceProfileId
    ) -> Sequence[RecordingId]:
        r = t.recordings.c
        query = select(r.id, r.speaker_matches).where(
            r.owner_id == owner_id, r.speaker_matches.is_not(None)
        )
        rows = (await self._conn.execute(query)).mappings()
        return [
            RecordingId(row["id"])
            for row in rows
            if any(
                m.get("profile_id") == profile_id for m in (row["speaker_matches"] or {}).values()
            )
        ]

    @staticmethod
    def _values(profile: VoiceProfile) -> dict[str, Any]:
        return {
            "name": profile.name,
            "name_key": name_key(profile.name),
            "updated_at": profile.updated_at,
        }

    async def _write_contributions(self, profile: VoiceProfile) -> None:
        if profile.contributions:
            await self._conn.execute(
                insert(t.voice_profile_contributions),
                [
                    {
                        "profile_id": profile.id,
                        "recording_id": c.recording_id,
                        "label": c.label,
                        "embedding": list(c.embedding),
                        "seconds": c.seconds,
                        "position": n,
                    }
                    for n, c in enumerate(profile.contributions)
                ],
            )

    async def _load(self, query: Select[Any]) -> builtins.list[VoiceProfile]:
        rows = (await self._conn.execute(query)).mappings().all()
        if not rows:
            return []
        c = t.voice_profile_contributions.c
        parts = (
            await self._conn.execute(
                select(t.voice_profile_contributions)
                .where(c.profile_id.in_([row["id"] for row in rows]))
                .order_by(c.profile_id, c.position)
            )
        ).mappings()
        found: dict[str, builtins.list[VoiceContribution]] = {}
        for part in parts:
            found.setdefault(part["profile_id"], []).append(
                VoiceContribution(
                    recording_id=RecordingId(part["recording_id"]),
                    label=part["label"],
                    embedding=tuple(part["embedding"]),
                    seconds=part["seconds"],
                )
            )
        return [
            VoiceProfile(
                id=VoiceProfileId(row["id"]),
                owner_id=UserId(row["owner_id"]),
                name=row["name"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                contributions=tuple(found.get(row["id"], ())),
            )
            for row in rows
        ]
