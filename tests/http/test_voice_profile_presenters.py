"""The voice-profile forms (a matched speaker, a profile, the account) have exactly the
fields their OpenAPI schemas list (the field-by-field check of ``test_presenters``)."""

from __future__ import annotations

import attrs

from elyune_core import SpeakerMatch, User, UserId, VoiceProfile, VoiceProfileId
from elyune_core.entities import VoiceContribution
from elyune_http import present
from elyune_http.openapi import SCHEMAS
from tests.http.test_presenters import ADDED_BY_VIEWS, NOW, RID, _check, _details


def test_a_matched_speaker_is_documented_in_the_detail_and_its_transcript() -> None:
    data = _details()
    match = SpeakerMatch(VoiceProfileId("vp-1"), "Bob", 0.981, 0.999)
    recording = data.recording.with_speaker_matches({"1": match}, NOW)
    body = present.recording_detail(attrs.evolve(data, recording=recording))
    assert body["speaker_matches"]["1"]["source"] == "auto"
    speakers = {s["label"]: s for s in body["transcript"]["speakers"]}
    assert speakers["0"]["source"] == "manual" and speakers["0"]["profile_id"] is None
    assert (speakers["1"]["name"], speakers["1"]["source"]) == ("Bob", "auto")
    assert speakers["1"]["confidence"] == 0.999
    _check(body, SCHEMAS["RecordingDetail"], "RecordingDetail", ADDED_BY_VIEWS["RecordingDetail"])
    _check(present.speaker_names_to_dict(recording), SCHEMAS["SpeakerNames"], "SpeakerNames")


def test_profiles_and_the_account_are_documented() -> None:
    profile = VoiceProfile(
        VoiceProfileId("vp-1"),
        UserId("u1"),
        "Bob",
        NOW,
        NOW,
        (VoiceContribution(RID, "1", (1.0, 0.0), 12.5),),
    )
    listed = {"count": 1, "results": [present.voice_profile_to_dict(profile)]}
    assert listed["results"][0]["seconds"] == 12.5 and "embedding" not in listed["results"][0]
    _check(listed, SCHEMAS["VoiceProfileList"], "VoiceProfileList")
    user = User(UserId("u1"), "alice", "hash", NOW)
    _check(present.account_to_dict(user, deleted_profiles=2), SCHEMAS["Account"], "Account")
