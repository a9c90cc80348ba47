"""One ObjectStore contract suite for the in-memory fake, LocalObjectStore and
MinioObjectStore on SeaweedFS.

The MinIO adapter runs against ``weed mini``, a real S3 server that checks signatures,
expiry times and POST policies; its presigned URLs are exercised with plain HTTP, as a
browser would use them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import attrs
import pytest
from aiohttp import web

from elyune_adapters.memory import InMemoryObjectStore
from elyune_adapters.settings import SettingsError, StorageSettings
from elyune_adapters.storage.local import LocalObjectStore
from elyune_adapters.storage.minio import MinioObjectStore
from elyune_adapters.storage.signing import UrlSigner
from elyune_core.errors import (
    InvalidKeyError,
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectStoreUnavailableError,
)
from elyune_core.ports import DeletedObjects, ObjectStore
from tests.support.aio import run_sync
from tests.support.seaweed import SeaweedServer, free_ports

MiB = 1 << 20
CORS_ORIGIN = "chrome-extension://elyunetestextensionid"

BAD_KEYS = [
    "../escape.webm",
    "recordings/../../etc/passwd",
    "recordings/./source.webm",
    "/recordings/u/r/source.webm",
    "recordings\\u\\source.webm",
    "recordings//source.webm",
    "recordings/u/r/",
    "",
]
BAD_PREFIXES = ["", "/", "..", "../recordings/", "/recordings/", "recordings/../", "a\\b/"]


# --------------------------------------------------------------------------- fixtures


def minio_settings(
    server: SeaweedServer, bucket: str, endpoint: str | None = None
) -> StorageSettings:
    return StorageSettings(
        kind="minio",
        root=Path("unused"),
        endpoint=endpoint or server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        bucket=bucket,
        # The browser's view of the same server: another host name, so another signature.
        public_endpoint=f"http://localhost:{server.port}",
    )


@pytest.fixture(scope="module")
def bucket_settings(seaweed: SeaweedServer) -> StorageSettings:
    """Settings of a bucket made for this module (uuid-unique) on the session's SeaweedFS."""
    settings = minio_settings(seaweed, f"elyune-test-{uuid.uuid4().hex[:16]}")
    store = MinioObjectStore.from_settings(settings, cors_origins=(CORS_ORIGIN,))
    run_sync(store.ensure_bucket())
    store.close()
    return settings


@pytest.fixture
def minio_store(bucket_settings: StorageSettings) -> Iterator[MinioObjectStore]:
    store = MinioObjectStore.from_settings(bucket_settings)
    yield store
    store.close()


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


@pytest.fixture(params=["local", "minio"])
def broken_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """A store that cannot work: a folder under a plain file, or nothing listening."""
    if request.param == "local":
        blocker = tmp_path / "not-a-folder"
        blocker.write_bytes(b"")
        yield LocalObjectStore(blocker / "objects", UrlSigner(b"x" * 32, "http://testserver"))
        return
    (port,) = free_ports(1)
    store = MinioObjectStore(
        f"127.0.0.1:{port}", "access", "secret-never-shown-0123", "media", retries=0
    )
    yield store
    store.close()


@pytest.fixture
def prefix() -> str:
    """A fresh recording prefix, so tests never see each other's objects."""
    return f"recordings/{uuid.uuid4().hex}/{uuid.uuid4().hex}"


async def read_all(store: ObjectStore, key: str, chunk_size: int = 1 << 20) -> bytes:
    return b"".join([chunk async for chunk in store.iter_bytes(key, chunk_size)])


# --------------------------------------------------------------------------- contract


async def test_put_bytes_then_stat_gives_size_and_type(store: ObjectStore, prefix: str) -> None:
    """put_bytes stores the bytes; stat reports their size, an etag and a time."""
    key = f"{prefix}/transcript.json"
    info = await store.put_bytes(key, b'{"text": "hello"}', "application/json")
    assert (info.key, info.size) == (key, 17)

    stat = await store.stat(key)
    assert stat.key == key
    assert stat.size == 17
    assert stat.content_type == "application/json"
    assert stat.etag
    assert stat.modified_at is not None
    assert stat.modified_at.tzinfo is not None


