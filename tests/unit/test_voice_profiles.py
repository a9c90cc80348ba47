"""Voice profiles in the core, over the in-memory fakes: what is learned from names given
by hand, what later recordings are labelled with, and what deleting takes away."""

from __future__ import annotations

import math
import random

import attrs
import pytest

from elyune_adapters.memory import sample_transcript_result
from elyune_core import (
    ConflictError,
    DeleteRecording,
    DeleteVoiceProfile,
    ImportRecording,
    ImportRecordingInput,
    InvalidInputError,
    ListVoiceProfiles,
    RenameSpeakers,
    RenameSpeakersInput,
    RenameVoiceProfile,
    RenameVoiceProfileInput,
    SetVoiceProfiles,
    SetVoiceProfilesInput,
    SpeakerVoice,
    StartProcessing,
    StartProcessingInput,
    User,
    UserId,
    VoiceProfile,
    VoiceProfileNotFoundError,
)
from elyune_core._voices import (
    MATCH_THRESHOLD,
    MIN_VOICE_SECONDS,
    cosine,
    match_confidence,
    match_speakers,
)
from elyune_core.entities import VoiceContribution
from elyune_core.use_cases.voice_profiles import recognise_speakers

U1, U2 = UserId("u1"), UserId("u2")


def _unit(values):
    norm = math.sqrt(sum(v * v for v in values))
    return tuple(v / norm for v in values)


def _person(seed: int) -> tuple[float, ...]:
    """A voice: a random direction (two of them are nearly orthogonal in 256 dims)."""
    rng = random.Random(seed)
    return _unit([rng.gauss(0, 1) for _ in range(256)])


def _alike(voice, similarity: float, seed: int = 99) -> tuple[float, ...]:
    """Another take of *voice* whose cosine similarity to it is *similarity*."""
    other = _person(seed)
    dot = sum(a * b for a, b in zip(voice, other, strict=True))
    orth = _unit([b - dot * a for a, b in zip(voice, other, strict=True)])
    rest = math.sqrt(1 - similarity**2)
    return _unit([similarity * a + rest * b for a, b in zip(voice, orth, strict=True)])


ALICE, BOB, CAROL = _person(1), _person(2), _person(3)


def _profile(name: str, voice, seconds: float = 20.0, pid: str | None = None) -> VoiceProfile:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    return VoiceProfile(
        id=pid or f"p-{name}",
        owner_id=U1,
        name=name,
        created_at=now,
        updated_at=now,
        contributions=(VoiceContribution("r0", "0", voice, seconds),),
    )


# --------------------------------------------------------------------------- matching


def test_a_speaker_matches_a_profile_from_the_threshold_on():
    profile = _profile("Alice", ALICE)
    above = SpeakerVoice("0", _alike(ALICE, MATCH_THRESHOLD + 0.01), 10.0)
    below = SpeakerVoice("1", _alike(ALICE, MATCH_THRESHOLD - 0.01, seed=7), 10.0)
    assert set(match_speakers([above], [profile])) == {"0"}
    assert match_speakers([below], [profile]) == {}
    match = match_speakers([above], [profile])["0"]
    assert match.name == "Alice" and match.profile_id == "p-Alice"
    assert match.similarity == pytest.approx(MATCH_THRESHOLD + 0.01, abs=1e-3)
    closer = match_speakers([SpeakerVoice("0", _alike(ALICE, 0.99), 10.0)], [profile])["0"]
    assert 0.5 < match.confidence < closer.confidence <= 1.0


def test_a_profile_goes_to_one_speaker_and_a_speaker_to_one_profile():
    profiles = [_profile("Alice", ALICE), _profile("Bob", BOB)]
    voices = [
        SpeakerVoice("0", _alike(ALICE, 0.97), 10.0),
        SpeakerVoice("1", _alike(ALICE, 0.99, seed=5), 10.0),  # closer to Alice still
        SpeakerVoice("2", _alike(BOB, 0.98), 10.0),
        SpeakerVoice("3", CAROL, 10.0),  # nobody's
    ]
    matches = match_speakers(voices, profiles)
    assert {label: m.name for label, m in matches.items()} == {"1": "Alice", "2": "Bob"}


