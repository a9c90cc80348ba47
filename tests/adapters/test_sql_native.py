"""The API's native PostgreSQL reads (asyncpg without SQLAlchemy's execution layer)
give what the SQLAlchemy unit of work gives, and fail the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import attrs
import pytest

from elyune_adapters.memory import sample_transcript_result
from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import create_engine, upgrade
from elyune_adapters.sql.native import NativePool, NativeUnitOfWork
from elyune_adapters.sql.repositories import RecordingCounts
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core import (
    ActionItem,
    ActionItems,
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    ConflictError,
    DeliveryId,
    FileKind,
    InvalidInputError,
    JobId,
    MediaInfo,
    Recording,
    RecordingId,
    RecordingNotFoundError,
    RecordingStatus,
    RepositoryUnavailableError,
    StepName,
    StoredFile,
    Transcript,
    User,
    UserId,
    WebhookEndpoint,
    WebhookEvent,
    WebhookId,
    new_job,
)
from elyune_core.entities import SpeakerVoice, WebhookDelivery
from elyune_core.ports import RecordingQuery
from tests.conftest import PG_HOST, PG_PORT, PG_USER, reset_schema

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
async def pair(pg_database):
    """(write unit of work factory, native unit of work factory) on one database."""
    await reset_schema(pg_database)
    engine = create_engine(DatabaseSettings(url=pg_database))
    await upgrade(engine)
    native = NativePool(engine, 4)
    yield (lambda: SqlUnitOfWork(engine)), (lambda: NativeUnitOfWork(native, RecordingCounts()))
    await native.close()
    await engine.dispose()


def _recording(n: int, owner: str = "user-1", **kw) -> Recording:
    created = kw.pop("created", NOW + timedelta(minutes=n))
    return Recording(
        id=RecordingId(f"rec-{n:05d}"),
        owner_id=UserId(owner),
        title=kw.pop("title", f"Weekly sync {n}"),
        filename="talk.webm",
        source_key=f"recordings/{owner}/rec-{n:05d}/source.webm",
        status=kw.pop("status", RecordingStatus.AWAITING_UPLOAD),
        created_at=created,
        updated_at=created,
        **kw,
    )


async def _everything(write) -> Recording:
    """Two users; user-1 has a processed recording (files, media, job, transcript,
    analyses), two plain ones and a webhook with a delivery; user-2 has one recording."""
    files = (
        StoredFile(FileKind.SOURCE, "k/source.webm", 9000, "video/webm"),
        StoredFile(FileKind.VIDEO, "k/video.mp4", 8000, "video/mp4"),
        StoredFile(FileKind.THUMBNAIL, "k/t.jpg", 10, "image/jpeg", 640, 360),
    )
    media = MediaInfo(duration=42.5, format_name="webm", has_video=True, has_audio=True, width=1280)
    rich = _recording(
        1,
        status=RecordingStatus.READY,
        files=files,
        media=media,
        speaker_names={"0": "Zoë"},
        language="de",
        description='He said "100% done_" \\ ok',
        num_speakers=2,
        fps=30,
        quality="1080p",
        file_size=9000,
        has_microphone=True,
    )
    job = new_job(JobId("job-1"), rich.id, NOW)
    step = job.step(StepName.PROBE).claim("w1", NOW, NOW + timedelta(seconds=60))
    job = job.with_step(step.succeed(NOW, {"duration": 1.5, "codecs": ["vp9"]}))
    result = sample_transcript_result()
    transcript = Transcript(
        recording_id=rich.id,
        text=result.text,
        language="en",
        segments=result.segments,
        words=result.words,
        engine="fake",
        created_at=NOW,
        speaker_count=2,
        audio_seconds=14.0,
        voices=(SpeakerVoice("0", (0.6, 0.8), 3.5),),
    )
    analysis = Analysis(
        rich.id,
        AnalysisKind.ACTION_ITEMS,
        AnalysisStatus.SUCCEEDED,
        "local",
        NOW,
        NOW,
        content=ActionItems((ActionItem("Send notes", 4.5, 1, "1", "Bob", "Friday"),)),
        input_tokens=12,
    )
    hook = WebhookEndpoint(
        WebhookId("hook-1"),
        UserId("user-1"),
        "https://example.com/hook",
        (WebhookEvent.TRANSCRIPT_READY,),
        "whsec_x",
        NOW,
    )
    async with write() as uow:
        for n in (1, 2):
            await uow.users.add(User(UserId(f"user-{n}"), f"person{n}", "hash", NOW))
        for recording in (
            rich,
            _recording(2),
            _recording(3, title="Retro 100%"),
            _recording(4, "user-2"),
        ):
            await uow.recordings.add(recording)
        await uow.jobs.add(job)
        await uow.transcripts.save(transcript)
        await uow.analyses.save(analysis)
        await uow.webhooks.add(hook)
        await uow.webhooks.add_delivery(
            WebhookDelivery(
                DeliveryId("dlv-1"),
                hook.id,
                hook.owner_id,
                WebhookEvent.TRANSCRIPT_READY,
                {"recording_id": rich.id, "n": 1},
                NOW,
                next_attempt_at=NOW,
            )
        )
        await uow.commit()
    return rich


async def test_native_reads_equal_sqlalchemy_reads(pair):
    write, native = pair
    rich = await _everything(write)
    user = UserId("user-1")
    queries = [
        RecordingQuery(owner_id=user),
        RecordingQuery(owner_id=user, limit=1, offset=1),
        RecordingQuery(owner_id=user, search="100%"),
        RecordingQuery(owner_id=user, status=RecordingStatus.READY),
        RecordingQuery(owner_id=user, created_before=NOW + timedelta(minutes=2)),
        RecordingQuery(),
    ]

    async def read(factory):
        async with factory() as uow:
            return (
                await uow.users.get(user),
                await uow.users.get_by_username("person2"),
                await uow.users.get_by_username("nobody"),
                await uow.recordings.get(rich.id, user),
                await uow.recordings.get(rich.id),
                [await uow.recordings.list(q) for q in queries],
                await uow.jobs.for_recording(rich.id),
                await uow.jobs.get(JobId("job-1")),
                await uow.jobs.for_recording(RecordingId("rec-00002")),
                await uow.transcripts.get(rich.id),
                await uow.transcripts.get(RecordingId("rec-00002")),
                list(await uow.analyses.list(rich.id)),
                list(await uow.webhooks.list(user)),
                await uow.webhooks.get(WebhookId("hook-1"), user),
                # a detail read of a recording with nothing made of it yet
                await uow.recordings.get(RecordingId("rec-00002"), user),
                await uow.jobs.for_recording(RecordingId("rec-00002")),
                await uow.transcripts.get(RecordingId("rec-00002")),
                list(await uow.analyses.list(RecordingId("rec-00002"))),
            )

    expected = await read(write)
    got = await read(native)
    assert got == expected
    loaded = got[3]
    assert loaded == rich and loaded.created_at.tzinfo is not None
    assert [p.total for p in got[5]] == [3, 3, 1, 1, 1, 4]
    assert got[9] is not None and got[9].words == sample_transcript_result().words
    # the detail's one-statement read gives the drivers' types, not JSON's
    assert all(type(s.start) is float and type(s.end) is float for s in got[9].segments)
    assert got[6] is not None and all(
        s.started_at is None or s.started_at.tzinfo is not None for s in got[6].steps
    )
    assert got[-3:] == (None, None, [])


async def test_another_users_recording_is_not_found_natively(pair):
    write, native = pair
    rich = await _everything(write)
    async with native() as uow:
        with pytest.raises(RecordingNotFoundError):
            await uow.recordings.get(rich.id, UserId("user-2"))


async def test_a_recording_added_natively_is_committed_at_once(pair):
    write, native = pair
    await _everything(write)
    fresh = _recording(9, speaker_names={}, media=None)
    async with native() as uow:
        await uow.recordings.add(fresh)
        await uow.commit()
    async with write() as uow:
        assert await uow.recordings.get(fresh.id) == fresh
    with pytest.raises(ConflictError):  # the same id twice
        async with native() as uow:
            await uow.recordings.add(fresh)
    with pytest.raises(InvalidInputError):  # larger than a BIGINT
        async with native() as uow:
            await uow.recordings.add(attrs.evolve(fresh, id=RecordingId("rec-x"), file_size=2**70))
    with pytest.raises(InvalidInputError):  # longer than the column
        async with native() as uow:
            await uow.recordings.add(attrs.evolve(fresh, id=RecordingId("rec-y"), title="t" * 300))
    async with write() as uow:  # none of them left a row
        assert (await uow.recordings.list(RecordingQuery(owner_id=UserId("user-1")))).total == 4


async def test_native_connections_the_server_dropped_are_replaced(pair, pg_database):
    write, native = pair
    await _everything(write)
    async with native() as uow:
        assert (await uow.recordings.list(RecordingQuery())).total == 4
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            pg_database.rsplit("/", 1)[1],
        )
    finally:
        await admin.close()
    try:  # a connection already checked out may fail once, as a 503 ...
        async with native() as uow:
            await uow.recordings.list(RecordingQuery())
    except RepositoryUnavailableError:
        pass
    async with native() as uow:  # ... and the next one works
        assert (await uow.recordings.list(RecordingQuery())).total == 4
