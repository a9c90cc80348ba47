"""Data at rest (issue 10, item 9): a private data folder and database, and webhook
secrets that a copy of the database does not give away."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from elyune_adapters.container import create_container, derive_key, resolve
from elyune_adapters.settings import DatabaseSettings, load_settings
from elyune_adapters.sql.engine import create_engine, upgrade
from elyune_adapters.sql.sealing import SecretBox
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core.ids import UserId, WebhookId
from elyune_core.use_cases import CreateUserInput, CreateWebhookInput
from tests.conftest import reset_schema


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _started(data: Path, **env: str):
    settings = load_settings({"ELYUNE_DATA_DIR": str(data), "WEBHOOK_ALLOW_PRIVATE": "true", **env})
    container = create_container(settings)
    await resolve(container.init_resources())
    return container


async def _webhook(container) -> tuple[str, str]:
    user = await (await resolve(container.create_user())).execute(
        CreateUserInput("alice", "correct horse battery")
    )
    endpoint = await (await resolve(container.create_webhook())).execute(
        CreateWebhookInput(user.id, "http://127.0.0.1:9/hook", ("transcript.ready",))
    )
    return endpoint.id, endpoint.secret


async def test_the_data_folder_and_database_are_private_even_under_umask_022(tmp_path):
    data = tmp_path / "data"
    container = await _started(data)
    try:
        await _webhook(container)  # writes: the WAL file exists now
    finally:
        await resolve(container.shutdown_resources())
    assert _mode(data) == 0o700
    assert _mode(data / "objects") == 0o700
    assert _mode(data / "secret.key") == 0o600
    database = data / "elyune.sqlite3"
    assert _mode(database) == 0o600
    for sibling in data.glob("elyune.sqlite3-*"):
        assert _mode(sibling) == 0o600, sibling


async def test_an_existing_open_data_folder_is_tightened(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "elyune.sqlite3").touch()
    (data / "elyune.sqlite3").chmod(0o644)
    container = await _started(data)
    await resolve(container.shutdown_resources())
    assert _mode(data) == 0o700
    assert _mode(data / "elyune.sqlite3") == 0o600


async def test_webhook_secrets_are_stored_sealed_and_read_back_plain(tmp_path):
    data = tmp_path / "data"
    container = await _started(data)
    try:
        webhook_id, secret = await _webhook(container)
        listed = await (await resolve(container.list_webhooks())).execute(await _owner(container))
        assert [e.secret for e in listed] == [secret]  # deliveries can still sign
    finally:
        await resolve(container.shutdown_resources())
    with sqlite3.connect(data / "elyune.sqlite3") as db:
        (stored,) = db.execute("SELECT secret FROM webhooks").fetchone()
    assert stored.startswith("enc1:")
    assert secret not in stored
    on_disk = b"".join(p.read_bytes() for p in data.glob("elyune.sqlite3*"))
    assert secret.encode() not in on_disk
    # the key comes from the server secret: another secret cannot open it
    other = SecretBox(derive_key(b"another server secret of some length", "webhook-secrets"))
    with pytest.raises(Exception, match="JWT_SECRET_KEY"):
        other.open(stored, webhook_id)
    # and a sealed value moved to another row does not open
    box = SecretBox(derive_key((data / "secret.key").read_bytes().strip(), "webhook-secrets"))
    assert box.open(stored, webhook_id) == secret
    with pytest.raises(Exception, match="decrypted"):
        box.open(stored, "another-row")


async def _owner(container) -> UserId:
    async with (await resolve(container.uow()))() as uow:
        user = await uow.users.get_by_username("alice")
    return user.id


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    url = request.getfixturevalue("pg_database")
    await reset_schema(url)
    return url


async def test_the_migration_seals_secrets_stored_in_clear(database_url):
    engine = create_engine(DatabaseSettings(url=database_url))
    box = SecretBox(b"k" * 32)
    try:
        await upgrade(engine, "0002")
        now = datetime.now(UTC)
        plain = "whsec_" + "x" * 43
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO users (id, username, password_hash, is_active, created_at) "
                    "VALUES ('u1', 'alice', '!', true, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO webhooks (id, owner_id, url, events, secret, description, "
                    "is_active, created_at) VALUES ('w1', 'u1', 'https://example.com/h', "
                    "'[\"transcript.ready\"]', :secret, '', true, :now)"
                ),
                {"secret": plain, "now": now},
            )
        with pytest.raises(RuntimeError, match="server secret"):
            await upgrade(engine)  # without the key, nothing is left half done
        await upgrade(engine, box=box)
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT secret FROM webhooks"))).scalar_one()
        assert stored.startswith("enc1:") and plain not in stored
        async with SqlUnitOfWork(engine, box=box) as uow:
            endpoint = await uow.webhooks.get(WebhookId("w1"), UserId("u1"))
        assert endpoint.secret == plain
    finally:
        await engine.dispose()


async def test_migrating_keeps_every_users_recordings_and_webhooks(database_url):
    """On SQLite, a migration that rebuilds ``users`` (Alembic's batch mode) once deleted
    every row pointing at it (ON DELETE CASCADE): an upgrade lost all recordings."""
    engine = create_engine(DatabaseSettings(url=database_url))
    box = SecretBox(b"k" * 32)
    try:
        await upgrade(engine, "0005", box=box)
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO users (id, username, password_hash, is_active, created_at) "
                    "VALUES ('u1', 'alice', '!', true, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO recordings (id, owner_id, title, description, filename, "
                    "source_key, status, file_size, has_system_audio, has_microphone, "
                    "speaker_names, created_at, updated_at) VALUES ('r1', 'u1', 'Standup', "
                    "'', 'a.webm', 'recordings/u1/r1/source.webm', 'ready', 10, false, true, "
                    "'{}', :now, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO webhooks (id, owner_id, url, events, secret, description, "
                    "is_active, created_at) VALUES ('w1', 'u1', 'https://example.com/h', "
                    "'[]', 'enc1:x', '', true, :now)"
                ),
                {"now": now},
            )
        await upgrade(engine, box=box)
        async with engine.connect() as conn:
            for table in ("users", "recordings", "webhooks"):
                query = sa.text(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
                count = (await conn.execute(query)).scalar()
                assert count == 1, table
    finally:
        await engine.dispose()
