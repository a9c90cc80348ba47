"""Health checks, CORS, the OpenAPI document (kept true by validating real responses)."""

from __future__ import annotations

import jsonschema
import pytest
from jsonschema import Draft202012Validator


async def test_health_and_readiness(api):
    assert (await (await api.client.get("/healthz")).json()) == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"database": "ok", "object_store": "ok"}
    assert ready.headers["X-Request-ID"]


async def test_request_ids_are_echoed_or_made(api):
    given = await api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    bad = await api.client.get("/healthz", headers={"X-Request-ID": "a b;<script>" * 10})
    assert len(bad.headers["X-Request-ID"]) == 16


async def test_cors_for_the_extension_and_refusal_for_others(api):
    origin = "chrome-extension://abcdefghijklmnop"
    preflight = await api.client.options(
        "/api/v1/recordings/request-upload/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    simple = await api.client.get("/healthz", headers={"Origin": origin})
    assert simple.headers["Access-Control-Allow-Origin"] == origin
    evil = await api.client.options(
        "/api/token/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert evil.status == 403
    plain = await api.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in plain.headers


async def test_the_event_stream_has_cors_headers_and_ends(api):
    token = await api.user()
    ticket, _ = await api.upload(token, b"not media at all")  # fails at once at the probe
    origin = "https://app.example.com"
    stream = await api.client.get(
        f"/api/v1/recordings/{ticket['recording_id']}/events/",
        headers={**api.auth(token), "Origin": origin},
    )
    assert stream.headers["Access-Control-Allow-Origin"] == origin
    text = (await stream.read()).decode()
    assert "event: done" in text
    assert '"status":"failed"' in text


async def test_docs_page_and_its_assets_are_served_locally(api):
    page = await api.client.get("/api/docs/")
    html = await page.text()
    assert "swagger-ui-bundle.js" in html
    assert "http" not in html.split("<body>")[1].split("</body>")[0].replace("/api/", "")
    script = await api.client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert script.status == 200
    assert len(await script.read()) > 100_000
    assert (await api.client.get("/api/docs/assets/index.html")).status == 404
    assert (await api.client.get("/api/docs/assets/..%2F..%2Fapp.py")).status == 404


@pytest.fixture
async def spec(api):
    document = await (await api.client.get("/api/schema/")).json()
    assert document["openapi"] == "3.1.0"
    return document


def _validator(spec, name):
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return Draft202012Validator(schema)


async def test_every_route_is_in_the_schema(api, spec):
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    routes = set()
    for resource in api.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter", "")
        path = path.replace("{id:[A-Za-z0-9_-]{1,64}}", "{id}")
        if "storage" in path or "/api/docs" in path or path == "/api/schema/":
            continue
        if path == "/" or path.startswith("/app/"):  # the web app (docs/web-app.md)
            continue
        for route in resource:
            if route.method != "HEAD":
                routes.add((route.method, path))
    assert routes <= documented, routes - documented


async def test_real_responses_match_the_schema(api, spec):
    token = await api.user()
    auth = api.auth(token)
    ticket, done = await api.upload(token, b"\x1aE\xdf\xa3 not media at all", quality="720p")
    rid = ticket["recording_id"]
    checks = [
        ("UploadTicket", ticket),
        ("UploadCompleted", await done.json()),
        ("RecordingPage", await (await api.client.get("/api/v1/recordings/", headers=auth)).json()),
        (
            "RecordingDetail",
            await (await api.client.get(f"/api/v1/recordings/{rid}/", headers=auth)).json(),
        ),
        (
            "Status",
            await (await api.client.get(f"/api/v1/recordings/{rid}/status/", headers=auth)).json(),
        ),
        (
            "TokenPair",
            await (
                await api.client.post("/api/token/refresh/", json={"refresh": api.tokens["alice"]})
            ).json(),
        ),
        ("Error", await (await api.client.get("/api/v1/recordings/nope/", headers=auth)).json()),
        (
            "ValidationError",
            await (
                await api.client.post("/api/v1/recordings/request-upload/", json={}, headers=auth)
            ).json(),
        ),
        ("WebhookList", await (await api.client.get("/api/v1/webhooks/", headers=auth)).json()),
        ("Health", await (await api.client.get("/readyz")).json()),
        (
            "Recording",
            await (
                await api.client.patch(
                    f"/api/v1/recordings/{rid}/", json={"title": "x"}, headers=auth
                )
            ).json(),
        ),
    ]
    for name, body in checks:
        try:
            _validator(spec, name).validate(body)
        except jsonschema.ValidationError as exc:  # pragma: no cover - the message helps
            raise AssertionError(f"{name}: {exc.message} at {list(exc.absolute_path)}") from exc
    for body_name in ("RequestUpload", "TokenObtainPair", "WebhookCreate", "RecordingUpdate"):
        Draft202012Validator.check_schema(spec["components"]["schemas"][body_name])
