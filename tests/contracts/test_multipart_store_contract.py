"""One MultipartStore contract for LocalMultipart and S3Multipart on SeaweedFS.

Parts go up as a browser sends them: one PUT per presigned URL. On S3 that is a plain
HTTP PUT to the bucket; the embedded store's part URLs are served by the API, so here
they are checked and written exactly as its route does (the route itself is tested in
tests/http/test_multipart_upload.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import attrs
import pytest

from elyune_adapters.settings import StorageSettings
from elyune_adapters.storage.local import LocalObjectStore
from elyune_adapters.storage.minio import MinioObjectStore
from elyune_adapters.storage.multipart import PARTS_PATH, LocalMultipart, S3Multipart
from elyune_adapters.storage.signing import UrlSigner
from elyune_core.errors import InvalidInputError, InvalidTokenError, ObjectNotFoundError
from elyune_core.ports import ObjectStore, UploadPart
from tests.support.aio import run_sync
from tests.support.seaweed import SeaweedServer

MiB = 1 << 20
SECRET = b"multipart-contract-secret-0123"


def minio_settings(server: SeaweedServer, bucket: str) -> StorageSettings:
    return StorageSettings(
        kind="minio",
        root=Path("unused"),
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        bucket=bucket,
        public_endpoint=f"http://localhost:{server.port}",
    )


@pytest.fixture(scope="module")
def bucket_settings(seaweed: SeaweedServer) -> StorageSettings:
    settings = minio_settings(seaweed, f"elyune-mp-{uuid.uuid4().hex[:16]}")
    store = MinioObjectStore.from_settings(settings)
    run_sync(store.ensure_bucket())
    store.close()
    return settings


@attrs.define
class Stores:
    """A multipart store, the object store it writes into, and how to PUT a part."""

    kind: str
    multipart: LocalMultipart | S3Multipart
    objects: ObjectStore
    http: aiohttp.ClientSession

    async def put_part(self, url: str, data: bytes) -> tuple[int, str]:
        """PUT *data* to a part URL as a browser would: (status, ETag)."""
        if isinstance(self.multipart, S3Multipart):
            async with self.http.put(url, data=data) as response:
                return response.status, response.headers.get("ETag", "")
        parts = urlsplit(url)
        assert parts.path.startswith(PARTS_PATH)
        upload_id, number = parts.path[len(PARTS_PATH) :].split("/")
        try:
            self.multipart.verify_part(upload_id, int(number), dict(parse_qsl(parts.query)))
        except InvalidTokenError:
            return 403, ""
        writer = self.multipart.part_writer(upload_id, int(number))
        try:
            writer.write(data)
            return 200, f'"{writer.commit()}"'
        finally:
            writer.abort()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(params=["local", "minio"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, http: aiohttp.ClientSession
) -> Iterator[Stores]:
    if request.param == "local":
        objects = LocalObjectStore(tmp_path / "objects", UrlSigner(SECRET, "http://testserver"))
        yield Stores("local", LocalMultipart(objects, SECRET, "http://testserver"), objects, http)
        return
    settings: StorageSettings = request.getfixturevalue("bucket_settings")
    multipart = S3Multipart.from_settings(settings)
    objects_store = MinioObjectStore.from_settings(settings)
    yield Stores("minio", multipart, objects_store, http)
    multipart.close()
    objects_store.close()


@pytest.fixture
def key() -> str:
    return f"recordings/{uuid.uuid4().hex}/{uuid.uuid4().hex}/source.webm"


async def read_all(store: ObjectStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.iter_bytes(key)])


def message(exc: InvalidInputError, field: str = "parts") -> str:
    return " ".join(exc.errors[field])


async def upload(stores: Stores, key: str, upload_id: str, number: int, data: bytes) -> str:
    url = await stores.multipart.presign_part(key, upload_id, number, timedelta(minutes=5))
    status, etag = await stores.put_part(url, data)
    assert status == 200
    return etag


FIRST = os.urandom(5 * MiB)
REST = os.urandom(MiB + 123)


async def test_parts_are_listed_then_joined_into_the_object(stores: Stores, key: str) -> None:
    """Two parts (5 MiB and the rest) listed with size and ETag, joined in order."""
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    etag2 = await upload(stores, key, upload_id, 2, REST)  # out of order
    etag1 = await upload(stores, key, upload_id, 1, FIRST)

    listed = await stores.multipart.list_parts(key, upload_id)

    assert [(p.number, p.size) for p in listed] == [(1, len(FIRST)), (2, len(REST))]
    assert [p.etag for p in listed] == [
        hashlib.md5(FIRST).hexdigest(),  # noqa: S324
        hashlib.md5(REST).hexdigest(),  # noqa: S324
    ]
    assert etag1.strip('"') == listed[0].etag and etag2.strip('"') == listed[1].etag

    info = await stores.multipart.complete_multipart(
        key, upload_id, [UploadPart(1, 0, etag1), UploadPart(2, 0, etag2)]
    )

    assert info.size == len(FIRST) + len(REST)
    md5s = hashlib.md5(bytes.fromhex(listed[0].etag) + bytes.fromhex(listed[1].etag))  # noqa: S324
    assert info.etag == f"{md5s.hexdigest()}-2"
    assert await read_all(stores.objects, key) == FIRST + REST
    assert (await stores.objects.stat(key)).size == len(FIRST) + len(REST)
    with pytest.raises(ObjectNotFoundError):  # the upload is gone once completed
        await stores.multipart.list_parts(key, upload_id)


async def test_a_part_uploaded_again_replaces_the_first(stores: Stores, key: str) -> None:
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    await upload(stores, key, upload_id, 1, b"first try")
    # SeaweedFS lists both uploads of a number, with times to the second: the newer is
    # told by its time, so the second upload comes in a later second (S3 lists one)
    await asyncio.sleep(1.1)
    etag = await upload(stores, key, upload_id, 1, b"second try!")

    (part,) = await stores.multipart.list_parts(key, upload_id)

    assert (part.number, part.size, part.etag) == (1, 11, etag.strip('"'))


async def test_abort_leaves_nothing(stores: Stores, key: str, tmp_path: Path) -> None:
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    await upload(stores, key, upload_id, 1, b"some bytes")

    await stores.multipart.abort_multipart(key, upload_id)

    with pytest.raises(ObjectNotFoundError):
        await stores.multipart.list_parts(key, upload_id)
    with pytest.raises(ObjectNotFoundError):
        await stores.objects.stat(key)
    if isinstance(stores.multipart, LocalMultipart):
        assert list(stores.multipart.uploads.iterdir()) == []


async def test_a_small_part_before_the_last_is_refused_by_name(stores: Stores, key: str) -> None:
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    etag1 = await upload(stores, key, upload_id, 1, b"x" * 1000)
    etag2 = await upload(stores, key, upload_id, 2, b"y" * 10)

    with pytest.raises(InvalidInputError) as caught:
        await stores.multipart.complete_multipart(
            key, upload_id, [UploadPart(1, 0, etag1), UploadPart(2, 0, etag2)]
        )

    assert "Part 1 has 1000 bytes" in message(caught.value)
    assert len(await stores.multipart.list_parts(key, upload_id)) == 2  # still open
    with pytest.raises(ObjectNotFoundError):
        await stores.objects.stat(key)


async def test_a_wrong_etag_or_a_missing_part_is_refused(stores: Stores, key: str) -> None:
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    etag = await upload(stores, key, upload_id, 1, b"only part")

    with pytest.raises(InvalidInputError) as wrong:
        await stores.multipart.complete_multipart(key, upload_id, [UploadPart(1, 0, "0" * 32)])
    with pytest.raises(InvalidInputError) as missing:
        await stores.multipart.complete_multipart(
            key, upload_id, [UploadPart(1, 0, etag), UploadPart(2, 0, etag)]
        )

    assert "Part 1's ETag does not match" in message(wrong.value)
    assert "Part 2 has not been uploaded" in message(missing.value)


async def test_an_unknown_or_another_keys_upload_is_not_found(stores: Stores, key: str) -> None:
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    other_key = key.replace("source.webm", "other.webm")

    for bad_key, bad_id in ((key, "A" * 32), (other_key, upload_id)):
        with pytest.raises(ObjectNotFoundError):
            await stores.multipart.list_parts(bad_key, bad_id)
        with pytest.raises(ObjectNotFoundError):
            await stores.multipart.complete_multipart(bad_key, bad_id, [UploadPart(1, 0, "x")])


async def test_a_tampered_part_url_is_refused(stores: Stores, key: str) -> None:
    """Changing the signature or the part number of a part URL gets 403, stores nothing."""
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    url = await stores.multipart.presign_part(key, upload_id, 1, timedelta(minutes=5))
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    name = "X-Amz-Signature" if stores.kind == "minio" else "sig"
    query[name] = query[name][:-1] + ("0" if query[name][-1] != "0" else "1")
    tampered = urlunsplit(parts._replace(query=urlencode(query)))
    if stores.kind == "minio":
        other_number = url.replace("partNumber=1", "partNumber=2")
    else:
        other_number = url.replace(f"{upload_id}/1?", f"{upload_id}/2?")
    assert other_number != url

    for bad_url in (tampered, other_number):
        status, _ = await stores.put_part(bad_url, b"evil")
        assert status == 403

    assert await stores.multipart.list_parts(key, upload_id) == []


async def test_part_numbers_outside_1_to_10000_are_refused(stores: Stores, key: str) -> None:
    upload_id = await stores.multipart.create_multipart(key, "video/webm")
    for number in (0, 10_001):
        with pytest.raises(InvalidInputError):
            await stores.multipart.presign_part(key, upload_id, number, timedelta(minutes=5))


async def test_the_embedded_store_drops_uploads_abandoned_for_a_week(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects", UrlSigner(SECRET, "http://testserver"))
    multipart = LocalMultipart(objects, SECRET, "http://testserver")
    key = "recordings/u/r/source.webm"
    old = await multipart.create_multipart(key, "video/webm")
    recent = await multipart.create_multipart(key, "video/webm")
    week_ago = time.time() - 8 * 24 * 3600
    for item in [multipart.uploads / old, *(multipart.uploads / old).iterdir()]:
        os.utime(item, (week_ago, week_ago))

    await multipart.create_multipart(key, "video/webm")

    with pytest.raises(ObjectNotFoundError):
        await multipart.list_parts(key, old)
    assert await multipart.list_parts(key, recent) == []
