"""Used refresh tokens in ``used_tokens`` (one-time rotation)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    delete,
    insert,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.reader import SyncReader
from elyune_core.ids import UserId
from elyune_core.ports import (
    TokenRepository,
)


class SqlTokenRepository(TokenRepository):
    """Used refresh tokens in ``used_refresh_tokens`` (expired ones are pruned)."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def use(self, jti: str, user_id: UserId, expires_at: datetime) -> bool:
        await self._conn.execute(
            delete(t.used_refresh_tokens).where(
                t.used_refresh_tokens.c.expires_at < datetime.now(UTC)
            )
        )
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.used_refresh_tokens).values(
                        jti=jti, user_id=user_id, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True
