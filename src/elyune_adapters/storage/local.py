"""The embedded object store: files under a local folder, keys mapped to paths safely."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import io
import mimetypes
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from elyune_adapters.storage.signing import SignedRequest, UrlSigner
from elyune_core import check_key
from elyune_core.errors import (
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectStoreUnavailableError,
    UploadInProgressError,
)
from elyune_core.ports import DeletedObjects, ObjectInfo, ObjectStore, PresignedPost


def _digest_path(path: Path) -> Path:
    """The sidecar holding the MD5 of the file at *path* (a name no key can take)."""
    return path.with_name(f".{path.name}.md5")


def _read_digest(path: Path, st: os.stat_result) -> str | None:
    """The hex MD5 written beside *path* when it was stored, if it is still that
    file's (same inode and size), else ``None``."""
    try:
        md5, size, inode = _digest_path(path).read_text().split()
    except (OSError, ValueError):
        return None
    return md5 if int(size) == st.st_size and int(inode) == st.st_ino else None


class LocalObjectStore(ObjectStore):
    """Stores objects as files under *root*; presigned URLs point at the API.

    Keys are checked by ``check_key`` and the resolved path must stay inside *root*, so
    no key reaches outside it. Writes go to a temporary file that is renamed into
    place, so a reader never sees half an object. Each write also records the file's
    MD5 in a hidden sidecar (``.<name>.md5``, with the file's inode and size), so that
    ``list`` gives S3's ETag without reading the files again.
    """

    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self._root = root.absolute()
        self._signer = signer

    @property
    def signer(self) -> UrlSigner:
        """The signer of this store's URLs."""
        return self._signer

    @property
    def root(self) -> Path:
        """The folder holding the objects."""
        return self._root

    def path_of(self, key: str) -> Path:
        """The local path of *key* (which must be a valid key)."""
        check_key(key)
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root.resolve()):
            raise ObjectNotFoundError("No such object.")
        return path

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        target = self.path_of(key)

        def copy() -> int:
            with path.open("rb") as src:
                return self._write_atomic(target, src)

        try:
            size = await asyncio.to_thread(copy)
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"No such file: {path}") from exc
        except OSError as exc:
            raise ObjectStoreUnavailableError(f"Could not store {key}: {exc.strerror}") from exc
        return ObjectInfo(key=key, size=size, content_type=content_type)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        target = self.path_of(key)

        def write() -> int:
            return self._write_atomic(target, io.BytesIO(data))

        try:
            size = await asyncio.to_thread(write)
        except OSError as exc:
            raise ObjectStoreUnavailableError(f"Could not store {key}: {exc.strerror}") from exc
        return ObjectInfo(key=key, size=size, content_type=content_type)

    def open_writer(self, key: str) -> AtomicWriter:
        """A writer for streaming an upload into *key* (used by the embedded API)."""
        return AtomicWriter(self.path_of(key))

    async def stat(self, key: str) -> ObjectInfo:
        path = self.path_of(key)
        try:
            st = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"No object {key}.") from None
        except OSError as exc:
            raise ObjectStoreUnavailableError(f"Could not read {key}: {exc.strerror}") from exc
        if not path.is_file():
            raise ObjectNotFoundError(f"No object {key}.")
        # the MD5 of a file stored whole, as S3 gives it and as ``list`` does
        digest = await asyncio.to_thread(_read_digest, path, st)
        return ObjectInfo(
            key=key,
            size=st.st_size,
            content_type=mimetypes.guess_type(path.name)[0],
            etag=digest or f"{st.st_mtime_ns:x}-{st.st_size:x}",
            modified_at=datetime.fromtimestamp(st.st_mtime, UTC),
        )

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str, *, max_size: int | None = None) -> AsyncIterator[Path]:
        path = self.path_of(key)
        if not path.is_file():
            raise ObjectNotFoundError(f"No object {key}.")
        if max_size is not None and path.stat().st_size > max_size:
            raise ObjectChangedError()
        yield path  # already local: no copy

    async def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(f"No object {key}.") from None
        except OSError as exc:
            raise ObjectStoreUnavailableError(f"Could not read {key}: {exc.strerror}") from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def delete_prefix(self, prefix: str) -> DeletedObjects:
        folder = self.path_of(prefix.rstrip("/"))

        def remove() -> DeletedObjects:
            if not folder.exists():
                return DeletedObjects(0, 0)
            if folder.is_file():
                size = folder.stat().st_size
                folder.unlink()
                _digest_path(folder).unlink(missing_ok=True)
                return DeletedObjects(1, size)
            count = size = 0
            for item in folder.rglob("*"):
                if item.is_file() and not item.name.startswith("."):  # no sidecar, lock
                    count += 1
                    size += item.stat().st_size
            shutil.rmtree(folder)
            return DeletedObjects(count, size)

        try:
            return await asyncio.to_thread(remove)
        except OSError as exc:
            raise ObjectStoreUnavailableError(f"Could not delete {prefix}: {exc}") from exc

    async def presign_get(
        self, key: str, expires: timedelta, download_name: str | None = None
    ) -> str:
        return self._signer.url("get", key, expires.total_seconds(), filename=download_name or "")

    async def presign_put(
        self,
        key: str,
        expires: timedelta,
        content_type: str,
        size: int,
        content_md5: str | None = None,
    ) -> str:
        return self._signer.url(
            "put", key, expires.total_seconds(), size=size, md5=content_md5 or ""
        )

    async def list(self, prefix: str, start_after: str | None = None) -> Sequence[ObjectInfo]:
        folder = self.path_of(prefix.rstrip("/"))

        def scan() -> list[ObjectInfo]:
            if not folder.is_dir():
                return []
            found: list[ObjectInfo] = []
            root = self._root.resolve()
            for path in folder.rglob("*"):
                if path.name.startswith("."):
                    continue
                key = path.relative_to(root).as_posix()
                # skipped before any stat or digest read: a live recording's processor
                # lists only the chunks after those it has read, however many came before
                if start_after is not None and key <= start_after:
                    continue
                if not path.is_file():
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:  # deleted while listed
                    continue
                found.append(
                    ObjectInfo(
                        key=key,
                        size=st.st_size,
                        content_type=mimetypes.guess_type(path.name)[0],
                        etag=_read_digest(path, st) or f"{st.st_mtime_ns:x}-{st.st_size:x}",
                        modified_at=datetime.fromtimestamp(st.st_mtime, UTC),
                    )
                )
            return sorted(found, key=lambda info: info.key)

        try:
            return await asyncio.to_thread(scan)
        except OSError as exc:
            raise ObjectStoreUnavailableError(f"Could not list {prefix}: {exc.strerror}") from exc

    async def presign_post(self, key: str, expires: timedelta, max_size: int) -> PresignedPost:
        url, fields = self._signer.post_form(key, expires.total_seconds(), max_size)
        return PresignedPost(url=url, fields=fields)

    async def check(self) -> None:
        def probe() -> None:
            self._root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self._root, prefix=".check-"):
                pass

        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            raise ObjectStoreUnavailableError(
                f"The storage folder {self._root} is not writable: {exc.strerror}"
            ) from exc

    @staticmethod
    def _write_atomic(target: Path, source: BinaryIO) -> int:
        writer = AtomicWriter(target)
        try:
            while chunk := source.read(1 << 20):
                writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()


