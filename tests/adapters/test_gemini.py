"""GeminiAnalyzer through the real google-genai SDK against a local fake ``generateContent``."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from elyune_adapters.analysis.gemini import GeminiAnalyzer
from elyune_adapters.settings import SettingsError, load_settings
from elyune_core.entities import (
    ActionItems,
    AnalysisKind,
    KeyPoints,
    Segment,
    Sentiment,
    SentimentLabel,
    Summary,
    Transcript,
)
from elyune_core.errors import AnalysisFailedError
from elyune_core.ids import RecordingId
from elyune_core.ports import AnalysisRequest
from tests.fakes import RecordedRequest, ScriptedResponse
from tests.fakes.gemini import (
    FakeGemini,
    consumer_suspended_error,
    gemini_blocked,
    gemini_empty,
    gemini_error,
    gemini_json,
    gemini_parts,
    gemini_text,
    invalid_key_error,
    key_service_blocked_error,
    prompt_text,
    service_disabled_error,
)

API_KEY = "AIza-test-key-3c9e71f0"
ALL_KINDS = tuple(AnalysisKind)
# The version is chosen on purpose (v1beta); the SDK alone would call v1.
PATH = re.compile(r"^/v1beta/models/gemini-3\.8-flash:generateContent$")

SEGMENTS = (
    Segment(0, 0.3, 4.1, "Good morning, Bob. Thanks for joining the weekly release meeting.", "0"),
    Segment(1, 4.6, 9.8, "Good morning, Alice. The customers love the new dashboard.", "1"),
    Segment(2, 10.2, 14.9, "Great. Can you send the release notes to Carol by Friday?", "0"),
    Segment(3, 15.3, 17.6, "Sure, I will send them on Thursday.", "1"),
)

GOOD: dict[str, Any] = {
    "summary": {
        "title": "Weekly release meeting",
        "text": "Alice and Bob review the launch; customers like the new dashboard.",
    },
    "action_items": [
        {
            "text": "Send the release notes to Carol",
            "owner": "Speaker 1",
            "due": "Thursday",
            "segment_id": 3,
            "timestamp": 15.3,
        }
    ],
    "key_points": [{"text": "Customers love the new dashboard", "segment_id": 1, "timestamp": 5.0}],
    "sentiment": {
        "label": "positive",
        "score": 0.7,
        "explanation": "Both speakers are pleased with the launch.",
        "speakers": [
            {"speaker": "Alice", "label": "positive", "score": 0.6},
            {"speaker": "Speaker 1", "label": "positive", "score": 0.8},
        ],
    },
}


def transcript(segments: tuple[Segment, ...] = SEGMENTS, language: str | None = "en") -> Transcript:
    return Transcript(
        recording_id=RecordingId("rec-7"),
        text=" ".join(s.text for s in segments),
        language=language,
        segments=segments,
        words=(),
        engine="deepgram:nova-3",
        created_at=datetime(2025, 3, 4, tzinfo=UTC),
        duration=18.0,
    )


def analysis(kinds: tuple[AnalysisKind, ...] = ALL_KINDS, **options: Any) -> AnalysisRequest:
    options.setdefault("transcript", transcript())
    options.setdefault("speaker_names", {"0": "Alice"})
    options.setdefault("title", "Weekly release")
    options.setdefault("duration", 18.0)
    return AnalysisRequest(kinds=kinds, **options)


def good(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(GOOD)
    payload.update(changes)
    return payload


@pytest.fixture
async def fake(aiohttp_server: Any) -> AsyncIterator[FakeGemini]:
    server_fake = FakeGemini()
    server = await aiohttp_server(server_fake.app)
    server_fake.base_url = str(server.make_url(""))
    yield server_fake
    server_fake.release()


def analyzer(fake: FakeGemini, **options: Any) -> GeminiAnalyzer:
    options.setdefault("backoff_base", 0.01)
    options.setdefault("timeout", 5.0)
    return GeminiAnalyzer(API_KEY, base_url=fake.base_url, **options)


def schema_of(request: RecordedRequest) -> dict[str, Any]:
    schema: dict[str, Any] = request.json()["generationConfig"]["responseSchema"]
    return schema


# --------------------------------------------------------------------------- the request


async def test_sends_the_transcript_the_schema_and_the_key(fake: FakeGemini) -> None:
    """The SDK posts to generateContent with the key header, JSON mode and a full schema."""
    fake.enqueue(gemini_json(GOOD))

    await analyzer(fake, temperature=0.2).analyze(analysis())

    [sent] = fake.requests
    assert PATH.match(sent.path), sent.path
    assert sent.header("x-goog-api-key") == API_KEY
    assert sent.json()["systemInstruction"]["parts"][0]["text"].startswith("You analyse")
    config = sent.json()["generationConfig"]
    assert config["temperature"] == 0.2
    assert config["responseMimeType"] == "application/json"
    schema = schema_of(sent)
    assert list(schema["properties"]) == [k.value for k in ALL_KINDS]
    assert sorted(schema["required"]) == sorted(k.value for k in ALL_KINDS)
    assert set(schema["properties"]["summary"]["properties"]) == {"title", "text"}
    item = schema["properties"]["action_items"]["items"]
    assert set(item["properties"]) == {"text", "owner", "due", "segment_id", "timestamp"}
    assert item["properties"]["owner"]["nullable"] is True
    assert item["properties"]["segment_id"]["type"] == "INTEGER"
    sentiment = schema["properties"]["sentiment"]["properties"]
    assert sentiment["label"]["enum"] == ["positive", "neutral", "negative", "mixed"]
    assert (sentiment["score"]["minimum"], sentiment["score"]["maximum"]) == (-1.0, 1.0)
    assert sentiment["speakers"]["items"]["properties"]["label"]["enum"][0] == "positive"


async def test_the_prompt_carries_segment_ids_times_and_speaker_names(fake: FakeGemini) -> None:
    """Lines read ``[id] start-end name: text``; unnamed speakers are ``Speaker <label>``."""
    fake.enqueue(gemini_json(GOOD))

    await analyzer(fake).analyze(analysis())

    prompt = prompt_text(fake.requests[0])
    assert "[0] 0.30-4.10 Alice: Good morning, Bob." in prompt
    assert "[1] 4.60-9.80 Speaker 1: Good morning, Alice." in prompt
    assert "[3] 15.30-17.60 Speaker 1: Sure, I will send them on Thursday." in prompt
    assert "Alice (label 0), Speaker 1 (label 1)" in prompt
    assert "language code en" in prompt
    assert "Weekly release" in prompt
    assert "18.00 seconds" in prompt


async def test_only_the_requested_kinds_are_asked_for(fake: FakeGemini) -> None:
    """The schema, the outcomes and the token shares cover the requested kinds only."""
    fake.enqueue(
        gemini_json(
            {"summary": GOOD["summary"], "sentiment": GOOD["sentiment"]},
            prompt_tokens=1000,
            output_tokens=101,
        )
    )

    outcomes = await analyzer(fake).analyze(
        analysis((AnalysisKind.SUMMARY, AnalysisKind.SENTIMENT))
    )

    assert list(schema_of(fake.requests[0])["properties"]) == ["summary", "sentiment"]
    assert set(outcomes) == {AnalysisKind.SUMMARY, AnalysisKind.SENTIMENT}
    assert outcomes[AnalysisKind.SUMMARY].input_tokens == 500
    assert outcomes[AnalysisKind.SUMMARY].output_tokens == 51
    assert outcomes[AnalysisKind.SENTIMENT].output_tokens == 50


# --------------------------------------------------------------------------- good answers


async def test_maps_a_valid_answer_to_the_four_analyses(fake: FakeGemini) -> None:
    """Valid output becomes Summary, ActionItems, KeyPoints and Sentiment, with tokens."""
    fake.enqueue(gemini_json(GOOD, prompt_tokens=1200, output_tokens=150))

    outcomes = await analyzer(fake).analyze(analysis())

    assert all(o.error is None for o in outcomes.values())
    summary = outcomes[AnalysisKind.SUMMARY].content
    assert summary == Summary("Weekly release meeting", GOOD["summary"]["text"])
    items = outcomes[AnalysisKind.ACTION_ITEMS].content
    assert isinstance(items, ActionItems)
    [item] = items.items
    assert (item.text, item.owner, item.due) == (
        "Send the release notes to Carol",
        "Speaker 1",
        "Thursday",
    )
    assert (item.segment_id, item.timestamp, item.speaker) == (3, 15.3, "1")
    points = outcomes[AnalysisKind.KEY_POINTS].content
    assert isinstance(points, KeyPoints)
    assert (points.items[0].segment_id, points.items[0].timestamp) == (1, 5.0)
    sentiment = outcomes[AnalysisKind.SENTIMENT].content
    assert isinstance(sentiment, Sentiment)
    assert (sentiment.label, sentiment.score) == (SentimentLabel.POSITIVE, 0.7)
    assert [(s.speaker, s.label, s.score) for s in sentiment.speakers] == [
        ("0", SentimentLabel.POSITIVE, 0.6),
        ("1", SentimentLabel.POSITIVE, 0.8),
    ]
    assert [o.input_tokens for o in outcomes.values()] == [300, 300, 300, 300]
    assert sum(o.output_tokens or 0 for o in outcomes.values()) == 150
    assert len(fake.requests) == 1


async def test_a_slightly_off_timestamp_is_moved_to_its_segment(fake: FakeGemini) -> None:
    """A timestamp just outside its segment is corrected, without asking again."""
    fake.enqueue(
        gemini_json(
            good(key_points=[{"text": "Dashboard praised", "segment_id": 1, "timestamp": 3.5}])
        )
    )

    outcomes = await analyzer(fake).analyze(analysis())

    points = outcomes[AnalysisKind.KEY_POINTS].content
    assert isinstance(points, KeyPoints)
    assert points.items[0].timestamp == 4.6
    assert len(fake.requests) == 1


async def test_an_owner_named_in_the_transcript_is_accepted(fake: FakeGemini) -> None:
    """An owner who is not a speaker but is named in what was said is valid."""
    item = dict(GOOD["action_items"][0], owner="Carol")
    fake.enqueue(gemini_json(good(action_items=[item])))

    outcomes = await analyzer(fake).analyze(analysis((AnalysisKind.ACTION_ITEMS,)))

    content = outcomes[AnalysisKind.ACTION_ITEMS].content
    assert isinstance(content, ActionItems)
    assert content.items[0].owner == "Carol"


async def test_analyses_a_non_english_transcript_in_its_language(fake: FakeGemini) -> None:
    """The prompt asks for the transcript's language; the answer is kept as it is."""
    german = (
        Segment(0, 0.0, 3.0, "Guten Morgen zusammen, wir besprechen den Launch.", "0"),
        Segment(1, 3.2, 6.5, "Ich schicke die Notizen bis Freitag an Jonas.", "1"),
    )
    payload = {
        "summary": {"title": "Launch-Besprechung", "text": "Das Team bespricht den Launch."},
        "action_items": [
            {
                "text": "Notizen an Jonas schicken",
                "owner": "Maria",
                "due": "Freitag",
                "segment_id": 1,
                "timestamp": 3.2,
            }
        ],
    }
    fake.enqueue(gemini_json(payload))

    outcomes = await analyzer(fake).analyze(
        analysis(
            (AnalysisKind.SUMMARY, AnalysisKind.ACTION_ITEMS),
            transcript=transcript(german, language="de"),
            speaker_names={"1": "Maria"},
            duration=7.0,
        )
    )

    prompt = prompt_text(fake.requests[0])
    assert "language code de" in prompt
    assert "[1] 3.20-6.50 Maria: Ich schicke die Notizen bis Freitag an Jonas." in prompt
    assert outcomes[AnalysisKind.SUMMARY].content == Summary(
        "Launch-Besprechung", "Das Team bespricht den Launch."
    )
    items = outcomes[AnalysisKind.ACTION_ITEMS].content
    assert isinstance(items, ActionItems)
    assert items.items[0].owner == "Maria"


