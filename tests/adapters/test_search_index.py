"""The search index on SQLite FTS5 and PostgreSQL tsvector, and the in-memory fake:
the same behaviour through the use cases that maintain it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from elyune_adapters.analysis.answer import ExtractiveAnswerer
from elyune_adapters.memory import (
    FixedClock,
    InMemoryObjectStore,
    InMemoryState,
    SequentialIds,
    in_memory_uow,
    sample_transcript_result,
)
from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import create_engine, upgrade
from elyune_adapters.sql.search import SqlSearchIndex
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core import (
    ActionItem,
    ActionItems,
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    InvalidInputError,
    Recording,
    RecordingId,
    RecordingStatus,
    Segment,
    SpeakerMatch,
    Transcript,
    User,
    UserId,
    VoiceProfile,
    VoiceProfileId,
)
from elyune_core._search import DocumentKind, SearchQuery, parse_query
from elyune_core.entities import VoiceContribution
from elyune_core.use_cases import (
    AskInput,
    AskQuestion,
    DeleteRecording,
    DeleteVoiceProfile,
    RenameSpeakers,
    RenameSpeakersInput,
    RenameVoiceProfile,
    RenameVoiceProfileInput,
    SearchInput,
    SearchRecordings,
    SetVoiceProfiles,
    SetVoiceProfilesInput,
    UpdateRecording,
    UpdateRecordingInput,
    reindex_recording,
)
from tests.conftest import reset_schema

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ALICE, BOB = UserId("user-a"), UserId("user-b")


class _Languages:
    def problem(self, language: str) -> str | None:
        return None

    def pattern(self) -> str:
        return ".*"


@pytest.fixture(params=["sqlite", "postgres", "memory"])
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
    yield lambda: SqlUnitOfWork(engine)
    await engine.dispose()


def _recording(n: int, owner: UserId, **kw) -> Recording:
    return Recording(
        id=RecordingId(f"rec-{n}"),
        owner_id=owner,
        title=kw.pop("title", f"Meeting {n}"),
        filename="talk.webm",
        source_key=f"recordings/{owner}/rec-{n}/source.webm",
        status=kw.pop("status", RecordingStatus.READY),
        created_at=kw.pop("created", NOW),
        updated_at=NOW,
        **kw,
    )


def _transcript(rid: str, segments: list[tuple[str, float, float, str]], language="en"):
    segs = tuple(
        Segment(id=i, start=s, end=e, text=txt, speaker=spk)
        for i, (spk, s, e, txt) in enumerate(segments)
    )
    return Transcript(
        recording_id=RecordingId(rid),
        text=" ".join(s.text for s in segs),
        language=language,
        segments=segs,
        words=(),
        engine="test",
        created_at=NOW,
        duration=max(s.end for s in segs) + 1,
    )


BACKUP = [
    ("0", 0.0, 5.5, "Good morning, let's get started with the infrastructure review."),
    ("1", 6.0, 12.25, "We decided the backup window moves to Sunday night, two to four."),
    ("0", 13.0, 19.0, "Great, and the restore drills happen monthly from now on."),
]
OTHER = [
    ("0", 0.0, 4.0, "The backup window of the secret project is Tuesday."),
]


async def _seed(uow_factory):
    sample = sample_transcript_result()
    async with uow_factory() as uow:
        await uow.users.add(User(ALICE, "alice", "h", NOW))
        await uow.users.add(User(BOB, "bob", "h", NOW))
        await uow.recordings.add(
            _recording(1, ALICE, title="Infra review", speaker_names={"1": "Dana", "0": "Zoë"})
        )
        await uow.recordings.add(
            _recording(2, ALICE, title="Launch sync", created=NOW + timedelta(days=2))
        )
        await uow.recordings.add(_recording(3, BOB, title="Secret backup plans"))
        await uow.transcripts.save(_transcript("rec-1", BACKUP))
        await uow.transcripts.save(
            Transcript(
                recording_id=RecordingId("rec-2"),
                text=sample.text,
                language="en",
                segments=sample.segments,
                words=sample.words,
                engine="fake",
                created_at=NOW,
                duration=14.0,
            )
        )
        await uow.transcripts.save(_transcript("rec-3", OTHER))
        await uow.analyses.save(
            Analysis(
                recording_id=RecordingId("rec-2"),
                kind=AnalysisKind.ACTION_ITEMS,
                status=AnalysisStatus.SUCCEEDED,
                engine="local",
                created_at=NOW,
                updated_at=NOW,
                content=ActionItems(
                    (ActionItem("Send the release notes", 4.5, 1, "1", "Bob", "Friday"),)
                ),
            )
        )
        for n in (1, 2, 3):
            await reindex_recording(uow, RecordingId(f"rec-{n}"))
        await uow.commit()


async def _search(uow_factory, q: str, owner: UserId = ALICE, **kw):
    return await SearchRecordings(uow=uow_factory).execute(SearchInput(owner, q, **kw))


async def test_a_transcript_hit_carries_its_segment_times_speaker_and_highlight(uow_factory):
    """Searching 'backup windows' (stemmed) finds the segment where it was said."""
    await _seed(uow_factory)
    page = await _search(uow_factory, "Backup windows")
    assert page.total == 1
    hit = page.items[0]
    assert (hit.recording_id, hit.kind.value, hit.position) == ("rec-1", "segment", 1)
    assert (hit.start, hit.end) == (6.0, 12.25)
    assert (hit.speaker, hit.speaker_name) == ("1", "Dana")
    assert hit.recording_title == "Infra review"
    marked = [hit.snippet.text[a:b].lower() for a, b in hit.snippet.highlights]
    assert marked == ["backup", "window"]
    assert "<mark>backup</mark>" in hit.snippet.html()


async def test_the_sample_meeting_is_found_at_its_moment(uow_factory):
    """The sample transcript: 'release notes' is said by speaker 1 at 4.5 s, and the
    action item made of it is found too."""
    await _seed(uow_factory)
    page = await _search(uow_factory, '"release notes"')
    found = {(h.kind.value, h.field, h.start) for h in page.items}
    assert ("segment", "transcript", 4.5) in found
    assert ("analysis", "action_items", 4.5) in found
    assert all(h.recording_id == "rec-2" for h in page.items)


async def test_another_users_recordings_never_appear(uow_factory):
    await _seed(uow_factory)
    mine = await _search(uow_factory, "secret")
    assert mine.total == 0 and mine.items == ()
    theirs = await _search(uow_factory, "secret", owner=BOB)
    assert {h.recording_id for h in theirs.items} == {"rec-3"}


async def test_titles_speakers_and_filters(uow_factory):
    await _seed(uow_factory)
    title = await _search(uow_factory, "infra review")
    assert ("title", "rec-1") in {(h.kind.value, h.recording_id) for h in title.items}
    speaker = await _search(uow_factory, "dana")
    assert [(h.kind.value, h.start) for h in speaker.items] == [("speaker", 6.0)]
    by_speaker = await _search(uow_factory, "great", speaker="dana")
    assert by_speaker.total == 0
    by_speaker = await _search(uow_factory, "backup", speaker="Dana")
    assert by_speaker.total == 1
    zoe = await _search(uow_factory, "great", speaker="ZOË")  # case-folded, not ASCII only
    assert [(h.recording_id, h.speaker_name) for h in zoe.items] == [("rec-1", "Zoë")]
    later = await _search(uow_factory, "great", created_after=NOW + timedelta(days=1))
    assert {h.recording_id for h in later.items} == {"rec-2"}
    failed = await _search(uow_factory, "great", status=RecordingStatus.FAILED)
    assert failed.total == 0
    paged = await _search(uow_factory, "great", limit=1)
    assert paged.total == 2 and len(paged.items) == 1
    rest = await _search(uow_factory, "great", limit=1, offset=1)
    assert rest.items[0] != paged.items[0]
    past = await _search(uow_factory, "great", limit=1, offset=5)
    assert (past.items, past.total) == ((), 2)


async def test_renaming_a_speaker_updates_the_hits(uow_factory):
    await _seed(uow_factory)
    await RenameSpeakers(uow=uow_factory, clock=FixedClock(), ids=SequentialIds()).execute(
        RenameSpeakersInput(ALICE, RecordingId("rec-1"), {"1": "Morgan"})
    )
    hit = (await _search(uow_factory, "backup window")).items[0]
    assert hit.speaker_name == "Morgan"
    assert (await _search(uow_factory, "dana")).total == 0
    assert (await _search(uow_factory, "morgan")).total == 1


DANA = VoiceProfileId("vp-dana")


async def _dana_profile(uow_factory) -> None:
    """The profile "Dana": learned from rec-1's speaker 1 (named by hand in the seed),
    matched to rec-2's speaker 1 (the sample's "I will send the release notes")."""
    async with uow_factory() as uow:
        await uow.voice_profiles.add(
            VoiceProfile(
                DANA,
                ALICE,
                "Dana",
                NOW,
                NOW,
                (VoiceContribution(RecordingId("rec-1"), "1", (0.6, 0.8), 12.0),),
            )
        )
        matched = (await uow.recordings.lock(RecordingId("rec-2"))).with_speaker_matches(
            {"1": SpeakerMatch(DANA, "Dana", 0.9, 0.95)}, NOW
        )
        await uow.recordings.save(matched)
        await reindex_recording(uow, matched.id)
        await uow.commit()


def _segment_hits(page):
    return [
        (h.recording_id, h.position, h.speaker_name) for h in page.items if h.field == "transcript"
    ]


async def test_renaming_a_voice_profile_reindexes_every_recording_it_names(uow_factory):
    """The profile's match (rec-2) and the speaker named by hand it learned from (rec-1)
    take the new name in the hits; the old name finds nothing any more."""
    await _seed(uow_factory)
    await _dana_profile(uow_factory)
    before = await _search(uow_factory, '"release notes"', speaker="Dana")
    assert _segment_hits(before) == [("rec-2", 1, "Dana")]
    await RenameVoiceProfile(uow=uow_factory, clock=FixedClock()).execute(
        RenameVoiceProfileInput(ALICE, DANA, "Morgan")
    )
    after = await _search(uow_factory, '"release notes"', speaker="Morgan")
    assert _segment_hits(after) == [("rec-2", 1, "Morgan")]
    assert _segment_hits(await _search(uow_factory, "backup", speaker="morgan")) == [
        ("rec-1", 1, "Morgan")
    ]
    assert (await _search(uow_factory, '"release notes"', speaker="Dana")).total == 0
    assert (await _search(uow_factory, "backup", speaker="Dana")).total == 0
    assert (await _search(uow_factory, "dana")).total == 0  # no speaker document either
    speakers = await _search(uow_factory, "morgan")
    assert {(h.recording_id, h.kind.value) for h in speakers.items} == {
        ("rec-1", "speaker"),
        ("rec-2", "speaker"),
    }


@pytest.mark.parametrize("how", ["delete the profile", "turn profiles off", "delete its source"])
async def test_a_profile_that_goes_takes_its_matched_name_out_of_the_hits(uow_factory, how):
    """Deleting the profile, turning voice profiles off, or deleting the one recording it
    learned from: rec-2's speaker 1 is "Speaker 1" again in the index."""
    await _seed(uow_factory)
    await _dana_profile(uow_factory)
    if how == "delete the profile":
        await DeleteVoiceProfile(uow=uow_factory, clock=FixedClock()).execute(ALICE, DANA)
    elif how == "turn profiles off":
        await SetVoiceProfiles(uow=uow_factory, clock=FixedClock()).execute(
            SetVoiceProfilesInput(ALICE, False)
        )
    else:
        await DeleteRecording(
            uow=uow_factory, store=InMemoryObjectStore(), clock=FixedClock()
        ).execute(RecordingId("rec-1"), ALICE)
    assert _segment_hits(await _search(uow_factory, '"release notes"')) == [
        ("rec-2", 1, "Speaker 1")
    ]
    assert (await _search(uow_factory, '"release notes"', speaker="Dana")).total == 0
    named = await _search(uow_factory, "dana")
    kept = [] if how == "delete its source" else [("rec-1", "speaker")]  # named by hand
    assert [(h.recording_id, h.kind.value) for h in named.items] == kept


