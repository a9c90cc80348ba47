"""The extension's flow from a page on another origin, in a real browser (issue 10,
item 3): what the page can read, and an event stream that ends and stays ended."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from elyune_adapters.container import create_container, resolve
from elyune_adapters.settings import load_settings
from elyune_core import RecordingId
from elyune_core.entities import Segment, Transcript
from tests.support.aio import run_sync
from tests.support.live import PASSWORD

FLOW = """async ({api, user, password}) => {
  const call = (method, path, body, token) => fetch(api + path, {
    method,
    headers: {"Content-Type": "application/json",
              ...(token ? {Authorization: "Bearer " + token} : {})},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const login = await (await call("POST", "/api/token/", {username: user, password})).json();
  const bytes = new TextEncoder().encode("not media at all");
  const ticket = await (await call("POST", "/api/v1/recordings/request-upload/",
    {filename: "a.webm", file_size: bytes.length}, login.access)).json();
  const put = await fetch(ticket.upload_url,
    {method: "PUT", headers: ticket.upload_headers, body: bytes});
  const etag = put.headers.get("ETag");
  await call("POST", `/api/v1/recordings/${ticket.recording_id}/upload-complete/`,
    {s3_key: ticket.s3_key}, login.access);
  const opens = [], seen = [];
  const source = new EventSource(
    `${api}/api/v1/recordings/${ticket.recording_id}/events/?access_token=${login.access}`);
  source.onopen = () => opens.push(Date.now());
  source.addEventListener("step", () => seen.push("step"));
  source.addEventListener("done", () => seen.push("done"));
  // EventSource reconnects 3 s after a stream ends: wait for two such rounds
  await new Promise((resolve) => setTimeout(resolve, 8000));
  return {putStatus: put.status, etag, opens: opens.length, seen, state: source.readyState,
          recording: ticket.recording_id, access: login.access};
}"""

TRACK = """async ({src}) => {
  const video = document.createElement("video");
  video.crossOrigin = "anonymous";
  const track = document.createElement("track");
  track.kind = "subtitles"; track.default = true; track.src = src;
  video.appendChild(track);
  document.body.appendChild(video);
  track.track.mode = "hidden";
  const outcome = await new Promise((resolve) => {
    track.addEventListener("load", () => resolve("load"));
    track.addEventListener("error", () => resolve("error"));
    setTimeout(() => resolve("timeout"), 10000);
  });
  const cues = Array.from(track.track.cues || []).map((cue) => cue.text);
  return {outcome, cues};
}"""


def _page_on(page, origin: str) -> None:
    page.goto(f"{origin}/app.html")


def test_a_page_on_another_origin_reads_the_etag_and_its_stream_ends(live, page, app_origin):
    live.user("carol")
    _page_on(page, app_origin)
    result = page.evaluate(FLOW, {"api": live.url, "user": "carol", "password": PASSWORD})
    assert result["putStatus"] == 200
    assert result["etag"], "ETag is exposed to the page"
    assert result["seen"].count("done") == 1, result
    assert result["opens"] == 1, "no reconnect replays the steps after done"
    assert result["state"] == 2  # EventSource.CLOSED: the browser stopped reconnecting
    assert not page.console_errors


def test_a_track_element_loads_the_signed_vtt_link(live, page, app_origin):
    live.user("dave")
    _page_on(page, app_origin)
    flow = page.evaluate(
        FLOW.replace("8000", "100"), {"api": live.url, "user": "dave", "password": PASSWORD}
    )

    async def add_transcript() -> None:
        settings = load_settings(dict(live.env))
        container = create_container(settings)
        try:
            async with (await resolve(container.uow()))() as uow:
                await uow.transcripts.save(
                    Transcript(
                        recording_id=RecordingId(flow["recording"]),
                        text="Welcome to the weekly sync",
                        language="en",
                        segments=(
                            Segment(id=0, start=0.0, end=2.0, text="Welcome to the weekly sync"),
                        ),
                        words=(),
                        engine="test",
                        created_at=datetime.now(UTC),
                    )
                )
                await uow.commit()
        finally:
            await resolve(container.shutdown_resources())

    run_sync(add_transcript())
    status, _, body = live.request(
        "GET", f"/api/v1/recordings/{flow['recording']}/", token=flow["access"]
    )
    assert status == 200
    link = json.loads(body)["transcript_vtt_url"]
    assert link.startswith(f"{live.url}/api/v1/subtitles/")
    result = page.evaluate(TRACK, {"src": link})
    assert result["outcome"] == "load", result
    assert any("Welcome to the weekly sync" in cue for cue in result["cues"]), result
