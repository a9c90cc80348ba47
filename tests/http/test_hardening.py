"""Findings of the outside tests (issue 10), on the server as ``elyune serve`` runs it:
real sockets, aiohttp's own parser, every logger captured."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable

import attrs
import jwt
import pytest

from elyune_adapters.container import create_container, derive_key, resolve
from elyune_adapters.settings import load_settings
from elyune_core.use_cases import CreateUserInput
from elyune_http.app import create_app, start_server
from tests.support.live import PASSWORD, free_port


@attrs.frozen
class Served:
    port: int
    url: str
    container: object
    settings: object

    async def raw(self, data: bytes, timeout: float = 10) -> bytes:
        """Send *data* on a new connection; everything the server answers until it closes."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            await writer.drain()
            return await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()

    async def login(self, name: str = "alice") -> dict[str, str]:
        create = await resolve(self.container.create_user())
        await create.execute(CreateUserInput(name, PASSWORD))
        body = json.dumps({"username": name, "password": PASSWORD}).encode()
        answer = await self.raw(
            b"POST /api/token/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        return json.loads(answer.split(b"\r\n\r\n", 1)[1])


@pytest.fixture
async def serve(tmp_path) -> AsyncIterator[Callable]:
    runners = []

    async def start(**env: str) -> Served:
        port = free_port()
        settings = load_settings(
            {"ELYUNE_DATA_DIR": str(tmp_path / "data"), "PORT": str(port), **env}
        )
        container = create_container(settings)
        runner, site = await start_server(create_app(settings, container=container), settings.http)
        runners.append(runner)
        return Served(site.port, settings.http.public_url, container, settings)

    yield start
    for runner in runners:
        await runner.cleanup()


def _http(method: str, target: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", *headers]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# --------------------------------------------------------------------------- item 5


async def test_malformed_requests_put_no_secret_in_logs_or_answers(serve, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp.access and aiohttp.server too
    for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web", "elyune.http"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    served = await serve()
    access = (await served.login())["access"]
    secret = access.encode()
    sig = b"S1GNATURE0f3xq9"
    cases = [
        # a control byte in the Authorization header (aiohttp quoted the header)
        _http("GET", b"/api/v1/recordings/", b"Authorization: Bearer " + secret + b"\x01"),
        # a DEL after a signed URL's signature (aiohttp quoted the request line)
        _http("PUT", b"/api/v1/storage/u/r/source.webm?op=put&exp=9&size=4&sig=" + sig + b"\x7f"),
        # a NUL after an event stream's token in the query
        _http("GET", b"/api/v1/recordings/r1/events/?access_token=" + secret + b"\x00"),
        # bytes that are not UTF-8 in the token (a 500 with a traceback before)
        _http("GET", b"/api/v1/recordings/", b"Authorization: Bearer " + secret + b"\xff\xfe"),
        # a header name that is not a token, after the Authorization header
        _http("GET", b"/api/v1/recordings/", b"Authorization: Bearer " + secret, b"Bad Header: 1"),
        # a valid request whose token was tampered with, and a query the parser accepts
        _http("GET", b"/api/v1/recordings/", b"Authorization: Bearer " + secret[:-2] + b"zz"),
        _http("GET", b"/api/v1/storage/u/r/source.webm?op=get&exp=1&sig=" + sig),
        _http(
            "POST",
            b"/api/token/",
            b"Content-Type: application/json",
            body=b'{"username": "alice", "password": "' + sig + b'\x01"}',
        ),
    ]
    for raw in cases:
        answer = await served.raw(raw)
        assert 400 <= _status(answer) < 500, answer
        assert secret not in answer and sig not in answer, answer
        assert secret[-40:] not in answer
    text = caplog.text + "".join((r.exc_text or "") + r.getMessage() for r in caplog.records)
    assert caplog.records, "the refusals are logged"
    assert access not in text and access[-40:] not in text
    assert sig.decode() not in text
    assert "Traceback" not in text


# --------------------------------------------------------------------------- item 9


async def test_an_access_token_whose_exp_is_a_string_is_refused(serve):
    served = await serve()
    access = (await served.login())["access"]
    key = derive_key(served.container.secret(), "jwt")
    claims = jwt.decode(access, key, algorithms=["HS256"])
    for field, value in (("exp", str(claims["exp"])), ("iat", str(claims["iat"])), ("exp", True)):
        forged = jwt.encode({**claims, field: value}, key, algorithm="HS256")
        answer = await served.raw(
            _http("GET", b"/api/v1/recordings/", b"Authorization: Bearer " + forged.encode())
        )
        assert _status(answer) == 401, (field, value, answer)
    fine = jwt.encode(claims, key, algorithm="HS256")
    answer = await served.raw(
        _http("GET", b"/api/v1/recordings/", b"Authorization: Bearer " + fine.encode())
    )
    assert _status(answer) == 200


async def test_every_answer_says_nosniff_and_names_no_server_version(serve):
    served = await serve()
    access = (await served.login())["access"].encode()
    for raw in (
        _http("GET", b"/healthz"),
        _http("GET", b"/api/v1/recordings/", b"Authorization: Bearer " + access),
        _http("GET", b"/api/v1/recordings/"),  # 401
        _http("GET", b"/api/docs/"),
        _http("GET", b"/nowhere/"),  # 404
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",  # refused by the parser
    ):
        head = (await served.raw(raw)).split(b"\r\n\r\n", 1)[0].decode().lower()
        assert "x-content-type-options: nosniff" in head, head
        server = [line for line in head.split("\r\n") if line.startswith("server:")]
        assert server == ["server: elyune"], head
        assert "python" not in head and "aiohttp" not in head


async def test_pagination_links_use_the_public_url_not_the_host_header(serve):
    served = await serve(ELYUNE_PUBLIC_URL="https://api.example.com")
    access = (await served.login())["access"].encode()
    for _ in range(2):
        body = b'{"filename": "a.webm", "file_size": 5}'
        answer = await served.raw(
            _http(
                "POST",
                b"/api/v1/recordings/request-upload/",
                b"Authorization: Bearer " + access,
                b"Content-Type: application/json",
                body=body,
            )
        )
        assert _status(answer) == 201, answer
    request = (
        b"GET /api/v1/recordings/?page_size=1 HTTP/1.1\r\nHost: evil.example\r\n"
        b"Authorization: Bearer " + access + b"\r\nConnection: close\r\n\r\n"
    )
    page = json.loads((await served.raw(request)).split(b"\r\n\r\n", 1)[1])
    assert page["next"] == "https://api.example.com/api/v1/recordings/?page_size=1&page=2"
    request = request.replace(b"?page_size=1", b"?page_size=1&page=2")
    page = json.loads((await served.raw(request)).split(b"\r\n\r\n", 1)[1])
    assert page["previous"] == "https://api.example.com/api/v1/recordings/?page_size=1"


async def test_incomplete_requests_are_closed_after_the_header_timeout(serve):
    served = await serve(HTTP_HEADER_TIMEOUT_SECONDS="1")
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(30):  # slowloris: headers that never end
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ")
        connections.append((reader, writer))
    started = loop.time()
    for _, writer in connections:
        writer.write(b"b")  # still dripping
        await writer.drain()
    for reader, writer in connections:
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        writer.close()
    assert loop.time() - started < 8
    # a whole request on a new connection is still answered
    assert _status(await served.raw(_http("GET", b"/healthz"))) == 200


async def test_connections_past_the_bound_are_refused_with_503(serve):
    served = await serve(HTTP_MAX_CONNECTIONS="5", HTTP_HEADER_TIMEOUT_SECONDS="30")
    idle = [await asyncio.open_connection("127.0.0.1", served.port) for _ in range(5)]
    await asyncio.sleep(0.2)
    answer = await served.raw(_http("GET", b"/healthz"))
    assert _status(answer) == 503
    assert b"Retry-After: 1" in answer
    for _, writer in idle:
        writer.close()
        await writer.wait_closed()
    await asyncio.sleep(0.3)
    assert _status(await served.raw(_http("GET", b"/healthz"))) == 200


def test_the_bound_holds_on_uvloop_too(tmp_path):
    """``elyune serve`` runs on uvloop, whose transports are no ``asyncio.Transport``."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        port = free_port()
        settings = load_settings(
            {
                "ELYUNE_DATA_DIR": str(tmp_path / "data"),
                "PORT": str(port),
                "HTTP_MAX_CONNECTIONS": "3",
                "HTTP_HEADER_TIMEOUT_SECONDS": "30",
            }
        )
        app = create_app(settings, container=create_container(settings))
        runner, site = await start_server(app, settings.http)
        served = Served(site.port, settings.http.public_url, None, settings)
        try:
            idle = [await asyncio.open_connection("127.0.0.1", site.port) for _ in range(3)]
            await asyncio.sleep(0.2)
            answer = await served.raw(_http("GET", b"/healthz"))
            assert _status(answer) == 503
            for _, writer in idle:
                writer.close()
            await asyncio.sleep(0.3)
            assert _status(await served.raw(_http("GET", b"/healthz"))) == 200
        finally:
            await runner.cleanup()

    uvloop.run(scenario())


# --------------------------------------------------------------------------- item 4

LONE = '"u\\ud800"'  # JSON text for a string holding half of a surrogate pair


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/token/", f'{{"username": {LONE}, "password": "xxxxxxxx"}}', "username"),
        ("POST", "/api/token/", f'{{"username": "alice", "password": {LONE}}}', "password"),
        ("POST", "/api/token/refresh/", f'{{"refresh": {LONE}}}', "refresh"),
        (
            "POST",
            "/api/v1/recordings/request-upload/",
            f'{{"filename": "a.webm", "file_size": 5, "title": {LONE}}}',
            "title",
        ),
        (
            "POST",
            "/api/v1/recordings/request-upload/",
            f'{{"filename": {LONE}, "file_size": 5}}',
            "filename",
        ),
        ("PATCH", "/api/v1/recordings/{rid}/", f'{{"title": {LONE}}}', "title"),
        ("PATCH", "/api/v1/recordings/{rid}/", f'{{"description": {LONE}}}', "description"),
        ("PATCH", "/api/v1/recordings/{rid}/speakers/", f'{{"0": {LONE}}}', "0"),
        ("PATCH", "/api/v1/recordings/{rid}/speakers/", f'{{{LONE}: "Ann"}}', "non_field_errors"),
        (
            "POST",
            "/api/v1/webhooks/",
            f'{{"url": "https://example.com/{LONE[1:-1]}", "events": ["transcript.ready"]}}',
            "url",
        ),
        (
            "POST",
            "/api/v1/webhooks/",
            f'{{"url": "https://example.com/h", "events": [{LONE}]}}',
            "events",
        ),
        (
            "POST",
            "/api/v1/webhooks/",
            f'{{"url": "https://example.com/h", "events": ["transcript.ready"], "description": {LONE}}}',
            "description",
        ),
    ],
)
async def test_a_lone_surrogate_in_json_is_a_400_naming_the_field(
    fuzz_api, method, path, body, field
):
    api, token, rid = fuzz_api
    response = await api.client.request(
        method,
        path.format(rid=rid),
        data=body.encode(),
        headers={**api.auth(token), "Content-Type": "application/json"},
    )
    assert response.status == 400, await response.text()
    answer = await response.json()
    assert list(answer) == [field]
    assert "surrogate" in answer[field][0]
    # nothing was stored: the recording is as it was
    detail = await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    assert (await detail.json())["title"] != "u\ud800"


# --------------------------------------------------------------------------- language


async def test_a_language_the_transcriber_cannot_use_is_refused_at_request_time(make_api):
    api = await make_api(WHISPER_MODEL="base", RATE_LIMIT_PER_MINUTE="1000")
    token = await api.user()

    async def ask(language):
        response = await api.client.post(
            "/api/v1/recordings/request-upload/",
            json={"filename": "a.webm", "file_size": 5, "language": language},
            headers=api.auth(token),
        )
        return response.status, await response.json()

    status, body = await ask("zz")
    assert status == 400
    assert list(body) == ["language"] and "zz" in body["language"][0]
    status, body = await ask("de-DE")
    assert status == 400 and '"de"' in body["language"][0]
    status, created = await ask("de")
    assert status == 201
    rid = created["recording_id"]
    patched = await api.client.patch(
        f"/api/v1/recordings/{rid}/", json={"language": "zz"}, headers=api.auth(token)
    )
    assert patched.status == 400
    assert "language" in await patched.json()
    listing = await (await api.client.get("/api/v1/recordings/", headers=api.auth(token))).json()
    assert listing["count"] == 1  # nothing was created for the refused requests


async def test_an_english_only_model_accepts_english_only(make_api):
    api = await make_api(WHISPER_MODEL="tiny.en")
    token = await api.user()
    refused = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"filename": "a.webm", "file_size": 5, "language": "de"},
        headers=api.auth(token),
    )
    assert refused.status == 400
    assert "English only" in (await refused.json())["language"][0]


async def test_deepgram_takes_regions_and_multi_but_not_unknown_codes(make_api):
    api = await make_api(DEEPGRAM_API_KEY="dg-test-key", RATE_LIMIT_PER_MINUTE="1000")
    token = await api.user()
    for language, status in (("en-US", 201), ("pt-BR", 201), ("multi", 201), ("zz", 400)):
        response = await api.client.post(
            "/api/v1/recordings/request-upload/",
            json={"filename": "a.webm", "file_size": 5, "language": language},
            headers=api.auth(token),
        )
        assert response.status == status, (language, await response.text())


async def test_a_request_body_that_stalls_is_cut_off_but_a_slow_steady_one_is_not(serve):
    served = await serve(HTTP_BODY_TIMEOUT_SECONDS="1")
    access = (await served.login())["access"].encode()

    async def ticket(size: int) -> dict:
        body = b'{"filename": "a.webm", "file_size": %d}' % size
        answer = await served.raw(
            _http(
                "POST",
                b"/api/v1/recordings/request-upload/",
                b"Authorization: Bearer " + access,
                b"Content-Type: application/json",
                body=body,
            )
        )
        return json.loads(answer.split(b"\r\n\r\n", 1)[1])

    def put_head(url: str, size: int) -> bytes:
        target = url.split("127.0.0.1", 1)[1].split("/", 1)[1]
        return (
            b"PUT /" + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % size
        )

    stalled = await ticket(10)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(put_head(stalled["upload_url"], 10) + b"abc")  # then nothing more
    started = asyncio.get_running_loop().time()
    answer = await asyncio.wait_for(reader.read(), 10)
    assert b"200 OK" not in answer
    assert asyncio.get_running_loop().time() - started < 6
    writer.close()

    steady = await ticket(6)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(put_head(steady["upload_url"], 6))
    for byte in b"webm!!":  # one byte every 0.4 s: 2.4 s in all, never idle for 1 s
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.4)
    answer = await asyncio.wait_for(reader.read(), 10)
    assert _status(answer) == 200, answer
    writer.close()

    # a long response (an event stream) has no body to wait for: it stays open
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    rid = (await ticket(5))["recording_id"]
    writer.write(
        b"GET /api/v1/recordings/%s/events/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
        b"\r\n\r\n" % (rid.encode(), access)
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert b"200 OK" in head
    with pytest.raises(TimeoutError):  # still open well after the body timeout
        await asyncio.wait_for(reader.read(), 2.5)
    writer.close()
