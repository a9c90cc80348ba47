"""Browser clients (issue 10, item 3): event streams that end and stay ended, exposed
headers, and a transcript a <track> can load; and sessions that a new password ends."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import jwt

from elyune_adapters.container import derive_key, resolve
from elyune_core import RecordingId
from elyune_core.entities import Segment, Transcript
from elyune_core.use_cases import SetPasswordInput
from elyune_http import events
from tests.http.conftest import PASSWORD, path_of

ORIGIN = "https://app.example.com"


def _parse(text: str) -> list[dict]:
    found = []
    for block in text.split("\n\n"):
        fields: dict = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            fields["data"] = json.loads(fields["data"])
            found.append(fields)
    return found


async def _stream(api, token, rid, **headers):
    response = await api.client.get(
        f"/api/v1/recordings/{rid}/events/", headers={**api.auth(token), **headers}
    )
    body = await response.read() if response.status == 200 else b""
    return response, _parse(body.decode())


async def test_a_finished_stream_stops_reconnects_and_resumes_from_last_event_id(api):
    token = await api.user()
    ticket, _ = await api.upload(token, b"not media at all")  # fails at the probe
    rid = ticket["recording_id"]
    first, seen = await _stream(api, token, rid)
    assert first.status == 200
    assert seen[-1]["event"] == "done"
    assert all("id" in event for event in seen)
    job_id = seen[-1]["id"].split(":")[0]
    assert seen[-1]["id"] == f"{job_id}:done"

    # the browser reconnects after done with the id it last saw: nothing to replay
    again, replayed = await _stream(api, token, rid, **{"Last-Event-ID": seen[-1]["id"]})
    assert again.status == 204
    assert replayed == []
    # and from the last step event: only the end, no step again
    last_step = [e for e in seen if e["event"] == "step"][-1]
    resumed, events_after = await _stream(api, token, rid, **{"Last-Event-ID": last_step["id"]})
    assert resumed.status == 200
    assert [e["event"] for e in events_after] == ["done"]
    # a client that never saw anything still gets the whole story
    fresh, everything = await _stream(api, token, rid)
    assert everything[-1]["event"] == "done"
    names = {e["data"]["name"] for e in everything if e["event"] == "step"}
    assert names == {e["data"]["name"] for e in seen if e["event"] == "step"}
    # CORS on the 204 too, so the page sees it
    cors, _ = await _stream(api, token, rid, **{"Last-Event-ID": seen[-1]["id"], "Origin": ORIGIN})
    assert cors.status == 204
    assert cors.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_a_stream_ends_when_its_token_expires(api):
    await api.user()
    ticket = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"filename": "a.webm", "file_size": 10},
        headers=api.auth(await api.user("bob")),
    )
    rid = (await ticket.json())["recording_id"]
    login = await api.client.post("/api/token/", json={"username": "bob", "password": PASSWORD})
    access = (await login.json())["access"]
    key = derive_key(api.container.secret(), "jwt")
    claims = jwt.decode(access, key, algorithms=["HS256"])
    short = jwt.encode({**claims, "exp": int(time.time()) + 2}, key, algorithm="HS256")
    started = time.monotonic()
    response, seen = await asyncio.wait_for(_stream(api, short, rid), 15)
    assert response.status == 200
    assert time.monotonic() - started < 10
    assert seen[-1]["event"] == "error"
    assert seen[-1]["data"]["code"] == "token_not_valid"
    # the reconnect with that token is refused: EventSource gives up on a 401
    await asyncio.sleep(1.1)
    refused = await api.client.get(f"/api/v1/recordings/{rid}/events/", headers=api.auth(short))
    assert refused.status == 401


async def test_a_stream_on_a_recording_never_uploaded_ends(make_api, monkeypatch):
    monkeypatch.setattr(events, "UPLOAD_GRACE", events.timedelta(0))
    api = await make_api(UPLOAD_URL_EXPIRES_SECONDS="2")
    token = await api.user()
    ticket = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"filename": "a.webm", "file_size": 10},
        headers=api.auth(token),
    )
    rid = (await ticket.json())["recording_id"]
    response, seen = await asyncio.wait_for(_stream(api, token, rid), 20)
    assert response.status == 200
    assert seen[-1]["event"] == "error"
    assert "never uploaded" in seen[-1]["data"]["detail"]
    again, _ = await _stream(api, token, rid, **{"Last-Event-ID": seen[-1]["id"]})
    assert again.status == 204


async def test_browsers_may_read_the_upload_etag_and_download_headers(api):
    token = await api.user()
    ticket = await (
        await api.client.post(
            "/api/v1/recordings/request-upload/",
            json={"filename": "a.webm", "file_size": 4},
            headers={**api.auth(token), "Origin": ORIGIN},
        )
    ).json()
    put = await api.client.put(
        path_of(ticket["upload_url"]), data=b"webm", headers={"Origin": ORIGIN}
    )
    assert put.status == 200
    assert put.headers["ETag"]
    exposed = {h.strip().lower() for h in put.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "content-disposition", "content-range", "x-request-id"} <= exposed


async def test_the_detail_gives_a_signed_short_lived_vtt_link(api):
    token = await api.user()
    ticket, _ = await api.upload(token, b"not media at all")
    rid = ticket["recording_id"]
    detail = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    assert detail["transcript_vtt_url"] is None  # no transcript yet
    async with (await resolve(api.container.uow()))() as uow:
        await uow.transcripts.save(
            Transcript(
                recording_id=RecordingId(rid),
                text="Hello there",
                language="en",
                segments=(Segment(id=0, start=0.0, end=1.5, text="Hello there", speaker="0"),),
                words=(),
                engine="test",
                created_at=datetime.now(UTC),
            )
        )
        await uow.commit()
    await api.client.patch(
        f"/api/v1/recordings/{rid}/speakers/", json={"0": "Ann"}, headers=api.auth(token)
    )
    detail = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    link = detail["transcript_vtt_url"]
    assert link.startswith("http://127.0.0.1:8000/api/v1/subtitles/")
    vtt = await api.client.get(path_of(link), headers={"Origin": ORIGIN})  # no token
    assert vtt.status == 200
    assert vtt.headers["Content-Type"].startswith("text/vtt")
    assert vtt.headers["Access-Control-Allow-Origin"] == ORIGIN
    text = await vtt.text()
    assert text.startswith("WEBVTT")
    assert "Ann" in text and "00:00:01.500" in text
    # tampered, stretched or foreign links are refused
    for bad in (
        link.replace("sig=", "sig=x"),
        link.replace("exp=", "exp=9"),
        link.replace(rid, "someoneelse"),
        link.split("?")[0],
        # a signature that is not ASCII (schemathesis found a 500 here)
        link.split("sig=")[0] + "sig=%C3%82%3D%1F%C3%8F%0E%F3%9D",
    ):
        refused = await api.client.get(path_of(bad))
        assert refused.status in (403, 404), bad


async def test_a_new_password_ends_every_session(api):
    access = await api.user("alice")
    refresh = api.tokens["alice"]
    assert (await api.client.get("/api/v1/recordings/", headers=api.auth(access))).status == 200
    await (await resolve(api.container.set_password())).execute(
        SetPasswordInput("alice", "a brand new password")
    )
    # the access token (once the API's 5 s cache window has passed) and the refresh token
    await asyncio.sleep(5.1)
    assert (await api.client.get("/api/v1/recordings/", headers=api.auth(access))).status == 401
    refreshed = await api.client.post("/api/token/refresh/", json={"refresh": refresh})
    assert refreshed.status == 401
    login = await api.client.post(
        "/api/token/", json={"username": "alice", "password": "a brand new password"}
    )
    fresh = (await login.json())["access"]
    assert (await api.client.get("/api/v1/recordings/", headers=api.auth(fresh))).status == 200
