"""Create users, set their passwords, and the local user of the CLI."""

from __future__ import annotations

import asyncio
import re

import attrs

from elyune_core.entities import User
from elyune_core.errors import (
    ConflictError,
    InvalidInputError,
    InvalidStateError,
    UserNotFoundError,
)
from elyune_core.ids import UserId
from elyune_core.ports import Clock, IdSource, PasswordHasher, UnitOfWorkFactory, UserRepository

_USERNAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,150}$")
MIN_PASSWORD_LENGTH = 8
# A hash no password matches: for accounts that never log in (the CLI's local user).
UNUSABLE_PASSWORD = "!"  # noqa: S105 - not a secret, a marker


def check_username(username: str) -> str:
    """Return *username* if valid (1 to 150 of letters, digits and ``_.@+-``)."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise InvalidInputError(
            {"username": "Use 1 to 150 letters, digits and the characters _ . @ + -."}
        )
    return username


def check_password(password: str) -> str:
    """Return *password* if it is long enough."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError({"password": f"Use at least {MIN_PASSWORD_LENGTH} characters."})
    if len(password) > 1024:
        raise InvalidInputError({"password": "Use at most 1024 characters."})
    return password


@attrs.frozen
class CreateUserInput:
    """A new user's name and password (``None`` for an account that cannot log in), and
    whether the user is staff (an operator)."""

    username: str
    password: str | None
    is_staff: bool = False


class CreateUser:
    """Create a user. Rules: names are unique; passwords have at least 8 characters and
    are stored only as a memory-hard hash."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock, ids: IdSource
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._ids = ids

    async def execute(self, data: CreateUserInput) -> User:
        """Create and return the user."""
        check_username(data.username)
        password_hash = (
            UNUSABLE_PASSWORD
            if data.password is None
            else await asyncio.to_thread(self._hasher.hash, check_password(data.password))
        )
        user = User(
            id=UserId(self._ids.new_id()),
            username=data.username,
            password_hash=password_hash,
            created_at=self._clock.now(),
            is_staff=data.is_staff,
        )
        async with self._uow() as uow:
            if await uow.users.get_by_username(data.username) is not None:
                raise ConflictError(f"A user called {data.username!r} already exists.")
            await uow.users.add(user)
            await uow.commit()
        return user


class EnsureUser:
    """Return the user called *username*, creating it (unable to log in) if missing."""

    def __init__(self, *, uow: UnitOfWorkFactory, create: CreateUser) -> None:
        self._uow = uow
        self._create = create

    async def execute(self, username: str) -> User:
        """Return the user, creating it when needed."""
        async with self._uow() as uow:
            user = await uow.users.get_by_username(username)
        if user is not None:
            return user
        try:
            return await self._create.execute(CreateUserInput(username, None))
        except ConflictError:  # created concurrently
            async with self._uow() as uow:
                found = await uow.users.get_by_username(username)
            if found is None:
                raise
            return found


class GetUser:
    """A user as stored now (with its settings), by id."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, user_id: UserId) -> User:
        """Return the user or raise ``UserNotFoundError``."""
        async with self._uow() as uow:
            return await uow.users.get(user_id)


@attrs.frozen
class SetPasswordInput:
    """A user (by name, or by id with *by_id*) and a new password."""

    username: str
    password: str
    by_id: bool = False


class SetPassword:
    """Set a user's password (at least 8 characters)."""

    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher) -> None:
        self._uow = uow
        self._hasher = hasher

    async def execute(self, data: SetPasswordInput) -> User:
        """Store the new password's hash."""
        password_hash = await asyncio.to_thread(self._hasher.hash, check_password(data.password))
        async with self._uow() as uow:
            user = await _find(uow.users, data.username, data.by_id)
            user = user.with_password_hash(password_hash)
            await uow.users.save(user)
            await uow.commit()
        return user


@attrs.frozen
class SetUserFlagsInput:
    """A user (by name or id) and the flags to change (``None``: unchanged)."""

    user: str
    is_active: bool | None = None
    is_staff: bool | None = None
    by_id: bool = False


class SetUserFlags:
    """Activate or deactivate a user, make one staff or not.

    Rules: a deactivated user cannot log in and its tokens stop working (checked at each
    request, within the token cache's few seconds); its recordings are kept. *acting*
    (an operator changing flags through the API) cannot deactivate itself or take its
    own staff flag away, so the last operator cannot lock everyone out by mistake.
    """

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, data: SetUserFlagsInput, acting: UserId | None = None) -> User:
        """Store the changed flags and return the user."""
        async with self._uow() as uow:
            user = await _find(uow.users, data.user, data.by_id)
            if (
                acting is not None
                and user.id == acting
                and (data.is_active is False or data.is_staff is False)
            ):
                raise InvalidStateError(
                    "You cannot deactivate yourself or take your own staff flag away."
                )
            user = user.with_flags(is_active=data.is_active, is_staff=data.is_staff)
            await uow.users.save(user)
            await uow.commit()
        return user


async def _find(users: UserRepository, key: str, by_id: bool) -> User:
    if by_id:
        return await users.get(UserId(key))
    found = await users.get_by_username(key)
    if found is None:
        raise UserNotFoundError(f"No user called {key!r}.")
    return found


__all__ = [
    "MIN_PASSWORD_LENGTH",
    "UNUSABLE_PASSWORD",
    "CreateUser",
    "CreateUserInput",
    "EnsureUser",
    "GetUser",
    "SetPassword",
    "SetPasswordInput",
    "SetUserFlags",
    "SetUserFlagsInput",
    "check_password",
    "check_username",
]