async def test_a_new_title_is_searchable(uow_factory):
    await _seed(uow_factory)
    await UpdateRecording(uow=uow_factory, clock=FixedClock(), languages=_Languages()).execute(
        UpdateRecordingInput(ALICE, RecordingId("rec-1"), title="Quarterly storage planning")
    )
    assert (await _search(uow_factory, "storage planning")).total == 1
    assert (await _search(uow_factory, "infra")).total == 0


async def test_deleting_a_recording_removes_its_hits(uow_factory):
    await _seed(uow_factory)
    await DeleteRecording(uow=uow_factory, store=InMemoryObjectStore(), clock=FixedClock()).execute(
        RecordingId("rec-1"), ALICE
    )
    assert (await _search(uow_factory, "backup")).total == 0
    theirs = await _search(uow_factory, "backup", owner=BOB)
    assert {h.recording_id for h in theirs.items} == {"rec-3"}


async def test_query_syntax_is_never_the_engines(uow_factory):
    """Operators, quotes and column names in a query are words, not syntax."""
    await _seed(uow_factory)
    for q in ['backup" OR "x', "text:backup", "backup NEAR(window)", "backup*", "-backup & !x"]:
        page = await _search(uow_factory, q)
        assert isinstance(page.total, int)
    # "OR" is a word (every word must match), not an operator
    assert (await _search(uow_factory, "backup OR zebra")).total == 0
    assert (await _search(uow_factory, "?! ...")).total == 0  # no word: nothing matches