async def test_put_file_then_stat_and_read(store: ObjectStore, prefix: str, tmp_path: Path) -> None:
    """put_file stores a local file; stat and iter_bytes give it back."""
    content = os.urandom(300_000)
    source = tmp_path / "video.mp4"
    source.write_bytes(content)
    key = f"{prefix}/video.mp4"

    info = await store.put_file(key, source, "video/mp4")

    assert info.size == len(content)
    assert (await store.stat(key)).size == len(content)
    assert await read_all(store, key) == content


async def test_put_replaces_an_existing_object(store: ObjectStore, prefix: str) -> None:
    """A second put under the same key replaces the object."""
    key = f"{prefix}/audio.wav"
    await store.put_bytes(key, b"first version", "audio/wav")
    await store.put_bytes(key, b"second", "audio/wav")
    assert await read_all(store, key) == b"second"
    assert (await store.stat(key)).size == 6


async def test_put_file_of_a_missing_local_file_is_not_found(
    store: ObjectStore, prefix: str, tmp_path: Path
) -> None:
    """Uploading a local file that does not exist raises ObjectNotFoundError."""
    with pytest.raises(ObjectNotFoundError):
        await store.put_file(f"{prefix}/video.mp4", tmp_path / "missing.mp4", "video/mp4")


async def test_empty_object_round_trips(store: ObjectStore, prefix: str) -> None:
    """An empty object can be stored, stat'ed and read."""
    key = f"{prefix}/empty.txt"
    await store.put_bytes(key, b"", "text/plain")
    assert (await store.stat(key)).size == 0
    assert await read_all(store, key) == b""


async def test_iter_bytes_chunks_concatenate_to_the_content(
    store: ObjectStore, prefix: str
) -> None:
    """iter_bytes yields chunks of at most chunk_size that add up to the object."""
    content = os.urandom(100_003)
    key = f"{prefix}/source.webm"
    await store.put_bytes(key, content, "video/webm")

    chunks = [chunk async for chunk in store.iter_bytes(key, chunk_size=8192)]

    assert b"".join(chunks) == content
    assert len(chunks) > 1
    assert all(0 < len(chunk) <= 8192 for chunk in chunks)


async def test_iter_bytes_can_stop_early(store: ObjectStore, prefix: str) -> None:
    """Closing the iterator after one chunk releases it; the store keeps working."""
    key = f"{prefix}/source.webm"
    await store.put_bytes(key, os.urandom(200_000), "video/webm")

    chunks = store.iter_bytes(key, chunk_size=1000)
    first = await anext(chunks)
    await chunks.aclose()

    assert len(first) == 1000
    assert (await store.stat(key)).size == 200_000


async def test_local_copy_gives_the_bytes_and_then_cleans_up(
    store: ObjectStore, prefix: str
) -> None:
    """local_copy gives a file with the object's bytes; a downloaded copy is deleted after."""
    content = os.urandom(50_000)
    key = f"{prefix}/source.webm"
    await store.put_bytes(key, content, "video/webm")

    async with store.local_copy(key) as path:
        assert path.read_bytes() == content
        assert path.suffix == ".webm"

    if isinstance(store, MinioObjectStore):
        assert not path.exists()
        assert not path.parent.exists()


async def test_local_copy_refuses_an_object_larger_than_allowed(
    store: ObjectStore, prefix: str
) -> None:
    """A source replaced by a larger file is refused instead of copied whole."""
    key = f"{prefix}/source.webm"
    content = os.urandom(300_000)
    await store.put_bytes(key, content, "video/webm")

    async with store.local_copy(key, max_size=len(content)) as path:
        assert path.read_bytes() == content
    with pytest.raises(ObjectChangedError, match="replaced after the upload"):
        async with store.local_copy(key, max_size=len(content) - 1):
            pytest.fail("the body must not run")


