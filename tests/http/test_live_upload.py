"""Live (chunked, resumable) uploads through the HTTP API on the embedded adapters:
start, declare chunks, PUT them to the signed URLs, ask what arrived, finish."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

from elyune_adapters.container import resolve
from elyune_adapters.memory import EventLog, FixedClock
from elyune_core.use_cases.live_upload import idle_note
from tests.http.conftest import path_of
from tests.support.media import SAMPLE

LIVE = {"filename": "live.webm", "upload": "live", "title": "Stand-up"}
ORIGIN = "chrome-extension://abcdefghijklmnop"


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324


SAMPLE_BYTES = SAMPLE.read_bytes()


def chunk_bytes(index: int, size: int = 1000) -> bytes:
    """Piece *index* of the sample meeting's WebM stream (live processing reads it)."""
    return SAMPLE_BYTES[index * size : (index + 1) * size]


async def start(api, token, **extra) -> dict:
    response = await api.client.post(
        "/api/v1/recordings/request-upload/", json={**LIVE, **extra}, headers=api.auth(token)
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def declare(api, token, ticket, chunks, *, status: int = 200) -> dict:
    response = await api.client.post(
        ticket["chunks_url"],
        json={"chunks": [{"index": i, "size": len(b), "md5": md5(b)} for i, b in chunks]},
        headers=api.auth(token),
    )
    assert response.status == status, await response.text()
    return await response.json()


async def put(api, url: str, data: bytes, content_md5: str | None = None, **headers):
    if content_md5 is not None:
        headers["Content-MD5"] = content_md5
    headers.setdefault("Content-Type", "video/webm")
    return await api.client.put(path_of(url), data=data, headers=headers)


async def status_of(api, token, ticket) -> dict:
    response = await api.client.get(ticket["upload_status_url"], headers=api.auth(token))
    assert response.status == 200, await response.text()
    return await response.json()


async def send(api, token, ticket, indexes) -> None:
    """Declare and PUT the chunks *indexes* (each ``chunk_bytes(i)``)."""
    chunks = [(i, chunk_bytes(i)) for i in indexes]
    tickets = await declare(api, token, ticket, chunks)
    for (_, data), t in zip(chunks, tickets["chunks"], strict=True):
        if not t["stored"]:
            stored = await put(api, t["upload_url"], data, **t["headers"])
            assert stored.status == 200, await stored.text()


def chunk_files(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "data" / "objects").rglob("*.webm"))


async def test_start_answers_the_live_routes_and_no_upload_url(api):
    token = await api.user()
    ticket = await start(api, token, file_size=123, quality="1080p")
    rid = ticket["recording_id"]
    assert ticket["upload"] == "live"
    assert ticket["chunks_url"] == f"/api/v1/recordings/{rid}/chunks/"
    assert ticket["upload_status_url"] == f"/api/v1/recordings/{rid}/upload/"
    assert ticket["finish_url"] == f"/api/v1/recordings/{rid}/finish/"
    assert ticket["max_chunk_size"] == 32 * 1024 * 1024
    assert ticket["chunk_url_expires_in"] == 900
    assert "upload_url" not in ticket and "upload_post" not in ticket
    assert ticket["recording"]["status"] == "awaiting_upload"
    assert ticket["recording"]["title"] == "Stand-up"
    state = await status_of(api, token, ticket)
    assert state["state"] == "recording" and state["received"] == []


async def test_start_validates_the_other_fields_as_before(api):
    token = await api.user()
    bad = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={**LIVE, "fps": 999, "quality": "8k"},
        headers=api.auth(token),
    )
    assert bad.status == 400
    assert set(await bad.json()) == {"fps", "quality"}
    whole = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"filename": "a.webm"},
        headers=api.auth(token),
    )
    assert whole.status == 400
    assert "required" in (await whole.json())["file_size"][0]


