"""The API's PostgreSQL reads (and request-upload's one INSERT) straight on asyncpg.

SQLAlchemy's async execution layer cost about five times the driver's own time per
statement (pool checkout with its events, a greenlet hop, an execution context and a
result object for every statement: ~170 µs of CPU for ``SELECT 1`` against ~15 µs on
asyncpg, measured in docs/benchmarks.md). The repositories keep building their
statements with SQLAlchemy Core and reading rows as mappings; :class:`NativeConnection`
gives them the same ``await conn.execute(statement, params)`` on a plain asyncpg pool:
each statement is compiled once by SQLAlchemy's own PostgreSQL dialect (the same SQL,
bind casts and bind/result processors as through SQLAlchemy) and then run by asyncpg
directly, in autocommit like the engine it replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base
from sqlalchemy import Float
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.repositories import (
    RecordingCounts,
    SqlAnalysisRepository,
    SqlJobRepository,
    SqlRecordingRepository,
    SqlTranscriptRepository,
    _analysis,
    _job,
    _recording,
    _sorted_files,
    _step,
    _stored_file,
    _transcript,
)
from elyune_adapters.sql.sealing import SecretBox
from elyune_adapters.sql.unit_of_work import UNAVAILABLE, _SqlRepositories
from elyune_core.entities import Analysis, AnalysisKind, Job, Recording, Transcript
from elyune_core.errors import (
    ConflictError,
    InvalidInputError,
    RecordingNotFoundError,
    RepositoryUnavailableError,
)
from elyune_core.ids import RecordingId, UserId
from elyune_core.ports import UnitOfWork

_OUT_OF_RANGE = "A value is out of range or has characters that cannot be stored."


def translate_native_error(exc: BaseException) -> Exception | None:
    """The core error for an asyncpg failure *exc*, or ``None`` if it is not one."""
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConflictError("The change conflicts with existing data.")
    if isinstance(
        exc, asyncpg.DataError | asyncpg_base.DataError | OverflowError | UnicodeEncodeError
    ):
        return InvalidInputError(_OUT_OF_RANGE)
    if isinstance(
        exc,
        asyncpg_base.PostgresError
        | asyncpg_base.InterfaceError
        | asyncpg_base.InternalClientError  # e.g. a server's FATAL during a statement
        | SQLAlchemyError
        | OSError
        | ConnectionError
        | TimeoutError,
    ):
        return RepositoryUnavailableError(UNAVAILABLE)
    return None


class _Plan:
    """One statement compiled for asyncpg: its SQL and how to bind and read it."""

    __slots__ = ("binds", "compiled", "defaults", "keys", "names", "rows", "sql", "statement")

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise _UnsupportedError  # expanding IN lists: rendered per call (see _expanded)
        defaults: dict[str, Any] = {}
        for column in getattr(compiled, "insert_prefetch", ()) or ():
            default = column.default
            if default is None or not default.is_scalar:
                raise _UnsupportedError
            defaults[column.key] = default.arg
        self.statement = statement  # held: its id() keys the cache
        self.compiled = compiled
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.binds: dict[str, Any] = dict(compiled._bind_processors)
        self.defaults = defaults
        self.keys: tuple[str, ...] = tuple(entry[0] for entry in compiled._result_columns)
        self.rows: bool = bool(self.keys)  # a statement that answers rows (else a status)

    def arguments(self, params: Mapping[str, Any] | None) -> list[Any]:
        values = self.compiled.construct_params(
            {**self.defaults, **params} if self.defaults and params else (params or self.defaults)
        )
        binds = self.binds
        out = []
        for name in self.names:
            value = values[name]
            process = binds.get(name)
            out.append(value if process is None or value is None else process(value))
        return out


class _UnsupportedError(Exception):
    """A statement form the plan does not handle (SQLAlchemy renders it per call)."""


class _Reader:
    """The result processors of a statement's columns, found once from asyncpg's
    description of it (SQLAlchemy picks some processors by the column's type OID)."""

    __slots__ = ("keys", "processed")

    def __init__(self, keys: tuple[str, ...], processed: tuple[tuple[int, Any], ...]) -> None:
        self.keys = keys
        self.processed = processed


class PlanCache:
    """Compiled statements of one dialect, shared by every connection of a pool.

    Keyed by the statement object (held, so its id cannot be reused) and the names of
    the parameters; the repositories' hot statements are built once at import, so this
    stays small. Bounded: cleared when it grows past *size*.
    """

    def __init__(self, dialect: Dialect, size: int = 512) -> None:
        self.dialect = dialect
        self._size = size
        self._plans: dict[tuple[int, tuple[str, ...]], _Plan] = {}
        self._readers: dict[int, _Reader] = {}

    def plan(self, statement: ClauseElement, keys: tuple[str, ...]) -> _Plan:
        key = (id(statement), keys)
        found = self._plans.get(key)
        if found is not None and found.statement is statement:
            return found
        if len(self._plans) >= self._size:
            self._plans.clear()
            self._readers.clear()
        found = self._plans[key] = _Plan(statement, self.dialect, keys)
        return found

    async def reader(self, plan: _Plan, conn: Any) -> _Reader:
        found = self._readers.get(id(plan))
        if found is not None:
            return found
        prepared = await conn.prepare(plan.sql)
        processed = []
        for index, (entry, attribute) in enumerate(
            zip(plan.compiled._result_columns, prepared.get_attributes(), strict=True)
        ):
            process = entry[3]._cached_result_processor(self.dialect, attribute.type.oid)
            if process is not None:
                processed.append((index, process))
        found = self._readers[id(plan)] = _Reader(plan.keys, tuple(processed))
        return found


class NativeResult:
    """The part of SQLAlchemy's result the repositories use: ``mappings()`` (all,
    first, iteration), ``scalar_one()`` and ``rowcount``."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[dict[str, Any]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def mappings(self) -> NativeResult:
        return self

    def all(self) -> list[dict[str, Any]]:
        return self._rows

    def first(self) -> dict[str, Any] | None:
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows)

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise RuntimeError(f"expected one row, got {len(self._rows)}")
        return next(iter(self._rows[0].values()))


def _status_count(status: str) -> int:
    """The row count in a command tag like ``INSERT 0 1`` or ``UPDATE 3``."""
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else -1


class NativeConnection:
    """Gives an asyncpg connection the ``await conn.execute(statement, params)`` of an
    autocommit SQLAlchemy connection (each statement is its own transaction)."""

    def __init__(self, conn: Any, plans: PlanCache) -> None:
        self._conn = conn
        self._plans = plans

    @property
    def dialect(self) -> Dialect:
        """SQLAlchemy's PostgreSQL dialect (the repositories ask for its name)."""
        return self._plans.dialect

    @property
    def raw(self) -> Any:
        """The asyncpg connection, for statements written in PostgreSQL's SQL."""
        return self._conn

    async def execute(
        self,
        statement: Any,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> NativeResult:
        """Run *statement* with *parameters* (a list of them runs it once per item)."""
        if isinstance(parameters, Sequence) and not isinstance(parameters, Mapping):
            if not parameters:
                return NativeResult([], 0)
            first: Any = parameters[0]
            plan = self._plans.plan(statement, tuple(sorted(first)))
            await self._conn.executemany(plan.sql, [plan.arguments(p) for p in parameters])
            return NativeResult([], len(parameters))
        named: Any = parameters
        keys: tuple[str, ...] = tuple(sorted(named)) if named else ()
        try:
            plan = self._plans.plan(statement, keys)
        except _UnsupportedError:
            return await self._expanded(statement, parameters)
        arguments = plan.arguments(parameters)
        if not plan.rows:
            return NativeResult([], _status_count(await self._conn.execute(plan.sql, *arguments)))
        reader = await self._plans.reader(plan, self._conn)
        records = await self._conn.fetch(plan.sql, *arguments)
        return NativeResult(_rows(records, reader), len(records))

    async def _expanded(self, statement: Any, parameters: Mapping[str, Any] | None) -> NativeResult:
        """A statement with per-call SQL (an expanding ``IN``): compiled for these values."""
        compiled: Any = statement.compile(
            dialect=self._plans.dialect, column_keys=list(parameters or ())
        )
        state = compiled.construct_expanded_state(dict(parameters or {}))
        binds = state.processors
        arguments = [
            value if (process := binds.get(name)) is None or value is None else process(value)
            for name, value in zip(state.positiontup, state.positional_parameters, strict=True)
        ]
        if not compiled._result_columns:
            status = await self._conn.execute(state.statement, *arguments)
            return NativeResult([], _status_count(status))
        prepared = await self._conn.prepare(state.statement)
        processed = []
        for index, (entry, attribute) in enumerate(
            zip(compiled._result_columns, prepared.get_attributes(), strict=True)
        ):
            process = entry[3]._cached_result_processor(self._plans.dialect, attribute.type.oid)
            if process is not None:
                processed.append((index, process))
        reader = _Reader(tuple(e[0] for e in compiled._result_columns), tuple(processed))
        records = await prepared.fetch(*arguments)
        return NativeResult(_rows(records, reader), len(records))

    def begin_nested(self) -> Any:
        """Savepoints need a transaction: this connection runs single statements."""
        raise RuntimeError("a native autocommit unit of work cannot open a savepoint")


def _rows(records: list[Any], reader: _Reader) -> list[dict[str, Any]]:
    keys = reader.keys
    processed = reader.processed
    rows = []
    for record in records:
        values = list(record)
        for index, process in processed:
            values[index] = process(values[index])
        rows.append(dict(zip(keys, values, strict=True)))
    return rows


async def _no_reset(conn: Any) -> None:
    """Nothing to reset on release: these connections hold no session state (the
    default reset is one more round trip per unit of work)."""


class NativePool:
    """An asyncpg pool and the compiled statements of SQLAlchemy's dialect for it.

    Connections open on first use (the API starts while the database is down and
    answers 503 until it is back); one the server dropped is replaced on its next
    checkout. *engine* is the SQLAlchemy engine on the same database: its dialect
    compiles the statements, once it has been initialised by a first connection.
    """

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self._engine = engine
        self._size = size
        self._pool: Any = None
        self._ready = asyncio.Lock()
        self.plans: PlanCache | None = None

    async def acquire(self) -> tuple[Any, PlanCache]:
        """A connection and the plans; raises ``RepositoryUnavailableError``."""
        try:
            if self._pool is None or self.plans is None:
                await self._start()
            assert self._pool is not None and self.plans is not None
            return await self._pool.acquire(), self.plans
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if translate_native_error(exc) is None:
                raise
            raise RepositoryUnavailableError(UNAVAILABLE) from exc

    async def release(self, conn: Any) -> None:
        """Give *conn* back (a broken one is closed and replaced later)."""
        with contextlib.suppress(Exception):
            await self._pool.release(conn)

    async def _start(self) -> None:
        async with self._ready:
            if self._pool is not None and self.plans is not None:
                return
            dialect = self._engine.dialect
            async with self._engine.connect():
                pass  # SQLAlchemy reads the server's settings into its dialect
            args, options = dialect.create_connect_args(self._engine.url)
            options.pop("prepared_statement_cache_size", None)
            decode: Any = dialect._json_deserializer
            assert callable(decode), "the engine is made with a JSON deserializer"

            async def setup(conn: Any) -> None:
                # JSON as SQLAlchemy's asyncpg dialect sets it up: text in, parsed out.
                await conn.set_type_codec(
                    "json",
                    encoder=str.encode,
                    decoder=lambda raw: decode(raw.decode()),
                    schema="pg_catalog",
                    format="binary",
                )
                await conn.set_type_codec(
                    "jsonb",
                    encoder=lambda text: b"\x01" + text.encode(),
                    decoder=lambda raw: decode(raw[1:].decode()),
                    schema="pg_catalog",
                    format="binary",
                )

            self._pool = await asyncpg.create_pool(
                *args,
                **options,
                min_size=0,
                max_size=self._size,
                max_inactive_connection_lifetime=1800,
                init=setup,
                reset=_no_reset,
            )
            self.plans = PlanCache(dialect)

    async def close(self) -> None:
        """Close every connection."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)


class NativeUnitOfWork(_SqlRepositories, UnitOfWork):
    """A unit of work of single autocommit statements on a :class:`NativePool`: the
    API's reads and request-upload's INSERT on PostgreSQL. ``commit`` has nothing to
    do (each statement committed when it ran); failures come out as core errors."""

    def __init__(
        self,
        pool: NativePool,
        counts: RecordingCounts | None = None,
        box: SecretBox | None = None,
    ) -> None:
        self._pool = pool
        self._counts = counts
        self._box = box
        self._conn: Any = None

    async def __aenter__(self) -> NativeUnitOfWork:
        conn, plans = await self._pool.acquire()
        self._conn = conn
        native = NativeConnection(conn, plans)
        self._attach(native, self._counts, self._box)  # type: ignore[arg-type]
        # A recording's detail in one round trip; its job, transcript and analyses are
        # then answered from what that read (this unit of work runs single reads).
        prefetched = _Prefetched()
        self.recordings = _NativeRecordings(native, self._counts, prefetched)
        self.jobs = _NativeJobs(native, prefetched)
        self.transcripts = _NativeTranscripts(native, prefetched)
        self.analyses = _NativeAnalyses(native, prefetched)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        translated = None if exc is None else translate_native_error(exc)
        if conn is not None:
            if isinstance(translated, RepositoryUnavailableError):
                with contextlib.suppress(Exception):  # (the pool may have dropped it)
                    conn.terminate()  # in an unknown state: a new one replaces it
            await self._pool.release(conn)
        if exc is not None and translated is not None:
            raise translated from exc

    async def commit(self) -> None:
        return None


# --------------------------------------------------------------------------- details

# A recording with its files, job and steps, transcript and segments, and analyses in
# one round trip (five to six statements otherwise): each child table's rows come as
# JSON (row_to_json), read back with the repositories' own row functions.
_DETAILS = """
SELECT r.*,
  (SELECT json_agg(f) FROM recording_files f WHERE f.recording_id = r.id) AS x_files,
  (SELECT row_to_json(j) FROM jobs j WHERE j.recording_id = r.id) AS x_job,
  (SELECT json_agg(s) FROM job_steps s
     WHERE s.job_id = (SELECT id FROM jobs WHERE recording_id = r.id)) AS x_steps,
  (SELECT row_to_json(t) FROM transcripts t WHERE t.recording_id = r.id) AS x_transcript,
  (SELECT json_agg(g ORDER BY g.idx) FROM transcript_segments g
     WHERE g.recording_id = r.id) AS x_segments,
  (SELECT json_agg(a) FROM analyses a WHERE a.recording_id = r.id) AS x_analyses
FROM recordings r
WHERE r.id = $1::VARCHAR"""
_DETAILS_OF_OWNER = _DETAILS + " AND r.owner_id = $2::VARCHAR"


def _kinds(table: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The names of *table*'s timestamp and float columns (JSON gives strings and
    numbers that may look like integers)."""
    times = frozenset(c.name for c in table.c if isinstance(c.type, t.UTCDateTime))
    floats = frozenset(c.name for c in table.c if isinstance(c.type, Float))
    return times, floats


_TABLE_KINDS = {
    name: _kinds(table)
    for name, table in (
        ("recordings", t.recordings),
        ("files", t.recording_files),
        ("job", t.jobs),
        ("steps", t.job_steps),
        ("transcript", t.transcripts),
        ("segments", t.transcript_segments),
        ("analyses", t.analyses),
    )
}


def _typed(row: dict[str, Any], table: str) -> dict[str, Any]:
    """A row of JSON values with the column types the drivers give."""
    times, floats = _TABLE_KINDS[table]
    for name in times:
        value = row.get(name)
        if value is not None:
            row[name] = datetime.fromisoformat(value).astimezone(UTC)
    for name in floats:
        value = row.get(name)
        if value is not None:
            row[name] = float(value)
    return row


class _Prefetched:
    """What a unit of work's last detailed ``recordings.get`` read of the other tables,
    for the ``jobs``/``transcripts``/``analyses`` calls that follow it (each once)."""

    def __init__(self) -> None:
        self.by_recording: dict[str, dict[str, Any]] = {}

    def take(self, recording_id: str, part: str) -> tuple[bool, Any]:
        found = self.by_recording.get(recording_id)
        if found is None or part not in found:
            return False, None
        return True, found.pop(part)


class _NativeRecordings(SqlRecordingRepository):
    def __init__(self, conn: Any, counts: RecordingCounts | None, prefetched: _Prefetched) -> None:
        super().__init__(conn, counts)
        self._native = conn
        self._prefetched = prefetched

    async def get(self, recording_id: RecordingId, owner_id: UserId | None = None) -> Recording:
        conn = self._native.raw
        if owner_id is None:
            record = await conn.fetchrow(_DETAILS, recording_id)
        else:
            record = await conn.fetchrow(_DETAILS_OF_OWNER, recording_id, owner_id)
        if record is None:
            raise RecordingNotFoundError("Not found.")
        row = dict(record)
        for name in _TABLE_KINDS["recordings"][0]:
            if row[name] is not None:
                row[name] = row[name].astimezone(UTC)
        files = [_stored_file(_typed(f, "files")) for f in row["x_files"] or ()]
        job = None
        if row["x_job"] is not None:
            steps = [_step(_typed(s, "steps")) for s in row["x_steps"] or ()]
            job = _job(_typed(row["x_job"], "job"), steps)
        transcript = None
        if row["x_transcript"] is not None:
            segments = [_typed(s, "segments") for s in row["x_segments"] or ()]
            transcript = _transcript(
                recording_id, _typed(row["x_transcript"], "transcript"), segments
            )
        order = list(AnalysisKind)
        analyses = sorted(
            (_analysis(_typed(a, "analyses")) for a in row["x_analyses"] or ()),
            key=lambda a: order.index(a.kind),
        )
        self._prefetched.by_recording[recording_id] = {
            "job": job,
            "transcript": transcript,
            "analyses": analyses,
        }
        return _recording(row, _sorted_files(files))


class _NativeJobs(SqlJobRepository):
    def __init__(self, conn: Any, prefetched: _Prefetched) -> None:
        super().__init__(conn)
        self._prefetched = prefetched

    async def for_recording(self, recording_id: RecordingId) -> Job | None:
        found, job = self._prefetched.take(recording_id, "job")
        return job if found else await super().for_recording(recording_id)


class _NativeTranscripts(SqlTranscriptRepository):
    def __init__(self, conn: Any, prefetched: _Prefetched) -> None:
        super().__init__(conn)
        self._prefetched = prefetched

    async def get(self, recording_id: RecordingId) -> Transcript | None:
        found, transcript = self._prefetched.take(recording_id, "transcript")
        return transcript if found else await super().get(recording_id)


class _NativeAnalyses(SqlAnalysisRepository):
    def __init__(self, conn: Any, prefetched: _Prefetched) -> None:
        super().__init__(conn)
        self._prefetched = prefetched

    async def list(self, recording_id: RecordingId) -> Sequence[Analysis]:
        found, analyses = self._prefetched.take(recording_id, "analyses")
        return analyses if found else await super().list(recording_id)