async def test_a_refused_download_leaves_no_temporary_file(
    bucket_settings: StorageSettings, prefix: str, tmp_path: Path
) -> None:
    store = MinioObjectStore.from_settings(bucket_settings, temp_dir=tmp_path)
    key = f"{prefix}/source.webm"
    await store.put_bytes(key, os.urandom(3 << 20), "video/webm")
    try:
        with pytest.raises(ObjectChangedError):
            async with store.local_copy(key, max_size=1 << 20):
                pass
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


async def test_local_copy_is_deleted_when_the_body_fails(
    minio_store: MinioObjectStore, prefix: str
) -> None:
    """An error inside the ``async with`` body still removes the temporary copy."""
    key = f"{prefix}/source.webm"
    await minio_store.put_bytes(key, b"media", "video/webm")

    copies: list[Path] = []

    async def fail_inside() -> None:
        async with minio_store.local_copy(key) as path:
            copies.append(path)
            assert path.exists()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_inside()

    assert not copies[0].exists()
    assert not copies[0].parent.exists()


async def test_local_copy_is_deleted_when_cancelled(
    bucket_settings: StorageSettings, prefix: str, tmp_path: Path
) -> None:
    """Cancelling during the download or inside the body leaves no temporary file."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    settings = bucket_settings
    assert settings.endpoint and settings.access_key and settings.secret_key
    store = MinioObjectStore(
        settings.endpoint,
        settings.access_key,
        settings.secret_key,
        settings.bucket,
        temp_dir=scratch,
    )
    key = f"{prefix}/source.webm"
    await store.put_bytes(key, bytes(24 * MiB), "video/webm")
    entered = asyncio.Event()

    async def use_copy() -> None:
        async with store.local_copy(key):
            entered.set()
            await asyncio.sleep(60)

    during_download = asyncio.create_task(use_copy())
    await asyncio.sleep(0.02)
    during_download.cancel()
    with pytest.raises(asyncio.CancelledError):
        await during_download

    in_body = asyncio.create_task(use_copy())
    await asyncio.wait_for(entered.wait(), 30)
    in_body.cancel()
    with pytest.raises(asyncio.CancelledError):
        await in_body

    for _ in range(100):  # a cancelled download's thread stops at its next chunk
        if not any(scratch.iterdir()):
            break
        await asyncio.sleep(0.05)
    assert list(scratch.iterdir()) == []
    store.close()


@pytest.mark.parametrize("operation", ["stat", "iter_bytes", "local_copy"])
async def test_a_missing_key_is_not_found(store: ObjectStore, prefix: str, operation: str) -> None:
    """Reading a key that holds no object raises ObjectNotFoundError."""
    key = f"{prefix}/nothing-here.webm"

    async def read() -> None:
        if operation == "stat":
            await store.stat(key)
        elif operation == "iter_bytes":
            await read_all(store, key)
        else:
            async with store.local_copy(key):
                pass

    with pytest.raises(ObjectNotFoundError):
        await read()


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_unsafe_keys_are_refused_before_any_io(
    broken_store: ObjectStore, key: str, tmp_path: Path
) -> None:
    """Keys with ``..``, a leading ``/``, backslashes or empty segments raise InvalidKeyError.

    The store cannot do any I/O (it would raise ObjectStoreUnavailableError), so the key
    is refused before any is tried.
    """
    source = tmp_path / "file.bin"
    source.write_bytes(b"data")
    day = timedelta(days=1)
    attempts = [
        lambda: broken_store.put_bytes(key, b"data", "application/octet-stream"),
        lambda: broken_store.put_file(key, source, "application/octet-stream"),
        lambda: broken_store.stat(key),
        lambda: read_all(broken_store, key),
        lambda: broken_store.presign_get(key, day),
        lambda: broken_store.presign_put(key, day, "video/webm", 10),
        lambda: broken_store.presign_post(key, day, 10),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidKeyError):
            await attempt()
    with pytest.raises(InvalidKeyError):
        async with broken_store.local_copy(key):
            pass


@pytest.mark.parametrize("bad_prefix", BAD_PREFIXES)
async def test_delete_prefix_refuses_unsafe_prefixes(
    broken_store: ObjectStore, bad_prefix: str
) -> None:
    """delete_prefix never runs for an empty or escaping prefix (nor the whole bucket)."""
    with pytest.raises(InvalidKeyError):
        await broken_store.delete_prefix(bad_prefix)


async def test_delete_prefix_removes_only_that_prefix(store: ObjectStore, prefix: str) -> None:
    """Everything under the prefix goes, with its count and bytes; siblings stay."""
    doomed = {f"{prefix}/r1/source.webm": b"12345", f"{prefix}/r1/out/video.mp4": b"123"}
    kept = {
        f"{prefix}/r10/source.webm": b"sibling with a longer name",
        f"{prefix}/r2/source.webm": b"other",
        f"{prefix}/r1.txt": b"not under r1/",
    }
    for key, data in {**doomed, **kept}.items():
        await store.put_bytes(key, data, "application/octet-stream")

    deleted = await store.delete_prefix(f"{prefix}/r1/")

    assert deleted == DeletedObjects(count=2, bytes=8)
    for key in doomed:
        with pytest.raises(ObjectNotFoundError):
            await store.stat(key)
    for key, data in kept.items():
        assert await read_all(store, key) == data
    assert await store.delete_prefix(f"{prefix}/r1/") == DeletedObjects(0, 0)


async def test_check_passes_on_a_working_store(store: ObjectStore) -> None:
    """check() returns quietly when the store answers."""
    await store.check()


async def test_an_unreachable_store_is_unavailable(broken_store: ObjectStore, prefix: str) -> None:
    """check, stat and put raise ObjectStoreUnavailableError when the store is unusable."""
    with pytest.raises(ObjectStoreUnavailableError):
        await broken_store.check()
    with pytest.raises(ObjectStoreUnavailableError):
        await broken_store.stat(f"{prefix}/source.webm")
    with pytest.raises(ObjectStoreUnavailableError):
        await broken_store.put_bytes(f"{prefix}/source.webm", b"x", "video/webm")


@pytest.mark.parametrize("kind", ["local", "minio"])
async def test_a_large_file_goes_through_with_bounded_memory(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, prefix: str
) -> None:
    """A 96 MiB file is uploaded with put_file and copied back with local_copy in bounded memory."""
    store: ObjectStore
    if kind == "local":
        store = LocalObjectStore(tmp_path / "objects", UrlSigner(b"y" * 32, "http://testserver"))
    else:
        minio: MinioObjectStore = request.getfixturevalue("minio_store")
        store = minio
    size = 96 * MiB
    source = tmp_path / "large.webm"
    with source.open("wb") as handle:  # sparse: a hole of zeros, then a marker at the end
        handle.seek(size - 16)
        handle.write(b"END-OF-RECORDING")
    expected = file_digest(source)
    key = f"{prefix}/source.webm"

    tracemalloc.start()
    try:
        info = await store.put_file(key, source, "video/webm")
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        async with store.local_copy(key) as copy:
            assert copy.stat().st_size == size
            _, download_peak = tracemalloc.get_traced_memory()
            assert file_digest(copy) == expected
    finally:
        tracemalloc.stop()

    assert info.size == size
    # Multipart holds (parallel uploads + 2) parts of 5 MiB (about 20 MiB, plus the SDK's
    # buffers): a fraction of the file, and the same whatever the file's size.
    assert upload_peak < 32 * MiB, f"upload peak {upload_peak / MiB:.1f} MiB"
    assert download_peak < 4 * MiB, f"download peak {download_peak / MiB:.1f} MiB"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- minio: set-up


async def test_from_settings_store_at_a_closed_port_is_unavailable(
    bucket_settings: StorageSettings,
) -> None:
    """A store built from settings that point at a closed port fails check() as unavailable."""
    (port,) = free_ports(1)
    settings = attrs.evolve(bucket_settings, endpoint=f"127.0.0.1:{port}")
    store = MinioObjectStore.from_settings(settings)
    with pytest.raises(ObjectStoreUnavailableError) as caught:
        await store.check()
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_wrong_credentials_are_unavailable_and_never_shown(
    bucket_settings: StorageSettings, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused credentials raise ObjectStoreUnavailableError; no message shows the secret."""
    secret = "wrong-secret-never-printed-4711"
    settings = attrs.evolve(bucket_settings, secret_key=secret)
    store = MinioObjectStore.from_settings(settings, cors_origins=(CORS_ORIGIN,))
    caplog.set_level(logging.DEBUG)

    for attempt in (store.check, lambda: store.put_bytes(f"{prefix}/a", b"x", "text/plain")):
        with pytest.raises(ObjectStoreUnavailableError) as caught:
            await attempt()
        assert "refused our credentials" in str(caught.value)
        assert secret not in str(caught.value)
    assert secret not in repr(store)
    assert secret not in caplog.text