async def test_chunks_out_of_order_twice_then_status_and_finish(api, tmp_path):
    token = await api.user()
    ticket = await start(api, token)
    chunks = [(i, chunk_bytes(i, 1000 + i)) for i in range(4)]
    tickets = await declare(api, token, ticket, chunks)
    assert tickets["expires_in"] == 900
    assert [t["index"] for t in tickets["chunks"]] == [0, 1, 2, 3]
    first = tickets["chunks"][0]
    assert first["stored"] is False and first["method"] == "PUT"
    assert first["headers"] == {"Content-MD5": md5(chunks[0][1]), "Content-Type": "video/webm"}
    for index in (3, 1, 0):  # out of order; 2 not yet
        t = tickets["chunks"][index]
        response = await put(api, t["upload_url"], chunks[index][1], **t["headers"])
        assert response.status == 200, await response.text()
        assert response.headers["ETag"] == f'"{hashlib.md5(chunks[index][1]).hexdigest()}"'  # noqa: S324
    again = await put(api, tickets["chunks"][1]["upload_url"], chunks[1][1], **first["headers"])
    assert again.status == 403  # another chunk's Content-MD5 than signed
    t1 = tickets["chunks"][1]
    again = await put(api, t1["upload_url"], chunks[1][1], **t1["headers"])
    assert again.status == 200  # the same bytes again

    state = await status_of(api, token, ticket)
    assert state["received"] == [0, 1, 3]
    assert state["received_ranges"] == [[0, 1], [3, 3]]
    assert state["missing"] == [2]
    assert state["refused"] == []
    assert state["received_bytes"] == 1000 + 1001 + 1003
    assert state["expected_chunks"] is None and state["progress"] == {}

    early = await api.client.post(ticket["finish_url"], json={"chunks": 4}, headers=api.auth(token))
    assert early.status == 409
    body = await early.json()
    assert body["missing"] == [2]
    assert body["chunks"] == ["Chunk 2 has not arrived."]
    assert (await status_of(api, token, ticket))["state"] == "recording"  # nothing changed

    # a retried declaration: stored chunks need no URL, the missing one gets one
    retry = await declare(api, token, ticket, chunks)
    assert [t["stored"] for t in retry["chunks"]] == [True, True, False, True]
    assert retry["chunks"][0]["upload_url"] is None
    t2 = retry["chunks"][2]
    assert (await put(api, t2["upload_url"], chunks[2][1], **t2["headers"])).status == 200

    done = await api.client.post(ticket["finish_url"], json={"chunks": 4}, headers=api.auth(token))
    assert done.status == 202, await done.text()
    assert await done.json() == {
        "recording_id": ticket["recording_id"],
        "status": "uploaded",
        "state": "finished",
        "chunks": 4,
    }
    detail = await api.client.get(
        f"/api/v1/recordings/{ticket['recording_id']}/", headers=api.auth(token)
    )
    assert (await detail.json())["status"] == "uploaded"
    assert (await detail.json())["file_size"] == sum(len(b) for _, b in chunks)
    state = await status_of(api, token, ticket)
    assert state["state"] == "finished" and state["expected_chunks"] == 4
    assert len(chunk_files(tmp_path)) == 4

    twice = await api.client.post(ticket["finish_url"], json={"chunks": 4}, headers=api.auth(token))
    assert twice.status == 202 and await twice.json() == await done.json()
    other = await api.client.post(ticket["finish_url"], json={"chunks": 3}, headers=api.auth(token))
    assert other.status == 409

    late = await api.client.post(
        ticket["chunks_url"],
        json={"chunks": [{"index": 4, "size": 10, "md5": md5(b"x" * 10)}]},
        headers=api.auth(token),
    )
    assert late.status == 409
    assert "finished" in (await late.json())["chunks"][0]
    # a URL signed before the finish stores nothing now
    assert (await put(api, t2["upload_url"], chunks[2][1], **t2["headers"])).status == 403