@pytest.mark.parametrize(
    ("q", "field"), [("", "q"), ("   ", "q"), ("x" * 201, "q"), ("a\x00", "q")]
)
async def test_bad_queries_are_refused_with_a_field_message(q, field):
    uow = in_memory_uow(InMemoryState())
    with pytest.raises(InvalidInputError) as caught:
        await SearchRecordings(uow=uow).execute(SearchInput(ALICE, q))
    assert field in caught.value.errors  # type: ignore[attr-defined]


async def test_the_migration_backfills_existing_transcripts(tmp_path):
    """A database with transcripts from before 0008_search finds them after upgrading."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(DatabaseSettings(url=url))
    await upgrade(engine, "0007_staff_users")  # the revision before 0008_search
    async with SqlUnitOfWork(engine) as uow:
        await uow.users.add(User(ALICE, "alice", "h", NOW))
        await uow.recordings.add(_recording(1, ALICE, title="Infra review"))
        # the old schema has no search table: write the transcript's rows directly
        await uow._conn.execute(  # type: ignore[attr-defined]
            text(
                "INSERT INTO transcripts (recording_id, text, language, engine, words, "
                "created_at) VALUES ('rec-1', 'x', 'en', 'test', '[]', '2026-03-01 09:30:00')"
            )
        )
        await uow._conn.execute(  # type: ignore[attr-defined]
            text(
                'INSERT INTO transcript_segments (recording_id, idx, start, "end", speaker, '
                "text) VALUES ('rec-1', 0, 3.5, 8.0, '0', 'The backup window moved.')"
            )
        )
        await uow.commit()
    await upgrade(engine)
    page = await _search(lambda: SqlUnitOfWork(engine), "backup")
    await engine.dispose()
    assert [(h.kind.value, h.start) for h in page.items] == [("segment", 3.5)]


async def test_generated_meetings_find_a_planted_phrase_at_its_time(uow_factory):
    """Five generated meetings of 120 segments each: the one segment holding the phrase
    comes back, with its recording, times and speaker; a phrase's words apart do not."""
    import random

    rng = random.Random(5)
    words = [
        "alpha",
        "budget",
        "cluster",
        "deploy",
        "engine",
        "forecast",
        "gateway",
        "harbor",
        "invoice",
    ]
    planted: dict[str, tuple[int, float, float]] = {}
    async with uow_factory() as uow:
        await uow.users.add(User(ALICE, "alice", "h", NOW))
        for n in range(5):
            await uow.recordings.add(_recording(100 + n, ALICE, title=f"Generated {n}"))
            lines = []
            at = 0.0
            for i in range(120):
                text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 20)))
                if n == 3 and i == 57:
                    text = f"{text} so the quarterly backup rotation starts now"
                    planted[f"rec-{100 + n}"] = (i, round(at, 2), round(at + 7.5, 2))
                elif n == 1 and i == 10:
                    text = f"backup {text} quarterly {text} rotation"  # the words, apart
                lines.append((str(i % 3), round(at, 2), round(at + 7.5, 2), text))
                at += 8.0
            await uow.transcripts.save(_transcript(f"rec-{100 + n}", lines))
            await reindex_recording(uow, RecordingId(f"rec-{100 + n}"))
        await uow.commit()
    page = await _search(uow_factory, '"quarterly backup rotation"')
    assert [(h.recording_id, h.position, h.start, h.end) for h in page.items] == [
        (rid, *where) for rid, where in planted.items()
    ]
    assert page.items[0].speaker == str(57 % 3)
    loose = await _search(uow_factory, "quarterly backup rotation")
    assert {h.recording_id for h in loose.items} == {"rec-103", "rec-101"}


