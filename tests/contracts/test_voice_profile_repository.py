"""One contract suite for the VoiceProfileRepository: the in-memory fake, SQLite and
PostgreSQL (through the migrations) behave alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from elyune_adapters.memory import InMemoryState, in_memory_uow
from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import create_engine, upgrade
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core import (
    ConflictError,
    Recording,
    RecordingId,
    RecordingStatus,
    SpeakerMatch,
    User,
    UserId,
    VoiceProfile,
    VoiceProfileId,
    VoiceProfileNotFoundError,
)
from elyune_core.entities import VoiceContribution
from tests.conftest import reset_schema

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
U1, U2 = UserId("user-1"), UserId("user-2")


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
    yield lambda: SqlUnitOfWork(engine)
    await engine.dispose()


def _recording(n: int, owner: UserId = U1) -> Recording:
    return Recording(
        id=RecordingId(f"rec-{n}"),
        owner_id=owner,
        title=f"Sync {n}",
        filename="talk.webm",
        source_key=f"recordings/{owner}/rec-{n}/source.webm",
        status=RecordingStatus.READY,
        created_at=NOW,
        updated_at=NOW,
    )


def _profile(pid: str, name: str, owner: UserId = U1, *parts: VoiceContribution) -> VoiceProfile:
    return VoiceProfile(VoiceProfileId(pid), owner, name, NOW, NOW, tuple(parts))


def _part(n: int, label: str = "0", seconds: float = 10.0) -> VoiceContribution:
    return VoiceContribution(RecordingId(f"rec-{n}"), label, (0.6, 0.8, 0.0), seconds)


@pytest.fixture
async def seeded(uow_factory):
    async with uow_factory() as uow:
        for uid in (U1, U2):
            await uow.users.add(User(uid, f"person-{uid}", "hash", NOW))
        for n, owner in ((1, U1), (2, U1), (3, U2)):
            await uow.recordings.add(_recording(n, owner))
        await uow.commit()
    return uow_factory


async def test_profiles_round_trip_with_their_contributions_per_owner(seeded):
    async with seeded() as uow:
        await uow.voice_profiles.add(_profile("p1", "Zoe", U1, _part(1), _part(2, "1", 4.5)))
        await uow.voice_profiles.add(_profile("p2", "alice", U1, _part(2)))
        await uow.voice_profiles.add(_profile("p3", "Alice", U2, _part(3)))
        await uow.commit()
    async with seeded() as uow:
        mine = await uow.voice_profiles.list(U1)
        assert [p.name for p in mine] == ["alice", "Zoe"]  # by name, case aside
        zoe = await uow.voice_profiles.get(VoiceProfileId("p1"), U1)
        assert zoe.contributions == (_part(1), _part(2, "1", 4.5))
        assert zoe.seconds == 14.5 and zoe.created_at == NOW
        assert zoe.embedding == pytest.approx((0.6, 0.8, 0.0))
        with pytest.raises(VoiceProfileNotFoundError):
            await uow.voice_profiles.get(VoiceProfileId("p3"), U1)  # another user's
        assert (await uow.voice_profiles.find_by_name(U1, "  ALICE ")).id == "p2"
        assert (await uow.voice_profiles.find_by_name(U2, "alice")).id == "p3"
        assert await uow.voice_profiles.find_by_name(U1, "Bob") is None
        found = await uow.voice_profiles.with_recording(RecordingId("rec-2"))
        assert sorted(p.id for p in found) == ["p1", "p2"]


async def test_a_name_is_taken_once_per_owner(seeded):
    async with seeded() as uow:
        await uow.voice_profiles.add(_profile("p1", "Alice", U1, _part(1)))
        await uow.voice_profiles.add(_profile("p2", "Bob", U1, _part(2)))
        with pytest.raises(ConflictError):
            await uow.voice_profiles.add(_profile("p3", "alice", U1, _part(2)))
        await uow.voice_profiles.add(_profile("p4", "Alice", U2, _part(3)))
        with pytest.raises(ConflictError):
            await uow.voice_profiles.save(_profile("p2", "ALICE", U1, _part(2)))
        await uow.commit()
    async with seeded() as uow:
        assert [p.name for p in await uow.voice_profiles.list(U1)] == ["Alice", "Bob"]


async def test_saving_replaces_name_and_contributions_and_delete_removes_all(seeded):
    async with seeded() as uow:
        await uow.voice_profiles.add(_profile("p1", "Alice", U1, _part(1), _part(2)))
        await uow.commit()
    async with seeded() as uow:
        profile = await uow.voice_profiles.get(VoiceProfileId("p1"), U1)
        profile = profile.without(RecordingId("rec-1"), None, NOW).renamed("Alicia", NOW)
        await uow.voice_profiles.save(profile)
        await uow.commit()
    async with seeded() as uow:
        profile = await uow.voice_profiles.get(VoiceProfileId("p1"), U1)
        assert (profile.name, profile.contributions) == ("Alicia", (_part(2),))
        assert await uow.voice_profiles.with_recording(RecordingId("rec-1")) == []
        await uow.voice_profiles.delete(profile.id)
        await uow.commit()
    async with seeded() as uow:
        assert await uow.voice_profiles.list(U1) == []
        assert await uow.voice_profiles.with_recording(RecordingId("rec-2")) == []


async def test_recordings_matched_to_a_profile_are_found_and_matches_round_trip(seeded):
    match = SpeakerMatch(VoiceProfileId("p1"), "Alice", 0.97, 0.99)
    async with seeded() as uow:
        await uow.voice_profiles.add(_profile("p1", "Alice", U1, _part(1)))
        recording = await uow.recordings.lock(RecordingId("rec-2"))
        await uow.recordings.save(recording.with_speaker_matches({"1": match}, NOW))
        await uow.commit()
    async with seeded() as uow:
        recording = await uow.recordings.get(RecordingId("rec-2"))
        assert recording.speaker_matches == {"1": match}
        assert recording.speaker_names == {"1": "Alice"}
        assert await uow.voice_profiles.matched_recordings(U1, VoiceProfileId("p1")) == ["rec-2"]
        assert await uow.voice_profiles.matched_recordings(U2, VoiceProfileId("p1")) == []
        assert await uow.voice_profiles.matched_recordings(U1, VoiceProfileId("p9")) == []
        page = await uow.recordings.get(RecordingId("rec-1"))
        assert page.speaker_matches == {}


async def test_the_voice_profiles_setting_round_trips(seeded):
    async with seeded() as uow:
        user = await uow.users.get(U1)
        assert user.voice_profiles is True
        await uow.users.save(user.with_voice_profiles(False))
        await uow.commit()
    async with seeded() as uow:
        assert (await uow.users.get(U1)).voice_profiles is False
        assert (await uow.users.get(U2)).voice_profiles is True


async def test_speakers_named_at_once_in_two_recordings_both_teach_the_profile(seeded):
    """Two units of work naming "Alice" at the same time (two browser tabs): the owner's
    profile lock makes the second read what the first saved, so no voice is lost."""
    from elyune_adapters.memory import FixedClock, SequentialIds, sample_transcript_result
    from elyune_core import RenameSpeakers, RenameSpeakersInput, SpeakerVoice, Transcript

    result = sample_transcript_result()
    async with seeded() as uow:
        for n, seconds in ((1, 7.0), (2, 5.0)):
            await uow.transcripts.save(
                Transcript(
                    recording_id=RecordingId(f"rec-{n}"),
                    text=result.text,
                    language="en",
                    segments=result.segments,
                    words=result.words,
                    engine="fake",
                    created_at=NOW,
                    voices=(SpeakerVoice("0", (0.6, 0.8, 0.0), seconds),),
                )
            )
        await uow.commit()
    rename = RenameSpeakers(uow=seeded, clock=FixedClock(NOW), ids=SequentialIds("vp"))
    await asyncio.gather(
        *(
            rename.execute(RenameSpeakersInput(U1, RecordingId(f"rec-{n}"), {"0": "Alice"}))
            for n in (1, 2)
        )
    )
    async with seeded() as uow:
        (profile,) = await uow.voice_profiles.list(U1)
        assert sorted(profile.recording_ids) == ["rec-1", "rec-2"]
        assert profile.seconds == 12.0
