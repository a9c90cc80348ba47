"""Read-only units of work on SQLite without a thread hop per statement.

The async SQLite driver (aiosqlite) sends every cursor call to a thread of its own and
back: four hops per statement. For reads (WAL: they never wait for writers, and indexed
queries take well under a millisecond) the API runs the statements directly on a
synchronous sqlite3 connection instead; the repositories see the same ``execute``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.sql import Executable

from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import sqlite_file


class SyncReader:
    """Gives a synchronous connection the ``await conn.execute(...)`` of an async one."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        """The connection's dialect."""
        return self._conn.dialect

    async def execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        """Run *statement* now (reads only; the connection is query-only)."""
        return self._conn.execute(statement, parameters)

    def begin_nested(self) -> Any:
        """Writes are refused on a reader."""
        raise RuntimeError("a read-only unit of work cannot write")


def create_sqlite_reader(settings: DatabaseSettings) -> Engine:
    """A synchronous, query-only, autocommit SQLite engine on the same file."""
    path = settings.url.split("///", 1)[1]
    if path != ":memory:":
        sqlite_file(Path(path))
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        isolation_level="AUTOCOMMIT",
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_reset_on_return=None,
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return engine


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()