async def test_finishing_publishes_one_uploaded_event(make_api):
    log = EventLog()
    api = await make_api()
    api.container.events.override(log)
    token = await api.user()
    ticket = await start(api, token)
    await send(api, token, ticket, [0, 1])
    for _ in range(2):
        done = await api.client.post(
            ticket["finish_url"], json={"chunks": 2}, headers=api.auth(token)
        )
        assert done.status == 202
    assert log.types() == ["recording.uploaded"]
    assert log.events[0].data["size"] == 2000


async def test_a_wrong_digest_or_size_is_refused_and_nothing_is_stored(api, tmp_path):
    token = await api.user()
    ticket = await start(api, token)
    good = chunk_bytes(0)
    t = (await declare(api, token, ticket, [(0, good)]))["chunks"][0]
    evil = b"y" * len(good)
    wrong = await put(api, t["upload_url"], evil, **t["headers"])
    assert wrong.status == 400
    assert (await wrong.json())["code"] == "BadDigest"
    assert chunk_files(tmp_path) == []
    assert not [p for p in (tmp_path / "data" / "objects").rglob("*") if p.is_file()]
    short = await put(api, t["upload_url"], good[:-1], **t["headers"])
    assert short.status == 400
    long = await put(api, t["upload_url"], good + b"z", **t["headers"])
    assert long.status == 413
    missing_header = await put(api, t["upload_url"], good)
    assert missing_header.status == 403
    assert chunk_files(tmp_path) == []
    assert (await status_of(api, token, ticket))["missing"] == [0]
    ok = await put(api, t["upload_url"], good, **t["headers"])
    assert ok.status == 200
    assert (await status_of(api, token, ticket))["received"] == [0]


async def test_a_stored_chunk_keeps_its_content(api):
    token = await api.user()
    ticket = await start(api, token)
    await send(api, token, ticket, [5])
    clash = await declare(api, token, ticket, [(5, b"other bytes")], status=409)
    assert clash == {"chunks": ["Chunk 5 is already stored with other content."]}
    # declared but not stored: a new declaration replaces it, the old URL stops working
    first = (await declare(api, token, ticket, [(6, b"first")]))["chunks"][0]
    second = (await declare(api, token, ticket, [(6, b"second")]))["chunks"][0]
    assert (await put(api, first["upload_url"], b"first", **first["headers"])).status == 403
    assert (await put(api, second["upload_url"], b"second", **second["headers"])).status == 200
    assert (await status_of(api, token, ticket))["received"] == [5, 6]


async def test_declarations_are_checked(api):
    token = await api.user()
    ticket = await start(api, token)

    async def refused(chunks, status=400):
        response = await api.client.post(
            ticket["chunks_url"], json={"chunks": chunks}, headers=api.auth(token)
        )
        assert response.status == status, await response.text()
        return (await response.json())["chunks"][0]

    ok_md5 = md5(b"x")
    assert "twice" in await refused([{"index": 1, "size": 1, "md5": ok_md5}] * 2, 409)
    assert "1 to" in await refused([{"index": 1, "size": 32 * 1024 * 1024 + 1, "md5": ok_md5}])
    assert "md5" in await refused([{"index": 1, "size": 1, "md5": "bm90IGFuIG1kNQ=="}])
    assert "index" in await refused([{"index": -1, "size": 1, "md5": ok_md5}])
    assert "index" in await refused([{"index": 1_000_000, "size": 1, "md5": ok_md5}])
    assert await refused([])
    assert await refused([{"index": i, "size": 1, "md5": ok_md5} for i in range(51)])
    assert await refused([{"index": 1, "size": 1}])


async def test_the_openapi_document_states_the_chunk_size_limit(make_api):
    api = await make_api(ELYUNE_LIVE_MAX_CHUNK_MB="2")
    document = await (await api.client.get("/api/schema/")).json()
    chunk = document["components"]["schemas"]["LiveChunk"]
    assert chunk["properties"]["size"]["maximum"] == 2 << 20
    upload = document["components"]["schemas"]["RequestUpload"]
    assert "file_size" not in upload["required"]
    assert upload["else"] == {"required": ["file_size"]}


