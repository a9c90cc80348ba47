"""Every JSON form the API and the CLI print (``elyune_http.present``) has exactly the
fields its schema in the OpenAPI document lists, down through nested objects: adding a
field to a presenter without documenting it, or documenting one nobody sends, fails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from elyune_core import (
    ActionItem,
    ActionItems,
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    FileKind,
    JobId,
    KeyPoint,
    KeyPoints,
    MediaInfo,
    Recording,
    RecordingDetails,
    RecordingId,
    RecordingStatus,
    Segment,
    Sentiment,
    SentimentLabel,
    SpeakerSentiment,
    StoredFile,
    Summary,
    Transcript,
    UserId,
    new_job,
)
from elyune_core.entities import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    Word,
)
from elyune_core.ids import DeliveryId, WebhookId
from elyune_core.ports import Page
from elyune_http import present
from elyune_http.openapi import SCHEMAS

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
RID = RecordingId("rec-1")
#: Fields the views add to a presenter's form (documented, checked by schemathesis).
ADDED_BY_VIEWS = {"RecordingDetail": {"transcript_vtt_url"}}
#: Documented fields a form leaves out on purpose, where it leaves them out, and why.
LEFT_OUT = {
    ("RecordingPage.results[0].files[0]", "url"): "a listing signs no download URLs",
}


def _details() -> RecordingDetails:
    media = MediaInfo(
        duration=42.0,
        format_name="matroska,webm",
        has_video=True,
        has_audio=True,
        video_codec="vp9",
        audio_codec="opus",
        width=1280,
        height=720,
        fps=30.0,
        sample_rate=48000,
        channels=2,
        size=1000,
    )
    recording = Recording(
        id=RID,
        owner_id=UserId("u1"),
        title="Standup",
        filename="standup.webm",
        source_key="recordings/u1/rec-1/source.webm",
        status=RecordingStatus.READY,
        created_at=NOW,
        updated_at=NOW,
        media=media,
        speaker_names={"0": "Alice"},
        files=(
            StoredFile(
                FileKind.VIDEO, "recordings/u1/rec-1/video.mp4", 900, "video/mp4", 1280, 720
            ),
        ),
    )
    transcript = Transcript(
        recording_id=RID,
        text="Hello. I'll send it.",
        language="en",
        segments=(
            Segment(0, 0.0, 1.0, "Hello.", "0", 0.9),
            Segment(1, 1.2, 2.5, "I'll send it.", "1", 0.8),
        ),
        words=(Word("hello", 0.0, 1.0, 0.9, "0", "Hello.", 0.7),),
        engine="whisper:base",
        created_at=NOW,
        language_confidence=0.99,
        duration=42.0,
        speaker_count=2,
        audio_seconds=42.0,
    )

    def analysis(kind: AnalysisKind, content: Any) -> Analysis:
        return Analysis(RID, kind, AnalysisStatus.SUCCEEDED, "local", NOW, NOW, content, None, 1, 2)

    analyses = (
        analysis(AnalysisKind.SUMMARY, Summary("Standup", "Alice greets.")),
        analysis(
            AnalysisKind.ACTION_ITEMS,
            ActionItems((ActionItem("Send it", 1.2, 1, "1", "Speaker 1", "Friday"),)),
        ),
        analysis(AnalysisKind.KEY_POINTS, KeyPoints((KeyPoint("Greeting", 0.0, 0),))),
        analysis(
            AnalysisKind.SENTIMENT,
            Sentiment(
                SentimentLabel.POSITIVE,
                0.5,
                (SpeakerSentiment("0", SentimentLabel.POSITIVE, 0.5),),
                "calm",
            ),
        ),
    )
    return RecordingDetails(
        recording,
        new_job(JobId("job-1"), RID, NOW),
        transcript,
        analyses,
        {FileKind.VIDEO: "http://x/video.mp4"},
    )


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    if "allOf" in schema:
        merged: dict[str, Any] = {"properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(part).get("properties", {}))
        return merged
    return schema


def _check(value: Any, schema: dict[str, Any], where: str, extra: set[str] = frozenset()) -> None:
    schema = _resolve(schema)
    if isinstance(value, dict) and "properties" in schema:
        documented = set(schema["properties"])
        sent = set(value) | set(extra) | {k for w, k in LEFT_OUT if w == where}
        assert sent == documented, (
            f"{where}: sent but not documented {sorted(sent - documented)}, "
            f"documented but not sent {sorted(documented - sent)}"
        )
        for key, item in value.items():
            _check(item, schema["properties"][key], f"{where}.{key}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            _check(item, schema["additionalProperties"], f"{where}[{key}]")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for n, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{n}]")


def test_the_detail_has_exactly_the_documented_fields() -> None:
    body = present.recording_detail(_details())
    assert body["transcript"]["segments"][0]["speaker_name"] == "Alice"
    _check(body, SCHEMAS["RecordingDetail"], "RecordingDetail", ADDED_BY_VIEWS["RecordingDetail"])


def test_a_listing_page_has_exactly_the_documented_fields() -> None:
    data = _details()
    body = present.page_body(Page(items=(data.recording,), total=1), None, None)
    _check(body, SCHEMAS["RecordingPage"], "RecordingPage")


@pytest.mark.parametrize("name", ["Job", "Step"])
def test_jobs_and_steps_have_exactly_the_documented_fields(name: str) -> None:
    job = _details().job
    assert job is not None
    body = present.job_to_dict(job) if name == "Job" else present.step_to_dict(job.steps[0])
    _check(body, SCHEMAS[name], name)


def test_webhooks_and_deliveries_have_exactly_the_documented_fields() -> None:
    endpoint = WebhookEndpoint(
        WebhookId("wh-1"),
        UserId("u1"),
        "https://example.com/hook",
        (WebhookEvent.TRANSCRIPT_READY,),
        "s3cret",
        NOW,
        "CI",
    )
    _check(present.webhook_to_dict(endpoint, secret=True), SCHEMAS["Webhook"], "Webhook")
    assert "secret" not in present.webhook_to_dict(endpoint)
    delivery = WebhookDelivery(
        DeliveryId("d-1"),
        endpoint.id,
        endpoint.owner_id,
        WebhookEvent.TRANSCRIPT_READY,
        {"recording_id": "rec-1"},
        NOW,
        DeliveryStatus.FAILED,
        (DeliveryAttempt(NOW, 500, "HTTP 500", 12),),
        NOW,
        None,
    )
    body = {"count": 1, "results": [present.delivery_to_dict(delivery)]}
    _check(body, SCHEMAS["DeliveryList"], "DeliveryList")


def test_the_check_catches_an_undocumented_field() -> None:
    body = present.recording_summary(_details().recording) | {"secret_field": 1}
    with pytest.raises(AssertionError, match="secret_field"):
        _check(body, SCHEMAS["Recording"], "Recording")


def test_the_cli_json_is_the_api_detail_with_words() -> None:
    data = _details()
    cli = present.recording_detail(data, words=True)
    api = present.recording_detail(data)
    assert {k: v for k, v in cli.items() if k != "transcript"} == {
        k: v for k, v in api.items() if k != "transcript"
    }
    assert cli["transcript"]["words"][0]["punctuated_word"] == "Hello."
    assert "words" not in api["transcript"]
