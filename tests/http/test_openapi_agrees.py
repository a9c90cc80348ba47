"""The OpenAPI document says what the server checks: for each request below, valid by
the document if and only if the server accepts it (the cases schemathesis found)."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from elyune_adapters.asr.languages import WhisperLanguages
from elyune_http.openapi import document

# the document as the server below writes it: Whisper base's language codes
DOC = document(
    "http://test",
    max_upload_bytes=2048 << 20,
    language_pattern=WhisperLanguages("base").pattern(),
)
SCHEMAS = DOC["components"]["schemas"]


def _valid(name: str, body: object) -> bool:
    return Draft202012Validator(SCHEMAS[name]).is_valid(body)


UPLOAD = {"filename": "a.webm", "file_size": 10}
CASES = [
    # (path, method, schema, body, valid)
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "language": "AD-toin"},  # not a language Whisper knows
        False,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "language": "pt-BR"},  # Whisper takes no region
        False,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "language": "PT"},
        True,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "language": ""},
        False,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "language": "e"},
        False,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "language": "en-"},
        False,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "quality": None},
        True,
    ),
    ("/api/v1/recordings/request-upload/", "post", "RequestUpload", {**UPLOAD, "fps": 30.0}, True),
    ("/api/v1/recordings/request-upload/", "post", "RequestUpload", {**UPLOAD, "fps": 30.5}, False),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "title": "  "},
        False,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "file_size": 2049 << 20},
        False,
    ),
    (
        "/api/v1/recordings/request-upload/",
        "post",
        "RequestUpload",
        {**UPLOAD, "filename": "a\x00.webm"},
        False,
    ),
    (
        "/api/v1/recordings/{id}/",
        "patch",
        "RecordingUpdate",
        {"language": "0000000000000000000"},
        False,
    ),
    ("/api/v1/recordings/{id}/", "patch", "RecordingUpdate", {"language": "zh-Hant-TW"}, False),
    ("/api/v1/recordings/{id}/", "patch", "RecordingUpdate", {"language": "yue"}, True),
    ("/api/v1/recordings/{id}/speakers/", "patch", "SpeakerNamesUpdate", {"0": "Alice"}, True),
    ("/api/v1/recordings/{id}/speakers/", "patch", "SpeakerNamesUpdate", {"0": ""}, True),
    (
        "/api/v1/recordings/{id}/speakers/",
        "patch",
        "SpeakerNamesUpdate",
        {"x-extra": "Alice"},
        False,
    ),
    (
        "/api/v1/recordings/{id}/speakers/",
        "patch",
        "SpeakerNamesUpdate",
        {"\u00b2": "Alice"},
        False,
    ),
    ("/api/v1/recordings/{id}/speakers/", "patch", "SpeakerNamesUpdate", {}, False),
    ("/api/token/", "post", "TokenObtainPair", {"username": "a", "password": "p\x00w"}, False),
    ("/api/token/refresh/", "post", "TokenRefresh", {"refresh": "abc\x00"}, False),
    (
        "/api/v1/webhooks/",
        "post",
        "WebhookCreate",
        {"url": "0", "events": ["transcript.ready"]},
        False,
    ),
    (
        "/api/v1/webhooks/",
        "post",
        "WebhookCreate",
        {"url": "https://example.com/h", "events": []},
        False,
    ),
    (
        "/api/v1/webhooks/",
        "post",
        "WebhookCreate",
        {"url": "http://x:0/", "events": ["transcript.ready"]},
        False,
    ),
    (
        "/api/v1/webhooks/",
        "post",
        "WebhookCreate",
        {"url": "http://[::::]/", "events": ["transcript.ready"]},
        False,
    ),
    (
        "/api/v1/webhooks/",
        "post",
        "WebhookCreate",
        {"url": "http://hooks.example.com:8443/a?b=c", "events": ["transcript.ready"]},
        True,
    ),
    (
        "/api/v1/webhooks/",
        "post",
        "WebhookCreate",
        {"url": "http://[2001:db8::1]/h", "events": ["transcript.ready"]},
        True,
    ),
]


async def test_a_body_is_accepted_exactly_when_the_document_allows_it(make_api):
    api = await make_api(
        WEBHOOK_ALLOW_PRIVATE="true", RATE_LIMIT_PER_MINUTE="100000", WHISPER_MODEL="base"
    )
    token = await api.user()
    served = await (await api.client.get("/api/schema/")).json()
    assert served["components"]["schemas"]["RequestUpload"] == SCHEMAS["RequestUpload"]
    ticket = await api.client.post(
        "/api/v1/recordings/request-upload/", json=UPLOAD, headers=api.auth(token)
    )
    rid = (await ticket.json())["recording_id"]
    for path, method, name, body, valid in CASES:
        assert _valid(name, body) is valid, ("the document", name, body)
        response = await api.client.request(
            method.upper(), path.replace("{id}", rid), json=body, headers=api.auth(token)
        )
        if valid:
            assert response.status not in (400, 422), (body, await response.text())
        else:
            assert response.status == 400, (body, await response.text())


async def test_empty_page_parameters_are_documented_as_allowed(api):
    token = await api.user()
    params = {
        p["name"]: p["schema"] for p in DOC["paths"]["/api/v1/recordings/"]["get"]["parameters"]
    }
    for name in ("page", "page_size", "status", "search"):
        assert Draft202012Validator(params[name]).is_valid("")
    assert not Draft202012Validator(params["page"]).is_valid("x")
    assert not Draft202012Validator(params["search"]).is_valid("a\x00")
    response = await api.client.get(
        "/api/v1/recordings/?page=&page_size=&status=&search=", headers=api.auth(token)
    )
    assert response.status == 200
    bad = await api.client.get("/api/v1/recordings/?page=x", headers=api.auth(token))
    assert bad.status == 400


async def test_state_refusals_are_409_and_documented(api):
    token = await api.user()
    ticket = await (
        await api.client.post(
            "/api/v1/recordings/request-upload/", json=UPLOAD, headers=api.auth(token)
        )
    ).json()
    rid = ticket["recording_id"]
    early = await api.client.post(
        f"/api/v1/recordings/{rid}/upload-complete/",
        json={"s3_key": ticket["s3_key"]},
        headers=api.auth(token),
    )
    assert early.status == 409
    assert "s3_key" in await early.json()
    rerun = await api.client.post(
        f"/api/v1/recordings/{rid}/analyses/summary/rerun/", headers=api.auth(token)
    )
    assert rerun.status == 409
    for path, method in (
        ("/api/v1/recordings/{id}/upload-complete/", "post"),
        ("/api/v1/recordings/{id}/analyses/{kind}/rerun/", "post"),
        ("/api/v1/recordings/{id}/retry/", "post"),
        ("/api/v1/webhooks/", "post"),
    ):
        assert "409" in DOC["paths"][path][method]["responses"]


async def test_options_lists_the_methods_of_the_path_asked_for(api):
    for path, methods in (
        ("/api/v1/recordings/request-upload/", {"POST"}),
        ("/api/v1/recordings/abc/", {"GET", "HEAD", "PATCH", "DELETE"}),
    ):
        response = await api.client.options(path)
        assert response.status == 405
        assert set(re.split(r",\s*", response.headers["Allow"])) == methods
        documented = {m.upper() for m in DOC["paths"][path.replace("abc", "{id}")]}
        assert documented <= methods
