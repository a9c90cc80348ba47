"""The API on the embedded adapters, driven by aiohttp's test client."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import attrs
import pytest

from elyune_adapters.container import create_container, resolve
from elyune_adapters.settings import load_settings
from elyune_core.use_cases import CreateUserInput
from elyune_http import create_app

PASSWORD = "correct horse battery"


@attrs.define
class Api:
    """A test client plus helpers to log in and upload."""

    client: object
    app: object
    container: object
    tokens: dict[str, str] = attrs.field(factory=dict)

    async def user(self, name: str = "alice", password: str = PASSWORD) -> str:
        """Create a user, log in, and return an access token."""
        create = await resolve(self.container.create_user())
        await create.execute(CreateUserInput(name, password))
        response = await self.client.post(
            "/api/token/", json={"username": name, "password": password}
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        self.tokens[name] = body["refresh"]
        return body["access"]

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def upload(self, token: str, data: bytes, filename: str = "meeting.webm", **extra):
        """request-upload, PUT the bytes, upload-complete; return (ticket, completion)."""
        ticket = await self.client.post(
            "/api/v1/recordings/request-upload/",
            json={"filename": filename, "file_size": len(data), **extra},
            headers=self.auth(token),
        )
        assert ticket.status == 201, await ticket.text()
        body = await ticket.json()
        put = await self.client.put(path_of(body["upload_url"]), data=data)
        assert put.status == 200, await put.text()
        done = await self.client.post(
            f"/api/v1/recordings/{body['recording_id']}/upload-complete/",
            json={"s3_key": body["s3_key"]},
            headers=self.auth(token),
        )
        return body, done


def path_of(url: str) -> str:
    """The path and query of *url* (the test server's port differs from the public URL)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture
def make_api(aiohttp_client, tmp_path) -> Callable:
    async def make(**env: str) -> Api:
        settings = load_settings(
            {
                "ELYUNE_DATA_DIR": str(tmp_path / "data"),
                "WHISPER_MODEL": "tiny.en",
                "CORS_ALLOWED_ORIGINS": "chrome-extension://abcdefghijklmnop,https://app.example.com",
                **env,
            }
        )
        container = create_container(settings)
        app = create_app(settings, container=container)
        client = await aiohttp_client(app)
        return Api(client=client, app=app, container=container)

    return make


@pytest.fixture
async def api(make_api) -> Api:
    return await make_api()


@pytest.fixture
async def fuzz_api(make_api):
    """The API (no rate limit) with one user and one recording awaiting its upload."""
    api = await make_api(RATE_LIMIT_PER_MINUTE="1000000")
    token = await api.user()
    response = await api.client.post(
        "/api/v1/recordings/request-upload/",
        json={"filename": "a.webm", "file_size": 10},
        headers=api.auth(token),
    )
    rid = (await response.json())["recording_id"]
    return api, token, rid