# --------------------------------------------------------------------------- checked answers


def bad_anchors() -> dict[str, Any]:
    return good(
        action_items=[dict(GOOD["action_items"][0], timestamp=999.0)],
        key_points=[{"text": "Made up", "segment_id": 42, "timestamp": 5.0}],
    )


async def test_out_of_range_timestamps_and_unknown_segments_are_asked_again_then_fail(
    fake: FakeGemini,
) -> None:
    """Bad anchors get one correction request for those kinds only, then a readable error."""
    fake.enqueue(
        gemini_json(bad_anchors(), prompt_tokens=1000, output_tokens=100),
        gemini_json(
            {
                "action_items": bad_anchors()["action_items"],
                "key_points": bad_anchors()["key_points"],
            },
            prompt_tokens=1400,
            output_tokens=60,
        ),
    )

    outcomes = await analyzer(fake).analyze(analysis())

    assert len(fake.requests) == 2
    retry = fake.requests[1]
    assert list(schema_of(retry)["properties"]) == ["action_items", "key_points"]
    roles = [c["role"] for c in retry.json()["contents"]]
    assert roles == ["user", "model", "user"]
    correction = retry.json()["contents"][2]["parts"][0]["text"]
    assert "timestamp 999 s is outside the recording" in correction
    assert "segment 42 does not exist" in correction
    action_error = outcomes[AnalysisKind.ACTION_ITEMS].error
    assert action_error is not None
    assert "action items did not fit the transcript" in action_error
    assert "outside the recording" in action_error
    key_error = outcomes[AnalysisKind.KEY_POINTS].error
    assert key_error is not None
    assert "segment 42 does not exist" in key_error
    assert outcomes[AnalysisKind.KEY_POINTS].content is None
    assert isinstance(outcomes[AnalysisKind.SUMMARY].content, Summary)
    assert isinstance(outcomes[AnalysisKind.SENTIMENT].content, Sentiment)
    # First call shared by four kinds (250 each), the retry by two (700 each).
    assert outcomes[AnalysisKind.SUMMARY].input_tokens == 250
    assert outcomes[AnalysisKind.ACTION_ITEMS].input_tokens == 950
    assert sum(o.input_tokens or 0 for o in outcomes.values()) == 2400