def test_too_little_speech_and_hand_named_speakers_are_not_matched():
    profile = _profile("Alice", ALICE)
    short = SpeakerVoice("0", ALICE, MIN_VOICE_SECONDS - 0.1)
    assert match_speakers([short], [profile]) == {}
    assert match_speakers([SpeakerVoice("0", ALICE, 9.0)], [profile], skip_labels={"0"}) == {}
    assert (
        match_speakers([SpeakerVoice("0", ALICE, 9.0)], [profile], skip_profiles={profile.id}) == {}
    )


def test_the_profile_voice_is_the_seconds_weighted_mean_of_what_it_learned():
    profile = _profile("Alice", ALICE, seconds=30.0)
    profile = profile.with_contribution(VoiceContribution("r1", "1", BOB, 10.0), profile.created_at)
    assert profile.seconds == 40.0
    assert profile.recording_ids == ("r0", "r1")
    assert cosine(profile.embedding, ALICE) > cosine(profile.embedding, BOB) > 0.2
    assert profile.without("r0", None, profile.created_at).embedding == pytest.approx(BOB)
    assert (
        profile.without("r0", None, profile.created_at)
        .without("r1", "1", profile.created_at)
        .is_empty
    )


def test_confidence_rises_with_the_similarity():
    values = [match_confidence(s) for s in (0.90, MATCH_THRESHOLD, 0.97, 0.99)]
    assert values == sorted(values)
    assert values[0] < 0.5 < values[1] and values[-1] > 0.99


# --------------------------------------------------------------------------- use cases


def _result(*voices: SpeakerVoice):
    return attrs.evolve(sample_transcript_result(), voices=tuple(voices))


async def _process(core, owner=U1, *voices: SpeakerVoice):
    """Import a recording of *owner* whose transcript has *voices*; run its job."""
    core.transcriber.result = _result(*voices)
    path = core.tmp / "talk.webm"
    path.write_bytes(b"MEDIA data")
    imported = await ImportRecording(
        uow=core.uow(), store=core.store, events=core.events, clock=core.clock, ids=core.ids
    ).execute(ImportRecordingInput(owner, path))
    start = StartProcessing(uow=core.uow(), queue=core.queue, clock=core.clock, ids=core.ids)
    await start.execute(StartProcessingInput(imported.recording.id))
    await core.queue.join()
    return core.state.recordings[imported.recording.id]


async def _name(core, recording, owner=U1, **names):
    use_case = RenameSpeakers(uow=core.uow(), clock=core.clock, ids=core.ids)
    return await use_case.execute(RenameSpeakersInput(owner, recording.id, names))


async def _profiles(core, owner=U1):
    return {p.name: p for p in await ListVoiceProfiles(uow=core.uow()).execute(owner)}


def _users(core):
    for uid in (U1, U2):
        core.state.users[uid] = User(uid, f"user-{uid}", "hash", core.clock.now())


def _names(core, recording):
    return dict(core.state.recordings[recording.id].speaker_names)


@pytest.fixture
def people(core):
    _users(core)
    return core


async def test_a_named_speaker_is_recognised_in_the_owners_next_recording(people):
    core = people
    first = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0), SpeakerVoice("1", BOB, 8.0))
    assert first.speaker_names == {}
    await _name(core, first, **{"0": "Alice", "1": "Bob"})
    profiles = await _profiles(core)
    assert {n: (p.seconds, p.recording_ids) for n, p in profiles.items()} == {
        "Alice": (12.0, (first.id,)),
        "Bob": (8.0, (first.id,)),
    }
    second = await _process(
        core,
        U1,
        SpeakerVoice("0", _alike(BOB, 0.97), 9.0),
        SpeakerVoice("1", _alike(ALICE, 0.98), 9.0),
    )
    assert second.speaker_names == {"0": "Bob", "1": "Alice"}
    assert second.speaker_matches["1"].profile_id == profiles["Alice"].id
    assert second.speaker_matches["1"].confidence > 0.5
    # a match teaches nothing: the profiles are what the names given by hand gave them
    assert {n: p.seconds for n, p in (await _profiles(core)).items()} == {"Alice": 12.0, "Bob": 8.0}


