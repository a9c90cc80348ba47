"""Users in ``users``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.reader import SyncReader
from elyune_core.entities import (
    User,
)
from elyune_core.errors import (
    ConflictError,
    UserNotFoundError,
)
from elyune_core.ids import UserId
from elyune_core.ports import (
    UserRepository,
)


def _user(row: RowMapping) -> User:
    return User(
        id=UserId(row["id"]),
        username=row["username"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        is_active=bool(row["is_active"]),
        voice_profiles=bool(row["voice_profiles"]),
        is_staff=bool(row["is_staff"]),
    )


class SqlUserRepository(UserRepository):
    """Users in the ``users`` table."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def add(self, user: User) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.users).values(
                        id=user.id,
                        username=user.username,
                        password_hash=user.password_hash,
                        is_active=user.is_active,
                        is_staff=user.is_staff,
                        created_at=user.created_at,
                        voice_profiles=user.voice_profiles,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"A user called {user.username!r} already exists.") from exc

    async def get(self, user_id: UserId) -> User:
        row = (
            (await self._conn.execute(select(t.users).where(t.users.c.id == user_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise UserNotFoundError("No such user.")
        return _user(row)

    async def get_by_username(self, username: str) -> User | None:
        row = (
            (await self._conn.execute(select(t.users).where(t.users.c.username == username)))
            .mappings()
            .first()
        )
        return None if row is None else _user(row)

    async def list(self) -> Sequence[User]:
        rows = (await self._conn.execute(select(t.users).order_by(t.users.c.username))).mappings()
        return [_user(r) for r in rows]

    async def save(self, user: User) -> None:
        await self._conn.execute(
            update(t.users)
            .where(t.users.c.id == user.id)
            .values(
                password_hash=user.password_hash,
                is_active=user.is_active,
                voice_profiles=user.voice_profiles,
                is_staff=user.is_staff,
            )
        )
