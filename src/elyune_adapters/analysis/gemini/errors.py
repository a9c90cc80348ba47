"""Gemini's errors read: rejected keys, denied access, what the server asked to wait."""

from __future__ import annotations

import json
import re
from typing import Any

from google.genai import errors as genai_errors

from elyune_adapters.hosted import retry_after

_KEY_REJECTED = "Gemini rejected the API key"


# ErrorInfo reasons of a 403, in words.
_DENIED = {
    "SERVICE_DISABLED": "the Generative Language API is not enabled for the API key's project",
    "API_KEY_SERVICE_BLOCKED": "the API key is not allowed to call the Gemini API",
    "API_KEY_HTTP_REFERRER_BLOCKED": "the API key is restricted to other websites",
    "API_KEY_IP_ADDRESS_BLOCKED": "the API key is restricted to other IP addresses",
    "CONSUMER_SUSPENDED": "the API key's project is suspended",
    "BILLING_DISABLED": "billing is disabled for the API key's project",
}


_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{20,}")


def _error_reason(exc: genai_errors.APIError) -> str | None:
    """The ``reason`` of the ``google.rpc.ErrorInfo`` in Google's error body, if any."""
    details = exc.details
    error = details.get("error", details) if isinstance(details, dict) else None
    entries = error.get("details") if isinstance(error, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and str(entry.get("@type", "")).endswith("ErrorInfo"):
            reason = entry.get("reason")
            if isinstance(reason, str) and reason:
                return reason
    return None


def _key_rejected(exc: genai_errors.APIError, reason: str | None) -> bool:
    """The key itself is wrong (not a key Google knows, or no valid credentials)."""
    code = exc.code or 0
    if code == 401 or reason == "API_KEY_INVALID":
        return True
    message = str(exc.message or "").lower()
    return code == 400 and "api key" in message and ("invalid" in message or "not valid" in message)


def _quotes_key(exc: genai_errors.APIError, key: str) -> bool:
    text = json.dumps(exc.details, default=str)
    return bool(key and key in text) or _GOOGLE_KEY.search(text) is not None


def _retry_after(exc: genai_errors.APIError) -> float | None:
    """Seconds the server asked to wait: ``Retry-After``, else Google's ``RetryInfo``."""
    headers = getattr(exc.response, "headers", None)
    asked = retry_after(headers) if headers is not None else None
    return asked if asked is not None else _retry_info_delay(exc.details)


def _retry_info_delay(details: Any) -> float | None:
    error = details.get("error", details) if isinstance(details, dict) else None
    entries = error.get("details") if isinstance(error, dict) else None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and str(entry.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(entry.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