async def test_a_corrected_answer_is_accepted(fake: FakeGemini) -> None:
    """When the second answer passes the checks, its content is used."""
    fake.enqueue(
        gemini_json(bad_anchors()),
        gemini_json({"action_items": GOOD["action_items"], "key_points": GOOD["key_points"]}),
    )

    outcomes = await analyzer(fake).analyze(analysis())

    assert all(o.error is None for o in outcomes.values()), outcomes
    points = outcomes[AnalysisKind.KEY_POINTS].content
    assert isinstance(points, KeyPoints)
    assert points.items[0].segment_id == 1


async def test_unknown_owners_and_labels_and_scores_out_of_range_are_rejected(
    fake: FakeGemini,
) -> None:
    """Owners must be speakers or named people; labels from the set; scores in [-1, 1]."""
    bad = good(
        action_items=[dict(GOOD["action_items"][0], owner="Zed")],
        sentiment=dict(GOOD["sentiment"], label="happy", score=3),
    )
    fake.enqueue(gemini_json(bad), gemini_json(bad))

    outcomes = await analyzer(fake).analyze(analysis())

    correction = fake.requests[1].json()["contents"][2]["parts"][0]["text"]
    assert "owner 'Zed' is neither a speaker nor a person named" in correction
    assert "label 'happy' is not one of positive, neutral, negative, mixed" in correction
    assert "score 3 is not a number between -1 and 1" in correction
    assert outcomes[AnalysisKind.ACTION_ITEMS].error is not None
    sentiment_error = outcomes[AnalysisKind.SENTIMENT].error
    assert sentiment_error is not None
    assert "happy" in sentiment_error


