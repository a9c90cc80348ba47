"""Adapters for the small ports: clock, ids, password hashing, scratch space."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from elyune_core.ports import Clock, IdSource, PasswordHasher, Workspace


def private_dir(path: Path) -> Path:
    """Create *path* (and its parents) readable by this user only (0700); an existing
    folder of ours that others may read is tightened to 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create *path* empty if missing, readable and writable by this user only (0600);
    an existing file of ours that others may read is tightened to 0600."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _tighten(path, 0o600)
    return path


def _tighten(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(mode)


class SystemClock(Clock):
    """The system's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIdSource(IdSource):
    """Random UUID4 ids."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


class Argon2PasswordHasher(PasswordHasher):
    """Argon2id with argon2-cffi's recommended (memory-hard) parameters."""

    def __init__(self, time_cost: int = 3, memory_cost: int = 65536) -> None:
        self._hasher = _Argon2(time_cost=time_cost, memory_cost=memory_cost)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


class TempWorkspace(Workspace):
    """Scratch folders under *base* (the system temp folder by default), always removed."""

    def __init__(self, base: Path | None = None) -> None:
        self._base = base

    @contextlib.asynccontextmanager
    async def scratch(self, label: str) -> AsyncIterator[Path]:
        if self._base is not None:
            self._base.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=f"elyune-{label}-", dir=self._base))
        try:
            yield path
        finally:
            await asyncio.to_thread(shutil.rmtree, path, True)