async def test_answer_usage_is_summed_per_user(uow_factory):
    async with uow_factory() as uow:
        await uow.users.add(User(ALICE, "alice", "h", NOW))
        await uow.users.add(User(BOB, "bob", "h", NOW))
        await uow.search.record_usage(ALICE, None, "gemini:x", 100, 10, NOW)
        await uow.search.record_usage(ALICE, RecordingId("rec-9"), "gemini:x", 50, 5, NOW)
        await uow.search.record_usage(BOB, None, "gemini:x", 7, 1, NOW - timedelta(days=9))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.search.answer_tokens(NOW - timedelta(days=1)) == {ALICE: (150, 15)}


async def test_any_mode_takes_candidates_per_term_and_ranks_more_terms_first(uow_factory):
    """With a cap of 5 candidates: "window" is in twenty newer segments, "backup" in
    three. The old segment with both words is still ranked (it is among the few of
    "backup"), and the segment with both words that both lists hold comes first."""
    async with uow_factory() as uow:
        await uow.users.add(User(ALICE, "alice", "h", NOW))
        await uow.recordings.add(_recording(1, ALICE, created=NOW - timedelta(days=90)))
        await uow.recordings.add(_recording(2, ALICE))
        await uow.transcripts.save(
            _transcript("rec-1", [("0", 0.0, 4.0, "The backup window moved.")])
        )
        lines = [
            ("0", i * 5.0, i * 5.0 + 4.0, "The window is open, the window.") for i in range(20)
        ]
        lines.append(("1", 100.0, 104.0, "Backup, backup, backup: the backup drive."))
        lines.append(("1", 105.0, 109.0, "Check the backup window twice."))
        await uow.transcripts.save(_transcript("rec-2", lines))
        for n in (1, 2):
            await reindex_recording(uow, RecordingId(f"rec-{n}"))
        await uow.commit()
    query = SearchQuery(
        ALICE, parse_query("backup window"), mode="any", kinds=(DocumentKind.SEGMENT,), limit=50
    )
    async with uow_factory() as uow:
        sql = isinstance(uow, SqlUnitOfWork)
        index = SqlSearchIndex(uow._conn, cap=5) if sql else uow.search  # type: ignore[attr-defined]
        page = await index.search(query)
    found = [(h.recording_id, h.position) for h in page.items]
    assert ("rec-1", 0) in found and ("rec-2", 20) in found
    if sql:  # the newest 5 of "window" and the 3 of "backup", one in both
        assert found[0] == ("rec-2", 21)
        assert page.total == 7
    else:  # the fake has no cap: both segments with both words come first
        assert set(found[:2]) == {("rec-2", 21), ("rec-1", 0)}