async def test_invalid_json_is_asked_for_again_then_fails(fake: FakeGemini) -> None:
    """An answer that is not JSON is asked for once more; then every kind has an error."""
    fake.enqueue(gemini_text('{"summary": {"title": "Wee'), gemini_text("sorry, no JSON"))

    outcomes = await analyzer(fake).analyze(analysis())

    assert len(fake.requests) == 2
    assert "not valid JSON" in fake.requests[1].json()["contents"][2]["parts"][0]["text"]
    for outcome in outcomes.values():
        assert outcome.content is None
        assert outcome.error is not None
        assert "not valid JSON" in outcome.error


async def test_invalid_json_then_a_valid_answer(fake: FakeGemini) -> None:
    """A valid second answer after broken JSON is used."""
    fake.enqueue(gemini_text("```json\n{oops"), gemini_json(GOOD))

    outcomes = await analyzer(fake).analyze(analysis())

    assert all(o.content is not None for o in outcomes.values())


async def test_a_blocked_prompt_fails_at_once_with_the_reason(fake: FakeGemini) -> None:
    """A prompt blocked by promptFeedback is not sent again (the same prompt would be
    blocked again, and billed); the error names blockReason and blockReasonMessage."""
    fake.enqueue(gemini_blocked("SAFETY", "The prompt was blocked for harassment."))

    outcomes = await analyzer(fake).analyze(analysis((AnalysisKind.SUMMARY,)))

    summary = outcomes[AnalysisKind.SUMMARY]
    assert summary.error == (
        "Gemini blocked the prompt (blockReason SAFETY): The prompt was blocked for harassment."
    )
    assert summary.content is None
    assert len(fake.requests) == 1
    assert summary.input_tokens == 800
    assert summary.output_tokens == 0


async def test_thinking_tokens_count_as_output(fake: FakeGemini) -> None:
    """Gemini bills thinking as output, so ``thoughtsTokenCount`` is added to it."""
    answer = gemini_json({"summary": GOOD["summary"]}, prompt_tokens=900, output_tokens=80)
    answer.body["usageMetadata"]["thoughtsTokenCount"] = 420
    fake.enqueue(answer)

    outcomes = await analyzer(fake).analyze(analysis((AnalysisKind.SUMMARY,)))

    assert outcomes[AnalysisKind.SUMMARY].input_tokens == 900
    assert outcomes[AnalysisKind.SUMMARY].output_tokens == 500


async def test_an_empty_transcript_is_not_sent(fake: FakeGemini) -> None:
    """Without speech there is nothing to ask; every kind says so."""
    outcomes = await analyzer(fake).analyze(analysis(transcript=transcript(())))

    assert fake.requests == []
    assert all(o.error and "no speech" in o.error for o in outcomes.values())


# --------------------------------------------------------------------------- long transcripts

_PART_LINE = re.compile(r"^\[(\d+)\] ", re.MULTILINE)


def long_transcript(count: int = 12) -> tuple[Segment, ...]:
    return tuple(
        Segment(
            i,
            i * 10.0,
            i * 10.0 + 8.0,
            f"Segment number {i} talks about topic {i} at some length to fill the budget.",
            str(i % 2),
        )
        for i in range(count)
    )


def part_answer(request: RecordedRequest) -> ScriptedResponse:
    """Answer a part with content anchored in the segments of that part."""
    prompt = prompt_text(request)
    if "summaries of the" in prompt:
        return gemini_json(
            {"summary": {"title": "Whole meeting", "text": "All parts together."}},
            prompt_tokens=100,
            output_tokens=10,
        )
    ids = [int(i) for i in _PART_LINE.findall(prompt)]
    first = ids[0]
    positive = first == 0
    return gemini_json(
        {
            "summary": {"title": f"Part from {first}", "text": f"Covers segments {ids}."},
            "action_items": [
                {
                    "text": f"Follow up on topic {first}",
                    "owner": "Alice",
                    "due": None,
                    "segment_id": first,
                    "timestamp": first * 10.0 + 1.0,
                }
            ],
            "key_points": [
                {"text": "The shared point.", "segment_id": first, "timestamp": first * 10.0},
                {"text": f"Topic {first}", "segment_id": ids[-1], "timestamp": ids[-1] * 10.0},
            ],
            "sentiment": {
                "label": "positive" if positive else "negative",
                "score": 1.0 if positive else -1.0,
                "explanation": "part tone",
                "speakers": [{"speaker": "Alice", "label": "neutral", "score": 0.0}],
            },
        },
        prompt_tokens=400,
        output_tokens=40,
    )