async def test_another_users_profiles_are_never_used_nor_found(people):
    core = people
    first = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0))
    await _name(core, first, **{"0": "Alice"})
    theirs = await _process(core, U2, SpeakerVoice("0", ALICE, 12.0))
    assert theirs.speaker_names == {} and theirs.speaker_matches == {}
    assert await _profiles(core, U2) == {}
    profile = (await _profiles(core))["Alice"]
    with pytest.raises(VoiceProfileNotFoundError):
        await DeleteVoiceProfile(uow=core.uow(), clock=core.clock).execute(U2, profile.id)
    with pytest.raises(VoiceProfileNotFoundError):
        await RenameVoiceProfile(uow=core.uow(), clock=core.clock).execute(
            RenameVoiceProfileInput(U2, profile.id, "Mallory")
        )
    assert (await _profiles(core))["Alice"].id == profile.id


async def test_a_name_given_by_hand_is_never_replaced_by_a_match(people):
    core = people
    first = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0))
    await _name(core, first, **{"0": "Alice"})
    second = await _process(
        core, U1, SpeakerVoice("0", _alike(ALICE, 0.97), 12.0), SpeakerVoice("1", BOB, 9.0)
    )
    assert second.speaker_names == {"0": "Alice"}
    # the user says speaker 0 is Carol after all: kept as given, no longer a match
    await _name(core, second, **{"0": "Carol"})
    assert _names(core, second) == {"0": "Carol"}
    assert core.state.recordings[second.id].speaker_matches == {}
    # transcribed again (a retry): the name given by hand stays
    voices = [SpeakerVoice("0", _alike(ALICE, 0.97), 12.0), SpeakerVoice("1", ALICE, 9.0)]
    async with core.uow()() as uow:
        recording = await uow.recordings.get(second.id)
        again = await recognise_speakers(uow, recording, voices, core.clock.now())
    assert again.speaker_names == {"0": "Carol", "1": "Alice"}
    assert set(again.speaker_matches) == {"1"}
    # a profile whose name the user gave a speaker here is not handed to another one
    hand = attrs.evolve(again, speaker_names={"1": "Alice"}, speaker_matches={})
    async with core.uow()() as uow:
        again = await recognise_speakers(uow, hand, voices, core.clock.now())
    assert again.speaker_names["1"] == "Alice" and "1" not in again.speaker_matches
    assert all(m.name != "Alice" for m in again.speaker_matches.values())


async def test_renaming_a_speaker_moves_its_voice_and_removing_the_name_removes_it(people):
    core = people
    first = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0), SpeakerVoice("1", BOB, 8.0))
    await _name(core, first, **{"0": "Alice", "1": "Bob"})
    await _name(core, first, **{"0": "Alicia"})
    assert set(await _profiles(core)) == {"Alicia", "Bob"}
    await _name(core, first, **{"1": ""})
    assert set(await _profiles(core)) == {"Alicia"}
    # the same name in any case or spacing is the same profile
    second = await _process(core, U1, SpeakerVoice("0", CAROL, 5.0))
    await _name(core, second, **{"0": "  ALICIA "})
    profiles = await _profiles(core)
    assert set(profiles) == {"Alicia"}
    assert profiles["Alicia"].seconds == 17.0


