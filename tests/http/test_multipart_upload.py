"""Resumable multipart uploads through the API in the embedded mode, end to end:
start, sign part URLs, PUT parts out of order, list to resume, complete, abort."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elyune_adapters.container import resolve
from elyune_http import schema
from tests.http.conftest import path_of
from tests.http.test_fuzz import JSON_VALUES, _mutated
from tests.support.seaweed import SeaweedError, SeaweedServer

MiB = 1 << 20
ORIGIN = "chrome-extension://abcdefghijklmnop"


async def request_upload(api, token: str, size: int, filename: str = "long.webm") -> str:
    response = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"filename": filename, "file_size": size},
        headers=api.auth(token),
    )
    assert response.status == 201, await response.text()
    return (await response.json())["recording_id"]


async def start(api, token: str, rid: str) -> dict:
    response = await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/", headers=api.auth(token)
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def sign(api, token: str, rid: str, upload_id: str, numbers: list[int]) -> dict[int, str]:
    response = await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/parts/",
        json={"upload_id": upload_id, "numbers": numbers},
        headers=api.auth(token),
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["expires_in"] > 0
    return {part["number"]: part["url"] for part in body["parts"]}


async def put(api, url: str, data: bytes, **headers: str):
    response = await api.client.put(path_of(url), data=data, headers=headers)
    await response.read()
    return response


async def listed(api, token: str, rid: str, upload_id: str):
    return await api.client.get(
        f"/api/v1/recordings/{rid}/multipart/",
        params={"upload_id": upload_id},
        headers=api.auth(token),
    )


async def complete(api, token: str, rid: str, upload_id: str, parts: list[dict]):
    return await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/complete/",
        json={"upload_id": upload_id, "parts": parts},
        headers=api.auth(token),
    )


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 (S3's ETag)


async def test_a_12_mib_file_in_3_parts_out_of_order_resumed_and_completed(api) -> None:
    token = await api.user()
    data = os.urandom(12 * MiB)
    pieces = {1: data[: 5 * MiB], 2: data[5 * MiB : 10 * MiB], 3: data[10 * MiB :]}
    rid = await request_upload(api, token, len(data))

    started = await start(api, token, rid)
    assert started["part_size"] == 8 * MiB and started["parts"] == 2  # the proposal
    upload_id = started["upload_id"]
    urls = await sign(api, token, rid, upload_id, [3, 1, 2])

    # Part 3 then part 1; part 2 is "lost" (the browser closed).
    put3 = await put(api, urls[3], pieces[3], Origin=ORIGIN)
    assert put3.status == 200
    assert put3.headers["ETag"] == f'"{md5(pieces[3])}"'
    assert "ETag" in put3.headers["Access-Control-Expose-Headers"]  # readable by a browser
    assert put3.headers["Access-Control-Allow-Origin"] == ORIGIN
    etag1 = (await put(api, urls[1], pieces[1])).headers["ETag"]

    # Resume: which parts are there?
    response = await listed(api, token, rid, upload_id)
    assert response.status == 200
    body = await response.json()
    assert [(p["number"], p["size"], p["etag"]) for p in body["parts"]] == [
        (1, 5 * MiB, md5(pieces[1])),
        (3, 2 * MiB, md5(pieces[3])),
    ]
    missing = sorted(set(pieces) - {p["number"] for p in body["parts"]})
    assert missing == [2]
    # Completing now names the missing part.
    incomplete = await complete(
        api, token, rid, upload_id, [{"number": 1, "etag": etag1}, {"number": 3, "etag": "x"}]
    )
    assert incomplete.status == 409
    assert "ETag" in (await incomplete.json())["parts"][0]

    fresh = await sign(api, token, rid, upload_id, missing)
    etag2 = (await put(api, fresh[2], pieces[2])).headers["ETag"]
    parts = [
        {"number": 1, "etag": etag1},
        {"number": 2, "etag": etag2.strip('"')},  # quotes are optional
        {"number": 3, "etag": put3.headers["ETag"]},
    ]
    done = await complete(api, token, rid, upload_id, parts)

    assert done.status == 200, await done.text()
    completed = await done.json()
    assert completed["recording_id"] == rid
    assert completed["queued"] is True and completed["job_id"]
    assert completed["status"] != "awaiting_upload"
    store = await resolve(api.container.local_store())
    source = store.path_of(completed["recording"]["s3_key"])
    assert source.read_bytes() == data
    status = await api.client.get(f"/api/v1/recordings/{rid}/status/", headers=api.auth(token))
    status_body = await status.json()
    assert status_body["status"] != "awaiting_upload"
    assert status_body["job_id"] == completed["job_id"]
    # Done once: a second complete answers the same job and queues nothing.
    again = await complete(api, token, rid, upload_id, parts)
    assert again.status == 200
    assert (await again.json())["job_id"] == completed["job_id"]
    assert (await again.json())["queued"] is False
    # The upload is gone; the recording takes no new upload.
    assert (await put(api, fresh[2], pieces[2])).status in (403, 404)
    started_again = await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/", headers=api.auth(token)
    )
    assert started_again.status == 409


async def test_the_part_put_answers_a_cors_preflight(api) -> None:
    token = await api.user()
    rid = await request_upload(api, token, 10)
    upload_id = (await start(api, token, rid))["upload_id"]
    url = (await sign(api, token, rid, upload_id, [1]))[1]

    response = await api.client.options(
        path_of(url),
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"},
    )

    assert response.status == 204
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]


async def test_a_part_too_small_is_refused_by_name(api) -> None:
    token = await api.user()
    rid = await request_upload(api, token, 1010)
    upload_id = (await start(api, token, rid))["upload_id"]
    urls = await sign(api, token, rid, upload_id, [1, 2])
    etag1 = (await put(api, urls[1], b"a" * 1000)).headers["ETag"]
    etag2 = (await put(api, urls[2], b"b" * 10)).headers["ETag"]

    response = await complete(
        api, token, rid, upload_id, [{"number": 1, "etag": etag1}, {"number": 2, "etag": etag2}]
    )

    assert response.status == 409
    message = (await response.json())["parts"][0]
    assert "Part 1 has 1000 bytes" in message and "5 MiB" in message
    # Nothing was joined: the upload is still open and the recording still waits.
    assert len((await (await listed(api, token, rid, upload_id)).json())["parts"]) == 2


async def test_a_single_small_part_of_the_whole_file_completes(api) -> None:
    """The last part may be small, so a small file is one part."""
    token = await api.user()
    rid = await request_upload(api, token, 10)
    upload_id = (await start(api, token, rid))["upload_id"]
    url = (await sign(api, token, rid, upload_id, [1]))[1]
    etag = (await put(api, url, b"0123456789")).headers["ETag"]

    response = await complete(api, token, rid, upload_id, [{"number": 1, "etag": etag}])

    assert response.status == 200, await response.text()
    assert (await response.json())["queued"] is True


async def test_wrong_etag_missing_bytes_and_bad_bodies_give_field_messages(api) -> None:
    token = await api.user()
    rid = await request_upload(api, token, 20)
    upload_id = (await start(api, token, rid))["upload_id"]
    url = (await sign(api, token, rid, upload_id, [1]))[1]
    etag = (await put(api, url, b"0123456789")).headers["ETag"]

    cases = [
        ([{"number": 1, "etag": "0" * 32}], "parts", "Part 1's ETag does not match"),
        ([{"number": 1, "etag": etag}], "parts", "The parts have 10 bytes but 20"),
        ([{"number": 1, "etag": etag}, {"number": 2, "etag": etag}], "parts", "Part 2 has not"),
        ([{"number": 1, "etag": etag}, {"number": 1, "etag": etag}], "parts", "out of order"),
        ([{"number": 0, "etag": etag}], "parts", "Item 0: number"),
        ([{"number": 1}], "parts", "Item 0: etag: This field is required."),
        ([], "parts", "at least 1 elements"),
    ]
    for parts, field, text in cases:
        response = await complete(api, token, rid, upload_id, parts)
        assert response.status in (400, 409), (parts, await response.text())
        assert text in " ".join((await response.json())[field]), parts

    bad_numbers = await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/parts/",
        json={"upload_id": upload_id, "numbers": [1, 10_001]},
        headers=api.auth(token),
    )
    assert bad_numbers.status == 400
    assert "numbers" in await bad_numbers.json()
    twice = await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/parts/",
        json={"upload_id": upload_id, "numbers": [1, 1]},
        headers=api.auth(token),
    )
    assert twice.status == 409  # a rule no JSON schema here states: a conflict
    assert "only once" in (await twice.json())["numbers"][0]
    no_id = await api.client.get(f"/api/v1/recordings/{rid}/multipart/", headers=api.auth(token))
    assert no_id.status == 400
    assert "upload_id" in await no_id.json()


async def test_an_unknown_upload_id_is_refused_on_every_call(api) -> None:
    token = await api.user()
    rid = await request_upload(api, token, 20)
    await start(api, token, rid)
    auth = api.auth(token)
    base = f"/api/v1/recordings/{rid}/multipart/"

    for unknown in ("A" * 32, "../../etc", "x"):
        answers = [
            await api.client.get(base, params={"upload_id": unknown}, headers=auth),
            await api.client.delete(base, params={"upload_id": unknown}, headers=auth),
            await api.client.post(
                base + "parts/", json={"upload_id": unknown, "numbers": [1]}, headers=auth
            ),
            await complete(api, token, rid, unknown, [{"number": 1, "etag": "e"}]),
        ]
        for response in answers:  # a conflict with the recording's state, not a bad body
            assert response.status == 409, await response.text()
            assert "No multipart upload" in (await response.json())["upload_id"][0]


async def test_another_users_recording_and_upload_are_out_of_reach(api) -> None:
    alice = await api.user("alice")
    bob = await api.user("bob")
    rid = await request_upload(api, alice, 20)
    upload_id = (await start(api, alice, rid))["upload_id"]
    base = f"/api/v1/recordings/{rid}/multipart/"
    as_bob = api.auth(bob)

    answers = [
        await api.client.post(base, headers=as_bob),
        await api.client.get(base, params={"upload_id": upload_id}, headers=as_bob),
        await api.client.delete(base, params={"upload_id": upload_id}, headers=as_bob),
        await api.client.post(
            base + "parts/", json={"upload_id": upload_id, "numbers": [1]}, headers=as_bob
        ),
        await complete(api, bob, rid, upload_id, [{"number": 1, "etag": "e"}]),
    ]
    for response in answers:
        assert response.status == 404, await response.text()

    # Alice's upload id on Bob's own recording is an unknown upload.
    bobs = await request_upload(api, bob, 20)
    stolen = await listed(api, bob, bobs, upload_id)
    assert stolen.status == 409
    assert "upload_id" in await stolen.json()
    # And Alice's upload is untouched.
    assert (await listed(api, alice, rid, upload_id)).status == 200


async def test_abort_drops_the_parts_and_the_recording_still_awaits(api) -> None:
    token = await api.user()
    rid = await request_upload(api, token, 10)
    upload_id = (await start(api, token, rid))["upload_id"]
    url = (await sign(api, token, rid, upload_id, [1]))[1]
    await put(api, url, b"01234")

    response = await api.client.delete(
        f"/api/v1/recordings/{rid}/multipart/",
        params={"upload_id": upload_id},
        headers=api.auth(token),
    )

    assert response.status == 204
    assert (await listed(api, token, rid, upload_id)).status == 409
    assert (await put(api, url, b"01234")).status == 404  # the URL's upload is gone
    multipart = await resolve(api.container.local_multipart())
    assert list(multipart.uploads.iterdir()) == []
    # A new upload can start.
    assert (await start(api, token, rid))["upload_id"] != upload_id


async def test_part_puts_are_signed_and_capped(api) -> None:
    token = await api.user()
    rid = await request_upload(api, token, 10)
    upload_id = (await start(api, token, rid))["upload_id"]
    urls = await sign(api, token, rid, upload_id, [1, 2])
    parts = urlsplit(urls[1])
    query = dict(parse_qsl(parts.query))

    tampered = {**query, "sig": query["sig"][:-1] + ("A" if query["sig"][-1] != "A" else "B")}
    assert (await put(api, f"{parts.path}?{urlencode(tampered)}", b"x")).status == 403
    other_number = parts.path.rsplit("/", 1)[0] + "/2"
    assert (await put(api, f"{other_number}?{parts.query}", b"x")).status == 403
    assert (await put(api, parts.path, b"x")).status == 403  # not signed
    expired = {**query, "exp": "1"}
    assert (await put(api, f"{parts.path}?{urlencode(expired)}", b"x")).status == 403

    assert (await put(api, urls[1], b"0123456")).status == 200
    # Part 2 may only hold what is left of the declared 10 bytes.
    too_big = await put(api, urls[2], b"0123")
    assert too_big.status == 413
    assert "at most 3 bytes" in (await too_big.json())["detail"]
    assert (await put(api, urls[2], b"012")).status == 200


@pytest.mark.parametrize("path", ["/api/v1/storage-parts/x/1", "/api/v1/storage-parts/x/0"])
async def test_part_urls_need_no_token_but_a_signature(api, path: str) -> None:
    response = await api.client.put(path, data=b"x")
    assert response.status in (403, 404)


async def test_the_answers_match_the_openapi_document(api) -> None:
    from jsonschema import Draft202012Validator

    document = await (await api.client.get("/api/schema/")).json()

    def check(name: str, body: object) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        Draft202012Validator(schema).validate(body)

    token = await api.user()
    rid = await request_upload(api, token, 10)
    started = await start(api, token, rid)
    check("MultipartUpload", started)
    upload_id = started["upload_id"]
    signed = await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/parts/",
        json={"upload_id": upload_id, "numbers": [1]},
        headers=api.auth(token),
    )
    signed_body = await signed.json()
    check("MultipartSignedParts", signed_body)
    etag = (await put(api, signed_body["parts"][0]["url"], b"0123456789")).headers["ETag"]
    check("MultipartParts", await (await listed(api, token, rid, upload_id)).json())
    request = {"upload_id": upload_id, "parts": [{"number": 1, "etag": etag}]}
    check("MultipartComplete", request)
    done = await complete(api, token, rid, upload_id, request["parts"])
    check("UploadCompleted", await done.json())
    assert "/api/v1/recordings/{id}/multipart/complete/" in document["paths"]


# --------------------------------------------------------------------------- fuzz

fuzz = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@fuzz
@given(
    target=st.sampled_from(
        [("parts/", schema.MULTIPART_PARTS), ("complete/", schema.MULTIPART_COMPLETE)]
    ),
    data=st.data(),
    raw=st.booleans(),
)
async def test_no_body_makes_the_multipart_api_fail(fuzz_api, target, data, raw) -> None:
    api, token, rid = fuzz_api
    suffix, body = target
    if raw:
        payload = data.draw(
            st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode())
        )
        kwargs = {
            "data": payload,
            "headers": {**api.auth(token), "Content-Type": "application/json"},
        }
    else:
        kwargs = {"json": data.draw(_mutated(body)), "headers": api.auth(token)}
    response = await api.client.post(f"/api/v1/recordings/{rid}/multipart/{suffix}", **kwargs)
    assert response.status < 500, await response.text()


@fuzz
@given(
    upload_id=st.text(max_size=40),
    number=st.text(max_size=8),
    query=st.dictionaries(st.sampled_from(["exp", "sig", "x"]), st.text(max_size=20), max_size=3),
)
async def test_no_part_url_makes_the_api_fail(fuzz_api, upload_id, number, query) -> None:
    from urllib.parse import quote

    api, _, _ = fuzz_api
    path = f"/api/v1/storage-parts/{quote(upload_id, safe='')}/{quote(number, safe='')}"
    response = await api.client.put(path, params=query, data=b"x")
    assert response.status < 500, await response.text()
    uid = await api.client.get(
        "/api/v1/recordings/x/multipart/", params={"upload_id": upload_id or "u"}
    )
    assert uid.status < 500


# --------------------------------------------------------------------------- S3 mode


@pytest.fixture(scope="module")
def seaweed() -> Iterator[SeaweedServer]:
    try:
        server = SeaweedServer().start()
    except SeaweedError as exc:
        pytest.fail(f"Cannot start the SeaweedFS S3 server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


async def test_the_flow_on_s3_puts_parts_straight_to_the_bucket(make_api, seaweed) -> None:
    """With MinIO/S3 the part URLs are the bucket's presigned UploadPart PUTs."""
    api = await make_api(
        MINIO_ENDPOINT=seaweed.endpoint,
        MINIO_ACCESS_KEY=seaweed.access_key,
        MINIO_SECRET_KEY=seaweed.secret_key,
        MINIO_BUCKET_NAME=f"elyune-mp-api-{uuid.uuid4().hex[:12]}",
        AWS_S3_ENDPOINT_URL=f"http://localhost:{seaweed.port}",
    )
    token = await api.user()
    data = os.urandom(6 * MiB)
    rid = await request_upload(api, token, len(data))
    upload_id = (await start(api, token, rid))["upload_id"]
    urls = await sign(api, token, rid, upload_id, [2, 1])
    assert urls[1].startswith(f"http://localhost:{seaweed.port}/")
    assert "uploadId=" in urls[1] and "partNumber=1" in urls[1]

    etags = {}
    async with aiohttp.ClientSession() as http:
        for number, piece in ((2, data[5 * MiB :]), (1, data[: 5 * MiB])):
            async with http.put(urls[number], data=piece) as response:
                assert response.status == 200, await response.text()
                etags[number] = response.headers["ETag"]
        stored = await (await listed(api, token, rid, upload_id)).json()
        assert [(p["number"], p["size"]) for p in stored["parts"]] == [(1, 5 * MiB), (2, MiB)]

        wrong = await complete(api, token, rid, upload_id, [{"number": 1, "etag": etags[1]}])
        assert wrong.status == 400
        assert "The parts have" in (await wrong.json())["parts"][0]
        parts = [{"number": n, "etag": etags[n]} for n in (1, 2)]
        done = await complete(api, token, rid, upload_id, parts)
        assert done.status == 200, await done.text()
        body = await done.json()
        assert body["queued"] is True and body["status"] != "awaiting_upload"
        # The object is in the bucket, whole.
        detail = await (
            await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
        ).json()
        assert detail["status"] != "awaiting_upload"
        # A part PUT to the embedded route does not exist in S3 mode.
        assert (await api.client.put("/api/v1/storage-parts/" + "A" * 32 + "/1")).status == 404
    store = await resolve(api.container.object_store())
    assert (await store.stat(body["recording"]["s3_key"])).size == len(data)


async def test_starting_uploads_is_rate_limited_like_request_upload(make_api) -> None:
    api = await make_api(RATE_LIMIT_PER_MINUTE="3")
    token = await api.user()
    rid = await request_upload(api, token, 10)  # 1
    await start(api, token, rid)  # 2
    await start(api, token, rid)  # 3

    response = await api.client.post(
        f"/api/v1/recordings/{rid}/multipart/", headers=api.auth(token)
    )

    assert response.status == 429
    assert "Retry-After" in response.headers