async def test_a_long_transcript_is_analysed_in_parts_and_merged(fake: FakeGemini) -> None:
    """Parts of whole segments, a summary of summaries, de-duplicated items, merged tone."""
    segments = long_transcript(12)
    fake.enqueue([part_answer] * 20)

    outcomes = await analyzer(fake, token_budget=80).analyze(
        analysis(transcript=transcript(segments), duration=120.0)
    )

    part_requests = [r for r in fake.requests if "summaries of the" not in prompt_text(r)]
    assert len(part_requests) >= 3
    assert len(fake.requests) == len(part_requests) + 1
    seen: list[int] = []
    for number, sent in enumerate(part_requests, start=1):
        prompt = prompt_text(sent)
        assert f"part {number} of {len(part_requests)}" in prompt
        seen += [int(i) for i in _PART_LINE.findall(prompt)]
    assert seen == list(range(12)), "every segment in exactly one part, in order"

    merge_prompt = prompt_text(fake.requests[-1])
    assert "Part from 0" in merge_prompt
    assert list(schema_of(fake.requests[-1])["properties"]) == ["summary"]
    assert outcomes[AnalysisKind.SUMMARY].content == Summary("Whole meeting", "All parts together.")

    points = outcomes[AnalysisKind.KEY_POINTS].content
    assert isinstance(points, KeyPoints)
    texts = [p.text for p in points.items]
    assert texts.count("The shared point.") == 1
    assert len(texts) == len(part_requests) + 1
    items = outcomes[AnalysisKind.ACTION_ITEMS].content
    assert isinstance(items, ActionItems)
    assert len(items.items) == len(part_requests)

    sentiment = outcomes[AnalysisKind.SENTIMENT].content
    assert isinstance(sentiment, Sentiment)
    assert -1.0 < sentiment.score < 0.0
    assert sentiment.label in (SentimentLabel.NEGATIVE, SentimentLabel.MIXED)
    assert [s.speaker for s in sentiment.speakers] == ["0"]

    parts = len(part_requests)
    assert outcomes[AnalysisKind.SUMMARY].input_tokens == parts * 100 + 100
    assert outcomes[AnalysisKind.KEY_POINTS].input_tokens == parts * 100
    total_in = sum(o.input_tokens or 0 for o in outcomes.values())
    assert total_in == parts * 400 + 100


async def test_a_short_transcript_is_one_request(fake: FakeGemini) -> None:
    """Within the token budget, there are no parts and no merge request."""
    fake.enqueue(gemini_json(GOOD))

    await analyzer(fake, token_budget=100_000).analyze(analysis())

    assert len(fake.requests) == 1
    assert "part 1 of" not in prompt_text(fake.requests[0])


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(invalid_key_error(), id="400-API_KEY_INVALID"),
        pytest.param(
            gemini_error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"),
            id="401",
        ),
    ],
)
async def test_a_rejected_key_fails_at_once(fake: FakeGemini, answer: ScriptedResponse) -> None:
    """A bad key is a permanent failure on the first answer."""
    fake.enqueue(answer)

    with pytest.raises(AnalysisFailedError) as caught:
        await analyzer(fake).analyze(analysis())

    assert str(caught.value) == "Gemini rejected the API key"
    assert caught.value.transient is False
    assert len(fake.requests) == 1


async def test_another_bad_request_is_permanent_with_geminis_message(fake: FakeGemini) -> None:
    """A 400 that is not about the key fails permanently and says why."""
    fake.enqueue(
        gemini_error(
            400, "* GenerateContentRequest.generation_config: bad schema", "INVALID_ARGUMENT"
        )
    )

    with pytest.raises(AnalysisFailedError) as caught:
        await analyzer(fake).analyze(analysis())

    assert caught.value.transient is False
    assert "bad schema" in str(caught.value)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "throttle",
    [
        pytest.param(
            gemini_error(
                429, "Resource exhausted", "RESOURCE_EXHAUSTED", headers={"Retry-After": "0"}
            ),
            id="retry-after-header",
        ),
        pytest.param(
            ScriptedResponse(
                status=429,
                body={
                    "error": {
                        "code": 429,
                        "message": "You exceeded your current quota.",
                        "status": "RESOURCE_EXHAUSTED",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                                "retryDelay": "0s",
                            }
                        ],
                    }
                },
            ),
            id="retry-info",
        ),
    ],
)
async def test_a_429_is_retried_when_the_server_says(
    fake: FakeGemini, throttle: ScriptedResponse
) -> None:
    """The wait the server asks for wins over a long backoff setting."""
    fake.enqueue(throttle, gemini_json(GOOD))

    outcomes = await analyzer(fake, backoff_base=30.0).analyze(analysis())

    assert len(fake.requests) == 2
    assert all(o.content is not None for o in outcomes.values())


