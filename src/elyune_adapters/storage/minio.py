"""The MinIO/S3 object store: the ``minio`` SDK, with its blocking calls run in threads.

The API talks to the store at ``endpoint`` (``minio:9000`` inside a compose network),
while browsers upload to and download from ``public_endpoint`` (``http://localhost:9000``).
An S3 signature covers the host, so presigned URLs and forms are made by a second client
configured with the public endpoint and a fixed region: signing then needs no network.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

import certifi
import urllib3
from minio import Minio
from minio.datatypes import PostPolicy
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.helpers import DictType

from elyune_adapters.settings import SettingsError, StorageSettings
from elyune_adapters.storage import sigv4
from elyune_core import check_key
from elyune_core.errors import (
    ElyuneError,
    InvalidInputError,
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectStoreUnavailableError,
)
from elyune_core.ports import DeletedObjects, ObjectInfo, ObjectStore, PresignedPost

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Errors of the SDK and of the HTTP layer under it, translated at this boundary.
_SDK_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchVersion"})
_REFUSED_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AllAccessDisabled",
    }
)
_BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_DEFAULT_REGION = "us-east-1"
_MAX_EXPIRY = timedelta(days=7)  # the longest a SigV4 presigned URL may live
_CORS_METHODS = ("GET", "HEAD", "PUT", "POST")
_CORS_EXPOSED = ("ETag", "Content-Length", "Content-Range", "Content-Type", "x-amz-request-id")
_READ_CHUNK = 1 << 20
_MAX_PARTS = 10_000


class MinioObjectStore(ObjectStore):
    """Stores objects in one bucket of a MinIO or other S3 server.

    Every SDK call runs in a worker thread; every SDK and urllib3 error is translated:
    missing objects raise ``ObjectNotFoundError``; connection errors, timeouts, 5xx
    answers and refused credentials raise ``ObjectStoreUnavailableError``. Files go up
    as multipart uploads of *part_size* bytes, *parallel_uploads* parts at a time, which
    holds at most ``(parallel_uploads + 2) * part_size`` bytes in memory (20 MiB by
    default) whatever the file size; downloads go in 1 MiB chunks.

    Presigned URLs and forms are signed for *public_endpoint* (an ``http(s)://host:port``
    URL) when given, else for *endpoint*. *cors_origins* are the browser origins that
    ``ensure_bucket`` allows in the bucket's CORS rules.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str | None = None,
        public_endpoint: str | None = None,
        cors_origins: tuple[str, ...] = (),
        part_size: int = 5 << 20,
        parallel_uploads: int = 2,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        retries: int = 3,
        temp_dir: Path | None = None,
    ) -> None:
        if part_size < 5 << 20:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        self._endpoint = endpoint
        self._bucket = bucket
        self._region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._cors_origins = cors_origins
        self._part_size = part_size
        self._parallel_uploads = max(1, parallel_uploads)
        self._temp_dir = temp_dir
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=max(10, self._parallel_uploads + 2),
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries,
                backoff_factor=0.2,
                status_forcelist=(500, 502, 503, 504),
            ),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=self._http,
        )
        if public_endpoint is not None:
            public_host, public_secure = _split_endpoint(public_endpoint)
        else:
            public_host, public_secure = endpoint, secure
        self._public_url = f"{'https' if public_secure else 'http'}://{public_host}"
        # Used only to sign: with a fixed region the SDK never asks the server for it.
        self._signer = Minio(
            public_host,
            access_key=access_key,
            secret_key=secret_key,
            secure=public_secure,
            region=region or _DEFAULT_REGION,
            http_client=self._http,
        )

    @classmethod
    def from_settings(
        cls,
        storage: StorageSettings,
        cors_origins: tuple[str, ...] = (),
        temp_dir: Path | None = None,
    ) -> MinioObjectStore:
        """Build the store from the ``minio`` *storage* settings.

        *cors_origins* are the browser origins (the extension, the web app) allowed to
        upload and download with presigned URLs.
        """
        if storage.endpoint is None or not storage.access_key or not storage.secret_key:
            raise SettingsError(
                "MINIO_ENDPOINT, MINIO_ACCESS_KEY and MINIO_SECRET_KEY are required "
                "for the MinIO object store."
            )
        return cls(
            storage.endpoint,
            storage.access_key,
            storage.secret_key,
            storage.bucket,
            secure=storage.secure,
            region=storage.region,
            public_endpoint=storage.public_endpoint,
            cors_origins=cors_origins,
            temp_dir=temp_dir,
        )

    def __repr__(self) -> str:
        return f"MinioObjectStore(endpoint={self._endpoint!r}, bucket={self._bucket!r})"

    @property
    def bucket(self) -> str:
        """The name of the bucket holding the objects."""
        return self._bucket

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._http.clear()

    # ----------------------------------------------------------------- set-up

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing and set its CORS rules for the origins.

        A server that does not accept bucket CORS (or refuses it to our credentials)
        only gets a warning: CORS must then be configured on the server itself.
        """

        def ensure() -> bool:
            if self._client.bucket_exists(self._bucket):
                return False
            try:
                self._client.make_bucket(self._bucket, location=self._region)
            except S3Error as exc:
                if exc.code not in _BUCKET_EXISTS_CODES:  # created meanwhile by another process
                    raise
                return False
            return True

        if await self._run("create the bucket", None, ensure):
            logger.info("Created bucket %s on %s", self._bucket, self._endpoint)
        if self._cors_origins:
            await self._set_cors()

    async def _set_cors(self) -> None:
        body = _cors_configuration(self._cors_origins)
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        # minio-py has no bucket CORS call; send the signed PutBucketCors request ourselves.
        put = self._client._execute
        try:
            await asyncio.to_thread(
                put,
                "PUT",
                self._bucket,
                body=body,
                headers={"Content-MD5": base64.b64encode(digest).decode()},
                query_params={"cors": ""},
            )
        except (S3Error, ServerError, InvalidResponseError) as exc:
            code = exc.code if isinstance(exc, S3Error) else type(exc).__name__
            logger.warning(
                "The object store at %s did not accept the CORS rules of bucket %s (%s); "
                "configure CORS for %s on the server so browsers can upload.",
                self._endpoint,
                self._bucket,
                code,
                ", ".join(self._cors_origins),
            )
            return
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._translate(exc, "set the bucket CORS rules", None) from exc
        logger.info("Set CORS of bucket %s for %s", self._bucket, ", ".join(self._cors_origins))

    async def check(self) -> None:
        if not await self._run("reach the bucket", None, self._client.bucket_exists, self._bucket):
            raise ObjectStoreUnavailableError(
                f"The bucket {self._bucket} does not exist on the object store at {self._endpoint}."
            )

    # ----------------------------------------------------------------- writes

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        check_key(key)

        def upload() -> tuple[int, str | None]:
            size = path.stat().st_size
            result = self._client.fput_object(
                self._bucket,
                key,
                str(path),
                content_type=content_type,
                part_size=self._part_size_for(size),
                num_parallel_uploads=self._parallel_uploads,
            )
            return size, result.etag

        size, etag = await self._run(f"store {key}", None, upload)
        return ObjectInfo(key=key, size=size, content_type=content_type, etag=etag)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        check_key(key)

        def upload() -> str | None:
            result = self._client.put_object(
                self._bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                part_size=self._part_size_for(len(data)),
                num_parallel_uploads=self._parallel_uploads,
            )
            return result.etag

        etag = await self._run(f"store {key}", None, upload)
        return ObjectInfo(key=key, size=len(data), content_type=content_type, etag=etag)

    async def delete_prefix(self, prefix: str) -> DeletedObjects:
        """Delete every object under *prefix* (and, without a trailing ``/``, the object
        named *prefix* itself, as the local store does); siblings like ``<prefix>0/`` stay.
        """
        base = check_key(prefix.rstrip("/"))
        listing = base + "/" if prefix.endswith("/") else base

        def remove() -> DeletedObjects:
            sizes: dict[str, int] = {}

            def doomed() -> Iterator[DeleteObject]:
                for item in self._client.list_objects(self._bucket, prefix=listing, recursive=True):
                    name = item.object_name
                    if name is None or not (name == base or name.startswith(base + "/")):
                        continue
                    sizes[name] = item.size or 0
                    yield DeleteObject(name)

            failed = list(self._client.remove_objects(self._bucket, doomed()))
            if failed:
                raise ObjectStoreUnavailableError(
                    f"Could not delete {len(failed)} of {len(sizes)} objects under {prefix} "
                    f"({failed[0].code})."
                )
            return DeletedObjects(count=len(sizes), bytes=sum(sizes.values()))

        return await self._run(f"delete {prefix}", None, remove)

    # ----------------------------------------------------------------- reads

    async def stat(self, key: str) -> ObjectInfo:
        check_key(key)
        info = await self._run(f"read {key}", key, self._client.stat_object, self._bucket, key)
        return ObjectInfo(
            key=key,
            size=info.size or 0,
            content_type=info.content_type,
            etag=info.etag,
            modified_at=info.last_modified,
        )

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str, *, max_size: int | None = None) -> AsyncIterator[Path]:
        """Download *key* in chunks to a read-only temporary file, removed on exit.

        The file keeps the key's last segment as its name (and so its extension). With
        *max_size*, the download stops, and fails, at the first byte past it.
        """
        check_key(key)
        folder = Path(tempfile.mkdtemp(prefix="elyune-object-", dir=self._temp_dir))
        target = folder / key.rsplit("/", 1)[-1]
        stop = threading.Event()
        try:
            await self._run(f"read {key}", key, self._download, key, target, stop, max_size)
            yield target
        finally:
            stop.set()  # a download still running in its thread gives up at the next chunk
            shutil.rmtree(folder, ignore_errors=True)

    def _download(
        self, key: str, target: Path, stop: threading.Event, max_size: int | None
    ) -> None:
        # Ask for one byte more than allowed: receiving it proves the object grew, and a
        # replaced object never costs more than max_size + 1 bytes of disk or bandwidth.
        length = 0 if max_size is None else max_size + 1
        response = self._client.get_object(self._bucket, key, length=length)
        written = 0
        try:
            with target.open("wb") as out:
                while chunk := response.read(_READ_CHUNK):
                    if stop.is_set():
                        return
                    written += len(chunk)
                    if max_size is not None and written > max_size:
                        raise ObjectChangedError()
                    out.write(chunk)
            target.chmod(0o400)
        finally:
            response.close()
            response.release_conn()

    async def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        check_key(key)
        response = await self._run(f"read {key}", key, self._client.get_object, self._bucket, key)
        try:
            while chunk := await self._run(f"read {key}", key, response.read, chunk_size):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    # ----------------------------------------------------------------- presigned

    async def presign_get(
        self, key: str, expires: timedelta, download_name: str | None = None
    ) -> str:
        check_key(key)
        headers: DictType | None = None
        if download_name:
            headers = {"response-content-disposition": _content_disposition(download_name)}
        # Signing is local: the signer's region is fixed, so there is no I/O to move off the loop.
        return self._signer.presigned_get_object(
            self._bucket, key, expires=_checked_expiry(expires), response_headers=headers
        )

    async def presign_put(
        self,
        key: str,
        expires: timedelta,
        content_type: str,
        size: int,
        content_md5: str | None = None,
    ) -> str:
        """A URL for one PUT to *key*; S3 cannot cap a presigned PUT's size.

        The signature covers only the host, so the caller must check the stored size
        (``stat``) after the upload; ``presign_post`` enforces *max_size* server-side.
        With *content_md5* it covers the ``Content-MD5`` header too (our own SigV4
        signing: the SDK signs no extra header), so the server refuses other bytes.
        """
        check_key(key)
        if content_md5 is not None:
            return sigv4.presign_put(
                endpoint_url=self._public_url,
                bucket=self._bucket,
                key=key,
                access_key=self._access_key,
                secret_key=self._secret_key,
                region=self._region or _DEFAULT_REGION,
                expires=_checked_expiry(expires),
                headers={"Content-MD5": content_md5},
            )
        return self._signer.presigned_put_object(
            self._bucket, key, expires=_checked_expiry(expires)
        )

    async def list(self, prefix: str, start_after: str | None = None) -> Sequence[ObjectInfo]:
        """The objects under *prefix*, in key order (S3 lists in key order), after
        *start_after* (S3's ``StartAfter``: the store skips the rest)."""
        base = check_key(prefix.rstrip("/")) + "/"

        def listing() -> list[ObjectInfo]:
            found = []
            items = self._client.list_objects(
                self._bucket, prefix=base, recursive=True, start_after=start_after
            )
            for item in items:
                if item.object_name is None or item.is_dir:
                    continue
                found.append(
                    ObjectInfo(
                        key=item.object_name,
                        size=item.size or 0,
                        content_type=None,
                        etag=(item.etag or "").strip('"') or None,
                        modified_at=item.last_modified,
                    )
                )
            return sorted(found, key=lambda info: info.key)

        return await self._run(f"list {prefix}", None, listing)

    async def presign_post(self, key: str, expires: timedelta, max_size: int) -> PresignedPost:
        """A form upload of exactly *key*, 1 to *max_size* bytes, of any content type."""
        check_key(key)
        if max_size < 1:
            raise InvalidInputError({"max_size": "The size limit must be at least 1 byte."})
        policy = PostPolicy(self._bucket, datetime.now(UTC) + _checked_expiry(expires))
        policy.add_equals_condition("key", key)
        policy.add_starts_with_condition("Content-Type", "")
        policy.add_content_length_range_condition(1, max_size)
        fields = self._signer.presigned_post_policy(policy)
        return PresignedPost(
            url=f"{self._public_url}/{self._bucket}", fields={"key": key, **fields}
        )

    # ----------------------------------------------------------------- plumbing

    def _part_size_for(self, size: int) -> int:
        """The configured part size, raised if needed to stay within S3's 10,000 parts."""
        return max(self._part_size, -(-size // _MAX_PARTS))

    async def _run(
        self, action: str, key: str | None, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run the blocking *func* in a thread and translate what it raises."""
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except _SDK_ERRORS as exc:
            raise self._translate(exc, action, key) from exc

    def _translate(self, exc: BaseException, action: str, key: str | None) -> ElyuneError:
        where = f"the object store at {self._endpoint}"
        if isinstance(exc, S3Error):
            if exc.code in _NOT_FOUND_CODES:
                return ObjectNotFoundError(f"No object {key or exc.object_name}.")
            if exc.code == "NoSuchBucket":
                return ObjectStoreUnavailableError(
                    f"Could not {action}: the bucket {self._bucket} does not exist on {where}."
                )
            if exc.code in _REFUSED_CODES:
                return ObjectStoreUnavailableError(
                    f"Could not {action}: {where} refused our credentials ({exc.code})."
                )
            return ObjectStoreUnavailableError(f"Could not {action}: {where} answered {exc.code}.")
        if isinstance(exc, ServerError):
            return ObjectStoreUnavailableError(
                f"Could not {action}: {where} failed with HTTP {exc.status_code}."
            )
        if isinstance(exc, InvalidResponseError):
            return ObjectStoreUnavailableError(
                f"Could not {action}: {where} sent an unexpected answer."
            )
        if isinstance(exc, FileNotFoundError):
            return ObjectNotFoundError(f"No such file: {exc.filename}")
        if isinstance(exc, urllib3.exceptions.HTTPError):
            reason = type(getattr(exc, "reason", None) or exc).__name__
            return ObjectStoreUnavailableError(
                f"Could not {action}: cannot reach {where} ({reason})."
            )
        if isinstance(exc, OSError):
            return ObjectStoreUnavailableError(
                f"Could not {action}: {exc.strerror or type(exc).__name__}."
            )
        return ObjectStoreUnavailableError(f"Could not {action}: {type(exc).__name__}.")


def _split_endpoint(url: str) -> tuple[str, bool]:
    """``(host:port, secure)`` of a public endpoint URL like ``http://localhost:9000``."""
    parts = urlsplit(url)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.netloc
        or parts.path.strip("/")
        or parts.query
        or "@" in parts.netloc
    ):
        raise SettingsError(
            "AWS_S3_ENDPOINT_URL must be an http:// or https:// URL of a host and port "
            f"only, like http://localhost:9000, not {url!r}."
        )
    return parts.netloc, parts.scheme == "https"


def _checked_expiry(expires: timedelta) -> timedelta:
    if not timedelta(seconds=1) <= expires <= _MAX_EXPIRY:
        raise InvalidInputError({"expires": "Presigned URLs live from 1 second to 7 days."})
    return expires


def _content_disposition(filename: str) -> str:
    """``attachment`` with *filename*, as ASCII and RFC 5987 UTF-8 (for any script)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;%' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _cors_configuration(origins: Iterable[str]) -> bytes:
    """The PutBucketCors body allowing presigned uploads and downloads from *origins*."""
    rule = [f"<AllowedOrigin>{escape(origin)}</AllowedOrigin>" for origin in origins]
    rule += [f"<AllowedMethod>{method}</AllowedMethod>" for method in _CORS_METHODS]
    rule += ["<AllowedHeader>*</AllowedHeader>"]
    rule += [f"<ExposeHeader>{header}</ExposeHeader>" for header in _CORS_EXPOSED]
    rule += ["<MaxAgeSeconds>3600</MaxAgeSeconds>"]
    return (
        '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<CORSRule>{''.join(rule)}</CORSRule></CORSConfiguration>"
    ).encode()


__all__ = ["MinioObjectStore"]
