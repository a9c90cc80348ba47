"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from tests.support.aio import run_sync

PG_HOST = os.environ.get("ELYUNE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ELYUNE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("ELYUNE_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("ELYUNE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=10
        )
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - environment
        pytest.fail(
            f"PostgreSQL is needed at {PG_HOST}:{PG_PORT} for this test ({exc}); "
            "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"elyune_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await _admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await _admin()
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                name,
            )
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await conn.close()

    run_sync(create())
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        run_sync(drop())


async def reset_schema(url: str) -> None:
    """Drop every table of the database at *url* (a fresh, empty public schema)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        await conn.exec_driver_sql("CREATE SCHEMA public")
    await engine.dispose()
