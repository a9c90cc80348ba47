"""The whole pipeline with Deepgram and Gemini (local fakes speaking their APIs) through
the REST API: stored transcript, speakers, analyses, usage."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.fakes import ScriptedResponse
from tests.fakes.deepgram import FakeDeepgram, listen_response
from tests.fakes.gemini import FakeGemini, gemini_json, prompt_text
from tests.support.media import make_webm

pytestmark = pytest.mark.slow

DEEPGRAM_KEY = "dg-secret-0a1b2c3d"
GEMINI_KEY = "AIza-secret-9f8e7d"

ANALYSES = {
    "summary": {
        "title": "Weekly release meeting",
        "text": "Alice and Bob review the launch; customers like the new dashboard.",
    },
    "action_items": [
        {
            "text": "Send the release notes",
            "owner": "Speaker 1",
            "due": "Thursday",
            "segment_id": 3,
            "timestamp": 15.3,
        }
    ],
    "key_points": [{"text": "Customers love the new dashboard", "segment_id": 1, "timestamp": 4.6}],
    "sentiment": {
        "label": "positive",
        "score": 0.7,
        "explanation": "Both speakers are pleased.",
        "speakers": [
            {"speaker": "Speaker 0", "label": "positive", "score": 0.6},
            {"speaker": "Speaker 1", "label": "positive", "score": 0.8},
        ],
    },
}


@pytest.fixture
async def engines(aiohttp_server):
    deepgram, gemini = FakeDeepgram(), FakeGemini()
    for fake in (deepgram, gemini):
        server = await aiohttp_server(fake.app)
        fake.base_url = str(server.make_url("")).rstrip("/")
    yield deepgram, gemini
    deepgram.release()
    gemini.release()


async def _wait_ready(api, token, rid, timeout=60.0):
    for _ in range(int(timeout * 10)):
        status = await (
            await api.client.get(f"/api/v1/recordings/{rid}/status/", headers=api.auth(token))
        ).json()
        if status["status"] in ("ready", "failed"):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"not finished: {status}")


async def test_deepgram_and_gemini_through_the_api(make_api, engines, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    deepgram, gemini = engines
    deepgram.enqueue(
        ScriptedResponse(status=429, body={"err_msg": "slow down"}, headers={"Retry-After": "0"}),
        ScriptedResponse(body=listen_response(detected_language="en", language_confidence=0.98)),
    )
    gemini.enqueue(gemini_json(ANALYSES, prompt_tokens=900, output_tokens=120))
    api = await make_api(
        DEEPGRAM_API_KEY=DEEPGRAM_KEY,
        DEEPGRAM_BASE_URL=deepgram.base_url,
        GEMINI_API_KEY=GEMINI_KEY,
        GEMINI_BASE_URL=gemini.base_url,
        RETRY_BACKOFF_SECONDS="0",
    )
    token = await api.user()
    media = make_webm(tmp_path, seconds=18, width=160, height=120, fps=5)
    ticket, done = await api.upload(token, media.read_bytes())
    assert done.status == 200
    rid = ticket["recording_id"]
    status = await _wait_ready(api, token, rid)
    assert status["status"] == "ready", status

    detail = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    transcript = detail["transcript"]
    assert transcript["engine"] == "deepgram:nova-3"
    assert transcript["language"] == "en"
    assert transcript["language_confidence"] == 0.98
    assert transcript["speaker_count"] == 2
    assert [s["speaker"] for s in transcript["segments"]] == ["0", "1", "0", "1"]
    assert transcript["request_id"]
    assert detail["usage"]["audio_minutes"] == pytest.approx(18 / 60, abs=0.01)
    analyses = detail["analyses"]
    assert analyses["summary"]["engine"].startswith("gemini")
    assert analyses["summary"]["content"]["title"] == "Weekly release meeting"
    item = analyses["action_items"]["content"]["items"][0]
    assert item["segment_id"] == 3
    assert item["timestamp"] == pytest.approx(15.3)
    assert detail["usage"]["input_tokens"] == 900
    assert detail["usage"]["output_tokens"] == 120

    # What the SDKs sent: the audio bytes, the flags, the key - never logged.
    listen = deepgram.requests[-1]
    # diarize_model, not the deprecated diarize=true (the old assertion checked the latter).
    assert listen.param("diarize_model") == "latest"
    assert "diarize" not in listen.query
    assert listen.param("detect_language") == "true"
    assert listen.body[:4] == b"RIFF"
    assert len(deepgram.requests) == 2  # the 429 was retried
    assert DEEPGRAM_KEY in (listen.header("Authorization") or "")
    assert gemini.requests[0].header("x-goog-api-key") == GEMINI_KEY
    assert gemini.requests[0].path == "/v1beta/models/gemini-3.8-flash:generateContent"
    exported = await (
        await api.client.get(
            f"/api/v1/recordings/{rid}/transcript/?format=json", headers=api.auth(token)
        )
    ).json(content_type=None)
    assert exported["words"][0]["speaker_confidence"] == 0.91
    assert DEEPGRAM_KEY not in caplog.text
    assert GEMINI_KEY not in caplog.text

    # Speaker names flow into the transcript, the exports and the next analysis.
    await api.client.patch(
        f"/api/v1/recordings/{rid}/speakers/",
        json={"0": "Alice", "1": "Bob"},
        headers=api.auth(token),
    )
    vtt = await (
        await api.client.get(
            f"/api/v1/recordings/{rid}/transcript/?format=vtt", headers=api.auth(token)
        )
    ).text()
    assert "<v Alice>" in vtt
    renamed = dict(ANALYSES)
    renamed["summary"] = {"title": "Release", "text": "Alice and Bob agree on the plan."}
    gemini.enqueue(gemini_json({"summary": renamed["summary"]}))
    rerun = await api.client.post(
        f"/api/v1/recordings/{rid}/analyses/summary/rerun/", headers=api.auth(token)
    )
    assert rerun.status == 202
    await _wait_ready(api, token, rid)
    prompt = prompt_text(gemini.requests[-1])
    assert "Alice:" in prompt
    assert "Bob:" in prompt
    assert len(deepgram.requests) == 2  # not transcribed again
    detail = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    assert detail["analyses"]["summary"]["content"]["title"] == "Release"
    item = detail["analyses"]["action_items"]["content"]["items"][0]
    assert item["owner"] == "Bob"
    speakers = detail["analyses"]["sentiment"]["content"]["speakers"]
    assert {s["name"] for s in speakers} <= {"Alice", "Bob"}
    assert detail["analyses"]["key_points"]["status"] == "succeeded"


async def test_a_rejected_deepgram_key_fails_the_step_with_a_readable_reason(
    make_api, engines, tmp_path
):
    deepgram, _ = engines
    deepgram.enqueue(ScriptedResponse(status=401, body={"err_code": "INVALID_AUTH"}))
    api = await make_api(
        DEEPGRAM_API_KEY=DEEPGRAM_KEY,
        DEEPGRAM_BASE_URL=deepgram.base_url,
        RETRY_BACKOFF_SECONDS="0",
    )
    token = await api.user()
    ticket, _ = await api.upload(
        token, make_webm(tmp_path, seconds=2, width=160, height=120).read_bytes()
    )
    status = await _wait_ready(api, token, ticket["recording_id"])
    assert status["status"] == "failed"
    transcribe = next(s for s in status["steps"] if s["name"] == "transcribe")
    assert transcribe["error"] == "Deepgram rejected the API key"
    assert transcribe["attempts"] == 1
    assert len(deepgram.requests) == 1


async def test_words_given_to_another_speaker_are_credited_to_them_everywhere(
    make_api, engines, tmp_path
):
    """Deepgram gives the last two words of Bob's utterance to Alice (as real diarized
    output sometimes does): the segments, the exports and the Gemini prompt say so."""
    deepgram, gemini = engines
    deepgram.enqueue(
        ScriptedResponse(
            body=listen_response(
                detected_language="en",
                language_confidence=0.98,
                word_speakers={1: [1, 1, 1, 1, 1, 1, 1, 0, 0]},
            )
        )
    )
    gemini.enqueue(gemini_json(ANALYSES), gemini_json(ANALYSES))
    api = await make_api(
        DEEPGRAM_API_KEY=DEEPGRAM_KEY,
        DEEPGRAM_BASE_URL=deepgram.base_url,
        GEMINI_API_KEY=GEMINI_KEY,
        GEMINI_BASE_URL=gemini.base_url,
        RETRY_BACKOFF_SECONDS="0",
    )
    token = await api.user()
    media = make_webm(tmp_path, seconds=18, width=160, height=120, fps=5)
    ticket, _ = await api.upload(token, media.read_bytes())
    rid = ticket["recording_id"]
    status = await _wait_ready(api, token, rid)
    transcribe = next(s for s in status["steps"] if s["name"] == "transcribe")
    assert transcribe["status"] == "succeeded", status

    detail = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    segments = detail["transcript"]["segments"]
    assert [(s["speaker"], s["text"]) for s in segments[1:3]] == [
        ("1", "Good morning, Alice. The customers love the"),
        ("0", "new dashboard."),
    ]
    vtt = await (
        await api.client.get(
            f"/api/v1/recordings/{rid}/transcript/?format=vtt", headers=api.auth(token)
        )
    ).text()
    assert "<v Speaker 0>new dashboard." in vtt
    prompt = prompt_text(gemini.requests[0])
    assert "Speaker 1: Good morning, Alice. The customers love the\n" in prompt
    assert "Speaker 0: new dashboard." in prompt
