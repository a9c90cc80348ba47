"""Log in, refresh tokens (each refresh token works once), authenticate a request."""

from __future__ import annotations

import asyncio
from datetime import datetime

import attrs

from elyune_core.entities import User
from elyune_core.errors import InvalidCredentialsError, InvalidTokenError, UserNotFoundError
from elyune_core.ports import Clock, PasswordHasher, TokenPair, TokenService, UnitOfWorkFactory

# Verified when the user does not exist, so a wrong name costs as much time as a wrong
# password and timing does not tell which names exist.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$"
    "Zl0QxA8UFGLkiNeqPOTzYPvvfkD6gRz7E9bDvBKfxTo"
)


@attrs.frozen
class LoginInput:
    """A user name and password."""

    username: str
    password: str = attrs.field(repr=False)


class Login:
    """Exchange a user name and password for tokens.

    Rules: a wrong name, a wrong password and an inactive user all give the same
    ``InvalidCredentialsError``, after the same amount of hashing work.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        tokens: TokenService,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock

    async def execute(self, data: LoginInput) -> TokenPair:
        """Check the credentials and issue a token pair."""
        async with self._uow() as uow:
            user = await uow.users.get_by_username(data.username)
        # Argon2 takes tens of milliseconds of CPU: off the event loop.
        if user is None:
            await asyncio.to_thread(self._hasher.verify, _DUMMY_HASH, data.password)
            raise InvalidCredentialsError("No active account found with the given credentials")
        matches = await asyncio.to_thread(self._hasher.verify, user.password_hash, data.password)
        if not matches or not user.is_active:
            raise InvalidCredentialsError("No active account found with the given credentials")
        return self._tokens.issue(user.id, self._clock.now(), user.session_stamp)


class RefreshTokens:
    """Exchange a refresh token for a new pair; the old refresh token stops working.

    Rules: only refresh tokens are accepted; a refresh token used before is refused
    (``InvalidTokenError``); the user must still exist and be active, and not have
    changed password since the token was issued.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, tokens: TokenService, clock: Clock) -> None:
        self._uow = uow
        self._tokens = tokens
        self._clock = clock

    async def execute(self, refresh: str) -> TokenPair:
        """Verify and use up *refresh*, and issue a new pair."""
        now = self._clock.now()
        claims = self._tokens.verify(refresh, "refresh", now)
        async with self._uow() as uow:
            try:
                user = await uow.users.get(claims.user_id)
            except UserNotFoundError:
                raise InvalidTokenError("Token is invalid or expired") from None
            if not user.is_active or claims.session != user.session_stamp:
                raise InvalidTokenError("Token is invalid or expired")
            if not await uow.tokens.use(claims.jti, user.id, claims.expires_at):
                raise InvalidTokenError("Token has already been used")
            await uow.commit()
        return self._tokens.issue(user.id, now, user.session_stamp)


@attrs.frozen
class Session:
    """Who an access token belongs to, and until when it works."""

    user: User
    expires_at: datetime


class Authenticate:
    """Return the active user an access token belongs to, or raise ``InvalidTokenError``.

    Rules: the token must be valid and unexpired, its user must exist and be active,
    and the user must not have changed password since it was issued.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, tokens: TokenService, clock: Clock) -> None:
        self._uow = uow
        self._tokens = tokens
        self._clock = clock

    async def execute(self, access: str) -> User:
        """Verify *access* and load its user."""
        return (await self.session(access)).user

    async def session(self, access: str) -> Session:
        """Verify *access*; its user and its expiry."""
        claims = self._tokens.verify(access, "access", self._clock.now())
        async with self._uow() as uow:
            try:
                user = await uow.users.get(claims.user_id)
            except UserNotFoundError:
                raise InvalidTokenError("User not found") from None
        if not user.is_active:
            raise InvalidTokenError("User is inactive")
        if claims.session != user.session_stamp:
            raise InvalidTokenError("Token is invalid or expired")
        return Session(user, claims.expires_at)


__all__ = [
    "Authenticate",
    "Login",
    "LoginInput",
    "RefreshTokens",
    "Session",
]
