"""Secrets never reach a log: every log record of the process is masked on creation.

A record factory (so it covers every logger, aiohttp's and the SDKs' included, and every
handler, whoever adds it) replaces bearer tokens, JWTs, signatures, policies, keys and
passwords in the message, its arguments and its traceback with ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "[redacted]"
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
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^\r\n'\"]*"), rf"\1{MASK}"),
    (re.compile(r"(?i)\b(bearer|jwt)\s+[^\s'\"]+"), rf"\1 {MASK}"),
    # anything shaped like a JWT, and webhook signing secrets
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"whsec_[A-Za-z0-9_-]+"), MASK),
)


# Words one of the patterns needs: text with none of them is left alone without running
# the (case-insensitive, so slower) patterns: most log lines, like the request log.
_HINTS = tuple(
    {name.lower() for name in _SECRET_NAMES}
    | {"access", "authorization", "bearer", "jwt", "whsec_"}
)


def redact(text: str) -> str:
    """*text* with every secret-looking value replaced by ``[redacted]``."""
    lowered = text.lower()
    if "eyj" not in lowered and not any(hint in lowered for hint in _HINTS):
        return text
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


_FILTER = RedactSecrets()


def install() -> None:
    """Mask secrets in every log record made from now on, in this process (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts", False):
        return

    def redacting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _FILTER.filter(record)
        return record

    redacting.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting)
