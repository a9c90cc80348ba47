"""S3 multipart uploads signed for browsers: on MinIO/S3, and in the embedded store.

``S3Multipart`` drives the bucket's own multipart API through minio-py's low-level
calls (the SDK has no public ones) and presigns each part's ``PUT ?partNumber=&uploadId=``
for the browser. ``LocalMultipart`` keeps the parts as files in a hidden folder of the
local store (``.multipart/<upload id>/``, a name no object key can take), accepts their
PUTs through the API's signed part URLs and joins them by the same rules as S3: part
numbers 1 to 10,000, every part but the last at least 5 MiB, exact ETags, and the final
ETag ``md5(md5 of each part)-N``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar
from urllib.parse import urlencode

import certifi
import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.error import MinioException, S3Error

from elyune_adapters.settings import SettingsError, StorageSettings
from elyune_adapters.storage.local import AtomicWriter, LocalObjectStore
from elyune_adapters.storage.minio import _checked_expiry, _split_endpoint
from elyune_core import check_key
from elyune_core.errors import (
    ConflictError,
    ElyuneError,
    InvalidInputError,
    InvalidTokenError,
    ObjectNotFoundError,
    ObjectStoreUnavailableError,
)
from elyune_core.ports import MultipartStore, ObjectInfo, UploadPart
from elyune_core.use_cases.multipart_upload import MAX_PARTS, check_parts, normalize_etag

P = ParamSpec("P")
T = TypeVar("T")

#: where the embedded API receives part PUTs (public: the signature is the credential)
PARTS_PATH = "/api/v1/storage-parts/"  # served by elyune_http.multipart
UPLOADS_FOLDER = ".multipart"
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")
_PART_FILE = re.compile(r"(\d{5})\.([0-9a-f]{32})")
_NO_UPLOAD = "No such multipart upload."
_DEFAULT_REGION = "us-east-1"
_SDK_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError)


def _check_number(number: int) -> int:
    if isinstance(number, bool) or not 1 <= number <= MAX_PARTS:
        raise InvalidInputError({"number": f"Part numbers run from 1 to {MAX_PARTS}."})
    return number


def multipart_etag(md5s: Sequence[str]) -> str:
    """S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, ``-N``."""
    joined = b"".join(bytes.fromhex(md5) for md5 in md5s)
    return f"{hashlib.md5(joined).hexdigest()}-{len(md5s)}"  # noqa: S324 (S3's scheme)


# --------------------------------------------------------------------------- embedded


class PartWriter:
    """Streams one part into its upload's folder, hashing it; ``commit`` stores it."""

    def __init__(self, folder: Path, number: int) -> None:
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{number:05d}.", suffix=".part")
        self._file = os.fdopen(fd, "wb")
        self._temp = Path(name)
        self._folder = folder
        self._number = number
        self._md5 = hashlib.md5()  # noqa: S324 (the ETag scheme of S3)
        self.size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        """Append *chunk*."""
        self._file.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def commit(self) -> str:
        """Store the part (replacing an earlier upload of its number); return its ETag.

        ``ObjectNotFoundError`` when the upload was completed or aborted meanwhile.
        """
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        etag = self._md5.hexdigest()
        name = f"{self._number:05d}.{etag}"
        try:
            with _locked(self._folder, exclusive=False):
                os.replace(self._temp, self._folder / name)
                for old in self._folder.glob(f"{self._number:05d}.*"):
                    if old.name != name:
                        old.unlink(missing_ok=True)
        except FileNotFoundError:
            raise ObjectNotFoundError(_NO_UPLOAD) from None
        finally:
            self._temp.unlink(missing_ok=True)
            self._done = True
        return etag

    def abort(self) -> None:
        """Drop the temporary file unless committed."""
        if not self._done:
            self._file.close()
            self._temp.unlink(missing_ok=True)
            self._done = True