async def test_the_declared_bytes_stay_within_the_upload_limit(make_api):
    api = await make_api(MAX_UPLOAD_SIZE_MB="1")
    token = await api.user()
    ticket = await start(api, token)
    half = 600 * 1024
    response = await api.client.post(
        ticket["chunks_url"],
        json={"chunks": [{"index": 0, "size": half, "md5": md5(b"a")}]},
        headers=api.auth(token),
    )
    assert response.status == 200
    over = await api.client.post(
        ticket["chunks_url"],
        json={"chunks": [{"index": 1, "size": half, "md5": md5(b"a")}]},
        headers=api.auth(token),
    )
    assert over.status == 409
    assert "limit of 1 MB" in (await over.json())["chunks"][0]
    replaced = await api.client.post(  # re-declaring chunk 0 replaces its size
        ticket["chunks_url"],
        json={"chunks": [{"index": 0, "size": 10, "md5": md5(b"a")}]},
        headers=api.auth(token),
    )
    assert replaced.status == 200


async def test_another_users_live_upload_is_not_found_anywhere(api, tmp_path):
    alice = await api.user("alice")
    bob = await api.user("bob")
    ticket = await start(api, alice)
    await send(api, alice, ticket, [0])
    body = {"chunks": [{"index": 1, "size": 5, "md5": md5(b"bob!!")}]}
    for method, url, json in (
        ("post", ticket["chunks_url"], body),
        ("get", ticket["upload_status_url"], None),
        ("post", ticket["finish_url"], {"chunks": 1}),
    ):
        response = await getattr(api.client, method)(url, json=json, headers=api.auth(bob))
        assert response.status == 404, (url, await response.text())
    # Bob's own signed chunk URL cannot be turned to Alice's key
    own = await start(api, bob)
    t = (await declare(api, bob, own, [(0, b"bob!!")]))["chunks"][0]
    alice_key = chunk_files_key(tmp_path, "000000.webm", ticket["recording_id"])
    forged = t["upload_url"].replace(
        t["upload_url"].split("/api/v1/storage/")[1].split("?")[0], alice_key
    )
    response = await put(api, forged, b"bob!!", **t["headers"])
    assert response.status == 403
    assert (await status_of(api, alice, ticket))["received"] == [0]


def chunk_files_key(tmp_path, name: str, recording_id: str) -> str:
    root = tmp_path / "data" / "objects"
    (path,) = [p for p in root.rglob(name) if recording_id in p.as_posix()]
    return path.relative_to(root).as_posix()


async def test_a_recording_uploaded_whole_has_no_live_status(api):
    token = await api.user()
    ticket, done = await api.upload(token, b"whole file")
    assert done.status == 200
    rid = ticket["recording_id"]
    for method, path, json in (
        ("get", f"/api/v1/recordings/{rid}/upload/", None),
        ("post", f"/api/v1/recordings/{rid}/finish/", {"chunks": 1}),
        (
            "post",
            f"/api/v1/recordings/{rid}/chunks/",
            {"chunks": [{"index": 0, "size": 1, "md5": md5(b"x")}]},
        ),
    ):
        response = await getattr(api.client, method)(path, json=json, headers=api.auth(token))
        assert response.status == 404
        assert await response.json() == {"detail": "This recording was not uploaded live."}


async def test_the_seed_upload_is_unchanged(api):
    token = await api.user()
    ticket, done = await api.upload(token, b"0123456789", upload="file")
    assert set(ticket) >= {"upload_url", "upload_post", "s3_key", "expires_in", "max_size"}
    assert done.status == 200
    assert (await done.json())["queued"] is True


async def test_the_chunk_put_works_cross_origin(api):
    token = await api.user()
    ticket = await start(api, token)
    data = chunk_bytes(0)
    t = (await declare(api, token, ticket, [(0, data)]))["chunks"][0]
    preflight = await api.client.options(
        path_of(t["upload_url"]),
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-md5, content-type",
        },
    )
    assert preflight.status == 204
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert "content-md5" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = await put(api, t["upload_url"], data, Origin=ORIGIN, **t["headers"])
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


