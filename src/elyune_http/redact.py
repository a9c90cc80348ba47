"""Keep secrets out of the answers to, and logs of, requests that cannot be parsed.

aiohttp quotes the offending request line or header when it refuses a malformed
request, in the 400 it answers and in the ``ERROR`` it logs with a traceback: a token
with a control byte or a signed URL with a stray byte would be written out whole. The
API's connections use :class:`SafeRequestHandler`, which answers and logs only the
kind of error; :mod:`elyune_adapters.logs` masks secrets in every log record besides.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

# Sent with every answer (aiohttp's own ``Server`` names Python's and its versions).
SECURITY_HEADERS = {"Server": "Elyune", "X-Content-Type-Options": "nosniff"}


class SafeRequestHandler(RequestHandler):
    """aiohttp's connection handler, but a request it cannot parse gets a JSON 400 that
    names the kind of error only, and one log line without the request's bytes; and a
    request whose body stops arriving for *body_timeout* seconds is cut off (a slow-body
    attack would otherwise hold the connection for as long as the client likes)."""

    __slots__ = ("_body_timeout", "_last_data", "_watchdog")

    def __init__(self, *args: Any, body_timeout: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._body_timeout = body_timeout
        self._last_data = 0.0
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._last_data = self._loop.time()
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_data = self._loop.time()
        super().data_received(data)

    def _arm(self) -> None:
        self._watchdog = self._loop.call_later(self._body_timeout / 4, self._check_body)

    def _check_body(self) -> None:
        self._watchdog = None
        if self.transport is None:
            return
        now = self._loop.time()
        request = self._current_request
        if self._reading_paused or self._buffer_paused or request is None:
            self._last_data = now  # waiting for our handler, not for the client
        elif not request.content.is_eof() and now - self._last_data > self._body_timeout:
            self.logger.warning(
                "closed a connection from %s: its request body stalled for %.0f s",
                request.remote,
                now - self._last_data,
            )
            self.force_close()
            return
        self._arm()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        reason = _reason(exc, message) if status == 400 else "Internal server error."
        self.logger.warning(
            "refused a request from %s: %s%s",
            request.remote,
            reason,
            "" if exc is None else f" ({type(exc).__name__})",
        )
        if request.writer.output_size > 0:
            raise ConnectionError("the response was already started")
        response = web.Response(
            status=status,
            text=json.dumps({"detail": reason}),
            content_type="application/json",
            headers=SECURITY_HEADERS,
        )
        response.force_close()
        return response


def _reason(exc: BaseException | None, message: str | None) -> str:
    """The first words of aiohttp's message, before it quotes the request."""
    text = message or (getattr(exc, "message", "") if exc is not None else "") or ""
    first = str(text).strip().split("\n", 1)[0].split(":", 1)[0].strip()
    if not first or len(first) > 80 or not all(c.isprintable() for c in first):
        return "Bad request."
    return f"Bad request: {first[0].lower()}{first[1:]}."
