"""Engines and schema migrations (Alembic), for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.sealing import SecretBox
from elyune_adapters.system import private_dir, private_file
from elyune_core.errors import RepositoryUnavailableError

MIGRATIONS = Path(__file__).parent / "migrations"
#: PostgreSQL ends a session idle inside a transaction after this long (milliseconds).
_IDLE_IN_TRANSACTION = "60000"


def sqlite_file(path: Path) -> None:
    """The database file and its WAL files readable by this user only (0600), in a
    folder only this user can enter (0700): it holds password hashes and webhooks."""
    private_dir(path.parent)
    private_file(path)
    for extra in ("-wal", "-shm", "-journal"):
        sibling = path.with_name(path.name + extra)
        if sibling.exists():
            private_file(sibling)


def create_engine(settings: DatabaseSettings, *, readonly: bool = False) -> AsyncEngine:
    """An async engine for *settings*.

    SQLite gets WAL, enforced foreign keys, a 30 s busy timeout and ``BEGIN IMMEDIATE``
    transactions (so concurrent writers queue instead of failing); a *readonly* SQLite
    engine begins deferred, read-only transactions instead, which never wait for the
    writers (WAL readers see the last commit). PostgreSQL gets a pool of ``pool_size``
    connections (plus ``max_overflow``) that are checked before use, so the API recovers
    by itself when the server drops connections; a *readonly* PostgreSQL engine keeps
    ``pool_size + max_overflow`` autocommit connections and recovers on the first error.
    """
    if settings.is_sqlite:
        path = settings.url.split("///", 1)[1] if "///" in settings.url else ""
        if path and path != ":memory:":
            sqlite_file(Path(path))
        engine = create_async_engine(
            settings.url,
            connect_args={"timeout": 30},
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            # Readers run in autocommit (no BEGIN/ROLLBACK round trips to the driver's
            # thread); WAL gives each statement a consistent snapshot.
            pool_reset_on_return=None if readonly else "rollback",
            isolation_level="AUTOCOMMIT" if readonly else None,
        )
        _configure_sqlite(engine, readonly=readonly)
        return engine
    if readonly:
        # The API's reads: autocommit (no BEGIN and ROLLBACK round trips) and no ping
        # before each checkout; a connection the server dropped fails one request with
        # 503 and makes SQLAlchemy renew the whole pool. Every connection stays open
        # (an overflow connection, closed on return, costs a new server process soon).
        return create_async_engine(
            settings.url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            pool_size=settings.pool_size + settings.max_overflow,
            max_overflow=0,
            pool_recycle=1800,
            pool_reset_on_return=None,
            isolation_level="AUTOCOMMIT",
        )
    return create_async_engine(
        settings.url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        # A process frozen inside a transaction (a wedged worker) must not hold its row
        # locks, and so the steps of every other worker, for longer than this.
        connect_args={
            "server_settings": {"idle_in_transaction_session_timeout": _IDLE_IN_TRANSACTION}
        },
    )


def _configure_sqlite(engine: AsyncEngine, *, readonly: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        if readonly:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    if readonly:
        return

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    """Alembic's configuration, pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, box: SecretBox | None = None
) -> None:
    """Migrate the database to *revision* (the newest by default); *box* seals the
    webhook secrets stored before they were encrypted (migration 0003)."""

    def run(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        config.attributes["secret_box"] = box
        command.upgrade(config, revision)

    try:
        async with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # A migration that rebuilds a table on SQLite (Alembic's batch mode: new
                # table, copy, drop the old one) would, with foreign keys on, delete every
                # row that points at the dropped table (ON DELETE CASCADE): rebuilding
                # ``users`` would delete every recording. The pragma only takes effect
                # outside a transaction; the keys are checked before the commit instead.
                await conn.run_sync(_foreign_keys, False)
            try:
                async with conn.begin():
                    await conn.run_sync(run)
                    if sqlite:
                        broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                        if broken:
                            raise RepositoryUnavailableError(
                                f"The migration left {len(broken)} row(s) pointing at "
                                "rows that do not exist; nothing was changed."
                            )
            finally:
                if sqlite:
                    await conn.run_sync(_foreign_keys, True)
    except (SQLAlchemyError, OSError, ConnectionError) as exc:
        raise RepositoryUnavailableError(f"Could not migrate the database: {exc}") from exc


def _foreign_keys(conn: Connection, on: bool) -> None:
    """Turn SQLite's foreign keys on or off on *conn*'s own connection, outside any
    transaction (SQLAlchemy's would make the pragma a no-op)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` for an empty one."""

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    except (SQLAlchemyError, OSError, ConnectionError) as exc:
        raise RepositoryUnavailableError(f"Could not read the database: {exc}") from exc


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class SqlSchema:
    """Schema migrations of one engine, for ``elyune db`` and start-up checks."""

    def __init__(self, engine: AsyncEngine, box: SecretBox | None = None) -> None:
        self._engine = engine
        self._box = box

    async def upgrade(self) -> str | None:
        """Migrate to the newest revision and return it."""
        await upgrade(self._engine, box=self._box)
        return await current_revision(self._engine)

    async def current(self) -> str | None:
        """The database's revision (``None`` when empty)."""
        return await current_revision(self._engine)

    @staticmethod
    def head() -> str | None:
        """The newest revision the code knows."""
        return head_revision()


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()
