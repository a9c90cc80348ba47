"""Small in-memory caches of the API process."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from elyune_adapters.container import Container, resolve
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


class UseCases:
    """The use cases of the hot routes, resolved once per app instead of per request.

    Resolving a use case through the container builds it and awaits its async
    dependencies (a gather per resource): ~20-40 us per request for objects that hold
    nothing but their (shared) adapters. Only such stateless use cases go here.
    """

    def __init__(self, container: Container) -> None:
        self._container = container
        self._found: dict[str, Any] = {}

    async def get(self, name: str) -> Any:
        found = self._found.get(name)
        if found is None:
            found = self._found[name] = await resolve(getattr(self._container, name)())
        return found
