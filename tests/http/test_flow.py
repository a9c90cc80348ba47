"""The extension's whole flow over HTTP, on the real embedded engines."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.http.conftest import path_of
from tests.support.media import SAMPLE

pytestmark = pytest.mark.slow


async def _events(response) -> list[tuple[str, dict]]:
    """Read a whole server-sent event stream into (event, data) pairs."""
    text = (await response.read()).decode()
    found = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        event = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads(next(line[6:] for line in lines if line.startswith("data: ")))
        found.append((event, data))
    return found


async def test_login_upload_follow_events_and_read_results(api):
    token = await api.user()
    data = SAMPLE.read_bytes()
    ticket, done = await api.upload(
        token, data, filename="weekly sync.webm", quality="1080p", fps=30, has_microphone=True
    )
    assert done.status == 200
    completion = await done.json()
    assert completion["queued"] is True
    assert completion["status"] in ("uploaded", "processing")
    rid = ticket["recording_id"]

    stream = await api.client.get(f"/api/v1/recordings/{rid}/events/", headers=api.auth(token))
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/event-stream"
    events = await _events(stream)
    steps = [d for e, d in events if e == "step"]
    assert events[-1][0] == "done"
    assert events[-1][1]["status"] == "ready"
    finished = {d["name"] for d in steps if d["status"] == "succeeded"}
    assert finished == {"probe", "transcode", "extract_audio", "thumbnail", "transcribe", "analyze"}

    detail = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    assert detail["status"] == "ready"
    assert detail["title"] == "weekly sync"
    assert detail["quality"] == "1080p"
    assert "onboarding guide" in detail["transcript"]["text"].lower()
    assert set(detail["analyses"]) == {"summary", "action_items", "key_points", "sentiment"}
    items = detail["analyses"]["action_items"]["content"]["items"]
    assert any("release notes" in i["text"].lower() for i in items)
    assert detail["thumbnail_url"]
    video = await api.client.get(path_of(detail["video_url"]), headers={"Range": "bytes=0-99"})
    assert video.status == 206  # seekable
    assert len(await video.read()) == 100

    srt = await api.client.get(
        f"/api/v1/recordings/{rid}/transcript/?format=srt", headers=api.auth(token)
    )
    assert srt.status == 200
    assert srt.headers["Content-Type"].startswith("application/x-subrip")
    assert "-->" in await srt.text()
    status = await (
        await api.client.get(f"/api/v1/recordings/{rid}/status/", headers=api.auth(token))
    ).json()
    assert status["progress"] == 100.0
    assert [s["status"] for s in status["steps"]] == ["succeeded"] * 6

    again = await api.client.post(
        f"/api/v1/recordings/{rid}/upload-complete/",
        json={"s3_key": ticket["s3_key"]},
        headers=api.auth(token),
    )
    assert again.status == 200
    assert (await again.json())["queued"] is False

    names = await api.client.patch(
        f"/api/v1/recordings/{rid}/speakers/", json={"0": "Alice"}, headers=api.auth(token)
    )
    assert (await names.json())["speaker_names"] == {"0": "Alice"}
    txt = await (
        await api.client.get(
            f"/api/v1/recordings/{rid}/transcript/?format=txt", headers=api.auth(token)
        )
    ).text()
    assert "Alice:" in txt

    before = detail["analyses"]
    rerun = await api.client.post(
        f"/api/v1/recordings/{rid}/analyses/summary/rerun/", headers=api.auth(token)
    )
    assert rerun.status == 202
    for _ in range(100):
        after = await (
            await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
        ).json()
        if after["status"] == "ready":
            break
        await asyncio.sleep(0.1)
    assert after["analyses"]["summary"]["updated_at"] != before["summary"]["updated_at"]
    assert after["analyses"]["key_points"]["updated_at"] == before["key_points"]["updated_at"]


async def test_embedded_mode_resumes_a_step_nobody_finished(make_api):
    """A step left running by a crashed process is taken up again once its lease ends."""
    from datetime import timedelta

    from elyune_adapters.container import resolve
    from elyune_core import JobId, StepName, new_job

    api = await make_api(STEP_LEASE_SECONDS="3")
    token = await api.user()
    ticket = await (
        await api.client.post(
            "/api/v1/recordings/request-upload/",
            json={"filename": "a.webm", "file_size": SAMPLE.stat().st_size},
            headers=api.auth(token),
        )
    ).json()
    await api.client.put(path_of(ticket["upload_url"]), data=SAMPLE.read_bytes())
    rid = ticket["recording_id"]
    uow = await resolve(api.container.uow())
    clock = await resolve(api.container.clock())
    async with uow() as tx:  # as if a process had claimed the probe and died
        recording = await tx.recordings.get(rid)
        await tx.recordings.save(recording.mark_uploaded(recording.file_size, clock.now()))
        job = new_job(JobId("crashed-job"), recording.id, clock.now())
        step = job.step(StepName.PROBE).claim(
            "dead", clock.now(), clock.now() + timedelta(seconds=1)
        )
        await tx.jobs.add(job.with_step(step))
        await tx.commit()
    for _ in range(3000):  # up to 5 min on a loaded machine
        status = await (
            await api.client.get(f"/api/v1/recordings/{rid}/status/", headers=api.auth(token))
        ).json()
        if status["status"] in ("ready", "failed"):
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "ready", status
    probe = next(s for s in status["steps"] if s["name"] == "probe")
    assert probe["attempts"] == 2
