"""Voice profiles and what each recording gave them."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Select,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from elyune_adapters.sql import tables as t
from elyune_adapters.sql.reader import SyncReader
from elyune_core import name_key
from elyune_core.entities import (
    VoiceContribution,
    VoiceProfile,
)
from elyune_core.errors import (
    ConflictError,
    VoiceProfileNotFoundError,
)
from elyune_core.ids import RecordingId, UserId, VoiceProfileId
from elyune_core.ports import (
    VoiceProfileRepository,
)


class SqlVoiceProfileRepository(VoiceProfileRepository):
    """Profiles in ``voice_profiles``, what recordings gave them in
    ``voice_profile_contributions`` (deleted with the profile or the recording)."""

    def __init__(self, conn: AsyncConnection | SyncReader) -> None:
        self._conn = conn

    async def lock_owner(self, owner_id: UserId) -> None:
        # FOR UPDATE of the owner's row on PostgreSQL; SQLite writers already hold the
        # database's write lock.
        query = select(t.users.c.id).where(t.users.c.id == owner_id)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        await self._conn.execute(query)

    async def list(self, owner_id: UserId) -> Sequence[VoiceProfile]:
        p = t.voice_profiles.c
        query = select(t.voice_profiles).where(p.owner_id == owner_id).order_by(p.name_key, p.id)
        return await self._load(query)

    async def get(self, profile_id: VoiceProfileId, owner_id: UserId) -> VoiceProfile:
        p = t.voice_profiles.c
        found = await self._load(
            select(t.voice_profiles).where(p.id == profile_id, p.owner_id == owner_id)
        )
        if not found:
            raise VoiceProfileNotFoundError("Not found.")
        return found[0]

    async def find_by_name(self, owner_id: UserId, name: str) -> VoiceProfile | None:
        p = t.voice_profiles.c
        found = await self._load(
            select(t.voice_profiles).where(p.owner_id == owner_id, p.name_key == name_key(name))
        )
        return found[0] if found else None

    async def with_recording(self, recording_id: RecordingId) -> Sequence[VoiceProfile]:
        c = t.voice_profile_contributions.c
        ids = select(c.profile_id).where(c.recording_id == recording_id)
        return await self._load(select(t.voice_profiles).where(t.voice_profiles.c.id.in_(ids)))

    async def add(self, profile: VoiceProfile) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t.voice_profiles).values(
                        id=profile.id,
                        owner_id=profile.owner_id,
                        created_at=profile.created_at,
                        **self._values(profile),
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"A voice profile called {profile.name!r} already exists.") from exc
        await self._write_contributions(profile)

    async def save(self, profile: VoiceProfile) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    update(t.voice_profiles)
                    .where(t.voice_profiles.c.id == profile.id)
                    .values(**self._values(profile))
                )
        except IntegrityError as exc:
            raise ConflictError(f"A voice profile called {profile.name!r} already exists.") from exc
        c = t.voice_profile_contributions.c
        await self._conn.execute(
            delete(t.voice_profile_contributions).where(c.profile_id == profile.id)
        )
        await self._write_contributions(profile)

    async def delete(self, profile_id: VoiceProfileId) -> None:
        c = t.voice_profile_contributions.c
        await self._conn.execute(
            delete(t.voice_profile_contributions).where(c.profile_id == profile_id)
        )
        await self._conn.execute(
            delete(t.voice_profiles).where(t.voice_profiles.c.id == profile_id)
        )

    async def matched_recordings(
        self, owner_id: UserId, profile_id: VoiceProfileId
    ) -> Sequence[RecordingId]:
        r = t.recordings.c
        query = select(r.id, r.speaker_matches).where(
            r.owner_id == owner_id, r.speaker_matches.is_not(None)
        )
        rows = (await self._conn.execute(query)).mappings()
        return [
            RecordingId(row["id"])
            for row in rows
            if any(
                m.get("profile_id") == profile_id for m in (row["speaker_matches"] or {}).values()
            )
        ]

    @staticmethod
    def _values(profile: VoiceProfile) -> dict[str, Any]:
        return {
            "name": profile.name,
            "name_key": name_key(profile.name),
            "updated_at": profile.updated_at,
        }

    async def _write_contributions(self, profile: VoiceProfile) -> None:
        if profile.contributions:
            await self._conn.execute(
                insert(t.voice_profile_contributions),
                [
                    {
                        "profile_id": profile.id,
                        "recording_id": c.recording_id,
                        "label": c.label,
                        "embedding": list(c.embedding),
                        "seconds": c.seconds,
                        "position": n,
                    }
                    for n, c in enumerate(profile.contributions)
                ],
            )

    async def _load(self, query: Select[Any]) -> builtins.list[VoiceProfile]:
        rows = (await self._conn.execute(query)).mappings().all()
        if not rows:
            return []
        c = t.voice_profile_contributions.c
        parts = (
            await self._conn.execute(
                select(t.voice_profile_contributions)
                .where(c.profile_id.in_([row["id"] for row in rows]))
                .order_by(c.profile_id, c.position)
            )
        ).mappings()
        found: dict[str, builtins.list[VoiceContribution]] = {}
        for part in parts:
            found.setdefault(part["profile_id"], []).append(
                VoiceContribution(
                    recording_id=RecordingId(part["recording_id"]),
                    label=part["label"],
                    embedding=tuple(part["embedding"]),
                    seconds=part["seconds"],
                )
            )
        return [
            VoiceProfile(
                id=VoiceProfileId(row["id"]),
                owner_id=UserId(row["owner_id"]),
                name=row["name"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                contributions=tuple(found.get(row["id"], ())),
            )
            for row in rows
        ]
