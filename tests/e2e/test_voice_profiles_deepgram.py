"""Voice profiles in production mode: Deepgram labels the speakers, their voices are
computed locally from the WAV, and the names given in one recording follow the voices
into the next one, whatever labels Deepgram gives them there."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.fakes import ScriptedResponse
from tests.fakes.deepgram import FakeDeepgram, listen_response
from tests.support.media import SAMPLE, ffmpeg_exe

pytestmark = pytest.mark.slow

#: The sample meeting's first 25 s (a WAV under the fake server's 1 MB body limit):
#: (the voice, start, end, text); voice 0 is the host.
SECONDS = 25.0
TURNS = (
    (0, 0.6, 5.9, "Good morning, Bob. Thanks for joining the weekly release meeting."),
    (1, 6.9, 12.9, "Good morning, Alice. I am really happy with the launch."),
    (0, 13.9, 18.2, "That is great news. The team did an excellent job this sprint."),
    (1, 19.2, 22.1, "Thank you. So what are the next steps?"),
)


def _start_of_sample(directory) -> bytes:
    target = directory / "start.wav"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-t", str(SECONDS), "-i", str(SAMPLE), "-vn", "-ac", "1", "-ar", "16000", str(target)],
        check=True,
    )  # fmt: skip
    return target.read_bytes()


@pytest.fixture
async def deepgram(aiohttp_server):
    fake = FakeDeepgram()
    server = await aiohttp_server(fake.app)
    fake.base_url = str(server.make_url("")).rstrip("/")
    yield fake
    fake.release()


async def _ready(api, token, rid):
    for _ in range(1200):
        detail = await (
            await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
        ).json()
        if detail["status"] in ("ready", "failed"):
            return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"not finished: {detail['status']}")


async def test_names_follow_the_voices_across_deepgram_labels(make_api, deepgram, tmp_path):
    as_given = [(v, s, e, t) for v, s, e, t in TURNS]
    swapped = [(1 - v, s, e, t) for v, s, e, t in TURNS]  # Deepgram numbers them otherwise
    deepgram.enqueue(
        ScriptedResponse(body=listen_response(as_given, duration=SECONDS)),
        ScriptedResponse(body=listen_response(swapped, duration=SECONDS)),
    )
    api = await make_api(DEEPGRAM_API_KEY="dg-secret-1", DEEPGRAM_BASE_URL=deepgram.base_url)
    token = await api.user()
    data = _start_of_sample(tmp_path)

    ticket, _ = await api.upload(token, data, filename="meeting.wav")
    first = await _ready(api, token, ticket["recording_id"])
    assert first["status"] == "ready", first
    assert first["transcript"]["engine"].startswith("deepgram")
    named = await api.client.patch(
        f"/api/v1/recordings/{first['id']}/speakers/",
        json={"0": "Alice", "1": "Bob"},
        headers=api.auth(token),
    )
    assert named.status == 200
    profiles = (
        await (await api.client.get("/api/v1/voice-profiles/", headers=api.auth(token))).json()
    )["results"]
    assert sorted(p["name"] for p in profiles) == ["Alice", "Bob"]

    ticket, _ = await api.upload(token, data, filename="meeting.wav")
    second = await _ready(api, token, ticket["recording_id"])
    assert second["status"] == "ready", second
    assert second["speaker_names"] == {"1": "Alice", "0": "Bob"}
    assert all(m["confidence"] > 0.9 for m in second["speaker_matches"].values())
    first_line = second["transcript"]["segments"][0]
    assert (first_line["speaker"], first_line["speaker_name"]) == ("1", "Alice")
    assert len(deepgram.requests) == 2
