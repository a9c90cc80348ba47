"""Voice profiles: speakers a user named, recognised by voice in their later recordings.

The rules, in one place:

- Naming a speaker by hand (``RenameSpeakers``) gives that speaker's voice (the
  transcript's :class:`~elyune_core.entities.SpeakerVoice`) to the user's profile of that
  name, created when there is none. Renaming the speaker moves the contribution to the
  new name's profile; removing the name removes it. A profile with nothing left is
  deleted. Voices with less than ``MIN_VOICE_SECONDS`` of speech give nothing.
- Only names given by hand teach a profile: a speaker named by a match does not (a wrong
  match cannot reinforce itself), until the user confirms it by naming it.
- After each transcription the recording's speakers are matched against the owner's
  profiles (:func:`elyune_core._voices.match_speakers`): at most one profile per speaker,
  each profile at most once per recording, never one whose name the user already gave a
  speaker of this recording, and never a speaker named by hand. A match names the speaker
  and is kept in ``Recording.speaker_matches`` with its confidence.
- Deleting a recording removes what it gave; deleting or emptying a profile removes its
  matches everywhere (names given by hand stay). Renaming a profile renames its matches
  and the speakers named by hand that it learned from.
- Every recording whose speaker names change that way is reindexed for search in the
  same unit of work, so hits never carry a name the recording no longer has.
- Profiles are per user: a user's recordings are matched against that user's profiles
  only, and another user's profile is not found.
- With ``User.voice_profiles`` off nothing is learned or matched, and turning it off
  deletes the user's profiles and their matches (the voices are personal data: the
  opt-out keeps none of them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import attrs

from elyune_core._voices import MATCH_THRESHOLD, MIN_VOICE_SECONDS, match_speakers, name_key
from elyune_core.entities import Recording, SpeakerVoice, User, VoiceContribution, VoiceProfile
from elyune_core.errors import ConflictError, InvalidInputError, UserNotFoundError
from elyune_core.ids import RecordingId, UserId, VoiceProfileId
from elyune_core.ports import Clock, IdSource, UnitOfWork, UnitOfWorkFactory
from elyune_core.use_cases.search import reindex_recording

MAX_PROFILE_NAME = 100

# --------------------------------------------------------------------------- shared rules


async def learn_speaker_names(
    uow: UnitOfWork,
    recording: Recording,
    names: Mapping[str, str],
    ids: IdSource,
    now: datetime,
) -> Recording:
    """Update the owner's profiles for the speakers of *recording* just named by hand
    (*names*: label -> name, empty for a removed name); return the recording with the
    matches that no longer hold removed. The caller holds the owner's profile lock
    (``lock_owner``) and then the recording's, which already carries the new names; the
    caller saves it."""
    voices: dict[str, SpeakerVoice] = {}
    if await _enabled(uow, recording.owner_id):
        transcript = await uow.transcripts.get(recording.id)
        voices = {v.label: v for v in (transcript.voices if transcript else ())}
    before = {p.id: p for p in await uow.voice_profiles.with_recording(recording.id)}
    touched = dict(before)
    created: set[VoiceProfileId] = set()
    for label, name in names.items():
        for key, profile in touched.items():
            touched[key] = profile.without(recording.id, label, now)
        voice = voices.get(label)
        if not name or voice is None or voice.seconds < MIN_VOICE_SECONDS:
            continue
        target = next((p for p in touched.values() if name_key(p.name) == name_key(name)), None)
        if target is None:
            target = await uow.voice_profiles.find_by_name(recording.owner_id, name)
        if target is None:
            target = VoiceProfile.new(VoiceProfileId(ids.new_id()), recording.owner_id, name, now)
            created.add(target.id)
        contribution = VoiceContribution(recording.id, label, voice.embedding, voice.seconds)
        touched[target.id] = touched.get(target.id, target).with_contribution(contribution, now)
    gone: list[VoiceProfileId] = []
    for key, profile in touched.items():
        if profile.is_empty:
            if key not in created:
                await uow.voice_profiles.delete(key)
                gone.append(key)
        elif key in created:
            await uow.voice_profiles.add(profile)
        elif profile != before.get(key):
            await uow.voice_profiles.save(profile)
    manual = {name_key(n) for n in recording.manual_speaker_names.values()}
    kept = {
        label: match
        for label, match in recording.speaker_matches.items()
        if match.profile_id not in gone and name_key(match.name) not in manual
    }
    await _forget_matches(uow, recording.owner_id, gone, now, skip=recording.id)
    return recording.with_speaker_matches(kept, now)


async def recognise_speakers(
    uow: UnitOfWork,
    recording: Recording,
    voices: Sequence[SpeakerVoice],
    now: datetime,
    threshold: float = MATCH_THRESHOLD,
) -> Recording:
    """Return *recording* with its speakers matched against the owner's profiles (every
    earlier match replaced: a new transcript has new labels; at least *threshold* of
    cosine similarity). Names given by hand stay."""
    if not voices or not await _enabled(uow, recording.owner_id):
        return recording.with_speaker_matches({}, now)
    profiles = await uow.voice_profiles.list(recording.owner_id)
    manual = recording.manual_speaker_names
    given = {name_key(n) for n in manual.values()}
    matches = match_speakers(
        voices,
        profiles,
        skip_labels=set(manual),
        skip_profiles={p.id for p in profiles if name_key(p.name) in given},
        threshold=threshold,
    )
    return recording.with_speaker_matches(matches, now)


async def _enabled(uow: UnitOfWork, user_id: UserId) -> bool:
    """Whether *user_id* keeps voice profiles (a user that is gone keeps none)."""
    try:
        return (await uow.users.get(user_id)).voice_profiles
    except UserNotFoundError:
        return False


async def forget_recording(uow: UnitOfWork, recording_id: RecordingId, now: datetime) -> None:
    """Remove what *recording_id* gave to profiles (before the recording is deleted; the
    caller holds the owner's ``lock_owner``); profiles left with nothing are deleted with
    their matches."""
    gone: dict[UserId, list[VoiceProfileId]] = {}
    for profile in await uow.voice_profiles.with_recording(recording_id):
        profile = profile.without(recording_id, None, now)
        if profile.is_empty:
            await uow.voice_profiles.delete(profile.id)
            gone.setdefault(profile.owner_id, []).append(profile.id)
        else:
            await uow.voice_profiles.save(profile)
    for owner_id, profile_ids in gone.items():
        await _forget_matches(uow, owner_id, profile_ids, now, skip=recording_id)


async def _forget_matches(
    uow: UnitOfWork,
    owner_id: UserId,
    profile_ids: Collection[VoiceProfileId],
    now: datetime,
    *,
    skip: RecordingId | None = None,
) -> None:
    """Remove the matches of *profile_ids* from the owner's recordings (but *skip*)."""
    found: dict[RecordingId, list[VoiceProfileId]] = {}
    for profile_id in profile_ids:
        for recording_id in await uow.voice_profiles.matched_recordings(owner_id, profile_id):
            if recording_id != skip:
                found.setdefault(recording_id, []).append(profile_id)
    for recording_id in sorted(found):  # one lock order
        before = await uow.recordings.lock(recording_id)
        recording = before
        for profile_id in found[recording_id]:
            recording = recording.without_profile(profile_id, now)
        await uow.recordings.save(recording)
        if recording.speaker_names != before.speaker_names:
            await reindex_recording(uow, recording_id)  # hits lose the matched names


def _check_name(name: str) -> str:
    cleaned = " ".join(name.split()) if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > MAX_PROFILE_NAME:
        raise InvalidInputError({"name": f"Use 1 to {MAX_PROFILE_NAME} characters."})
    return cleaned


# --------------------------------------------------------------------------- use cases


class ListVoiceProfiles:
    """The owner's voice profiles, by name (another user's are never listed)."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, owner_id: UserId) -> Sequence[VoiceProfile]:
        """Return the profiles of *owner_id*."""
        async with self._uow() as uow:
            return await uow.voice_profiles.list(owner_id)


@attrs.frozen
class RenameVoiceProfileInput:
    """A new name for one of the owner's profiles."""

    owner_id: UserId
    profile_id: VoiceProfileId
    name: str


class RenameVoiceProfile:
    """Rename a profile; its matches and the speakers it learned from follow.

    Rules: 1 to 100 characters (spaces collapsed); another profile of the owner with the
    same name (case and spacing aside) is a conflict; another user's profile is not found.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, data: RenameVoiceProfileInput) -> VoiceProfile:
        """Rename and return the profile."""
        name = _check_name(data.name)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.voice_profiles.lock_owner(data.owner_id)
            profile = await uow.voice_profiles.get(data.profile_id, data.owner_id)
            other = await uow.voice_profiles.find_by_name(data.owner_id, name)
            if other is not None and other.id != profile.id:
                raise ConflictError(f"A voice profile called {other.name!r} already exists.")
            old = profile.name
            profile = profile.renamed(name, now)
            await uow.voice_profiles.save(profile)
            learned: dict[RecordingId, list[str]] = {}
            for part in profile.contributions:
                learned.setdefault(part.recording_id, []).append(part.label)
            matched = await uow.voice_profiles.matched_recordings(data.owner_id, profile.id)
            for recording_id in sorted({*learned, *matched}):  # one lock order
                recording = await uow.recordings.lock(recording_id, data.owner_id)
                manual = recording.manual_speaker_names
                labels = [
                    label
                    for label in learned.get(recording_id, ())
                    if name_key(manual.get(label, "")) == name_key(old)
                ]
                renamed = recording.with_profile_renamed(profile.id, name, labels, now)
                await uow.recordings.save(renamed)
                if renamed.speaker_names != recording.speaker_names:
                    await reindex_recording(uow, recording_id)  # hits carry the new name
            await uow.commit()
        return profile


class DeleteVoiceProfile:
    """Delete a profile and its matches; names the user gave by hand stay.

    Rules: another user's profile is not found. The profile comes back only if the user
    names a speaker with that name again.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, owner_id: UserId, profile_id: VoiceProfileId) -> None:
        """Delete the owner's profile *profile_id*."""
        async with self._uow() as uow:
            await uow.voice_profiles.lock_owner(owner_id)
            profile = await uow.voice_profiles.get(profile_id, owner_id)
            await uow.voice_profiles.delete(profile.id)
            await _forget_matches(uow, owner_id, [profile.id], self._clock.now())
            await uow.commit()


