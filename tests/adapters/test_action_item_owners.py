"""The owner rule both analysis engines share: an owner is a person, never a bare label."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from elyune_adapters.analysis.gemini import GeminiAnalyzer
from elyune_adapters.analysis.owners import UnknownOwnerError, resolve_owner, speaker_display
from elyune_core.entities import ActionItems, AnalysisKind, Segment, Transcript
from elyune_core.ids import RecordingId
from elyune_core.ports import AnalysisRequest
from tests.fakes.gemini import FakeGemini, gemini_json, prompt_text

SPEAKERS = ("0", "1", "2")
NAMES = {"0": "Alice"}


@pytest.mark.parametrize(
    ("value", "owner"),
    [
        ("0", "Alice"),  # a named speaker by label: their name
        ("Speaker 0", "Alice"),
        ("SPEAKER_00", "Alice"),
        ("alice", "Alice"),
        ("1", "Speaker 1"),  # an unnamed speaker: as the transcript shows them
        ("SPEAKER_1", "Speaker 1"),
        ("speaker-2", "Speaker 2"),
        ("spk 2", "Speaker 2"),
        ("Carol", "Carol"),  # a person named in the meeting
        ("we", None),  # a group is nobody in particular
        ("the team", None),
        ("", None),
        (None, None),
    ],
)
def test_owners_are_people(value: str | None, owner: str | None) -> None:
    """Labels in any spelling become the speaker's name or ``Speaker <label>``."""
    assert resolve_owner(value, SPEAKERS, NAMES) == owner


def test_i_is_the_speaker_of_the_item() -> None:
    """ "I" and "me" are whoever said the item; without a speaker, nobody."""
    assert resolve_owner("I", SPEAKERS, NAMES, speaker="0") == "Alice"
    assert resolve_owner("me", SPEAKERS, NAMES, speaker="2") == "Speaker 2"
    assert resolve_owner("I", SPEAKERS, NAMES) is None


def test_a_label_of_no_speaker_or_an_unknown_name_is_refused() -> None:
    """ "7" is nobody in a three-speaker meeting; a name the meeting never said is refused
    when the caller can check names."""
    with pytest.raises(UnknownOwnerError, match="not one of this transcript's speakers"):
        resolve_owner("7", SPEAKERS, NAMES)
    with pytest.raises(UnknownOwnerError, match="SPEAKER_9"):
        resolve_owner("SPEAKER_9", SPEAKERS, NAMES)
    with pytest.raises(UnknownOwnerError, match="neither a speaker nor a person named"):
        resolve_owner("Zed", SPEAKERS, NAMES, named=lambda value: None)


def test_an_unnamed_speaker_is_shown_as_elsewhere() -> None:
    """The same form as the transcript, exports and API use for an unnamed speaker."""
    assert speaker_display("3", NAMES) == "Speaker 3"
    assert speaker_display("0", NAMES) == "Alice"
    assert speaker_display(None, NAMES) is None


# --------------------------------------------------------------------------- Gemini's answers

SEGMENTS = (
    Segment(0, 0.0, 4.0, "Morning. Can someone renew the SSL certificates by Friday?", "0"),
    Segment(1, 4.5, 7.0, "Yes, I'll take that one.", "1"),
    Segment(2, 7.5, 11.0, "I will update the release notes tomorrow.", "2"),
)


@pytest.fixture
async def fake(aiohttp_server: Any) -> AsyncIterator[FakeGemini]:
    server_fake = FakeGemini()
    server = await aiohttp_server(server_fake.app)
    server_fake.base_url = str(server.make_url(""))
    yield server_fake
    server_fake.release()


def gemini_answer(owners: tuple[str, str]) -> dict[str, Any]:
    return {
        "action_items": [
            {
                "text": "Renew the SSL certificates",
                "owner": owners[0],
                "due": "Friday",
                "segment_id": 1,
                "timestamp": 4.5,
            },
            {
                "text": "Update the release notes",
                "owner": owners[1],
                "due": "tomorrow",
                "segment_id": 2,
                "timestamp": 7.5,
            },
        ]
    }


@pytest.mark.parametrize(
    ("owners", "names", "expected"),
    [
        (("1", "2"), {}, ["Speaker 1", "Speaker 2"]),
        (("SPEAKER_1", "SPEAKER_2"), {"1": "Kofi"}, ["Kofi", "Speaker 2"]),
        (("Speaker 1", "I"), {"2": "Mei"}, ["Speaker 1", "Mei"]),
    ],
)
async def test_gemini_owners_given_as_labels_come_out_as_people(
    fake: FakeGemini, owners: tuple[str, str], names: dict[str, str], expected: list[str]
) -> None:
    """A Gemini answer with owner "1" or "SPEAKER_1" is checked against the transcript's
    speakers: the speaker's name when given, else "Speaker 1"; "I" is who said it."""
    fake.enqueue(gemini_json(gemini_answer(owners)))
    transcript = Transcript(
        recording_id=RecordingId("rec-owners"),
        text=" ".join(s.text for s in SEGMENTS),
        language="en",
        segments=SEGMENTS,
        words=(),
        engine="deepgram:nova-3",
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
        duration=12.0,
    )
    analyzer = GeminiAnalyzer("AIza-test-key", base_url=fake.base_url, timeout=5.0)

    outcomes = await analyzer.analyze(
        AnalysisRequest(
            transcript=transcript,
            kinds=(AnalysisKind.ACTION_ITEMS,),
            speaker_names=names,
            duration=12.0,
        )
    )

    outcome = outcomes[AnalysisKind.ACTION_ITEMS]
    assert outcome.error is None
    assert isinstance(outcome.content, ActionItems)
    assert [i.owner for i in outcome.content.items] == expected
    assert len(fake.requests) == 1  # accepted as it was, no correction asked


async def test_a_gemini_owner_that_is_no_speaker_is_sent_back(fake: FakeGemini) -> None:
    """Owner "SPEAKER_7" in a three-speaker meeting is refused: Gemini is asked again,
    and its corrected answer is used."""
    fake.enqueue(gemini_json(gemini_answer(("SPEAKER_7", "2"))))
    fake.enqueue(gemini_json(gemini_answer(("1", "2"))))
    transcript = Transcript(
        recording_id=RecordingId("rec-owners"),
        text=" ".join(s.text for s in SEGMENTS),
        language="en",
        segments=SEGMENTS,
        words=(),
        engine="deepgram:nova-3",
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
        duration=12.0,
    )
    analyzer = GeminiAnalyzer("AIza-test-key", base_url=fake.base_url, timeout=5.0)

    outcomes = await analyzer.analyze(
        AnalysisRequest(transcript=transcript, kinds=(AnalysisKind.ACTION_ITEMS,), duration=12.0)
    )

    content = outcomes[AnalysisKind.ACTION_ITEMS].content
    assert isinstance(content, ActionItems)
    assert [i.owner for i in content.items] == ["Speaker 1", "Speaker 2"]
    assert len(fake.requests) == 2
    assert "not one of this transcript's speakers" in prompt_text(fake.requests[1])
