"""One contract suite for the LiveUploadRepository: the in-memory fake, SQLite and
PostgreSQL (through the migrations) behave alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from elyune_adapters.memory import InMemoryState, in_memory_uow
from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import create_engine, upgrade
from elyune_adapters.sql.native import NativePool, NativeUnitOfWork
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core import (
    Recording,
    RecordingId,
    RecordingNotFoundError,
    RecordingStatus,
    User,
    UserId,
)
from elyune_core.entities import ChunkDeclaration, LiveState, LiveUpload
from tests.conftest import reset_schema

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
U1, U2 = UserId("user-1"), UserId("user-2")
R1, R2, R3 = RecordingId("rec-1"), RecordingId("rec-2"), RecordingId("rec-3")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def uow_factory(request, tmp_path):
    if request.param == "memory":
        yield in_memory_uow(InMemoryState())
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database")
        await reset_schema(url)
    engine = create_engine(DatabaseSettings(url=url))
    await upgrade(engine)
    yield lambda: SqlUnitOfWork(engine)
    await engine.dispose()


def _recording(rid: RecordingId, owner: UserId) -> Recording:
    return Recording(
        id=rid,
        owner_id=owner,
        title="Live",
        filename="live.webm",
        source_key=f"recordings/{owner}/{rid}/live.webm",
        status=RecordingStatus.AWAITING_UPLOAD,
        created_at=NOW,
        updated_at=NOW,
    )


def _live(rid: RecordingId, owner: UserId = U1) -> LiveUpload:
    return LiveUpload(
        recording_id=rid,
        owner_id=owner,
        state=LiveState.RECORDING,
        created_at=NOW,
        updated_at=NOW,
        last_chunk_at=NOW,
    )


def _chunk(index: int, size: int = 100, md5: str = "1B2M2Y8AsgTpgAmY7PhCfg==") -> ChunkDeclaration:
    return ChunkDeclaration(index=index, size=size, md5=md5, declared_at=NOW)


@pytest.fixture
async def seeded(uow_factory):
    async with uow_factory() as uow:
        for uid in (U1, U2):
            await uow.users.add(User(uid, f"person-{uid}", "hash", NOW))
        for rid, owner in ((R1, U1), (R2, U1), (R3, U2)):
            await uow.recordings.add(_recording(rid, owner))
        await uow.commit()
    return uow_factory


async def test_a_live_upload_round_trips_and_is_found_only_for_its_owner(seeded):
    async with seeded() as uow:
        await uow.live.add(_live(R1))
        await uow.commit()
    async with seeded() as uow:
        assert await uow.live.get(R1) == _live(R1)
        assert await uow.live.get(R1, U1) == _live(R1)
        with pytest.raises(RecordingNotFoundError):
            await uow.live.get(R1, U2)
        with pytest.raises(RecordingNotFoundError):
            await uow.live.get(R2)
        with pytest.raises(RecordingNotFoundError):
            await uow.live.lock(R2)
        assert await uow.live.find(R2) is None
        assert (await uow.live.find(R1)) == _live(R1)


async def test_save_updates_every_field_and_lock_reads_it(seeded):
    async with seeded() as uow:
        await uow.live.add(_live(R1))
        await uow.commit()
    later = NOW + timedelta(minutes=5)
    changed = attrs.evolve(
        _live(R1),
        state=LiveState.FINISHED,
        updated_at=later,
        last_chunk_at=later,
        expected_chunks=42,
        finished_at=later,
        cursor={"media_seconds": 12.5, "chunks_processed": 3, "parts": [1, 2]},
        lease_owner="worker-1",
        lease_until=later + timedelta(seconds=30),
        version=3,
        note="Finished automatically.",
        processed=True,
    )
    async with seeded() as uow:
        locked = await uow.live.lock(R1)
        assert locked.state is LiveState.RECORDING
        await uow.live.save(changed)
        await uow.commit()
    async with seeded() as uow:
        assert await uow.live.get(R1) == changed
        assert (await uow.live.get(R1)).leased(later)
        assert not (await uow.live.get(R1)).leased(later + timedelta(minutes=1))


async def test_without_commit_nothing_is_kept(seeded):
    async with seeded() as uow:
        await uow.live.add(_live(R1))
        await uow.live.declare(R1, [_chunk(0)])
    async with seeded() as uow:
        assert await uow.live.find(R1) is None
        assert await uow.live.chunks(R1) == {}


async def test_declare_inserts_and_replaces_by_index(seeded):
    async with seeded() as uow:
        await uow.live.add(_live(R1))
        await uow.live.add(_live(R3, U2))
        await uow.live.declare(R1, [_chunk(2), _chunk(0), _chunk(1)])
        await uow.live.declare(R3, [_chunk(0, 7)])
        await uow.live.declare(R1, [])
        await uow.commit()
    async with seeded() as uow:
        await uow.live.declare(R1, [_chunk(1, 555, "XUFAKrxLKna5cZ2REBfFkg=="), _chunk(999_999)])
        await uow.commit()
    async with seeded() as uow:
        chunks = await uow.live.chunks(R1)
        assert list(chunks) == [0, 1, 2, 999_999]
        assert chunks[1] == _chunk(1, 555, "XUFAKrxLKna5cZ2REBfFkg==")
        assert chunks[0] == _chunk(0)
        # from an index on: what a processor that has read the first chunks asks for
        assert list(await uow.live.chunks(R1, 2)) == [2, 999_999]
        assert await uow.live.chunks(R1, 1_000_000) == {}
        assert await uow.live.chunks(R3) == {0: _chunk(0, 7)}
        assert await uow.live.chunks(R2) == {}
        # a chunk request's own chunks, and the quota's sum, without reading every row
        assert await uow.live.declared(R1, [2, 1, 5, 2]) == {
            1: _chunk(1, 555, "XUFAKrxLKna5cZ2REBfFkg=="),
            2: _chunk(2),
        }
        assert await uow.live.declared(R1, []) == {}
        assert await uow.live.declared(R2, [0]) == {}
        sizes = [c.size for c in chunks.values()]
        assert await uow.live.declared_bytes(R1) == sum(sizes)
        assert await uow.live.declared_bytes(R3) == 7
        assert await uow.live.declared_bytes(R2) == 0


async def test_active_lists_recording_or_unprocessed_uploads(seeded):
    async with seeded() as uow:
        await uow.live.add(_live(R1))
        await uow.live.add(attrs.evolve(_live(R2), state=LiveState.FINISHED, processed=True))
        await uow.live.add(attrs.evolve(_live(R3, U2), state=LiveState.ABANDONED))
        await uow.commit()
    async with seeded() as uow:
        assert sorted(live.recording_id for live in await uow.live.active()) == [R1, R3]
        assert len(await uow.live.active(limit=1)) == 1


async def test_deleting_the_recording_deletes_its_live_rows(seeded):
    async with seeded() as uow:
        await uow.live.add(_live(R1))
        await uow.live.declare(R1, [_chunk(0), _chunk(1)])
        await uow.commit()
    async with seeded() as uow:
        await uow.recordings.delete(R1)
        await uow.commit()
    async with seeded() as uow:
        assert await uow.live.find(R1) is None
        assert await uow.live.chunks(R1) == {}


async def test_the_native_read_unit_of_work_reads_live_uploads(request):
    """PostgreSQL's read units of work (asyncpg without SQLAlchemy's execution layer:
    the status route's) read what the SQL repository wrote."""
    url = request.getfixturevalue("pg_database")
    await reset_schema(url)
    engine = create_engine(DatabaseSettings(url=url))
    await upgrade(engine)
    pool = NativePool(engine, 2)
    try:
        async with SqlUnitOfWork(engine) as uow:
            await uow.users.add(User(U1, "person", "hash", NOW))
            await uow.recordings.add(_recording(R1, U1))
            await uow.live.add(_live(R1))
            await uow.live.declare(R1, [_chunk(0), _chunk(1, 5)])
            await uow.commit()
        async with NativeUnitOfWork(pool) as uow:
            assert await uow.live.get(R1, U1) == _live(R1)
            assert await uow.live.find(R2) is None
            assert await uow.live.chunks(R1) == {0: _chunk(0), 1: _chunk(1, 5)}
            assert [live.recording_id for live in await uow.live.active()] == [R1]
    finally:
        await pool.close()
        await engine.dispose()
