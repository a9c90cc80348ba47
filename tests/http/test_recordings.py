"""Recordings over HTTP: listing, editing, deleting, isolation between users, bad input."""

from __future__ import annotations

import pytest

from tests.http.conftest import path_of

TINY = b"\x1aE\xdf\xa3" + b"\0" * 60  # a few bytes; processing fails, which is fine here


async def _ticket(api, token, **body):
    payload = {"filename": "a.webm", "file_size": 100, **body}
    return await api.client.post(
        "/api/v1/recordings/request-upload/", json=payload, headers=api.auth(token)
    )


async def test_listing_is_paginated_newest_first_filtered_and_searched(api):
    token = await api.user()
    ids = []
    for n in range(5):
        response = await _ticket(api, token, filename=f"Sprint review {n}.webm")
        ids.append((await response.json())["recording_id"])
    page = await (
        await api.client.get("/api/v1/recordings/?page_size=2", headers=api.auth(token))
    ).json()
    assert page["count"] == 5
    assert [r["id"] for r in page["results"]] == ids[::-1][:2]
    assert page["previous"] is None
    assert "page=2" in page["next"]
    last = await (
        await api.client.get(
            path_of(page["next"]).replace("page=2", "page=3"), headers=api.auth(token)
        )
    ).json()
    assert [r["id"] for r in last["results"]] == [ids[0]]
    assert last["next"] is None
    found = await (
        await api.client.get("/api/v1/recordings/?search=review%203", headers=api.auth(token))
    ).json()
    assert [r["id"] for r in found["results"]] == [ids[3]]
    waiting = await (
        await api.client.get("/api/v1/recordings/?status=awaiting_upload", headers=api.auth(token))
    ).json()
    assert waiting["count"] == 5
    bad = await api.client.get("/api/v1/recordings/?status=bogus", headers=api.auth(token))
    assert bad.status == 400
    assert "status" in await bad.json()
    beyond = await api.client.get("/api/v1/recordings/?page=9", headers=api.auth(token))
    assert beyond.status == 404
    junk = await api.client.get("/api/v1/recordings/?page=abc", headers=api.auth(token))
    assert junk.status == 400
    huge = await api.client.get(f"/api/v1/recordings/?page={10**18}", headers=api.auth(token))
    assert huge.status == 404
    long = await api.client.get(f"/api/v1/recordings/?page={'9' * 5000}", headers=api.auth(token))
    assert long.status == 400


async def test_users_never_see_each_others_recordings(api):
    alice = await api.user("alice")
    bob = await api.user("bob")
    rid = (await (await _ticket(api, alice)).json())["recording_id"]
    assert (await (await api.client.get("/api/v1/recordings/", headers=api.auth(bob))).json())[
        "count"
    ] == 0
    for method, path, body in [
        ("GET", f"/api/v1/recordings/{rid}/", None),
        ("PATCH", f"/api/v1/recordings/{rid}/", {"title": "mine now"}),
        ("DELETE", f"/api/v1/recordings/{rid}/", None),
        ("GET", f"/api/v1/recordings/{rid}/status/", None),
        ("GET", f"/api/v1/recordings/{rid}/events/", None),
        ("GET", f"/api/v1/recordings/{rid}/transcript/", None),
        ("POST", f"/api/v1/recordings/{rid}/retry/", None),
        ("PATCH", f"/api/v1/recordings/{rid}/speakers/", {"0": "Eve"}),
        ("POST", f"/api/v1/recordings/{rid}/upload-complete/", {"s3_key": "x"}),
    ]:
        response = await api.client.request(method, path, json=body, headers=api.auth(bob))
        assert response.status == 404, (method, path)
        assert await response.json() == {"detail": "Not found."}
    still = await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(alice))
    assert (await still.json())["title"] == "a"


async def test_patch_changes_only_editable_fields(make_api):
    api = await make_api(WHISPER_MODEL="base")  # a multilingual model: "de" is one it knows
    token = await api.user()
    rid = (await (await _ticket(api, token)).json())["recording_id"]
    url = f"/api/v1/recordings/{rid}/"
    ok = await api.client.patch(
        url, json={"title": "Roadmap", "language": "de"}, headers=api.auth(token)
    )
    assert ok.status == 200
    body = await ok.json()
    assert body["title"] == "Roadmap"
    assert body["language"] == "de"
    cleared = await api.client.patch(url, json={"language": None}, headers=api.auth(token))
    assert (await cleared.json())["language"] is None
    for payload, field in [
        ({"status": "ready"}, "status"),
        ({"s3_key": "recordings/x"}, "s3_key"),
        ({"title": ""}, "title"),
        ({"title": 42}, "title"),
        ({"language": "not a language!"}, "language"),
        ({}, "non_field_errors"),
    ]:
        response = await api.client.patch(url, json=payload, headers=api.auth(token))
        assert response.status == 400, payload
        assert field in await response.json()