@attrs.frozen
class SetVoiceProfilesInput:
    """Turn a user's voice profiles on or off."""

    user_id: UserId
    enabled: bool


@attrs.frozen
class SetVoiceProfilesResult:
    """The user after the change, and how many profiles turning them off deleted."""

    user: User
    deleted: int = 0


class SetVoiceProfiles:
    """Opt in to or out of voice profiles.

    Rules: off means no voice is kept when a speaker is named and no recording is
    matched; turning off deletes every profile of the user and their matches (names
    given by hand stay). Turning on again starts from nothing: speakers named from then
    on build new profiles.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, data: SetVoiceProfilesInput) -> SetVoiceProfilesResult:
        """Apply the setting and return the user."""
        async with self._uow() as uow:
            await uow.voice_profiles.lock_owner(data.user_id)
            user = (await uow.users.get(data.user_id)).with_voice_profiles(data.enabled)
            await uow.users.save(user)
            deleted = 0
            if not data.enabled:
                profiles = await uow.voice_profiles.list(user.id)
                for profile in profiles:
                    await uow.voice_profiles.delete(profile.id)
                await _forget_matches(uow, user.id, [p.id for p in profiles], self._clock.now())
                deleted = len(profiles)
            await uow.commit()
        return SetVoiceProfilesResult(user, deleted)


__all__ = [
    "MAX_PROFILE_NAME",
    "DeleteVoiceProfile",
    "ListVoiceProfiles",
    "RenameVoiceProfile",
    "RenameVoiceProfileInput",
    "SetVoiceProfiles",
    "SetVoiceProfilesInput",
    "SetVoiceProfilesResult",
    "forget_recording",
    "learn_speaker_names",
    "recognise_speakers",
]
