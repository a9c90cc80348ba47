"""The embedded upload URLs: signed, expiring, size-limited, key-bound."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

from tests.http.conftest import path_of


async def _ticket(api, token, size: int, filename: str = "a.webm"):
    response = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"filename": filename, "file_size": size},
        headers=api.auth(token),
    )
    assert response.status == 201
    return await response.json()


async def test_an_upload_larger_than_declared_is_refused_and_nothing_is_stored(api, tmp_path):
    token = await api.user()
    ticket = await _ticket(api, token, 10)
    put = await api.client.put(path_of(ticket["upload_url"]), data=b"x" * 11)
    assert put.status == 413

    async def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(4):
            yield b"x" * 4

    streamed = await api.client.put(path_of(ticket["upload_url"]), data=chunks())
    assert streamed.status == 413
    assert not list((tmp_path / "data" / "objects").rglob("source.webm"))
    done = await api.client.post(
        f"/api/v1/recordings/{ticket['recording_id']}/upload-complete/",
        json={"s3_key": ticket["s3_key"]},
        headers=api.auth(token),
    )
    assert done.status == 409
    assert "No file has been uploaded" in (await done.json())["s3_key"][0]


async def test_an_upload_url_works_once(api):
    token = await api.user()
    ticket = await _ticket(api, token, 4)
    assert (await api.client.put(path_of(ticket["upload_url"]), data=b"abcd")).status == 200
    again = await api.client.put(path_of(ticket["upload_url"]), data=b"wxyz")
    assert again.status == 403
    assert "already used" in (await again.json())["detail"]


async def test_a_short_or_empty_upload_stores_nothing_and_the_url_still_works(api, tmp_path):
    token = await api.user()
    ticket = await _ticket(api, token, 10)
    url = path_of(ticket["upload_url"])
    for body in (b"x" * 5, b""):
        short = await api.client.put(url, data=body)
        assert short.status == 400
        assert "nothing was stored" in (await short.json())["detail"]

    async def cut_short():  # no Content-Length: the size is checked at the end
        yield b"x" * 4

    assert (await api.client.put(url, data=cut_short())).status == 400
    assert not list((tmp_path / "data" / "objects").rglob("source.webm"))
    assert (await api.client.put(url, data=b"x" * 10)).status == 200  # repaired
    done = await api.client.post(
        f"/api/v1/recordings/{ticket['recording_id']}/upload-complete/",
        json={"s3_key": ticket["s3_key"]},
        headers=api.auth(token),
    )
    assert done.status == 200


def _form(post: dict, data: bytes) -> aiohttp.FormData:
    body = aiohttp.FormData()
    for name, value in post["fields"].items():
        body.add_field(name, value)
    body.add_field("file", data, filename="a.webm", content_type="video/webm")
    return body


async def test_the_form_upload_is_one_shot_with_the_put(api, tmp_path):
    token = await api.user()
    ticket = await _ticket(api, token, 4)
    post = ticket["upload_post"]
    assert (await api.client.put(path_of(ticket["upload_url"]), data=b"abcd")).status == 200
    done = await api.client.post(
        f"/api/v1/recordings/{ticket['recording_id']}/upload-complete/",
        json={"s3_key": ticket["s3_key"]},
        headers=api.auth(token),
    )
    assert done.status == 200
    for _ in range(2):
        replaced = await api.client.post(path_of(post["url"]), data=_form(post, b"wxyz"))
        assert replaced.status == 403
        assert "already used" in (await replaced.json())["detail"]
    [stored] = (tmp_path / "data" / "objects").rglob("source.webm")
    assert stored.read_bytes() == b"abcd"

    other = await _ticket(api, token, 4)
    form = other["upload_post"]
    assert (await api.client.post(path_of(form["url"]), data=_form(form, b"1234"))).status == 204
    put = await api.client.put(path_of(other["upload_url"]), data=b"5678")
    assert put.status == 403  # before upload-complete too


async def test_upload_urls_are_refused_after_their_recording_is_deleted(api, tmp_path):
    token = await api.user()
    ticket = await _ticket(api, token, 4)
    post = ticket["upload_post"]
    deleted = await api.client.delete(
        f"/api/v1/recordings/{ticket['recording_id']}/", headers=api.auth(token)
    )
    assert deleted.status == 204
    put = await api.client.put(path_of(ticket["upload_url"]), data=b"abcd")
    assert put.status == 403
    assert "deleted" in (await put.json())["detail"]
    form = await api.client.post(path_of(post["url"]), data=_form(post, b"abcd"))
    assert form.status == 403
    assert not [p for p in (tmp_path / "data" / "objects").rglob("*") if p.is_file()]


async def test_of_two_simultaneous_uploads_to_one_url_one_wins(api, tmp_path):
    token = await api.user()
    ticket = await _ticket(api, token, 8)
    url = path_of(ticket["upload_url"])
    started, release = asyncio.Event(), asyncio.Event()

    async def slow():
        yield b"1111"
        started.set()
        await release.wait()
        yield b"1111"

    first = asyncio.create_task(api.client.put(url, data=slow()))
    await asyncio.wait_for(started.wait(), 10)
    second = await api.client.put(url, data=b"22222222")
    assert second.status == 409
    assert "in progress" in (await second.json())["detail"]
    release.set()
    assert (await first).status == 200
    third = await api.client.put(url, data=b"33333333")
    assert third.status == 403
    [stored] = (tmp_path / "data" / "objects").rglob("source.webm")
    assert stored.read_bytes() == b"11111111"


async def test_a_key_that_is_not_the_recordings_is_refused(api):
    token = await api.user()
    first = await _ticket(api, token, 4)
    second = await _ticket(api, token, 4)
    await api.client.put(path_of(first["upload_url"]), data=b"abcd")
    for key in (second["s3_key"], "../../secret", first["s3_key"] + "x"):
        done = await api.client.post(
            f"/api/v1/recordings/{first['recording_id']}/upload-complete/",
            json={"s3_key": key},
            headers=api.auth(token),
        )
        assert done.status == 409
        assert "does not belong" in (await done.json())["s3_key"][0]


async def test_tampered_and_expired_upload_urls_are_403(make_api):
    api = await make_api(UPLOAD_URL_EXPIRES_SECONDS="1")
    token = await api.user()
    ticket = await _ticket(api, token, 4)
    parts = urlsplit(ticket["upload_url"])
    query = dict(parse_qsl(parts.query))
    bigger = urlencode({**query, "size": "999999"})
    tampered = await api.client.put(f"{parts.path}?{bigger}", data=b"abcd")
    assert tampered.status == 403
    other_key = parts.path.replace("source.webm", "video.mp4")
    moved = await api.client.put(f"{other_key}?{parts.query}", data=b"abcd")
    assert moved.status == 403
    await asyncio.sleep(2.1)
    expired = await api.client.put(path_of(ticket["upload_url"]), data=b"abcd")
    assert expired.status == 403
    assert "expired" in (await expired.json())["detail"]


async def test_the_form_upload_enforces_the_declared_size(api):
    token = await api.user()
    ticket = await _ticket(api, token, 6)
    post = ticket["upload_post"]

    def form(data: bytes) -> aiohttp.FormData:
        body = aiohttp.FormData()
        for name, value in post["fields"].items():
            body.add_field(name, value)
        body.add_field("file", data, filename="a.webm", content_type="video/webm")
        return body

    too_big = await api.client.post(path_of(post["url"]), data=form(b"1234567"))
    assert too_big.status == 400
    ok = await api.client.post(path_of(post["url"]), data=form(b"123456"))
    assert ok.status == 204
    done = await api.client.post(
        f"/api/v1/recordings/{ticket['recording_id']}/upload-complete/",
        json={"s3_key": ticket["s3_key"]},
        headers=api.auth(token),
    )
    assert done.status == 200


async def test_a_large_upload_streams_to_disk(api, tmp_path):
    token = await api.user()
    size = 24 * 1024 * 1024
    ticket = await _ticket(api, token, size)

    async def body():
        for _ in range(size // (1 << 20)):
            yield b"\0" * (1 << 20)

    put = await api.client.put(path_of(ticket["upload_url"]), data=body())
    assert put.status == 200
    stored = next((tmp_path / "data" / "objects").rglob("source.webm"))
    assert stored.stat().st_size == size
