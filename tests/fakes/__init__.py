"""Local fake servers that speak the HTTP APIs of Elyune's paid engines.

Each fake is an ``aiohttp.web`` application with a recorder of the requests it received
and a queue of scripted responses (status, headers, JSON or raw body, delay). The real
SDKs are pointed at a fake, so tests check what the SDK actually sent and how the adapter
handles what came back. An unscripted request gets a ``599`` answer that no adapter
treats as success, so a test that sends more requests than it scripted fails loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

import attrs
from aiohttp import web

UNSCRIPTED_STATUS = 599


@attrs.frozen
class ScriptedResponse:
    """What the fake answers to one request.

    ``body`` is sent as JSON unless it is ``str``/``bytes`` (sent as it is, for broken
    bodies). ``delay`` is waited before answering; a test that wants a client timeout
    sets it longer than the client's timeout.
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0


@attrs.frozen
class RecordedRequest:
    """One request the fake received, as the SDK sent it."""

    method: str
    path: str
    query: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """The value of header *name* (case-insensitive), if sent."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def param(self, name: str) -> str | None:
        """The first value of query parameter *name*, if sent."""
        values = self.query.get(name)
        return values[0] if values else None


#: A scripted answer, or a function that makes one from the request it answers.
Scripted: TypeAlias = ScriptedResponse | Callable[[RecordedRequest], ScriptedResponse]


class FakeApiServer:
    """Base of the fakes: records requests and replays scripted responses in order."""

    def __init__(self) -> None:
        self.base_url = ""  # set by whoever serves the app, e.g. a test fixture
        self.requests: list[RecordedRequest] = []
        self._script: deque[Scripted] = deque()
        self._released = asyncio.Event()
        self.app = web.Application()

    def enqueue(self, *responses: Scripted | Iterable[Scripted]) -> None:
        """Append *responses* to the script; they answer the next requests in order."""
        for item in responses:
            if isinstance(item, ScriptedResponse) or callable(item):
                self._script.append(item)
            else:
                self._script.extend(item)

    @property
    def pending(self) -> int:
        """How many scripted responses have not been used yet."""
        return len(self._script)

    def release(self) -> None:
        """End every delayed answer now (call before the server shuts down)."""
        self._released.set()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        query: dict[str, tuple[str, ...]] = {}
        for key in request.query:
            query.setdefault(key, tuple(request.query.getall(key)))
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=query,
            headers=dict(request.headers),
            body=body,
        )
        self.requests.append(recorded)
        refusal = self._refusal(recorded)
        if refusal is not None:
            return _render(refusal)
        if not self._script:
            return web.json_response(
                {"error": "the fake server has no scripted response left"},
                status=UNSCRIPTED_STATUS,
            )
        item = self._script.popleft()
        scripted = item if isinstance(item, ScriptedResponse) else item(recorded)
        if scripted.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), scripted.delay)
        return _render(scripted)

    def _refusal(self, request: RecordedRequest) -> ScriptedResponse | None:
        """What the service answers whatever the script says (a request it rejects), if so.

        The real services validate a request before doing anything else; a fake overrides
        this to refuse what its service refuses. A refusal uses no scripted response.
        """
        return None


def _render(scripted: ScriptedResponse) -> web.Response:
    if isinstance(scripted.body, str | bytes):
        raw = scripted.body.encode() if isinstance(scripted.body, str) else scripted.body
        return web.Response(
            status=scripted.status,
            body=raw,
            headers={"Content-Type": "text/plain", **scripted.headers},
        )
    return web.Response(
        status=scripted.status,
        text=json.dumps(scripted.body),
        headers={"Content-Type": "application/json", **scripted.headers},
    )


__all__ = [
    "UNSCRIPTED_STATUS",
    "FakeApiServer",
    "RecordedRequest",
    "Scripted",
    "ScriptedResponse",
]
