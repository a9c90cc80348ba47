"""Live recordings in production mode: PostgreSQL, SeaweedFS (S3, chunk URLs signed with
their Content-MD5), Redis and real ``elyune worker`` processes.

The client side is this process, through the container's use cases (what the API's live
routes call); chunks go straight to S3 with the presigned URLs. A worker is SIGKILLed in
the middle of the recording: another one goes on from the cursor the first one left in
the database, and the transcript is whole, with nothing repeated.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
import urllib.request
from pathlib import Path

import pytest

from elyune_adapters.container import resolve
from elyune_core import JobStatus, RecordingId
from elyune_core.use_cases import (
    ChunkSpec,
    DeclareChunksInput,
    FinishLiveUploadInput,
    GetLiveUploadInput,
    RequestUploadInput,
)
from tests.e2e import test_workers
from tests.e2e.test_workers import Deploy, Stack
from tests.support.media import SAMPLE

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

# the deployment fixtures of the worker tests (PostgreSQL, SeaweedFS, Redis, workers)
deploy = test_workers.deploy
seaweed = test_workers.seaweed


def chunks_of(data: bytes, count: int) -> list[bytes]:
    size = math.ceil(len(data) / count)
    return [data[i : i + size] for i in range(0, len(data), size)]


def md5_of(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


class Client:
    """The extension's side of a live recording, through the use cases."""

    def __init__(self, stack: Stack, owner: str) -> None:
        self.stack = stack
        self.owner = owner
        self.recording: RecordingId | None = None

    async def start(self) -> RecordingId:
        use_case = await resolve(self.stack.container.request_live_upload())
        started = await use_case.execute(
            RequestUploadInput(owner_id=self.owner, filename="live.webm", file_size=0)
        )
        self.recording = started.recording.id
        return self.recording

    async def send(self, index: int, body: bytes) -> None:
        assert self.recording is not None
        declare = await resolve(self.stack.container.declare_chunks())
        result = await declare.execute(
            DeclareChunksInput(
                self.owner, self.recording, (ChunkSpec(index, len(body), md5_of(body)),)
            )
        )
        ticket = result.chunks[0]
        if ticket.stored:
            return
        assert ticket.upload_url is not None
        request = urllib.request.Request(ticket.upload_url, data=body, method="PUT")
        for name, value in ticket.headers.items():
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200

    async def progress(self) -> dict:
        assert self.recording is not None
        use_case = await resolve(self.stack.container.get_live_upload())
        status = await use_case.execute(GetLiveUploadInput(self.owner, self.recording))
        return dict(status.live.cursor)

    async def finish(self, count: int) -> None:
        assert self.recording is not None
        use_case = await resolve(self.stack.container.finish_live_upload())
        await use_case.execute(FinishLiveUploadInput(self.owner, self.recording, count))


async def test_a_worker_killed_mid_recording_loses_nothing(deploy: Deploy, tmp_path: Path) -> None:
    stack = await deploy(ELYUNE_LIVE_STRETCH_SECONDS="20", ELYUNE_LIVE_LEASE_SECONDS="5")
    if "MINIO_ENDPOINT" not in stack.env:
        pytest.skip("SeaweedFS (weed) is not installed: the chunks need an S3 store")
    first = stack.spawn()
    user = await (await resolve(stack.container.ensure_user())).execute("local")
    client = Client(stack, user.id)
    rid = await client.start()
    pieces = chunks_of(SAMPLE.read_bytes(), 50)

    for index in range(30):
        await client.send(index, pieces[index])
        time.sleep(0.05)

    async def transcribing() -> bool:
        return float((await client.progress()).get("transcribed_until", 0)) > 0

    await stack.wait_until(transcribing, 240, "the first stretch to be transcribed")
    first.crash()  # SIGKILL, its engine and ffmpeg with it
    done_before = float((await client.progress()).get("transcribed_until", 0))
    second = stack.spawn()
    for index in range(30, len(pieces)):
        await client.send(index, pieces[index])
    await client.finish(len(pieces))
    jobs = await stack.wait_done([rid], 600)
    assert jobs[rid].status is JobStatus.SUCCEEDED, jobs[rid]

    async with (await resolve(stack.container.uow()))() as uow:
        transcript = await uow.transcripts.get(rid)
        live = await uow.live.get(rid)
    assert transcript is not None
    text = transcript.text.lower()
    # whole: from the first sentence to the last, once each
    for said in ("weekly release meeting", "marketing team", "login bug", "wonderful day"):
        assert text.count(said) == 1, (said, text)
    assert transcript.segments[-1].end > 45
    assert len({s.speaker for s in transcript.segments}) == 2
    assert live.processed
    assert done_before > 0
    # both workers advanced it: the second went on from the cursor the first left
    assert f"live recording {rid} advanced" in first.output()
    assert f"live recording {rid} advanced" in second.output()

    # nothing left behind: the live pieces go once the job has succeeded
    async def tidied() -> bool:
        return not [key for key in keys(stack) if "/live/" in key]

    await stack.wait_until(tidied, 60, "the live pieces to be deleted")
    objects = stack.objects()
    assert sorted(objects[str(rid)]) == ["audio.wav", "source.webm", "thumbnail.jpg", "video.mp4"]


def keys(stack: Stack) -> list[str]:
    from minio import Minio

    env = stack.env
    client = Minio(
        env["MINIO_ENDPOINT"],
        access_key=env["MINIO_ACCESS_KEY"],
        secret_key=env["MINIO_SECRET_KEY"],
        secure=False,
    )
    return [
        o.object_name or "" for o in client.list_objects(env["MINIO_BUCKET_NAME"], recursive=True)
    ]
