"""Usage: audio minutes transcribed and analysis tokens, per user."""

from __future__ import annotations

from datetime import datetime

import attrs

from elyune_core.ids import UserId
from elyune_core.ports import RecordingQuery, UnitOfWorkFactory


@attrs.frozen
class UserUsage:
    """What one user's recordings used."""

    username: str
    recordings: int
    audio_minutes: float
    input_tokens: int
    output_tokens: int


class UsageReport:
    """Sum, per user, the audio minutes transcribed and the tokens the analyses used for
    recordings created since a date, plus the tokens of answers given since then (users
    with neither are left out)."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, since: datetime) -> list[UserUsage]:
        """The usage since *since*, heaviest users first."""
        totals: dict[UserId, list[float]] = {}
        async with self._uow() as uow:
            names = {u.id: u.username for u in await uow.users.list()}
            offset = 0
            while True:
                page = await uow.recordings.list(
                    RecordingQuery(created_after=since, offset=offset, limit=500)
                )
                for recording in page.items:
                    row = totals.setdefault(recording.owner_id, [0, 0.0, 0, 0])
                    row[0] += 1
                    transcript = await uow.transcripts.get(recording.id)
                    if transcript is not None and transcript.audio_seconds:
                        row[1] += transcript.audio_seconds / 60
                    for analysis in await uow.analyses.list(recording.id):
                        row[2] += analysis.input_tokens or 0
                        row[3] += analysis.output_tokens or 0
                offset += len(page.items)
                if len(page.items) < 500:
                    break
            for owner, (tokens_in, tokens_out) in (await uow.search.answer_tokens(since)).items():
                row = totals.setdefault(owner, [0, 0.0, 0, 0])
                row[2] += tokens_in  # answers to questions (ask) count like the analyses
                row[3] += tokens_out
        report = [
            UserUsage(
                username=names.get(owner, owner),
                recordings=int(r[0]),
                audio_minutes=round(r[1], 2),
                input_tokens=int(r[2]),
                output_tokens=int(r[3]),
            )
            for owner, r in totals.items()
        ]
        return sorted(report, key=lambda u: (-u.audio_minutes, -u.input_tokens, u.username))


__all__ = [
    "UsageReport",
    "UserUsage",
]
