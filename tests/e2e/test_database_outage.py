"""PostgreSQL connections dropped under the API: 503 with a message, then recovery."""

from __future__ import annotations

import asyncpg
import pytest

from elyune_adapters.container import resolve
from tests.conftest import PG_HOST, PG_PORT, PG_USER, reset_schema

pytestmark = pytest.mark.postgres


async def _admin(sql: str, *args: object) -> None:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_dropped_connections_give_503_then_the_api_recovers(make_api, pg_database):
    await reset_schema(pg_database)
    name = pg_database.rsplit("/", 1)[1]
    # Superusers ignore connection limits: the API connects as an ordinary role.
    role = "elyune_outage_test"
    await _admin(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {role} LOGIN; END IF; END $$"
    )
    owner = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
    try:
        await owner.execute(f"GRANT ALL ON SCHEMA public TO {role}")
        await owner.execute(f'GRANT ALL ON DATABASE "{name}" TO {role}')
    finally:
        await owner.close()
    api = await make_api(DATABASE_URL=f"postgresql+asyncpg://{role}@{PG_HOST}:{PG_PORT}/{name}")
    await (await resolve(api.container.schema())).upgrade()
    token = await api.user()
    assert (await api.client.get("/api/v1/recordings/", headers=api.auth(token))).status == 200
    try:
        # The outage: nobody may connect, and every open connection is killed.
        await _admin(f'ALTER DATABASE "{name}" CONNECTION LIMIT 0')
        await _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        down = await api.client.get("/api/v1/recordings/", headers=api.auth("x" * 10))
        assert down.status == 401  # a bad token is still refused before any database work
        for path in ("/api/v1/recordings/?page_size=7", "/readyz"):
            response = await api.client.get(path, headers=api.auth(token))
            assert response.status == 503, await response.text()
            body = await response.json()
            text = body.get("detail") or str(body.get("checks"))
            assert "database" in text.lower()
    finally:
        await _admin(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1')
    again = await api.client.get("/api/v1/recordings/?page_size=7", headers=api.auth(token))
    assert again.status == 200
    assert (await api.client.get("/readyz")).status == 200