class AtomicWriter:
    """Writes a file next to *target* and renames it into place on ``commit``."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        self._file = os.fdopen(fd, "wb")
        self._temp = Path(name)
        self._target = target
        self.size = 0
        self._done = False
        self._md5 = hashlib.md5()  # noqa: S324 (S3's ETag, not a security digest)

    def write(self, chunk: bytes) -> None:
        """Append *chunk*."""
        self._file.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def md5(self) -> bytes:
        """The MD5 of the bytes written so far."""
        return self._md5.digest()

    def _write_digest(self) -> None:
        st = os.stat(self._temp)
        sidecar = _digest_path(self._target)
        temp = sidecar.with_name(f"{sidecar.name}.{os.getpid()}.{id(self):x}.part")
        temp.write_text(f"{self._md5.hexdigest()} {st.st_size} {st.st_ino}\n")
        os.replace(temp, sidecar)

    def commit(self, *, replace: bool = True) -> int:
        """Flush, fsync and move the file into place; return its size.

        With ``replace=False`` an existing file stays and ``FileExistsError`` is raised
        (a hard link is created or not, atomically, even across processes).
        """
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if replace:
            self._write_digest()  # first: the file never appears without its digest
            os.replace(self._temp, self._target)
        else:
            try:
                os.link(self._temp, self._target)
                self._write_digest()  # after: a refused link keeps the old digest
            finally:
                self._temp.unlink(missing_ok=True)
        self._done = True
        return self.size

    def abort(self) -> None:
        """Drop the temporary file unless committed."""
        if not self._done:
            self._file.close()
            self._temp.unlink(missing_ok=True)
            self._done = True


class LocalUploadReceiver:
    """What the embedded API needs to serve the local store's signed URLs."""

    def __init__(self, store: LocalObjectStore) -> None:
        self._store = store

    def verify(self, op: str, key: str, query: Mapping[str, str]) -> SignedRequest:
        """Check a signed URL for *op* on *key* (``InvalidTokenError`` when refused)."""
        return self._store.signer.verify(op, key, query)

    def verify_post(self, fields: Mapping[str, str]) -> SignedRequest:
        """Check a signed form upload."""
        return self._store.signer.verify_post(fields)

    def writer(self, key: str) -> AtomicWriter:
        """A writer that stores *key* atomically."""
        return self._store.open_writer(key)

    def exists(self, key: str) -> bool:
        """Whether *key* is stored."""
        return self._store.path_of(key).is_file()

    def remove(self, key: str) -> None:
        """Delete *key* if stored."""
        path = self._store.path_of(key)
        path.unlink(missing_ok=True)
        _digest_path(path).unlink(missing_ok=True)

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[None]:
        """Hold the one upload to *key* (``UploadInProgressError`` if another holds it).

        An advisory lock on a hidden file next to the object (a name no key can take):
        another process's or this one's second attempt fails at once, and a crashed
        process releases it.
        """
        target = self._store.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        path = target.with_name(f".{target.name}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadInProgressError("Another upload to this URL is in progress.") from None
            try:
                yield
            finally:
                # Dropped while held: one opened just before may lock the old file, but
                # the no-replace commit still lets only one upload store the key.
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)  # releases the lock

    def path(self, key: str) -> Path:
        """The file holding *key* (``ObjectNotFoundError`` when missing)."""
        path = self._store.path_of(key)
        if not path.is_file():
            raise ObjectNotFoundError("No such object.")
        return path