async def test_idle_uploads_are_finished_with_their_contiguous_chunks(make_api):
    clock = FixedClock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    log = EventLog()
    api = await make_api()
    api.container.clock.override(clock)
    api.container.events.override(log)
    token = await api.user()
    kept = await start(api, token)
    await send(api, token, kept, [0, 1, 2, 4, 5])  # 3 never arrives
    empty = await start(api, token)
    await declare(api, token, empty, [(0, b"never sent")])
    busy = await start(api, token)
    clock.advance(14 * 60)
    await send(api, token, busy, [0])  # declared a minute before the sweep: still recording
    finalize = await resolve(api.container.finalize_idle_live_uploads())

    result = await finalize.execute(clock.now() + timedelta(seconds=61))

    assert set(result.abandoned) == {kept["recording_id"]}
    assert set(result.failed) == {empty["recording_id"]}
    state = await status_of(api, token, kept)
    assert state["state"] == "abandoned" and state["expected_chunks"] == 3
    assert state["note"] == (
        "Finished automatically after 15 minutes without chunks; chunks 0-2 were kept, "
        "2 later chunks were not."
    )
    recording = await api.client.get(
        f"/api/v1/recordings/{kept['recording_id']}/", headers=api.auth(token)
    )
    assert (await recording.json())["status"] == "uploaded"
    assert (await recording.json())["file_size"] == 3000
    failed = await api.client.get(
        f"/api/v1/recordings/{empty['recording_id']}/", headers=api.auth(token)
    )
    assert (await failed.json())["status"] == "failed"
    assert (await failed.json())["error"] == "No chunk of this live recording arrived."
    assert (await status_of(api, token, busy))["state"] == "recording"
    assert sorted(log.types()) == ["processing.failed", "recording.uploaded"]
    again = await finalize.execute(clock.now() + timedelta(hours=1))
    assert again.abandoned == (busy["recording_id"],) and again.failed == ()
    late = await api.client.post(kept["finish_url"], json={"chunks": 3}, headers=api.auth(token))
    assert late.status == 409


async def test_a_stored_chunk_unlike_its_declaration_is_refused_and_deleted(api, tmp_path):
    """What an S3 server that checked no digest could hold: the status refuses it,
    deletes it, and the chunk can be sent again."""
    token = await api.user()
    ticket = await start(api, token)
    await send(api, token, ticket, [0])
    good = chunk_bytes(1)
    t = (await declare(api, token, ticket, [(1, good)]))["chunks"][0]
    store = await resolve(api.container.object_store())
    key = chunk_files_key(tmp_path, "000000.webm", ticket["recording_id"]).replace(
        "000000.webm", "000001.webm"
    )
    await store.put_bytes(key, b"q" * len(good), "video/webm")  # the size, not the bytes
    state = await status_of(api, token, ticket)
    assert state["received"] == [0] and state["refused"] == [1] and state["missing"] == [1]
    assert len(chunk_files(tmp_path)) == 1
    assert (await put(api, t["upload_url"], good, **t["headers"])).status == 200
    assert (await status_of(api, token, ticket))["received"] == [0, 1]


def test_the_idle_note_counts_what_was_kept_and_left_out():
    idle = timedelta(seconds=900)
    assert idle_note(idle, 42, 2) == (
        "Finished automatically after 15 minutes without chunks; chunks 0-41 were kept, "
        "2 later chunks were not."
    )
    assert idle_note(idle, 1, 1) == (
        "Finished automatically after 15 minutes without chunks; chunk 0 was kept, "
        "1 later chunk was not."
    )
    assert idle_note(timedelta(seconds=90), 5, 0) == (
        "Finished automatically after 90 seconds without chunks; chunks 0-4 were kept."
    )
