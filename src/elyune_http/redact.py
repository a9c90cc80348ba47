"""Keep secrets out of logs and out of the answers to requests that cannot be parsed.

aiohttp quotes the offending request line or header when it refuses a malformed
request, in the 400 it answers and in the ``ERROR`` it logs with a traceback: a token
with a control byte or a signed URL with a stray byte would be written out whole. The
API's connections use :class:`SafeRequestHandler`, which answers and logs only the
kind of error, and every log record of aiohttp and Elyune passes :class:`RedactSecrets`,
which masks bearer tokens, signatures, policies, keys and passwords wherever they are.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

MASK = "[redacted]"
# Sent with every answer (aiohttp's own ``Server`` names Python's and its versions).
SECURITY_HEADERS = {"Server": "Elyune", "X-Content-Type-Options": "nosniff"}
# Names of query, form and JSON fields whose values are secret (names, not secrets).
_SECRET_NAMES = (
    "sig", "signature", "policy", "access_token", "refresh", "token", "password",
    "secret", "key", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
    "AWSAccessKeyId",
)  # fmt: skip
_SECRET_PARAMS = "|".join(_SECRET_NAMES)
_PATTERNS = (
    # name=value in queries and forms
    (re.compile(rf"(?i)\b({_SECRET_PARAMS})=[^&\s'\"]*"), rf"\1={MASK}"),
    # "name": "value" in JSON
    (re.compile(rf"(?i)(\"(?:{_SECRET_PARAMS}|access)\"\s*:\s*)\"[^\"]*\""), rf'\1"{MASK}"'),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)(authorization\s*:\s*)[^\r\n'\"]*"), rf"\1{MASK}"),
    (re.compile(r"(?i)\b(bearer|jwt)\s+[^\s'\"]+"), rf"\1 {MASK}"),
    # anything shaped like a JWT
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
)


def redact(text: str) -> str:
    """*text* with every secret-looking value replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """A filter that masks secrets in a record's message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still gets logged, masked
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


LOGGERS = (
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "elyune",
    "elyune.http",
)


def install() -> None:
    """Attach one :class:`RedactSecrets` to each logger of aiohttp and Elyune."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class SafeRequestHandler(RequestHandler):
    """aiohttp's connection handler, but a request it cannot parse gets a JSON 400 that
    names the kind of error only, and one log line without the request's bytes."""

    __slots__ = ()

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