async def test_a_server_error_is_retried(fake: FakeGemini) -> None:
    """A 500 is retried with backoff and the retry's answer is used."""
    fake.enqueue(gemini_error(500, "Internal error encountered.", "INTERNAL"), gemini_json(GOOD))

    outcomes = await analyzer(fake).analyze(analysis())

    assert len(fake.requests) == 2
    assert isinstance(outcomes[AnalysisKind.SUMMARY].content, Summary)


async def test_persistent_overload_is_transient(fake: FakeGemini) -> None:
    """503s until the attempts run out end as a transient failure."""
    fake.enqueue(gemini_error(503, "The model is overloaded.", "UNAVAILABLE") for _ in range(3))

    with pytest.raises(AnalysisFailedError) as caught:
        await analyzer(fake, max_attempts=3).analyze(analysis())

    assert caught.value.transient is True
    assert "overloaded" in str(caught.value)
    assert len(fake.requests) == 3


async def test_a_timeout_is_transient(fake: FakeGemini) -> None:
    """No answer within the timeout is a transient failure."""
    fake.enqueue(gemini_text(json.dumps(GOOD), delay=5.0))

    with pytest.raises(AnalysisFailedError) as caught:
        await analyzer(fake, timeout=0.3).analyze(analysis())

    assert caught.value.transient is True
    assert "did not answer" in str(caught.value)


async def test_a_body_that_is_not_json_is_a_permanent_failure(fake: FakeGemini) -> None:
    """A 200 that is not a generateContent response fails clearly."""
    fake.enqueue(ScriptedResponse(body="<html>captive portal</html>"))

    with pytest.raises(AnalysisFailedError) as caught:
        await analyzer(fake).analyze(analysis())

    assert caught.value.transient is False


