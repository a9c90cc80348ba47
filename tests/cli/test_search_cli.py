"""``elyune search`` and ``elyune ask``: on the processed sample meeting (real pipeline,
slow) and on recordings written to the CLI's database (the date filters)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from elyune_adapters.settings import DatabaseSettings
from elyune_adapters.sql.engine import create_engine
from elyune_adapters.sql.unit_of_work import SqlUnitOfWork
from elyune_core import Recording, RecordingId, RecordingStatus, Segment, Transcript
from elyune_core.use_cases import reindex_recording
from tests.support.media import copy_sample


@pytest.mark.slow
def test_the_sample_meeting_is_found_at_the_moment_it_was_said(cli, tmp_path):
    """After ``elyune process``, searching words of the sample lands on the segment that
    holds them, with that segment's start and end; ask quotes real segments."""
    result, doc = cli.json("process", str(copy_sample(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    segments = doc["transcript"]["segments"]
    saying = [s for s in segments if "onboarding guide" in s["text"].lower()]
    said = saying[0]  # the request; the reply says it again (their ranks are close)
    result, found = cli.json("search", '"onboarding guide"', "--json")
    assert result.exit_code == 0, result.output
    hits = [h for h in found["results"] if h["kind"] == "segment"]
    assert sorted((h["segment_id"], h["start"], h["end"]) for h in hits) == [
        (s["id"], s["start"], s["end"]) for s in saying
    ]
    assert all(h["url"].startswith(f"/#/recordings/{doc['id']}?t=") for h in hits)
    result, answer = cli.json("ask", "Who reviews the onboarding guide?", "--json")
    assert result.exit_code == 0, result.output
    assert answer["kind"] == "extractive" and answer["citations"]
    texts = {s["id"]: s["text"] for s in segments}
    assert all(c["quote"] == texts[c["segment_id"]] for c in answer["citations"])
    assert said["id"] in {c["segment_id"] for c in answer["citations"]}


@pytest.mark.slow
def test_search_input_errors_are_one_line_and_exit_2(cli):
    result = cli("search", "   ")
    assert result.exit_code == 2
    assert "q" in result.output and "blank" in result.output
    assert cli("search", "x", "--user", "nobody").exit_code == 3


def _two_recordings(cli) -> None:
    """Recordings of the CLI's own user, made on 1 and 10 March 2026, both saying
    "backup window" (written to the CLI's database, which a first search creates)."""
    assert cli("search", "anything").exit_code == 0

    async def seed() -> None:
        url = f"sqlite+aiosqlite:///{cli.data_dir / 'elyune.sqlite3'}"
        engine = create_engine(DatabaseSettings(url=url))
        async with SqlUnitOfWork(engine) as uow:
            user = await uow.users.get_by_username("local")
            assert user is not None
            for rid, day in (("rec-early", 1), ("rec-late", 10)):
                made = datetime(2026, 3, day, 12, tzinfo=UTC)
                await uow.recordings.add(
                    Recording(
                        RecordingId(rid),
                        user.id,
                        f"Infra {rid}",
                        "a.webm",
                        f"recordings/{user.id}/{rid}/source.webm",
                        RecordingStatus.READY,
                        made,
                        made,
                    )
                )
                segment = Segment(0, 1.0, 4.0, f"The backup window moved ({rid}).", "0")
                await uow.transcripts.save(
                    Transcript(
                        RecordingId(rid),
                        segment.text,
                        "en",
                        (segment,),
                        (),
                        "t",
                        made,
                        duration=5.0,
                    )
                )
                await reindex_recording(uow, RecordingId(rid))
            await uow.commit()
        await engine.dispose()

    asyncio.run(seed())


def test_search_filters_by_the_day_recordings_were_made(cli):
    _two_recordings(cli)

    def found(*options: str) -> set[str]:
        result, body = cli.json("search", "backup window", *options, "--json")
        assert result.exit_code == 0, result.output
        return {h["recording_id"] for h in body["results"]}

    assert found() == {"rec-early", "rec-late"}
    assert found("--created-after", "2026-03-05") == {"rec-late"}
    assert found("--created-before", "2026-03-05") == {"rec-early"}
    assert found("--created-after", "2026-03-01", "--created-before", "2026-03-10") == {
        "rec-early"
    }  # on or after the first day, before the second
    assert found("--created-after", "2026-03-11") == set()


@pytest.mark.parametrize(
    "bad", ["yesterday", "2026-13-01", "2026-02-31", "2026-3-1", "01/03/2026", ""]
)
def test_a_bad_search_date_is_one_line_and_exit_2(cli, bad):
    result = cli("search", "backup", "--created-before", bad)
    assert result.exit_code == 2, result.output
    assert "--created-before: Use a date like 2026-03-01 (YYYY-MM-DD)." in result.output
    assert "Traceback" not in result.output