async def test_ensure_bucket_creates_the_bucket_once_and_sets_cors(seaweed: SeaweedServer) -> None:
    """ensure_bucket creates a missing bucket, can run again, and lets the origins preflight."""
    settings = minio_settings(seaweed, f"elyune-cors-{uuid.uuid4().hex[:12]}")
    store = MinioObjectStore.from_settings(settings, cors_origins=(CORS_ORIGIN,))
    with pytest.raises(ObjectStoreUnavailableError):
        await store.check()

    await store.ensure_bucket()
    await store.ensure_bucket()
    await store.check()

    url = f"{seaweed.url}/{settings.bucket}/recordings/u/r/source.webm"
    async with aiohttp.ClientSession() as http:
        allowed = await preflight(http, url, CORS_ORIGIN)
        refused = await preflight(http, url, "https://evil.example")
    assert allowed.get("Access-Control-Allow-Origin") == CORS_ORIGIN
    assert "PUT" in allowed.get("Access-Control-Allow-Methods", "")
    assert "ETag" in allowed.get("Access-Control-Expose-Headers", "")
    assert "Access-Control-Allow-Origin" not in refused
    store.close()


async def preflight(http: aiohttp.ClientSession, url: str, origin: str) -> dict[str, str]:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    async with http.options(url, headers=headers) as response:
        return dict(response.headers)


