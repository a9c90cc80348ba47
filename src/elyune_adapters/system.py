"""Adapters for the small ports: clock, ids, password hashing, scratch space."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from elyune_core.ports import Clock, IdSource, PasswordHasher, Workspace


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
