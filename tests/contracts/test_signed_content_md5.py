"""Chunk URLs of live uploads on a real S3 server (SeaweedFS ``weed mini``): our SigV4
presigning signs ``Content-MD5``, so the server takes only the declared bytes.

Also the store listing the chunks (``ObjectStore.list``) with their MD5 ETags, as
``received_chunks`` reads them, on the three stores.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from elyune_adapters.memory import InMemoryObjectStore
from elyune_adapters.settings import StorageSettings
from elyune_adapters.storage import sigv4
from elyune_adapters.storage.local import LocalObjectStore
from elyune_adapters.storage.minio import MinioObjectStore
from elyune_adapters.storage.signing import UrlSigner
from elyune_core import RecordingId, UserId
from elyune_core._keys import chunk_key
from elyune_core.entities import ChunkDeclaration
from elyune_core.errors import ObjectNotFoundError
from elyune_core.ports import ObjectStore
from elyune_core.use_cases import received_chunks
from elyune_core.use_cases.live_upload import chunks_prefix
from tests.support.aio import run_sync
from tests.support.seaweed import SeaweedServer

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
BODY = b"a WebM cluster or two" * 100


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324


@pytest.fixture(scope="module")
def settings(seaweed: SeaweedServer) -> StorageSettings:
    settings = StorageSettings(
        kind="minio",
        root=Path("unused"),
        endpoint=seaweed.endpoint,
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
        bucket=f"elyune-md5-{uuid.uuid4().hex[:16]}",
        secure=False,
        region="us-east-1",
    )
    store = MinioObjectStore.from_settings(settings)
    run_sync(store.ensure_bucket())
    store.close()
    return settings


@pytest.fixture
def minio_store(settings: StorageSettings) -> Iterator[MinioObjectStore]:
    store = MinioObjectStore.from_settings(settings)
    yield store
    store.close()


@pytest.fixture
def owner() -> tuple[UserId, RecordingId]:
    return UserId(uuid.uuid4().hex), RecordingId(uuid.uuid4().hex)


async def _put(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, data=data, headers=headers) as response,
    ):
        return response.status, await response.text(), response.headers.copy()


async def test_the_signed_digest_lets_only_the_declared_bytes_in(minio_store, owner):
    key = chunk_key(*owner, 0)
    digest = md5_b64(BODY)
    url = await minio_store.presign_put(
        key, timedelta(minutes=5), "video/webm", len(BODY), content_md5=digest
    )
    assert "X-Amz-SignedHeaders=content-md5%3Bhost" in url

    # other bytes with the signed header: the server compares the digest
    status, text, _ = await _put(url, b"x" * len(BODY), {"Content-MD5": digest})
    assert status == 400 and "BadDigest" in text
    with pytest.raises(ObjectNotFoundError):
        await minio_store.stat(key)

    # no header, or another digest (of the bytes sent): the signature does not match
    status, text, _ = await _put(url, BODY, {})
    assert status == 403, text
    other = b"other bytes"
    status, text, _ = await _put(url, other, {"Content-MD5": md5_b64(other)})
    assert status == 403 and "SignatureDoesNotMatch" in text
    with pytest.raises(ObjectNotFoundError):
        await minio_store.stat(key)

    status, text, headers = await _put(
        url, BODY, {"Content-MD5": digest, "Content-Type": "video/webm"}
    )
    assert status == 200, text
    assert headers["ETag"].strip('"') == hashlib.md5(BODY).hexdigest()  # noqa: S324
    assert (await minio_store.stat(key)).size == len(BODY)
    # the same bytes again are taken again
    status, _, _ = await _put(url, BODY, {"Content-MD5": digest})
    assert status == 200


async def test_an_expired_chunk_url_is_refused(minio_store, settings, owner):
    key = chunk_key(*owner, 1)
    digest = md5_b64(BODY)
    url = sigv4.presign_put(
        endpoint_url=f"http://{settings.endpoint}",
        bucket=settings.bucket,
        key=key,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        region="us-east-1",
        expires=timedelta(seconds=60),
        headers={"Content-MD5": digest},
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    status, text, _ = await _put(url, BODY, {"Content-MD5": digest})
    assert status == 403, text
    with pytest.raises(ObjectNotFoundError):
        await minio_store.stat(key)
    fresh = sigv4.presign_put(
        endpoint_url=f"http://{settings.endpoint}",
        bucket=settings.bucket,
        key=key,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        region="us-east-1",
        expires=timedelta(seconds=60),
        headers={"Content-MD5": digest},
    )
    status, text, _ = await _put(fresh, BODY, {"Content-MD5": digest})
    assert status == 200, text


@pytest.fixture(params=["memory", "local", "minio"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "memory":
        return InMemoryObjectStore()
    if request.param == "local":
        return LocalObjectStore(
            tmp_path / "objects", UrlSigner(b"contract-test-secret-0123", "http://testserver")
        )
    minio: MinioObjectStore = request.getfixturevalue("minio_store")
    return minio


async def test_listing_gives_sizes_and_md5_etags_for_received_chunks(store, owner):
    user, recording = owner
    chunks = {i: bytes([i]) * (100 + i) for i in range(4)}
    for i, data in chunks.items():
        await store.put_bytes(chunk_key(user, recording, i), data, "video/webm")
    await store.put_bytes(chunk_key(user, RecordingId(uuid.uuid4().hex), 0), b"elsewhere", "x")
    listing = await store.list(chunks_prefix(user, recording))
    assert [info.key for info in listing] == [chunk_key(user, recording, i) for i in range(4)]
    assert [info.size for info in listing] == [100, 101, 102, 103]
    assert [info.etag for info in listing] == [
        hashlib.md5(chunks[i]).hexdigest()  # noqa: S324
        for i in range(4)
    ]
    # after a key: what a live processor that has read the first two chunks lists
    after = await store.list(
        chunks_prefix(user, recording), start_after=chunk_key(user, recording, 1)
    )
    assert [info.key for info in after] == [chunk_key(user, recording, i) for i in (2, 3)]
    assert [info.etag for info in after] == [info.etag for info in listing[2:]]
    last = chunk_key(user, recording, 3)
    assert await store.list(chunks_prefix(user, recording), start_after=last) == []
    declared = {
        0: ChunkDeclaration(0, 100, md5_b64(chunks[0]), NOW),
        1: ChunkDeclaration(1, 999, md5_b64(chunks[1]), NOW),  # wrong size
        2: ChunkDeclaration(2, 102, md5_b64(b"other"), NOW),  # wrong digest
        5: ChunkDeclaration(5, 10, md5_b64(b"never"), NOW),  # not stored
    }
    found = received_chunks(listing, declared)
    assert found.received == (0,) and found.refused == (1, 2)
    assert found.received_bytes == 100
    assert found.missing(declared) == (1, 2, 5)
    assert await store.list(chunks_prefix(user, RecordingId("nothing-here"))) == []
    # one chunk deleted by its key (as the status route deletes a refused chunk)
    await store.delete_prefix(chunk_key(user, recording, 1))
    keys = [info.key for info in await store.list(chunks_prefix(user, recording))]
    assert keys == [chunk_key(user, recording, i) for i in (0, 2, 3)]
