"""Small in-memory caches of the API process."""

from __future__ import annotations

import time

from elyune_core.entities import User


class TokenCache:
    """Users of recently verified access tokens, for a few seconds (bounded).

    Saves the signature check and the user lookup on a burst of requests with one token;
    a deactivated user is refused again within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._users: dict[str, tuple[float, User]] = {}

    def get(self, token: str) -> User | None:
        found = self._users.get(token)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, token: str, user: User) -> None:
        if len(self._users) >= self._size:
            self._users.clear()
        self._users[token] = (time.monotonic() + self._ttl, user)