async def test_a_server_without_bucket_cors_only_gets_a_warning(
    aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """ensure_bucket goes on, logging a warning, when the server refuses PutBucketCors."""
    seen: list[tuple[str, str, str]] = []

    async def fake_s3(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, request.query_string))
        if request.method == "HEAD":
            return web.Response(status=200)  # the bucket exists
        return web.Response(
            status=501,
            content_type="application/xml",
            text=(
                '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>'
                "<Message>Not implemented</Message><Resource>/media</Resource>"
                "<RequestId>1</RequestId></Error>"
            ),
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake_s3)
    server = await aiohttp_server(app)
    store = MinioObjectStore(
        f"127.0.0.1:{server.port}",
        "access",
        "secret-never-shown-0123",
        "media",
        region="us-east-1",
        cors_origins=(CORS_ORIGIN,),
        retries=0,
    )
    caplog.set_level(logging.WARNING, logger="elyune_adapters.storage.minio")

    await store.ensure_bucket()

    assert [(method, path) for method, path, _ in seen] == [("HEAD", "/media"), ("PUT", "/media")]
    assert "cors" in seen[1][2]
    assert "NotImplemented" in caplog.text
    assert CORS_ORIGIN in caplog.text
    store.close()


def test_a_public_endpoint_with_a_path_is_refused(bucket_settings: StorageSettings) -> None:
    """AWS_S3_ENDPOINT_URL must be scheme://host:port; S3 signing cannot handle a path."""
    settings = attrs.evolve(bucket_settings, public_endpoint="http://localhost:9000/s3")
    with pytest.raises(SettingsError, match="AWS_S3_ENDPOINT_URL"):
        MinioObjectStore.from_settings(settings)


# --------------------------------------------------------------------------- minio: presigned


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_presigned_put_stores_the_object(
    minio_store: MinioObjectStore,
    bucket_settings: StorageSettings,
    http: aiohttp.ClientSession,
    prefix: str,
) -> None:
    """A PUT to the presigned URL (signed for the public endpoint) stores the body."""
    key = f"{prefix}/source.webm"
    url = await minio_store.presign_put(key, timedelta(minutes=5), "video/webm", 11)
    assert bucket_settings.public_endpoint
    assert url.startswith(f"{bucket_settings.public_endpoint}/{bucket_settings.bucket}/")

    async with http.put(url, data=b"webm bytes!", headers={"Content-Type": "video/webm"}) as put:
        assert put.status == 200

    assert await read_all(minio_store, key) == b"webm bytes!"