FILLER = ["when", "is", "the", "what", "we", "it", "so", "that", "there", "this", "meeting",
          "really", "think", "okay"]  # fmt: skip


async def test_ask_across_a_library_cites_the_oldest_recording_that_answers(uow_factory):
    """Only the oldest recording says "backup window". Twenty-five newer ones hold 1,200
    segments of "when", "is", "the"... (more than a query's candidates), a few of them
    "window" or "backup" alone: the question's common words decide nothing, and the
    segment matching both of its other words is cited first."""
    import random

    rng = random.Random(14)
    async with uow_factory() as uow:
        await uow.users.add(User(ALICE, "alice", "h", NOW))
        await uow.recordings.add(
            _recording(1, ALICE, title="Old infra review", created=NOW - timedelta(days=400))
        )
        await uow.transcripts.save(_transcript("rec-1", BACKUP))
        await reindex_recording(uow, RecordingId("rec-1"))
        for n in range(2, 27):
            await uow.recordings.add(_recording(n, ALICE, created=NOW + timedelta(days=n)))
            lines = [
                ("0", i * 5.0, i * 5.0 + 4.0, " ".join(rng.choice(FILLER) for _ in range(12)))
                for i in range(48)
            ]
            if n % 5 == 0:
                lines[7] = ("1", 35.0, 39.0, "When is the window cleaner coming? The window!")
            if n % 7 == 0:
                lines[9] = ("1", 45.0, 49.0, "Is the backup done? When is the backup done?")
            await uow.transcripts.save(_transcript(f"rec-{n}", lines))
            await reindex_recording(uow, RecordingId(f"rec-{n}"))
        await uow.commit()
    ask = AskQuestion(
        uow=uow_factory, read_uow=uow_factory, answerer=ExtractiveAnswerer(), clock=FixedClock()
    )
    answer = await ask.execute(AskInput(ALICE, "When is the backup window?"))
    first = answer.citations[0]
    assert (first.recording_id, first.segment_id, first.start) == ("rec-1", 1, 6.0)
    assert "backup window" in first.quote
    # the rest are the segments saying one of the two words, never the filler
    assert all("window" in c.quote.lower() or "backup" in c.quote.lower() for c in answer.citations)
