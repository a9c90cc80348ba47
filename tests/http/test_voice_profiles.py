"""Voice profiles over HTTP, on the real embedded engines (Whisper, the neural diarizer).

A speaker named in one recording is recognised by voice, by name and with a
confidence, in the owner's next recording of the same people; never in another user's;
and no longer once the profile or the recording it came from is deleted.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.media import SAMPLE, ffmpeg_exe

pytestmark = pytest.mark.slow


def _cut(directory, start: float, seconds: float):
    """A WAV of the sample meeting from *start*, *seconds* long (both voices in it)."""
    target = directory / "cut.wav"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-ss", str(start), "-t", str(seconds), "-i", str(SAMPLE),
         "-vn", "-ac", "1", "-ar", "16000", str(target)],
        check=True,
    )  # fmt: skip
    return target.read_bytes()


async def _processed(api, token, data: bytes, filename: str) -> dict:
    """Upload *data*, wait for the job to end, return the recording's details."""
    ticket, done = await api.upload(token, data, filename=filename)
    assert done.status == 200, await done.text()
    rid = ticket["recording_id"]
    stream = await api.client.get(f"/api/v1/recordings/{rid}/events/", headers=api.auth(token))
    await stream.read()  # the stream ends with the job
    return await _detail(api, token, rid)


async def _detail(api, token, rid: str) -> dict:
    response = await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    assert response.status == 200, await response.text()
    return await response.json()


async def _profiles(api, token) -> list[dict]:
    response = await api.client.get("/api/v1/voice-profiles/", headers=api.auth(token))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["count"] == len(body["results"])
    return body["results"]


def _speaker_of(detail: dict, words: str) -> str:
    """The name of the speaker who says *words* in the recording."""
    for segment in detail["transcript"]["segments"]:
        if words in segment["text"].lower():
            return segment["speaker_name"]
    raise AssertionError(f"nobody says {words!r}")


async def test_a_named_voice_is_recognised_in_the_next_recording_of_its_owner_only(api, tmp_path):
    alice = await api.user("alice")
    first = await _processed(api, alice, SAMPLE.read_bytes(), "weekly.webm")
    assert first["status"] == "ready"
    speakers = {s["label"] for s in first["transcript"]["speakers"]}
    assert len(speakers) == 2
    # name the one who welcomes Bob "Alice" and the other "Bob"
    host = next(
        s["speaker"]
        for s in first["transcript"]["segments"]
        if "good morning, bob" in s["text"].lower()
    )
    guest = (speakers - {host}).pop()
    named = await api.client.patch(
        f"/api/v1/recordings/{first['id']}/speakers/",
        json={host: "Alice", guest: "Bob"},
        headers=api.auth(alice),
    )
    assert named.status == 200, await named.text()
    assert (await named.json())["speaker_matches"] == {}  # named by hand
    profiles = {p["name"]: p for p in await _profiles(api, alice)}
    assert set(profiles) == {"Alice", "Bob"}
    assert all(p["recordings"] == 1 and p["seconds"] > 5 for p in profiles.values())

    cut = _cut(tmp_path, 3.0, 30.0)
    second = await _processed(api, alice, cut, "follow-up.wav")
    assert second["status"] == "ready"
    assert sorted(second["speaker_names"].values()) == ["Alice", "Bob"]
    matches = second["speaker_matches"]
    assert {m["name"] for m in matches.values()} == {"Alice", "Bob"}
    assert {m["profile_id"] for m in matches.values()} == {p["id"] for p in profiles.values()}
    assert all(0.5 < m["confidence"] <= 1 and m["source"] == "auto" for m in matches.values())
    # the right person: the same lines are said by the same names as in the first one
    assert _speaker_of(second, "customers love the new dashboard") == "Bob"
    assert _speaker_of(await _detail(api, alice, first["id"]), "good morning, bob") == "Alice"
    transcript_speakers = {s["name"]: s for s in second["transcript"]["speakers"]}
    assert transcript_speakers["Bob"]["source"] == "auto"
    assert (
        transcript_speakers["Bob"]["confidence"]
        == matches[transcript_speakers["Bob"]["label"]]["confidence"]
    )
    srt = await api.client.get(
        f"/api/v1/recordings/{second['id']}/transcript/?format=srt", headers=api.auth(alice)
    )
    assert "Bob" in await srt.text()

    # another user: nothing to see, nothing to touch, nothing recognised
    bob = await api.user("bob")
    assert await _profiles(api, bob) == []
    some_id = profiles["Alice"]["id"]
    for method, extra in (("patch", {"json": {"name": "Mallory"}}), ("delete", {})):
        response = await getattr(api.client, method)(
            f"/api/v1/voice-profiles/{some_id}/", headers=api.auth(bob), **extra
        )
        assert response.status == 404
    theirs = await _processed(api, bob, cut, "same-people.wav")
    assert theirs["status"] == "ready"
    assert theirs["speaker_matches"] == {}
    assert theirs["speaker_names"] == {}

    # rename: the matches and the names it learned from follow
    renamed = await api.client.patch(
        f"/api/v1/voice-profiles/{profiles['Bob']['id']}/",
        json={"name": "Robert"},
        headers=api.auth(alice),
    )
    assert renamed.status == 200, await renamed.text()
    assert (await renamed.json())["name"] == "Robert"
    assert _speaker_of(await _detail(api, alice, second["id"]), "customers love") == "Robert"
    assert _speaker_of(await _detail(api, alice, first["id"]), "customers love") == "Robert"

    # delete the profile: its match is gone, the name given by hand stays
    gone = await api.client.delete(
        f"/api/v1/voice-profiles/{profiles['Bob']['id']}/", headers=api.auth(alice)
    )
    assert gone.status == 204
    after = await _detail(api, alice, second["id"])
    assert list(after["speaker_names"].values()) == ["Alice"]
    assert _speaker_of(after, "customers love").startswith("Speaker ")
    assert _speaker_of(await _detail(api, alice, first["id"]), "customers love") == "Robert"

    # delete the recording the Alice profile came from: the profile and its match go
    deleted = await api.client.delete(f"/api/v1/recordings/{first['id']}/", headers=api.auth(alice))
    assert deleted.status == 204
    assert await _profiles(api, alice) == []
    after = await _detail(api, alice, second["id"])
    assert after["speaker_names"] == {} and after["speaker_matches"] == {}