@contextlib.contextmanager
def _locked(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """Part stores share the upload's lock; completing and aborting hold it alone."""
    if not folder.is_dir():
        raise FileNotFoundError(folder)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if not folder.is_dir():  # removed while we waited
            raise FileNotFoundError(folder)
        yield
    finally:
        os.close(fd)


class LocalMultipart(MultipartStore):
    """Multipart uploads into a ``LocalObjectStore``; part URLs point at the API.

    An upload id is 32 random URL-safe characters (unguessable); its folder holds the
    key it belongs to, so it works only with that key. Part URLs are HMAC-signed over
    the upload id, part number and expiry time with *secret*.
    """

    def __init__(
        self,
        store: LocalObjectStore,
        secret: bytes,
        base_url: str,
        *,
        max_age: timedelta = timedelta(days=7),
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must have at least 16 bytes")
        self._store = store
        self._secret = secret
        self._base = base_url.rstrip("/")
        self._max_age = max_age.total_seconds()

    @property
    def uploads(self) -> Path:
        """The hidden folder of the uploads in progress."""
        return self._store.root / UPLOADS_FOLDER

    def _folder(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise ObjectNotFoundError(_NO_UPLOAD)
        return self.uploads / upload_id

    def key_of(self, upload_id: str) -> str:
        """The key upload *upload_id* will store (``ObjectNotFoundError`` if unknown)."""
        try:
            return (self._folder(upload_id) / "key").read_text()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(_NO_UPLOAD) from None

    def _owned(self, key: str, upload_id: str) -> Path:
        check_key(key)
        folder = self._folder(upload_id)
        if not hmac.compare_digest(self.key_of(upload_id), key):
            raise ObjectNotFoundError(_NO_UPLOAD)
        return folder

    def _mac(self, upload_id: str, number: int, expires: int) -> str:
        message = f"part\n{upload_id}\n{number}\n{expires}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify_part(self, upload_id: str, number: int, query: Mapping[str, str]) -> None:
        """Check a part URL's signature and expiry (``InvalidTokenError`` when refused)."""
        try:
            expires = int(query["exp"])
            signature = query["sig"]
        except (KeyError, ValueError):
            raise InvalidTokenError("The URL is not signed.") from None
        if not hmac.compare_digest(self._mac(upload_id, number, expires), signature):
            raise InvalidTokenError("The URL signature is not valid.")
        if expires < time.time():
            raise InvalidTokenError("The URL has expired.")

    def part_writer(self, upload_id: str, number: int) -> PartWriter:
        """A writer of part *number* (``ObjectNotFoundError`` for an unknown upload)."""
        folder = self._folder(upload_id)
        _check_number(number)
        try:
            return PartWriter(folder, number)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(_NO_UPLOAD) from None

    async def create_multipart(self, key: str, content_type: str) -> str:
        check_key(key)
        upload_id = secrets.token_urlsafe(24)  # 32 characters

        def create() -> None:
            self._drop_abandoned()
            folder = self.uploads / upload_id
            folder.mkdir(parents=True, mode=0o700)
            writer = AtomicWriter(folder / "key")
            try:
                writer.write(key.encode())
                writer.commit()
            finally:
                writer.abort()

        await self._io("start an upload", create)
        return upload_id

    def _drop_abandoned(self) -> None:
        """Remove the uploads untouched for *max_age* (7 days: longer than any part URL
        lives), so abandoned parts do not pile up (S3 leaves that to a lifecycle rule)."""
        try:
            entries = list(os.scandir(self.uploads))
        except FileNotFoundError:
            return
        cutoff = time.time() - self._max_age
        for entry in entries:
            if not _UPLOAD_ID.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            folder = Path(entry.path)
            try:
                newest = max(
                    [entry.stat().st_mtime] + [item.stat().st_mtime for item in folder.iterdir()]
                )
            except FileNotFoundError:  # completed or aborted meanwhile
                continue
            if newest < cutoff:
                shutil.rmtree(folder, ignore_errors=True)

    async def presign_part(self, key: str, upload_id: str, number: int, expires: timedelta) -> str:
        self._owned(key, upload_id)
        _check_number(number)
        until = int(time.time() + _checked_expiry(expires).total_seconds())
        query = urlencode({"exp": str(until), "sig": self._mac(upload_id, number, until)})
        return f"{self._base}{PARTS_PATH}{upload_id}/{number}?{query}"

    def parts_of(self, upload_id: str) -> list[UploadPart]:
        """The stored parts of *upload_id* by number (blocking)."""
        folder = self._folder(upload_id)
        found: dict[int, tuple[int, UploadPart]] = {}
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(_NO_UPLOAD) from None
        for entry in entries:
            match = _PART_FILE.fullmatch(entry.name)
            if match is None:
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # replaced meanwhile
                continue
            number = int(match[1])
            part = UploadPart(number, st.st_size, match[2])
            if number not in found or st.st_mtime_ns > found[number][0]:
                found[number] = (st.st_mtime_ns, part)
        return [found[number][1] for number in sorted(found)]

    async def list_parts(self, key: str, upload_id: str) -> Sequence[UploadPart]:
        self._owned(key, upload_id)
        return await self._io("list the parts", self.parts_of, upload_id)

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[UploadPart]
    ) -> ObjectInfo:
        folder = self._owned(key, upload_id)
        target = self._store.path_of(key)

        def complete() -> ObjectInfo:
            with _locked(folder, exclusive=True):
                chosen = check_parts(parts, self.parts_of(upload_id))
                writer = AtomicWriter(target)
                try:
                    for part in chosen:
                        with (folder / f"{part.number:05d}.{part.etag}").open("rb") as source:
                            while chunk := source.read(1 << 20):
                                writer.write(chunk)
                    try:
                        size = writer.commit(replace=False)
                    except FileExistsError:
                        raise ConflictError("The object was already stored.") from None
                finally:
                    writer.abort()
                shutil.rmtree(folder, ignore_errors=True)
            return ObjectInfo(
                key=key,
                size=size,
                content_type=None,
                etag=multipart_etag([part.etag for part in chosen]),
            )

        return await self._io("complete the upload", complete)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        folder = self._owned(key, upload_id)

        def abort() -> None:
            with _locked(folder, exclusive=True):
                shutil.rmtree(folder)

        await self._io("abort the upload", abort)

    @staticmethod
    async def _io(action: str, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except ElyuneError:
            raise
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(_NO_UPLOAD) from None
        except OSError as exc:
            raise ObjectStoreUnavailableError(
                f"Could not {action}: {exc.strerror or type(exc).__name__}."
            ) from exc


# --------------------------------------------------------------------------- S3


class S3Multipart(MultipartStore):
    """Multipart uploads into one bucket of a MinIO or other S3 server.

    Calls go to *endpoint*; part URLs are signed for *public_endpoint* (the browser's
    address of the same server) with a fixed region, so signing needs no network. The
    parts are checked by ``check_parts`` before S3 joins them, so both stores refuse
    the same mistakes with the same messages.
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
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        retries: int = 3,
    ) -> None:
        self._endpoint = endpoint
        self._bucket = bucket
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
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
        self._signer = Minio(
            public_host,
            access_key=access_key,
            secret_key=secret_key,
            secure=public_secure,
            region=region or _DEFAULT_REGION,
            http_client=self._http,
        )

    @classmethod
    def from_settings(cls, storage: StorageSettings) -> S3Multipart:
        """Build from the ``minio`` *storage* settings."""
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
        )

    def __repr__(self) -> str:
        return f"S3Multipart(endpoint={self._endpoint!r}, bucket={self._bucket!r})"

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._http.clear()

    async def create_multipart(self, key: str, content_type: str) -> str:
        check_key(key)
        return await self._run(
            "start an upload",
            self._client._create_multipart_upload,
            self._bucket,
            key,
            {"Content-Type": content_type},
        )

    async def presign_part(self, key: str, upload_id: str, number: int, expires: timedelta) -> str:
        check_key(key)
        _check_number(number)
        return self._signer.get_presigned_url(
            "PUT",
            self._bucket,
            key,
            expires=_checked_expiry(expires),
            extra_query_params={"partNumber": str(number), "uploadId": upload_id},
        )

    async def list_parts(self, key: str, upload_id: str) -> Sequence[UploadPart]:
        check_key(key)

        def list_all() -> list[UploadPart]:
            # A server may list a part uploaded twice twice (SeaweedFS does): the last
            # upload of a number is the part, as S3 defines it.
            parts: dict[int, tuple[datetime, UploadPart]] = {}
            marker: str | None = None
            while True:
                result = self._client._list_parts(
                    self._bucket, key, upload_id, max_parts=1000, part_number_marker=marker
                )
                for part in result.parts:
                    when = part.last_modified or datetime.min.replace(tzinfo=UTC)
                    if part.part_number not in parts or when >= parts[part.part_number][0]:
                        parts[part.part_number] = (
                            when,
                            UploadPart(part.part_number, part.size or 0, normalize_etag(part.etag)),
                        )
                if not result.is_truncated or not result.next_part_number_marker:
                    return [parts[number][1] for number in sorted(parts)]
                marker = result.next_part_number_marker

        return await self._run("list the parts", list_all)

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[UploadPart]
    ) -> ObjectInfo:
        chosen = check_parts(parts, await self.list_parts(key, upload_id))
        result = await self._run(
            "complete the upload",
            self._client._complete_multipart_upload,
            self._bucket,
            key,
            upload_id,
            [Part(part.number, part.etag) for part in chosen],
        )
        return ObjectInfo(
            key=key,
            size=sum(part.size for part in chosen),
            content_type=None,
            etag=normalize_etag(result.etag or ""),
        )

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        check_key(key)
        await self._run(
            "abort the upload", self._client._abort_multipart_upload, self._bucket, key, upload_id
        )

    async def _run(self, action: str, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except _SDK_ERRORS as exc:
            raise self._translate(exc, action) from exc

    def _translate(self, exc: BaseException, action: str) -> ElyuneError:
        where = f"the object store at {self._endpoint}"
        if isinstance(exc, S3Error):
            if exc.code in {"NoSuchUpload", "NoSuchKey"}:
                return ObjectNotFoundError(_NO_UPLOAD)
            if exc.code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
                return InvalidInputError(
                    {"parts": f"The object store refused the parts ({exc.code})."}
                )
            return ObjectStoreUnavailableError(f"Could not {action}: {where} answered {exc.code}.")
        if isinstance(exc, urllib3.exceptions.HTTPError):
            reason = type(getattr(exc, "reason", None) or exc).__name__
            return ObjectStoreUnavailableError(
                f"Could not {action}: cannot reach {where} ({reason})."
            )
        return ObjectStoreUnavailableError(f"Could not {action}: {type(exc).__name__}.")


__all__ = ["PARTS_PATH", "LocalMultipart", "PartWriter", "S3Multipart", "multipart_etag"]