async def test_an_expired_presigned_url_is_refused(
    minio_store: MinioObjectStore, http: aiohttp.ClientSession, prefix: str
) -> None:
    """A presigned PUT used after its expiry gets 403 and stores nothing."""
    key = f"{prefix}/source.webm"
    url = await minio_store.presign_put(key, timedelta(seconds=1), "video/webm", 4)
    await asyncio.sleep(2)

    async with http.put(url, data=b"late") as put:
        assert put.status == 403

    with pytest.raises(ObjectNotFoundError):
        await minio_store.stat(key)


async def test_a_tampered_signature_is_refused(
    minio_store: MinioObjectStore, http: aiohttp.ClientSession, prefix: str
) -> None:
    """Changing one character of the signature, or the key, gets 403."""
    key = f"{prefix}/source.webm"
    url = await minio_store.presign_put(key, timedelta(minutes=5), "video/webm", 4)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = urlunsplit(parts._replace(query=urlencode(query)))
    other_key = url.replace("/source.webm?", "/other.webm?")

    for bad_url in (tampered, other_key):
        async with http.put(bad_url, data=b"evil") as put:
            assert put.status == 403

    for stored in (key, f"{prefix}/other.webm"):
        with pytest.raises(ObjectNotFoundError):
            await minio_store.stat(stored)


async def test_a_presigned_get_downloads_the_bytes(
    minio_store: MinioObjectStore, http: aiohttp.ClientSession, prefix: str
) -> None:
    """The presigned GET gives the object, offered under the download name."""
    key = f"{prefix}/video.mp4"
    await minio_store.put_bytes(key, b"mp4 bytes", "video/mp4")
    url = await minio_store.presign_get(key, timedelta(minutes=5), "Réunion d'équipe.mp4")

    async with http.get(url) as get:
        assert get.status == 200
        assert await get.read() == b"mp4 bytes"
        disposition = get.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''R%C3%A9union%20d%27%C3%A9quipe.mp4" in disposition


async def post_form(
    http: aiohttp.ClientSession, url: str, fields: dict[str, str], body: bytes
) -> tuple[int, str]:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", body, filename="recording.webm", content_type="video/webm")
    async with http.post(url, data=form) as response:
        return response.status, await response.text()


async def test_a_presigned_post_within_the_limit_stores_the_object(
    minio_store: MinioObjectStore, http: aiohttp.ClientSession, prefix: str
) -> None:
    """A form upload of at most max_size bytes to the signed key is stored."""
    key = f"{prefix}/source.webm"
    post = await minio_store.presign_post(key, timedelta(minutes=5), max_size=1000)

    status, text = await post_form(http, post.url, dict(post.fields), b"z" * 1000)

    assert status in {200, 201, 204}, text
    assert await read_all(minio_store, key) == b"z" * 1000


async def test_a_presigned_post_over_the_limit_is_refused(
    minio_store: MinioObjectStore, http: aiohttp.ClientSession, prefix: str
) -> None:
    """A form upload above max_size, or to another key, is refused and nothing is stored."""
    key = f"{prefix}/source.webm"
    post = await minio_store.presign_post(key, timedelta(minutes=5), max_size=1000)

    too_big, text = await post_form(http, post.url, dict(post.fields), b"z" * 1001)
    assert 400 <= too_big < 500, text
    with pytest.raises(ObjectNotFoundError):
        await minio_store.stat(key)

    other = {**post.fields, "key": f"{prefix}/other.webm"}
    wrong_key, text = await post_form(http, post.url, other, b"z")
    assert 400 <= wrong_key < 500, text
    with pytest.raises(ObjectNotFoundError):
        await minio_store.stat(f"{prefix}/other.webm")
