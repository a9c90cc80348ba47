"""A late or failed MP4 does not fail a recording whose transcript is ready (issue 16)."""

from __future__ import annotations

import asyncio

import pytest
from dependency_injector import providers

from elyune_adapters.container import resolve
from elyune_core import MediaProcessingError
from tests.http.test_flow import _events
from tests.support.media import SAMPLE

pytestmark = pytest.mark.slow


class _NoMp4:
    """The real transcoder, except that the MP4 cannot be written (a full disk)."""

    def __init__(self, real) -> None:
        self.real = real
        self.broken = True

    def __getattr__(self, name):
        return getattr(self.real, name)

    async def transcode(self, source, target, media, on_progress=None):
        if self.broken:
            raise MediaProcessingError("ffmpeg could not convert the file to MP4: No space left")
        return await self.real.transcode(source, target, media, on_progress)


async def test_a_failed_mp4_leaves_the_recording_ready_and_a_retry_reruns_only_it(make_api):
    api = await make_api()
    transcoder = _NoMp4(await resolve(api.container.transcoder()))
    api.container.transcoder.override(providers.Object(transcoder))
    token = await api.user()
    ticket, done = await api.upload(token, SAMPLE.read_bytes())
    assert done.status == 200
    rid = ticket["recording_id"]

    stream = await api.client.get(f"/api/v1/recordings/{rid}/events/", headers=api.auth(token))
    event, data = (await _events(stream))[-1]
    assert event == "done"
    assert data["status"] == "ready" and data["partial"] is True
    assert data["failed_steps"] == ["transcode"]
    assert (
        data["error"]
        == "Converting to MP4 failed: ffmpeg could not convert the file to MP4: No space left"
    )

    detail = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    assert detail["status"] == "ready"
    assert detail["error"].startswith("Converting to MP4 failed")
    assert detail["job"]["status"] == "partial"
    assert detail["transcript"]["text"]
    assert detail["analyses"]["summary"]["status"] == "succeeded"
    assert detail["video_url"] is None and detail["thumbnail_url"]
    steps = {s["name"]: s for s in detail["job"]["steps"]}
    assert steps["transcode"]["status"] == "failed"
    transcribed_at = steps["transcribe"]["finished_at"]

    transcoder.broken = False
    retry = await api.client.post(f"/api/v1/recordings/{rid}/retry/", headers=api.auth(token))
    assert retry.status in (200, 202), await retry.text()
    assert (await retry.json())["reset"] == ["transcode"]
    for _ in range(600):
        detail = await (
            await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
        ).json()
        if detail["job"]["status"] == "succeeded":
            break
        await asyncio.sleep(0.1)
    assert detail["status"] == "ready" and detail["error"] is None
    assert detail["video_url"]
    steps = {s["name"]: s for s in detail["job"]["steps"]}
    assert steps["transcribe"]["finished_at"] == transcribed_at  # not transcribed again
