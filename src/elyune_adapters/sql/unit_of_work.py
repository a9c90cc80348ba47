"""The SQL unit of work: one connection and transaction per ``async with``."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from elyune_adapters.sql.reader import SyncReader
from elyune_adapters.sql.repositories import (
    RecordingCounts,
    SqlAnalysisRepository,
    SqlJobRepository,
    SqlLiveUploadRepository,
    SqlRecordingRepository,
    SqlTokenRepository,
    SqlTranscriptRepository,
    SqlUserRepository,
    SqlVoiceProfileRepository,
    SqlWebhookRepository,
)
from elyune_adapters.sql.sealing import SecretBox
from elyune_adapters.sql.search import SqlSearchIndex
from elyune_core.errors import ConflictError, InvalidInputError, RepositoryUnavailableError
from elyune_core.ports import (
    AnalysisRepository,
    JobRepository,
    LiveUploadRepository,
    RecordingRepository,
    SearchIndex,
    TokenRepository,
    TranscriptRepository,
    UnitOfWork,
    UserRepository,
    VoiceProfileRepository,
    WebhookRepository,
)

UNAVAILABLE = "The database is unavailable right now; try again in a moment."


def translate_db_error(exc: BaseException) -> Exception | None:
    """The core error for a database failure *exc*, or ``None`` if it is not one."""
    if isinstance(exc, IntegrityError):
        return ConflictError("The change conflicts with existing data.")
    if isinstance(exc, DataError | OverflowError):  # a value the database cannot store
        return InvalidInputError("A value is out of range or has characters that cannot be stored.")
    if isinstance(exc, SQLAlchemyError | OSError | ConnectionError):
        return RepositoryUnavailableError(UNAVAILABLE)
    return None


class _SqlRepositories:
    """The SQL repositories of a unit of work, all on one connection."""

    users: UserRepository
    recordings: RecordingRepository
    jobs: JobRepository
    transcripts: TranscriptRepository
    analyses: AnalysisRepository
    tokens: TokenRepository
    webhooks: WebhookRepository
    voice_profiles: VoiceProfileRepository
    search: SearchIndex
    live: LiveUploadRepository

    def _attach(
        self,
        conn: AsyncConnection | SyncReader,
        counts: RecordingCounts | None,
        box: SecretBox | None = None,
    ) -> None:
        self.users = SqlUserRepository(conn)
        self.recordings = SqlRecordingRepository(conn, counts)
        self.jobs = SqlJobRepository(conn)
        self.transcripts = SqlTranscriptRepository(conn)
        self.analyses = SqlAnalysisRepository(conn)
        self.tokens = SqlTokenRepository(conn)
        self.webhooks = SqlWebhookRepository(conn, box)
        self.voice_profiles = SqlVoiceProfileRepository(conn)
        self.search = SqlSearchIndex(conn)
        self.live = SqlLiveUploadRepository(conn)


class SqlUnitOfWork(_SqlRepositories, UnitOfWork):
    """Opens a connection and a transaction on enter; rolls back unless committed.

    Database failures inside the block come out as ``RepositoryUnavailableError`` (or
    ``ConflictError`` for integrity violations), never as SQLAlchemy's exceptions.

    A *gate* makes units of work of this process wait their turn, first come first
    served, before they take a connection: on SQLite a lock taken before SQLite's write
    lock, instead of polling it with SQLite's busy handler (whose sleeps of up to 100 ms
    made the slowest writes take a second); on PostgreSQL a semaphore as large as the
    pool, whose own queue lets a late request overtake one that has waited for a second.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        gate: asyncio.Lock | asyncio.Semaphore | None = None,
        counts: RecordingCounts | None = None,
        box: SecretBox | None = None,
    ) -> None:
        self._box = box
        self._engine = engine
        self._lock = gate
        self._held = False
        self._counts = counts
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._lock is not None:
            await self._lock.acquire()
            self._held = True
        try:
            conn = await self._engine.connect()
        except BaseException as exc:  # cancelled too: never keep the lock
            self._unlock()
            if isinstance(exc, SQLAlchemyError | OSError | ConnectionError):
                raise RepositoryUnavailableError(UNAVAILABLE) from exc
            raise
        try:
            await conn.begin()
        except BaseException as exc:
            await _close_quietly(conn)
            self._unlock()
            if isinstance(exc, SQLAlchemyError | OSError | ConnectionError):
                raise RepositoryUnavailableError(UNAVAILABLE) from exc
            raise
        self._conn = conn
        self._attach(conn, self._counts, self._box)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                await _close_quietly(conn)
        finally:
            self._unlock()
        if exc is not None:
            translated = translate_db_error(exc)
            if translated is not None:
                raise translated from exc

    def _unlock(self) -> None:
        if self._held and self._lock is not None:
            self._held = False
            self._lock.release()

    async def commit(self) -> None:
        assert self._conn is not None, "commit() outside of 'async with'"
        try:
            await self._conn.commit()
        except (SQLAlchemyError, OSError, ConnectionError) as exc:
            translated = translate_db_error(exc)
            assert translated is not None
            raise translated from exc


async def _close_quietly(conn: AsyncConnection) -> None:
    try:
        if conn.in_transaction():
            await conn.rollback()
    except (DBAPIError, SQLAlchemyError, OSError, ConnectionError):
        pass
    finally:
        with contextlib.suppress(SQLAlchemyError, OSError, ConnectionError):
            await conn.close()


class SqlReadUnitOfWork(_SqlRepositories, UnitOfWork):
    """A read-only unit of work on a synchronous SQLite engine (see ``reader``).

    ``commit`` is refused; database failures come out as core errors, as above.
    """

    def __init__(
        self, engine: Engine, counts: RecordingCounts | None = None, box: SecretBox | None = None
    ) -> None:
        self._box = box
        self._engine = engine
        self._counts = counts
        self._conn: Connection | None = None

    async def __aenter__(self) -> SqlReadUnitOfWork:
        try:
            conn = self._engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            raise RepositoryUnavailableError(UNAVAILABLE) from exc
        self._conn = conn
        self._attach(SyncReader(conn), self._counts, self._box)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError, OSError):
                conn.close()
        if exc is not None:
            translated = translate_db_error(exc)
            if translated is not None:
                raise translated from exc

    async def commit(self) -> None:
        raise RuntimeError("a read-only unit of work cannot commit")