async def test_delete_removes_rows_and_every_stored_object(api, tmp_path):
    token = await api.user()
    ticket, done = await api.upload(token, TINY)
    rid = ticket["recording_id"]
    objects = tmp_path / "data" / "objects"
    assert any(objects.rglob("source.webm"))
    response = await api.client.delete(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    assert response.status == 204
    assert not any(objects.rglob("*.*"))
    gone = await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    assert gone.status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "a.webm", "file_size": 0}, "file_size"),
        ({"filename": "a.webm", "file_size": -5}, "file_size"),
        ({"filename": "a.webm", "file_size": 3 * 1024**3}, "file_size"),
        ({"filename": "a.webm", "file_size": "10"}, "file_size"),
        ({"filename": "a.webm", "file_size": True}, "file_size"),
        ({"filename": "", "file_size": 10}, "filename"),
        ({"file_size": 10}, "filename"),
        ({"filename": "a.webm", "file_size": 10, "quality": "8k-ultra"}, "quality"),
        ({"filename": "a.webm", "file_size": 10, "fps": 0}, "fps"),
        ({"filename": "a.webm", "file_size": 10, "fps": 1000}, "fps"),
        ({"filename": "a.webm", "file_size": 10, "has_microphone": "yes"}, "has_microphone"),
        ({"filename": "a.webm", "file_size": 10, "owner": "bob"}, "owner"),
    ],
)
async def test_request_upload_validates_each_field(api, body, field):
    token = await api.user()
    response = await api.client.post(
        "/api/v1/recordings/request-upload/", json=body, headers=api.auth(token)
    )
    assert response.status == 400
    errors = await response.json()
    assert field in errors
    assert isinstance(errors[field], list)


async def test_filenames_are_sanitized(api):
    token = await api.user()
    response = await _ticket(api, token, filename="../../etc/pa ss\twd<script>.webm")
    body = await response.json()
    assert body["recording"]["filename"] == "pa sswdscript.webm"
    assert body["s3_key"].endswith("/source.webm")
    assert ".." not in body["s3_key"]


async def test_null_characters_are_refused_not_stored(api):
    token = await api.user()
    response = await _ticket(api, token, filename="a\x00.webm")
    assert response.status == 400
    assert (await response.json())["filename"] == ["Null characters are not allowed."]
    rid = (await (await _ticket(api, token)).json())["recording_id"]
    patched = await api.client.patch(
        f"/api/v1/recordings/{rid}/", json={"title": "x\x00y"}, headers=api.auth(token)
    )
    assert patched.status == 400


async def test_a_huge_body_is_refused(api):
    token = await api.user()
    response = await api.client.post(
        "/api/v1/recordings/request-upload/",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={**api.auth(token), "Content-Type": "application/json"},
    )
    assert response.status == 413


async def test_unknown_routes_and_methods_are_json(api):
    token = await api.user()
    missing = await api.client.get("/api/v1/nothing/", headers=api.auth(token))
    assert missing.status == 404
    assert await missing.json() == {"detail": "Not found."}
    wrong = await api.client.put("/api/v1/recordings/", headers=api.auth(token))
    assert wrong.status == 405
    no_slash = await api.client.get(
        "/api/v1/recordings", headers=api.auth(token), allow_redirects=False
    )
    assert no_slash.status in (301, 308)


async def test_speaker_count_hints_are_kept_checked_and_editable(api):
    token = await api.user()
    made = await _ticket(api, token, num_speakers=3, max_speakers=4)
    assert made.status == 201
    rid = (await made.json())["recording_id"]
    url = f"/api/v1/recordings/{rid}/"
    body = await (await api.client.get(url, headers=api.auth(token))).json()
    assert (body["num_speakers"], body["max_speakers"]) == (3, 4)
    changed = await api.client.patch(url, json={"num_speakers": None}, headers=api.auth(token))
    assert changed.status == 200
    assert ((await changed.json())["num_speakers"], (await changed.json())["max_speakers"]) == (
        None,
        4,
    )
    for payload, field in [
        ({"num_speakers": 0}, "num_speakers"),
        ({"max_speakers": 21}, "max_speakers"),
        ({"num_speakers": "two"}, "num_speakers"),
    ]:
        response = await api.client.patch(url, json=payload, headers=api.auth(token))
        assert response.status == 400, payload
        assert field in await response.json()
    # an exact count wins over a maximum: no combination of valid hints is refused
    both = await _ticket(api, token, num_speakers=3, max_speakers=2)
    assert both.status == 201