async def test_the_key_is_sent_but_never_logged(
    fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """The key travels in ``x-goog-api-key`` only: no log record or error shows it."""
    caplog.set_level(logging.DEBUG)
    fake.enqueue(
        gemini_error(500, f"oops {API_KEY}", "INTERNAL"),
        gemini_json(bad_anchors()),
        gemini_json({"action_items": [], "key_points": []}),
        gemini_error(401, f"API key {API_KEY} is invalid", "UNAUTHENTICATED"),
    )
    adapter = analyzer(fake)

    await adapter.analyze(analysis())
    with pytest.raises(AnalysisFailedError) as caught:
        await adapter.analyze(analysis())

    assert all(r.header("x-goog-api-key") == API_KEY for r in fake.requests)
    assert caplog.records
    assert API_KEY not in caplog.text
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(adapter)


# --------------------------------------------------------------------------- the API version


async def test_v1beta_is_called_whatever_the_sdk_would_choose(
    fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version is set explicitly: neither the SDK's default (v1) nor
    ``GOOGLE_GENAI_API_VERSION`` changes where the request goes."""
    monkeypatch.setenv("GOOGLE_GENAI_API_VERSION", "v1")
    fake.enqueue(gemini_json(GOOD))

    outcomes = await analyzer(fake).analyze(analysis())

    assert fake.requests[0].path.startswith("/v1beta/models/")
    assert all(o.content is not None for o in outcomes.values())


async def test_v1_refuses_system_instructions_and_structured_output(fake: FakeGemini) -> None:
    """Called on v1, the request fails as Google answers it (issue 1837): the fields the
    adapter needs are unknown there. This is what production did with the SDK default."""
    fake.enqueue(gemini_json(GOOD))

    with pytest.raises(AnalysisFailedError) as caught:
        await analyzer(fake, api_version="v1").analyze(analysis())

    message = str(caught.value)
    assert caught.value.transient is False
    assert fake.requests[0].path.startswith("/v1/models/")
    assert 'Unknown name "systemInstruction": Cannot find field.' in message
    assert "Unknown name \"responseMimeType\" at 'generation_config'" in message
    assert "responseSchema" in message
    assert fake.pending == 1, "the service refused before answering"


async def test_the_default_leaves_the_temperature_to_the_model(fake: FakeGemini) -> None:
    """Gemini 3 models are tuned for their default temperature (1.0); none is sent."""
    fake.enqueue(gemini_json(GOOD))

    await analyzer(fake).analyze(analysis())

    assert "temperature" not in fake.requests[0].json()["generationConfig"]


# --------------------------------------------------------------------------- answers as sent


async def test_thought_parts_are_skipped_and_json_split_over_parts_is_joined(
    fake: FakeGemini,
) -> None:
    """A thought summary part (``thought: true``) is not the answer; the JSON comes in
    several text parts that together make the document."""
    fake.enqueue(gemini_json(GOOD, chunks=6, thought="**Planning** {the summary first"))

    outcomes = await analyzer(fake).analyze(analysis())

    assert all(o.error is None for o in outcomes.values()), outcomes
    assert outcomes[AnalysisKind.SUMMARY].content == Summary(
        "Weekly release meeting", GOOD["summary"]["text"]
    )
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("SAFETY", "for safety reasons"),
        ("RECITATION", "because it would recite protected material"),
        ("PROHIBITED_CONTENT", "because it contains prohibited content"),
    ],
)
async def test_an_answer_stopped_for_its_content_fails_at_once(
    fake: FakeGemini, reason: str, words: str
) -> None:
    """finishReason SAFETY and the like: not asked again, reported with finishMessage."""
    fake.enqueue(
        gemini_parts(
            None, finish_reason=reason, finish_message="Content was stopped.", output_tokens=0
        )
    )

    outcomes = await analyzer(fake).analyze(analysis((AnalysisKind.SUMMARY,)))

    error = outcomes[AnalysisKind.SUMMARY].error
    assert error == (
        f"Gemini stopped its answer {words} (finishReason {reason}): Content was stopped."
    )
    assert "did not fit the transcript" not in error
    assert len(fake.requests) == 1


async def test_no_candidates_without_a_reason_is_asked_again(fake: FakeGemini) -> None:
    """An empty candidates list with no block reason may not repeat: it is asked again,
    and the second answer is used."""
    fake.enqueue(gemini_empty(), gemini_json({"summary": GOOD["summary"]}))

    outcomes = await analyzer(fake).analyze(analysis((AnalysisKind.SUMMARY,)))

    assert isinstance(outcomes[AnalysisKind.SUMMARY].content, Summary)
    assert len(fake.requests) == 2


async def test_empty_answers_twice_say_what_came_back(fake: FakeGemini) -> None:
    """No candidates, then a candidate without parts: the error says which."""
    fake.enqueue(gemini_empty(), gemini_parts(None, finish_reason="OTHER", output_tokens=0))

    outcomes = await analyzer(fake).analyze(analysis((AnalysisKind.SUMMARY,)))

    first = prompt_text(fake.requests[1])
    assert "the answer was empty (Gemini returned no candidates and no block reason)" in first
    error = outcomes[AnalysisKind.SUMMARY].error
    assert error is not None
    assert "the answer was empty (finishReason OTHER)" in error


def _cut_when_whole(segment_count: int) -> Any:
    """Answer a prompt with every segment by MAX_TOKENS, smaller parts with content."""

    def answer(request: RecordedRequest) -> ScriptedResponse:
        ids = [int(i) for i in _PART_LINE.findall(prompt_text(request))]
        if len(ids) == segment_count:
            return gemini_text(
                '{"summary": {"title": "Cut", "text": "The meeting started with',
                finish_reason="MAX_TOKENS",
                output_tokens=65_536,
            )
        return part_answer(request)

    return answer


async def test_an_answer_cut_at_max_tokens_shrinks_the_part(fake: FakeGemini) -> None:
    """MAX_TOKENS is not repeated: the part is split in two, each half asked for, and the
    halves merged as parts are."""
    segments = long_transcript(4)
    fake.enqueue([_cut_when_whole(4)] * 6)

    outcomes = await analyzer(fake).analyze(
        analysis(transcript=transcript(segments), duration=40.0)
    )

    asked = [[int(i) for i in _PART_LINE.findall(prompt_text(r))] for r in fake.requests]
    assert asked[:3] == [[0, 1, 2, 3], [0, 1], [2, 3]]
    assert "summaries of the 2" in prompt_text(fake.requests[3])
    assert len(fake.requests) == 4
    assert all(o.error is None for o in outcomes.values()), outcomes
    items = outcomes[AnalysisKind.ACTION_ITEMS].content
    assert isinstance(items, ActionItems)
    assert [i.segment_id for i in items.items] == [0, 2]
    # The cut-off answer was billed too: its tokens are counted.
    assert sum(o.output_tokens or 0 for o in outcomes.values()) == 65_536 + 2 * 40 + 10


async def test_max_tokens_on_a_single_segment_is_reported(fake: FakeGemini) -> None:
    """A part that cannot shrink any more ends with the limit named, not a retry."""
    fake.enqueue(
        gemini_text(
            '{"summary": {"title": "',
            finish_reason="MAX_TOKENS",
            finish_message="The output reached the maximum number of tokens.",
        )
    )
    one = (Segment(0, 0.0, 5.0, "A single long monologue.", "0"),)

    outcomes = await analyzer(fake).analyze(
        analysis((AnalysisKind.SUMMARY,), transcript=transcript(one), duration=5.0)
    )

    assert outcomes[AnalysisKind.SUMMARY].error == (
        "Gemini's answer was cut off at its output token limit (finishReason MAX_TOKENS), "
        "even for a single segment of the transcript: "
        "The output reached the maximum number of tokens."
    )
    assert len(fake.requests) == 1


# --------------------------------------------------------------------------- 403s


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            service_disabled_error(),
            "Gemini denied access: the Generative Language API is not enabled for the API "
            "key's project (403 PERMISSION_DENIED, SERVICE_DISABLED): Generative Language "
            "API has not been used in project 123456789012 before or it is disabled.",
            id="api-not-enabled",
        ),
        pytest.param(
            key_service_blocked_error(),
            "Gemini denied access: the API key is not allowed to call the Gemini API "
            "(403 PERMISSION_DENIED, API_KEY_SERVICE_BLOCKED): Requests to this API",
            id="key-restricted",
        ),
        pytest.param(
            gemini_error(
                403, "Permission denied: consumer has been suspended.", "PERMISSION_DENIED"
            ),
            "Gemini denied access (403 PERMISSION_DENIED): "
            "Permission denied: consumer has been suspended.",
            id="no-reason",
        ),
    ],
)
async def test_a_403_says_what_google_refused(
    fake: FakeGemini, answer: ScriptedResponse, expected: str
) -> None:
    """A 403 is not "the key was rejected": Google's reason and message are kept."""
    fake.enqueue(answer)

    with pytest.raises(AnalysisFailedError) as caught:
        await analyzer(fake).analyze(analysis())

    assert str(caught.value).startswith(expected), str(caught.value)
    assert caught.value.transient is False
    assert len(fake.requests) == 1


async def test_a_403_that_quotes_the_key_does_not_repeat_it(
    fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    """Google's "Consumer 'api_key:...' has been suspended" names the key: it is
    redacted from the error and the log, and the SDK error is not chained."""
    caplog.set_level(logging.DEBUG)
    key = "AIzaSyD3" + "x" * 31
    fake.enqueue(consumer_suspended_error(key))

    with pytest.raises(AnalysisFailedError) as caught:
        await GeminiAnalyzer(key, base_url=fake.base_url, timeout=5.0).analyze(analysis())

    message = str(caught.value)
    assert message.startswith("Gemini denied access: the API key's project is suspended")
    assert "CONSUMER_SUSPENDED" in message
    assert "api_key:[REDACTED]" in message
    assert key not in message
    assert caught.value.__cause__ is None
    assert key not in caplog.text


# --------------------------------------------------------------------------- settings


def test_settings_choose_v1beta_and_a_current_model() -> None:
    """Without GEMINI_* overrides: v1beta, gemini-3.8-flash, the model's own temperature."""
    config = load_settings({"GEMINI_API_KEY": "k"}).analyzer

    assert (config.gemini_api_version, config.gemini_model) == ("v1beta", "gemini-3.8-flash")
    assert config.gemini_temperature is None
    tuned = load_settings(
        {"GEMINI_API_KEY": "k", "GEMINI_MODEL": "gemini-3.7-flash", "GEMINI_TEMPERATURE": "0.4"}
    ).analyzer
    assert (tuned.gemini_model, tuned.gemini_temperature) == ("gemini-3.7-flash", 0.4)


def test_settings_refuse_the_v1_api() -> None:
    """GEMINI_API_VERSION=v1 would fail every analysis; it is refused with the reason."""
    with pytest.raises(SettingsError) as caught:
        load_settings({"GEMINI_API_KEY": "k", "GEMINI_API_VERSION": "v1"})

    assert "GEMINI_API_VERSION must be v1beta or v1alpha" in str(caught.value)
    assert "system instructions" in str(caught.value)


async def test_a_corrected_answer_cut_at_max_tokens_also_shrinks_the_part(
    fake: FakeGemini,
) -> None:
    """The correction request hitting MAX_TOKENS is not repeated either: the part is
    split and the halves asked for from the start."""
    segments = long_transcript(2)
    cut = gemini_text('{"key_points": [{"text": "', finish_reason="MAX_TOKENS")
    fake.enqueue(
        gemini_json(good(key_points=[{"text": "Made up", "segment_id": 42, "timestamp": 5.0}])),
        cut,
        part_answer,
        part_answer,
        part_answer,
    )

    outcomes = await analyzer(fake).analyze(
        analysis(transcript=transcript(segments), duration=20.0)
    )

    asked = [[int(i) for i in _PART_LINE.findall(prompt_text(r))] for r in fake.requests]
    assert asked[2:4] == [[0], [1]]
    assert len(fake.requests) == 5  # the part, its correction, two halves, the merge
    assert all(o.error is None for o in outcomes.values()), outcomes


async def test_a_complete_answer_at_max_tokens_is_used(fake: FakeGemini) -> None:
    """MAX_TOKENS right after the closing brace: the JSON is whole, so it is used."""
    fake.enqueue(gemini_text(json.dumps({"summary": GOOD["summary"]}), finish_reason="MAX_TOKENS"))

    outcomes = await analyzer(fake).analyze(analysis((AnalysisKind.SUMMARY,)))

    assert isinstance(outcomes[AnalysisKind.SUMMARY].content, Summary)
    assert len(fake.requests) == 1


async def test_max_tokens_with_a_content_without_parts_shrinks_the_part(
    fake: FakeGemini,
) -> None:
    """The shape thinking models send when thoughts used up the output budget: a content
    with only a role, finishReason MAX_TOKENS, all tokens in thoughtsTokenCount."""
    no_parts = ScriptedResponse(
        body={
            "candidates": [
                {"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 900,
                "totalTokenCount": 66_436,
                "thoughtsTokenCount": 65_536,
            },
            "modelVersion": "gemini-3.8-flash",
        }
    )
    fake.enqueue(no_parts, part_answer, part_answer, part_answer)

    outcomes = await analyzer(fake).analyze(
        analysis(transcript=transcript(long_transcript(2)), duration=20.0)
    )

    assert len(fake.requests) == 4  # the whole, two halves, the merge
    assert all(o.error is None for o in outcomes.values()), outcomes
    assert sum(o.output_tokens or 0 for o in outcomes.values()) == 65_536 + 2 * 40 + 10
