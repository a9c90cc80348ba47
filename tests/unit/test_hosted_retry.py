"""The retry rule the hosted engines' adapters share (``elyune_adapters.hosted``)."""

from __future__ import annotations

import email.utils
import re
import time

import pytest

from elyune_adapters.hosted import CallRetry, redact, retry_after, retryable


def test_worth_retrying_are_408_429_and_5xx() -> None:
    assert [s for s in (400, 401, 403, 404, 408, 422, 429, 500, 503) if retryable(s)] == [
        408,
        429,
        500,
        503,
    ]


def test_backoff_doubles_and_the_server_may_ask_for_a_wait() -> None:
    retry = CallRetry(attempts=3, backoff_base=2.0, max_delay=60.0)
    assert retry.after_status(503, 1, None) == 2.0
    assert retry.after_status(503, 2, None) == 4.0
    assert retry.after_status(503, 3, None) is None  # the attempts are spent
    assert retry.after_status(429, 1, 7.5) == 7.5
    assert retry.after_status(429, 1, 61.0) is None  # left to the pipeline
    assert retry.after_status(401, 1, None) is None
    assert retry.after_transport(1) == 2.0
    assert retry.after_transport(3) is None


def test_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        CallRetry(attempts=0)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    assert retry_after({"retry-after": " 0.5 "}) == 0.5
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25.0 <= (retry_after({"Retry-After": soon}) or 0.0) <= 31.0
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after({"Retry-After": past}) == 0.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({"Retry-After": "nan"}) is None
    assert retry_after({}) is None
    assert retry_after(None) is None


def test_redact_removes_the_key_and_key_shapes() -> None:
    shape = re.compile(r"AIza[0-9A-Za-z_\-]{20,}")
    text = "key sk-secret-1 rejected; also AIzaSyA1234567890abcdefghijkl"
    assert redact(text, "sk-secret-1", (shape,)) == "key [REDACTED] rejected; also [REDACTED]"
    assert redact("nothing here", "") == "nothing here"
