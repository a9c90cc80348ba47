"""A live recording processed while it is uploaded, on the real embedded engines.

The sample meeting (50 s, two voices, VP8/Opus) is cut into one chunk per second of
media at even byte offsets (so chunks split clusters, as MediaRecorder's do) and sent
through the live chunk API; the result must match the same file uploaded whole.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import random
import re
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from elyune_adapters.container import resolve
from tests.http.conftest import path_of
from tests.support.media import SAMPLE, SAMPLE_DURATION, ffmpeg_exe, sample_text

pytestmark = pytest.mark.slow

LIVE_ENV = {
    # short stretches and segments, so a 50 s sample is cut in several of each
    "ELYUNE_LIVE_STRETCH_SECONDS": "20",
    "ELYUNE_LIVE_SEGMENT_SECONDS": "5",
}


def chunks_of(data: bytes, count: int) -> list[bytes]:
    size = math.ceil(len(data) / count)
    return [data[i : i + size] for i in range(0, len(data), size)]


def md5_of(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


async def start_live(api, token: str, **extra) -> dict:
    response = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"upload": "live", "filename": "standup.webm", **extra},
        headers=api.auth(token),
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def send(api, token: str, rid: str, index: int, body: bytes) -> None:
    signed = await api.client.post(
        f"/api/v1/recordings/{rid}/chunks/",
        json={"chunks": [{"index": index, "size": len(body), "md5": md5_of(body)}]},
        headers=api.auth(token),
    )
    assert signed.status == 200, await signed.text()
    entry = (await signed.json())["chunks"][0]
    if entry.get("stored"):
        return
    put = await api.client.put(path_of(entry["upload_url"]), data=body, headers=entry["headers"])
    assert put.status == 200, await put.text()


async def finish(api, token: str, rid: str, count: int):
    return await api.client.post(
        f"/api/v1/recordings/{rid}/finish/", json={"chunks": count}, headers=api.auth(token)
    )


async def events_until_done(api, token: str, rid: str) -> list[tuple[str, dict]]:
    stream = await api.client.get(f"/api/v1/recordings/{rid}/events/", headers=api.auth(token))
    assert stream.status == 200
    text = (await stream.read()).decode()
    found = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        event = next(line[7:] for line in lines if line.startswith("event: "))
        found.append(
            (event, json.loads(next(line[6:] for line in lines if line.startswith("data: "))))
        )
    return found


async def detail_of(api, token: str, rid: str) -> dict:
    response = await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    assert response.status == 200
    return await response.json()


async def transcript_of(api, token: str, rid: str) -> dict:
    response = await api.client.get(
        f"/api/v1/recordings/{rid}/transcript/", headers=api.auth(token)
    )
    assert response.status == 200, await response.text()
    return await response.json()


def words(transcript: dict) -> list[str]:
    return [
        "".join(ch for ch in w["word"].lower() if ch.isalnum())
        for w in transcript["words"]
        if w["word"].strip()
    ]


def mp4_seconds(data: bytes, directory: Path) -> float:
    """The length ffmpeg reads from an MP4's header."""
    path = directory / "video.mp4"
    path.write_bytes(data)
    run = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    found = re.search(r"Duration: (\d+):(\d+):([\d.]+)", run.stderr)
    assert found, run.stderr
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def distance(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


async def test_a_live_recording_gives_what_the_whole_file_gives(make_api, tmp_path):
    api = await make_api(**LIVE_ENV)
    token = await api.user()
    data = SAMPLE.read_bytes()
    pieces = chunks_of(data, 50)
    ticket = await start_live(api, token)
    assert ticket["upload"] == "live"
    rid = ticket["recording_id"]

    # in order, as MediaRecorder gives them, one after the other (processing runs
    # meanwhile), with a chunk sent twice and one sent late
    late = 17
    for index, body in enumerate(pieces):
        if index != late:
            await send(api, token, rid, index, body)
        if index == 5:
            await send(api, token, rid, 5, body)  # a retried chunk changes nothing
        await asyncio.sleep(0.05)
    status = await (
        await api.client.get(f"/api/v1/recordings/{rid}/upload/", headers=api.auth(token))
    ).json()
    assert late not in status["received"]
    assert len(status["received"]) == len(pieces) - 1
    refused = await finish(api, token, rid, len(pieces))
    assert refused.status == 409
    assert (await refused.json())["missing"] == [late]
    await send(api, token, rid, late, pieces[late])
    done = await finish(api, token, rid, len(pieces))
    assert done.status == 202, await done.text()

    events = await events_until_done(api, token, rid)
    assert events[-1] == ("done", events[-1][1])
    assert events[-1][1]["status"] == "ready", events[-1]
    detail = await detail_of(api, token, rid)
    assert detail["status"] == "ready"
    kinds = {f["kind"]: f for f in detail["files"]}
    assert {"video", "audio", "thumbnail"} <= set(kinds)
    assert detail["job"]["steps"][0]["output"].get("duration", 0) > 45
    video = await api.client.get(path_of(detail["video_url"]), headers={"Range": "bytes=0-99"})
    assert video.status == 206
    # the job started once the transcript was done: the transcode step encoded the video
    # since the last segment, and the MP4 holds the whole recording
    transcode = next(s for s in detail["job"]["steps"] if s["name"] == "transcode")
    assert transcode["output"]["live"] is True
    assert transcode["output"]["segments"] >= 1
    mp4 = await (await api.client.get(path_of(detail["video_url"]))).read()
    assert mp4_seconds(mp4, tmp_path) == pytest.approx(SAMPLE_DURATION, abs=0.5)
    live = await transcript_of(api, token, rid)
    assert "onboarding guide" in live["text"].lower()
    # its transcript came from the stretches: the job's transcribe step followed the
    # probe, not the WAV written from the pieces
    uow_factory = await resolve(api.container.uow())
    async with uow_factory() as uow:
        job = await uow.jobs.for_recording(rid)
    assert job is not None and job.from_stretches

    # the same file uploaded whole, in the same server
    ticket_whole, completed = await api.upload(token, data)
    assert completed.status == 200
    await events_until_done(api, token, ticket_whole["recording_id"])
    whole = await transcript_of(api, token, ticket_whole["recording_id"])
    live_words, whole_words = words(live), words(whole)
    # tiny.en changes a few words with where a stretch ends (the same sentence heard
    # with 0.2 s more audio after it: "bob can you update the" / "mom can you update
    # me on"): at most 7 of the sample's 101 words may differ
    assert distance(whole_words, live_words) <= max(2, len(whole_words) * 7 // 100)
    speakers = lambda t: {s["speaker"] for s in t["segments"] if s["speaker"] is not None}  # noqa: E731
    assert len(speakers(live)) == len(speakers(whole)) == 2

    # the chunks end to end are the source file, for downloads and re-runs
    assert kinds["source"]["size"] == len(data)


async def test_processing_catches_up_while_the_recording_goes_on(make_api, aiohttp_server):
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=200)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    api = await make_api(**LIVE_ENV, WEBHOOK_ALLOW_PRIVATE="true")
    token = await api.user()
    created = await api.client.post(
        "/api/v1/webhooks/",
        json={"url": str(server.make_url("/hook")), "events": ["live.progress"]},
        headers=api.auth(token),
    )
    assert created.status == 201, await created.text()
    pieces = chunks_of(SAMPLE.read_bytes(), 50)
    rid = (await start_live(api, token))["recording_id"]
    for index in range(35):
        await send(api, token, rid, index, pieces[index])
    progress: dict = {}
    for _ in range(600):  # wait (bounded) for the first stretches to be transcribed
        status = await (
            await api.client.get(f"/api/v1/recordings/{rid}/upload/", headers=api.auth(token))
        ).json()
        progress = status.get("progress") or {}
        if progress.get("transcribed_until", 0) >= 10:
            break
        await asyncio.sleep(0.2)
    assert progress.get("transcribed_until", 0) >= 10, progress
    assert progress["media_seconds"] >= progress["transcribed_until"]
    detail = await detail_of(api, token, rid)
    assert detail["status"] == "awaiting_upload"  # still being recorded
    following = asyncio.ensure_future(events_until_done(api, token, rid))  # opened now
    order = list(range(35, len(pieces)))
    random.Random(7).shuffle(order)  # the rest out of order
    for index in order:
        await send(api, token, rid, index, pieces[index])
    assert (await finish(api, token, rid, len(pieces))).status == 202
    events = await following
    assert events[-1][1]["status"] == "ready"
    live = [data for event, data in events if event == "live"]
    assert live, "the stream said how far processing had caught up"
    assert live[0]["state"] == "recording"
    assert live[0]["transcribed_until"] >= 10
    assert live[0]["transcribed_until_clock"].startswith("0:")
    transcript = await transcript_of(api, token, rid)
    assert transcript["segments"][-1]["end"] > 40
    # the webhook heard how far processing had caught up, stretch by stretch
    await (await resolve(api.container.deliver_webhooks())).execute()
    progress_events = [body for body in received if body["type"] == "live.progress"]
    assert progress_events, received
    assert progress_events[0]["data"]["recording_id"] == rid
    assert max(b["data"]["transcribed_until"] for b in progress_events) >= 40


async def test_a_branch_that_fell_behind_reads_a_window_not_everything_since(make_api):
    """Chunks that arrived all at once (a branch far behind the live edge) are read a
    window at a time: no scan holds the whole backlog, so memory and work per piece stay
    the same however far behind processing is."""
    api = await make_api(**LIVE_ENV)
    media = api.container.live_media()
    scanned: list[int] = []
    scan = media.scan

    def counting(data: bytes, **kwargs):
        if not kwargs.get("at_start"):
            scanned.append(len(data))
        return scan(data, **kwargs)

    media.scan = counting
    token = await api.user()
    pieces = chunks_of(SAMPLE.read_bytes(), 50)
    rid = (await start_live(api, token))["recording_id"]
    sent = 40
    for index in range(sent):  # 40 s of media at once, before any of it is processed
        await send(api, token, rid, index, pieces[index])
    progress: dict = {}
    for _ in range(900):  # wait (bounded) for the video to catch up with most of it
        status = await (
            await api.client.get(f"/api/v1/recordings/{rid}/upload/", headers=api.auth(token))
        ).json()
        progress = status.get("progress") or {}
        if progress.get("video_until", 0) >= 25 and progress.get("transcribed_until", 0) >= 20:
            break
        await asyncio.sleep(0.2)
    assert progress.get("video_until", 0) >= 25, progress
    backlog = sum(len(p) for p in pieces[:sent])
    assert scanned and max(scanned) < backlog / 2, (max(scanned), backlog)
    for index in range(sent, len(pieces)):
        await send(api, token, rid, index, pieces[index])
    assert (await finish(api, token, rid, len(pieces))).status == 202
    events = await events_until_done(api, token, rid)
    assert events[-1][1]["status"] == "ready"
    assert (await transcript_of(api, token, rid))["segments"][-1]["end"] > 40


async def test_a_stop_before_the_stretch_is_complete_takes_its_draft(make_api):
    """While idle, the processor drafts the stretch that is growing; when the recording
    stops before that stretch is complete, the draft's part up to its pause becomes a
    stretch and only what follows the pause is transcribed at the stop (not the whole
    waiting audio again), and the transcript still holds every sentence."""
    api = await make_api(**LIVE_ENV, ELYUNE_LIVE_DRAFT_SECONDS="6")
    token = await api.user()
    uow = await resolve(api.container.uow())
    transcriber = await resolve(api.container.transcriber())
    asked: list[tuple[float, float, bool]] = []  # (offset, seconds, final) of each stretch
    transcribe_stretch = transcriber.transcribe_stretch

    async def recording(request):
        import wave

        with wave.open(str(request.audio)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        asked.append((request.offset, seconds, request.final))
        return await transcribe_stretch(request)

    transcriber.transcribe_stretch = recording
    pieces = chunks_of(SAMPLE.read_bytes(), 50)
    rid = (await start_live(api, token))["recording_id"]

    async def cursor() -> dict:
        async with uow() as work:
            return dict((await work.live.get(rid)).cursor)

    for index, piece in enumerate(pieces):  # the whole recording, then a pause
        await send(api, token, rid, index, piece)
    state: dict = {}
    for _ in range(900):  # wait (bounded) until its complete clusters are decoded, drafted
        state = await cursor()
        draft = state.get("draft")
        if (
            state["audio_end"] >= SAMPLE_DURATION - 1
            and draft
            and (draft["heard"] >= state["audio_end"] - 1e-6)
        ):
            break
        await asyncio.sleep(0.2)
    draft = state.get("draft")
    assert draft, state
    waiting = state["audio_end"] - state["transcribed_until"]
    assert 6 <= waiting < 20, state  # less than a stretch: without a draft, all at the stop
    assert draft["begin"] == pytest.approx(state["transcribed_until"])
    assert draft["begin"] < draft["until"] <= draft["heard"]
    before = len(asked)
    assert (await finish(api, token, rid, len(pieces))).status == 202
    events = await events_until_done(api, token, rid)
    assert events[-1][1]["status"] == "ready"
    final = await cursor()
    assert final["draft"] is None  # taken
    # the draft's part up to its pause is a stretch, not transcribed again: at the stop
    # only the last stretch is, from that pause (less its context) to the end
    assert final["stretch_ends"][-2] == pytest.approx(draft["until"])
    assert len(asked) == before + 1, asked[before:]
    offset, heard, last = asked[-1]
    assert last
    assert offset == pytest.approx(draft["until"] - 3.0, abs=1e-3)
    assert heard == pytest.approx(final["audio_end"] - offset, abs=0.05)
    assert heard < waiting + 3.0
    transcript = await transcript_of(api, token, rid)
    said = words(transcript)
    script = ["".join(ch for ch in w.lower() if ch.isalnum()) for w in sample_text().split()]
    assert distance(said, script) <= 0.2 * len(script), (said, script)
    assert len({s["speaker"] for s in transcript["segments"]}) == 2


async def _stretches_and_words(api, token: str, pieces: list[bytes], held: int) -> tuple:
    """Record *pieces* live: all but the last *held* one by one, waiting until the
    processor is idle; then the held ones and the finish at once (a network that came
    back at the stop). The stretches' ends and the transcript's words."""
    uow = await resolve(api.container.uow())
    rid = (await start_live(api, token))["recording_id"]

    async def cursor() -> dict:
        async with uow() as work:
            return dict((await work.live.get(rid)).cursor)

    sent = len(pieces) - held
    for index in range(sent):
        await send(api, token, rid, index, pieces[index])
    for _ in range(900):  # wait (bounded) until what was sent is decoded and drafted
        state = await cursor()
        draft = state.get("draft") or {}
        waiting = state["audio_end"] - state["transcribed_until"]
        if state["audio_end"] >= sent - 6 and (
            waiting < 6 or draft.get("heard", 0) >= state["audio_end"] - 1e-6
        ):
            break
        await asyncio.sleep(0.2)
    for index in range(sent, len(pieces)):
        await send(api, token, rid, index, pieces[index])
    assert (await finish(api, token, rid, len(pieces))).status == 202
    events = await events_until_done(api, token, rid)
    assert events[-1][1]["status"] == "ready"
    return (await cursor())["stretch_ends"], words(await transcript_of(api, token, rid))


async def test_chunks_held_until_the_stop_lose_nothing_and_are_cut_the_same(make_api):
    """Chunks held by the client until the stop (the network was down) and sent together
    with the finish: the audio is cut into the same stretches as when they came one by
    one, except that no draft heard the end, so the last stretch is transcribed in one
    go; the transcript holds the same words."""
    api = await make_api(**LIVE_ENV, ELYUNE_LIVE_DRAFT_SECONDS="6")
    token = await api.user()
    pieces = chunks_of(SAMPLE.read_bytes(), 50)
    smooth_ends, smooth_words = await _stretches_and_words(api, token, pieces, held=0)
    held_ends, held_words = await _stretches_and_words(api, token, pieces, held=20)
    assert len(smooth_ends) >= 3  # full stretches, the draft's part, the rest
    assert held_ends == [*smooth_ends[:-2], smooth_ends[-1]]
    assert distance(held_words, smooth_words) <= max(2, len(smooth_words) * 7 // 100)


async def test_a_video_segment_being_encoded_holds_up_neither_the_transcript_nor_the_stop(
    make_api, tmp_path
):
    """The video's segments are encoded beside the transcript's work, not in turn with
    it: on a machine where encoding is slow (here: every segment after the first waits
    until the test lets it go), the stretches go on, the stop gives up the segment being
    encoded, and the transcript is stored while the video still waits; the MP4 then
    holds the whole recording."""
    api = await make_api(**LIVE_ENV)
    media = api.container.live_media()
    encode = media.encode_segment
    gate = asyncio.Event()
    started: list[float] = []
    given_up: list[float] = []

    async def slow(header, body, target, tracks, duration, on_progress=None):
        started.append(duration)
        if len(started) > 1 and not gate.is_set():
            try:
                await gate.wait()
            except asyncio.CancelledError:
                given_up.append(duration)
                raise
        await encode(header, body, target, tracks, duration, on_progress)

    media.encode_segment = slow
    token = await api.user()
    pieces = chunks_of(SAMPLE.read_bytes(), 50)
    rid = (await start_live(api, token))["recording_id"]
    for index, body in enumerate(pieces):
        await send(api, token, rid, index, body)
        await asyncio.sleep(0.05)
    assert (await finish(api, token, rid, len(pieces))).status == 202
    transcript = None
    for _ in range(600):  # bounded: the transcript comes although the video waits
        response = await api.client.get(
            f"/api/v1/recordings/{rid}/transcript/", headers=api.auth(token)
        )
        if response.status == 200:
            transcript = await response.json()
            break
        await asyncio.sleep(0.2)
    assert transcript is not None, "no transcript while a video segment was being encoded"
    assert transcript["segments"][-1]["end"] > 45
    assert not gate.is_set() and len(started) >= 2
    assert given_up, "the stop waited for the segment being encoded"
    gate.set()
    events = await events_until_done(api, token, rid)
    assert events[-1][1]["status"] == "ready", events[-1]
    detail = await detail_of(api, token, rid)
    mp4 = await (await api.client.get(path_of(detail["video_url"]))).read()
    assert mp4_seconds(mp4, tmp_path) == pytest.approx(SAMPLE_DURATION, abs=0.5)
