"""What the adapters of hosted engines (Deepgram, Gemini) share: when a failed call is
tried again, how long to wait (``Retry-After``), and keeping their API key out of what
they log or raise.

A call is tried at most ``CallRetry.attempts`` times within one attempt of its step; the
step itself is tried again by the pipeline as ``PipelinePolicy`` says
(:mod:`elyune_core.use_cases.run_step`), so a call is tried at most ``attempts`` x
``MAX_ATTEMPTS`` times in all. Both numbers come from the settings
(``ENGINE_MAX_ATTEMPTS``, ``MAX_ATTEMPTS``).
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Iterable, Mapping

import attrs

#: HTTP statuses worth another try besides the 5xx ones.
RETRY_STATUSES = frozenset({408, 429})


@attrs.frozen
class CallRetry:
    """How one call to a hosted engine is retried.

    A failure worth retrying (``RETRY_STATUSES``, any 5xx, a lost connection) is tried
    *attempts* times in all, waiting ``backoff_base x 2^(n-1)`` seconds after the n-th,
    or what the server asked for (``Retry-After``) when that is at most
    *max_delay*; a server asking for longer gets no retry (the step is tried later).
    """

    attempts: int = 3
    backoff_base: float = 2.0
    max_delay: float = 60.0

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number *attempt* (1-based)."""
        return float(self.backoff_base * 2 ** (attempt - 1))

    def after_status(self, status: int, attempt: int, asked: float | None) -> float | None:
        """Seconds to wait before trying again after HTTP *status*, or ``None`` to give
        up now (*asked*: what the server asked for)."""
        if not retryable(status) or attempt >= self.attempts:
            return None
        delay = self.backoff(attempt) if asked is None else asked
        return delay if delay <= self.max_delay else None

    def after_transport(self, attempt: int) -> float | None:
        """Seconds to wait before trying again after a lost connection, or ``None``."""
        return None if attempt >= self.attempts else self.backoff(attempt)


def retryable(status: int) -> bool:
    """Whether an answer with HTTP *status* is worth another try."""
    return status in RETRY_STATUSES or status >= 500


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return None if math.isnan(seconds) else max(0.0, seconds)


def redact(text: str, secret: str, patterns: Iterable[re.Pattern[str]] = ()) -> str:
    """*text* without *secret*, nor anything matching *patterns* (key shapes)."""
    text = text.replace(secret, "[REDACTED]") if secret else text
    for pattern in patterns:
        text = pattern.sub("[REDACTED]", text)
    return text


__all__ = ["RETRY_STATUSES", "CallRetry", "redact", "retry_after", "retryable"]
