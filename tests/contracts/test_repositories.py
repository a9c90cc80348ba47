"""One repository contract suite, run against the in-memory fake, SQLite and PostgreSQL.

The fake (``elyune_adapters.memory``) is what the unit tests and library users run the
core on: it is held to the same contract as the SQL adapter, so the two cannot drift
apart unseen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from elyune_adapters.memory import InMemoryState, in_memory_uow, sample_transcript_result
from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import create_engine, current_revision, head_revision, upgrade
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core import (
    ActionItem,
    ActionItems,
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    ConflictError,
    DeliveryAttempt,
    DeliveryId,
    DeliveryStatus,
    FileKind,
    JobId,
    JobStatus,
    MediaInfo,
    Recording,
    RecordingId,
    RecordingNotFoundError,
    RecordingStatus,
    Sentiment,
    SentimentLabel,
    SpeakerSentiment,
    StepName,
    StepStatus,
    StoredFile,
    Transcript,
    User,
    UserId,
    WebhookEndpoint,
    WebhookEvent,
    WebhookId,
    WebhookNotFoundError,
    new_job,
)
from elyune_core.entities import SpeakerVoice, WebhookDelivery
from elyune_core.ports import RecordingQuery
from tests.conftest import reset_schema

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def uow_factory(request, tmp_path):
    if request.param == "memory":
        yield in_memory_uow(InMemoryState())
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database")
        await reset_schema(url)
    engine = create_engine(DatabaseSettings(url=url))
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
    yield lambda: SqlUnitOfWork(engine)
    await engine.dispose()


def _user(n: int = 1) -> User:
    return User(UserId(f"user-{n}"), f"person{n}", "hash", NOW)


def _recording(n: int, owner: str = "user-1", created: datetime = NOW, **kw) -> Recording:
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


async def _seed(uow_factory, *recordings, users=(1,)):
    async with uow_factory() as uow:
        for n in users:
            await uow.users.add(_user(n))
        for recording in recordings:
            await uow.recordings.add(recording)
        await uow.commit()


async def test_a_recording_round_trips_with_its_files_and_media(uow_factory):
    media = MediaInfo(duration=42.5, format_name="webm", has_video=True, has_audio=True, width=1280)
    recording = _recording(
        1,
        media=media,
        files=(StoredFile(FileKind.THUMBNAIL, "k/t.jpg", 10, "image/jpeg", 640, 360),),
        speaker_names={"0": "Zoë"},
        language="de",
    )
    await _seed(uow_factory, recording)
    async with uow_factory() as uow:
        loaded = await uow.recordings.get(recording.id)
    assert loaded == recording
    assert loaded.created_at.tzinfo is not None


async def test_a_listed_page_carries_each_recordings_files_in_order(uow_factory):
    files = (
        StoredFile(FileKind.SOURCE, "k/source.webm", 9000, "video/webm"),
        StoredFile(FileKind.VIDEO, "k/video.mp4", 8000, "video/mp4"),
        StoredFile(FileKind.THUMBNAIL, "k/t.jpg", 10, "image/jpeg", 640, 360),
    )
    with_files = _recording(1, created=NOW, files=files, file_size=9000)
    bare = _recording(2, created=NOW + timedelta(minutes=1))
    older = _recording(3, created=NOW - timedelta(minutes=1), files=files[:1])
    await _seed(uow_factory, with_files, bare, older)
    async with uow_factory() as uow:
        page = await uow.recordings.list(RecordingQuery(owner_id=UserId("user-1"), limit=2))
        rest = await uow.recordings.list(RecordingQuery(owner_id=UserId("user-1"), offset=2))
    assert page.items == (bare, with_files)  # one row per recording, all files, in order
    assert page.total == 3
    assert rest.items == (older,)


async def test_another_users_recording_is_not_found(uow_factory):
    await _seed(uow_factory, _recording(1), users=(1, 2))
    async with uow_factory() as uow:
        with pytest.raises(RecordingNotFoundError):
            await uow.recordings.get(RecordingId("rec-00001"), UserId("user-2"))
        assert (await uow.recordings.get(RecordingId("rec-00001"), UserId("user-1"))).id


async def test_listing_is_newest_first_filtered_searched_and_paged(uow_factory):
    recs = [
        _recording(n, created=NOW + timedelta(minutes=n), title=f"Sprint {n} 100%_done")
        for n in range(1, 8)
    ]
    recs.append(_recording(99, owner="user-2"))
    recs[2] = attrs.evolve(recs[2], status=RecordingStatus.READY)
    await _seed(uow_factory, *recs, users=(1, 2))
    async with uow_factory() as uow:
        page = await uow.recordings.list(RecordingQuery(owner_id=UserId("user-1"), limit=3))
        assert page.total == 7
        assert [r.id for r in page.items] == ["rec-00007", "rec-00006", "rec-00005"]
        second = await uow.recordings.list(
            RecordingQuery(owner_id=UserId("user-1"), offset=3, limit=3)
        )
        assert [r.id for r in second.items] == ["rec-00004", "rec-00003", "rec-00002"]
        ready = await uow.recordings.list(
            RecordingQuery(owner_id=UserId("user-1"), status=RecordingStatus.READY)
        )
        assert [r.id for r in ready.items] == ["rec-00003"]
        found = await uow.recordings.list(
            RecordingQuery(owner_id=UserId("user-1"), search="SPRINT 4")
        )
        assert [r.id for r in found.items] == ["rec-00004"]
        literal = await uow.recordings.list(RecordingQuery(search="0%_d"))
        assert literal.total == 7  # % and _ are matched literally
        nothing = await uow.recordings.list(RecordingQuery(search="x%"))
        assert nothing.total == 0


async def test_rolled_back_unless_committed(uow_factory):
    async with uow_factory() as uow:
        await uow.users.add(_user())
    async with uow_factory() as uow:
        assert await uow.users.get_by_username("person1") is None


async def test_usernames_are_unique(uow_factory):
    await _seed(uow_factory)
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.users.add(attrs.evolve(_user(), id=UserId("other")))


async def test_jobs_steps_transcripts_and_analyses_round_trip(uow_factory):
    recording = _recording(1, status=RecordingStatus.UPLOADED)
    await _seed(uow_factory, recording)
    # a live recording's job, transcribed from its stretches, keeps that through storage
    job = new_job(JobId("job-1"), recording.id, NOW, from_stretches=True)
    step = job.step(StepName.PROBE).claim("w1", NOW, NOW + timedelta(seconds=60))
    job = job.with_step(step.succeed(NOW, {"duration": 1.5, "codecs": ["vp9"]}))
    result = sample_transcript_result()
    transcript = Transcript(
        recording_id=recording.id,
        text=result.text,
        language="en",
        segments=result.segments,
        words=result.words,
        engine="fake",
        created_at=NOW,
        speaker_count=2,
        voices=(SpeakerVoice("0", (0.6, 0.8), 3.5), SpeakerVoice("1", (1.0, 0.0), 2.25)),
    )
    analyses = [
        Analysis(
            recording.id,
            AnalysisKind.ACTION_ITEMS,
            AnalysisStatus.SUCCEEDED,
            "local",
            NOW,
            NOW,
            content=ActionItems((ActionItem("Send notes", 4.5, 1, "1", "Bob", "Friday"),)),
        ),
        Analysis(
            recording.id,
            AnalysisKind.SENTIMENT,
            AnalysisStatus.SUCCEEDED,
            "local",
            NOW,
            NOW,
            content=Sentiment(
                SentimentLabel.POSITIVE, 0.6, (SpeakerSentiment("0", SentimentLabel.MIXED, 0.1),)
            ),
        ),
    ]
    async with uow_factory() as uow:
        await uow.jobs.add(job)
        await uow.transcripts.save(transcript)
        await uow.transcripts.save(transcript)  # saving twice replaces
        for analysis in analyses:
            await uow.analyses.save(analysis)
        await uow.analyses.save(analyses[0])
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.jobs.get(job.id) == job
        assert await uow.jobs.for_recording(recording.id) == job
        assert await uow.transcripts.get(recording.id) == transcript
        assert list(await uow.analyses.list(recording.id)) == analyses
        with pytest.raises(ConflictError):
            await uow.jobs.add(attrs.evolve(job, id=JobId("job-2")))


async def test_deleting_a_recording_removes_all_its_rows(uow_factory):
    recording = _recording(1, status=RecordingStatus.UPLOADED)
    await _seed(uow_factory, recording, _recording(2))
    result = sample_transcript_result()
    async with uow_factory() as uow:
        await uow.jobs.add(new_job(JobId("job-1"), recording.id, NOW))
        await uow.transcripts.save(
            Transcript(recording.id, result.text, "en", result.segments, result.words, "f", NOW)
        )
        await uow.commit()
    async with uow_factory() as uow:
        await uow.recordings.delete(recording.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.jobs.for_recording(recording.id) is None
        assert await uow.transcripts.get(recording.id) is None
        assert (await uow.recordings.list(RecordingQuery())).total == 1


async def test_job_lock_serialises_concurrent_claims(uow_factory):
    """Two workers racing for one step: exactly one claims it."""
    recording = _recording(1, status=RecordingStatus.UPLOADED)
    await _seed(uow_factory, recording)
    async with uow_factory() as uow:
        await uow.jobs.add(new_job(JobId("job-1"), recording.id, NOW))
        await uow.commit()

    async def claim(worker: str) -> bool:
        async with uow_factory() as uow:
            job = await uow.jobs.lock(JobId("job-1"))
            step = job.step(StepName.PROBE)
            if step.status is not StepStatus.PENDING:
                return False
            await asyncio.sleep(0.05)  # widen the race window
            await uow.jobs.save(job.with_step(step.claim(worker, NOW, NOW)))
            await uow.commit()
            return True

    results = await asyncio.gather(*(claim(f"w{i}") for i in range(4)))
    assert sorted(results) == [False, False, False, True]
    async with uow_factory() as uow:
        assert (await uow.jobs.get(JobId("job-1"))).step(StepName.PROBE).attempts == 1


async def test_the_sqlite_reader_sees_committed_rows_and_cannot_write(tmp_path):
    from elyune_adapters.sql.reader import create_sqlite_reader
    from elyune_adapters.sql.unit_of_work import SqlReadUnitOfWork

    settings = DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    engine = create_engine(settings)
    await upgrade(engine)
    reader = create_sqlite_reader(settings)
    writer = lambda: SqlUnitOfWork(engine)  # noqa: E731
    await _seed(writer, _recording(1), _recording(2))
    async with SqlReadUnitOfWork(reader) as uow:
        assert (await uow.recordings.list(RecordingQuery())).total == 2
        assert (await uow.recordings.get(RecordingId("rec-00001"))).title == "Weekly sync 1"
        with pytest.raises(RecordingNotFoundError):
            await uow.recordings.get(RecordingId("nope"))
        with pytest.raises(RuntimeError):
            await uow.users.add(attrs.evolve(_user(), id=UserId("u9"), username="z"))
        with pytest.raises(RuntimeError, match="cannot commit"):
            await uow.commit()
    await _seed(writer, _recording(3), users=())
    async with SqlReadUnitOfWork(reader) as uow:  # a later read sees the new commit
        assert (await uow.recordings.list(RecordingQuery())).total == 3
    reader.dispose()
    await engine.dispose()


async def test_claiming_webhook_deliveries_is_fair_between_users_and_endpoints(uow_factory):
    await _seed(uow_factory, users=(1, 2))
    endpoints = [
        WebhookEndpoint(
            WebhookId(f"hook-{n}"),
            UserId("user-1" if n < 3 else "user-2"),
            f"https://example.com/{n}",
            (WebhookEvent.TRANSCRIPT_READY,),
            "whsec_x",
            NOW,
        )
        for n in range(4)
    ]
    async with uow_factory() as uow:
        for endpoint in endpoints:
            await uow.webhooks.add(endpoint)
        # user-1: 30 old deliveries over 3 endpoints; user-2: one newer delivery
        for n in range(31):
            endpoint = endpoints[n % 3] if n < 30 else endpoints[3]
            due = NOW + timedelta(seconds=n)
            await uow.webhooks.add_delivery(
                WebhookDelivery(
                    DeliveryId(f"dlv-{n:03d}"),
                    endpoint.id,
                    endpoint.owner_id,
                    WebhookEvent.TRANSCRIPT_READY,
                    {"n": n},
                    NOW,
                    next_attempt_at=due,
                )
            )
        await uow.commit()
    later = NOW + timedelta(minutes=1)
    lease = later + timedelta(minutes=2)
    async with uow_factory() as uow:
        claimed = await uow.webhooks.claim_due(later, lease, 10, per_owner=4, per_endpoint=2)
        await uow.commit()
    owners = [d.owner_id for d in claimed]
    assert owners.count("user-1") == 4
    assert owners.count("user-2") == 1  # not starved by user-1's older backlog
    by_endpoint = [d.endpoint_id for d in claimed if d.owner_id == "user-1"]
    assert max(by_endpoint.count(e) for e in set(by_endpoint)) <= 2
    async with uow_factory() as uow:
        again = await uow.webhooks.claim_due(
            later, lease, 10, per_owner=4, skip_owners={UserId("user-1")}
        )
        await uow.commit()
    assert again == []  # user-2's one is leased; user-1 is skipped
    async with uow_factory() as uow:
        rest = await uow.webhooks.claim_due(later, lease, 50)
        await uow.commit()
    assert len(rest) == 26 and {d.owner_id for d in rest} == {"user-1"}


def _endpoint(n: int, owner: str = "user-1", **kw) -> WebhookEndpoint:
    return WebhookEndpoint(
        WebhookId(f"hook-{n}"),
        UserId(owner),
        f"https://example.com/{n}",
        kw.pop("events", (WebhookEvent.TRANSCRIPT_READY,)),
        "whsec_x",
        NOW + timedelta(seconds=n),
        **kw,
    )


async def test_webhook_endpoints_are_the_owners_and_leave_with_their_deliveries(uow_factory):
    await _seed(uow_factory, users=(1, 2))
    async with uow_factory() as uow:
        await uow.webhooks.add(_endpoint(2))
        await uow.webhooks.add(_endpoint(1, description="CI"))
        await uow.webhooks.add(_endpoint(3, owner="user-2"))
        await uow.webhooks.add(
            _endpoint(4, events=(WebhookEvent.PROCESSING_FAILED,), is_active=True)
        )
        await uow.webhooks.add(_endpoint(5, is_active=False))
        for n in range(3):
            await uow.webhooks.add_delivery(
                WebhookDelivery(
                    DeliveryId(f"dlv-{n}"),
                    WebhookId("hook-1"),
                    UserId("user-1"),
                    WebhookEvent.TRANSCRIPT_READY,
                    {"n": n},
                    NOW + timedelta(seconds=n),
                )
            )
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.webhooks.get(WebhookId("hook-1"), UserId("user-1"))).description == "CI"
        with pytest.raises(WebhookNotFoundError):
            await uow.webhooks.get(WebhookId("hook-3"), UserId("user-1"))  # user-2's
        listed = await uow.webhooks.list(UserId("user-1"))
        assert [e.id for e in listed] == ["hook-1", "hook-2", "hook-4", "hook-5"]  # oldest first
        wanted = await uow.webhooks.subscribed(UserId("user-1"), WebhookEvent.TRANSCRIPT_READY)
        assert sorted(e.id for e in wanted) == ["hook-1", "hook-2"]  # active, subscribed
        log = await uow.webhooks.deliveries(WebhookId("hook-1"))
        assert [d.id for d in log] == ["dlv-2", "dlv-1", "dlv-0"]  # newest first
        assert [d.id for d in await uow.webhooks.deliveries(WebhookId("hook-1"), limit=1)] == [
            "dlv-2"
        ]
        done = attrs.evolve(
            log[0],
            status=DeliveryStatus.SUCCEEDED,
            attempts=(DeliveryAttempt(NOW, 200, None, 12),),
            delivered_at=NOW,
        )
        await uow.webhooks.save_delivery(done)
        await uow.commit()
    async with uow_factory() as uow:
        saved = (await uow.webhooks.deliveries(WebhookId("hook-1")))[0]
        assert saved.status is DeliveryStatus.SUCCEEDED
        assert saved.attempts == (DeliveryAttempt(NOW, 200, None, 12),)
        await uow.webhooks.delete(WebhookId("hook-1"))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(WebhookNotFoundError):
            await uow.webhooks.get(WebhookId("hook-1"), UserId("user-1"))
        assert await uow.webhooks.deliveries(WebhookId("hook-1")) == []
        assert (
            await uow.webhooks.claim_due(NOW + timedelta(hours=1), NOW + timedelta(hours=2)) == []
        )


async def test_unfinished_jobs_come_oldest_first(uow_factory):
    """The reconciler resumes the oldest work first, whatever the store."""
    recordings = [_recording(n, status=RecordingStatus.PROCESSING) for n in range(1, 6)]
    await _seed(uow_factory, *recordings)
    order = [3, 1, 5, 2, 4]
    async with uow_factory() as uow:
        for n in order:
            job = new_job(JobId(f"job-{n}"), recordings[n - 1].id, NOW + timedelta(minutes=n))
            if n == 5:
                job = attrs.evolve(job, status=JobStatus.SUCCEEDED)
            await uow.jobs.add(job)
        await uow.commit()
    async with uow_factory() as uow:
        assert [j.id for j in await uow.jobs.unfinished()] == ["job-1", "job-2", "job-3", "job-4"]
        assert [j.id for j in await uow.jobs.unfinished(limit=2)] == ["job-1", "job-2"]
        newest = await uow.jobs.list(limit=2)
        assert [j.id for j in newest] == ["job-5", "job-4"]
        done = await uow.jobs.list(status=JobStatus.SUCCEEDED)
        assert [j.id for j in done] == ["job-5"]
