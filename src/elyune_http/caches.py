"""Small in-memory caches of the API process."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from elyune_core.use_cases.auth import Session


class TokenCache:
    """Sessions of recently verified access tokens, for a few seconds (bounded).

    Saves the signature check and the user lookup on a burst of requests with one token;
    a deactivated user, or one whose password changed, is refused again within ``ttl``
    seconds, and a token is never served from here past its own expiry.
    """

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._sessions: dict[str, tuple[float, Session]] = {}

    def get(self, token: str) -> Session | None:
        found = self._sessions.get(token)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, token: str, session: Session) -> None:
        if len(self._sessions) >= self._size:
            self._sessions.clear()
        left = (session.expires_at - datetime.now(UTC)).total_seconds()
        self._sessions[token] = (time.monotonic() + min(self._ttl, left), session)