async def test_deleting_a_recording_removes_what_it_gave_and_an_empty_profile_goes(people):
    core = people
    delete = DeleteRecording(uow=core.uow(), store=core.store, clock=core.clock)
    first = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0))
    await _name(core, first, **{"0": "Alice"})
    other = await _process(core, U1, SpeakerVoice("0", _alike(ALICE, 0.97), 6.0))
    assert other.speaker_names == {"0": "Alice"}
    await _name(core, other, **{"0": "Alice"})  # confirmed by hand: it gives its voice too
    assert (await _profiles(core))["Alice"].seconds == 18.0
    later = await _process(core, U1, SpeakerVoice("0", ALICE, 9.0))
    assert later.speaker_matches["0"].name == "Alice"

    await delete.execute(first.id, U1)
    profile = (await _profiles(core))["Alice"]
    assert (profile.seconds, profile.recording_ids) == (6.0, (other.id,))
    assert _names(core, later) == {"0": "Alice"}  # still matched

    await delete.execute(other.id, U1)
    assert await _profiles(core) == {}
    assert _names(core, later) == {}
    assert core.state.recordings[later.id].speaker_matches == {}


async def test_renaming_and_deleting_a_profile(people):
    core = people
    first = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0), SpeakerVoice("1", BOB, 8.0))
    await _name(core, first, **{"0": "Alice", "1": "Bob"})
    second = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0))
    profiles = await _profiles(core)
    rename = RenameVoiceProfile(uow=core.uow(), clock=core.clock)
    with pytest.raises(ConflictError):
        await rename.execute(RenameVoiceProfileInput(U1, profiles["Alice"].id, " bob"))
    with pytest.raises(InvalidInputError):
        await rename.execute(RenameVoiceProfileInput(U1, profiles["Alice"].id, "   "))
    await rename.execute(RenameVoiceProfileInput(U1, profiles["Alice"].id, "Alice  Smith"))
    assert _names(core, first) == {"0": "Alice Smith", "1": "Bob"}
    assert _names(core, second) == {"0": "Alice Smith"}
    assert core.state.recordings[second.id].speaker_matches["0"].name == "Alice Smith"

    await DeleteVoiceProfile(uow=core.uow(), clock=core.clock).execute(U1, profiles["Alice"].id)
    assert set(await _profiles(core)) == {"Bob"}
    assert _names(core, second) == {}
    assert _names(core, first) == {"0": "Alice Smith", "1": "Bob"}  # given by hand: kept


async def test_opting_out_deletes_the_profiles_and_stops_learning_and_matching(people):
    core = people
    first = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0))
    await _name(core, first, **{"0": "Alice"})
    matched = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0))
    assert matched.speaker_names == {"0": "Alice"}

    use_case = SetVoiceProfiles(uow=core.uow(), clock=core.clock)
    result = await use_case.execute(SetVoiceProfilesInput(U1, False))
    assert (result.user.voice_profiles, result.deleted) == (False, 1)
    assert await _profiles(core) == {}
    assert _names(core, matched) == {}
    assert _names(core, first) == {"0": "Alice"}  # the user's own names stay

    await _name(core, first, **{"0": "Alice B."})
    assert await _profiles(core) == {}
    later = await _process(core, U1, SpeakerVoice("0", ALICE, 12.0))
    assert later.speaker_names == {}

    await use_case.execute(SetVoiceProfilesInput(U1, True))
    await _name(core, first, **{"0": "Alice"})
    assert set(await _profiles(core)) == {"Alice"}


async def test_a_voice_with_too_little_speech_teaches_nothing(people):
    core = people
    first = await _process(core, U1, SpeakerVoice("0", ALICE, MIN_VOICE_SECONDS - 0.5))
    named = await _name(core, first, **{"0": "Alice"})
    assert named.speaker_names == {"0": "Alice"}  # the name is kept all the same
    assert await _profiles(core) == {}


@pytest.mark.parametrize("raw", ["0.2", "1.5", "nan", "high"])
def test_a_bad_match_threshold_fails_at_start_up_naming_the_variable(raw):
    from elyune_adapters.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="VOICE_MATCH_THRESHOLD"):
        load_settings({"VOICE_MATCH_THRESHOLD": raw})
    assert load_settings({"VOICE_MATCH_THRESHOLD": "0.9"}).processing.voice_match_threshold == 0.9
