"""Signed, short-lived links to a recording's transcript as WebVTT (``<track src>``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

PREFIX = "/api/v1/subtitles/"
EXPIRES = 15 * 60


class SubtitleLinks:
    """Signs and checks subtitle links with HMAC-SHA256 under *key*."""

    def __init__(self, key: bytes, base_url: str, expires_in: int = EXPIRES) -> None:
        self._key = key
        self._base = base_url.rstrip("/")
        self._expires_in = expires_in

    def _mac(self, recording_id: str, expires: int) -> str:
        digest = hmac.new(
            self._key, f"vtt\n{recording_id}\n{expires}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url(self, recording_id: str) -> str:
        """A link to *recording_id*'s transcript as WebVTT, working for a while."""
        expires = int(time.time()) + self._expires_in
        query = urlencode({"exp": expires, "sig": self._mac(recording_id, expires)})
        return f"{self._base}{PREFIX}{recording_id}.vtt?{query}"

    def valid(self, recording_id: str, query: Mapping[str, str]) -> bool:
        """Whether *query* signs *recording_id* and has not expired."""
        try:
            expires = int(query["exp"])
        except (KeyError, ValueError):
            return False
        expected = self._mac(recording_id, expires).encode()
        given = query.get("sig", "").encode("utf-8", errors="replace")
        # compare bytes: compare_digest refuses str with non-ASCII characters (a 500)
        return hmac.compare_digest(expected, given) and expires >= time.time()
