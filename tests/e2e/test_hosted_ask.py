"""Production engines end to end: a recording transcribed by Deepgram and analysed by
Gemini (local fakes, real SDKs) is searchable, and ask answers through Gemini with
checked citations (the container picks the Gemini answerer when GEMINI_API_KEY is set)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_hosted_engines import ANALYSES, GEMINI_KEY, _wait_ready, engines
from tests.fakes import ScriptedResponse
from tests.fakes.deepgram import listen_response
from tests.fakes.gemini import gemini_json, prompt_text
from tests.support.media import make_webm

pytestmark = pytest.mark.slow
__all__ = ["engines"]


async def test_search_and_ask_with_deepgram_and_gemini(make_api, engines, tmp_path):
    deepgram, gemini = engines
    deepgram.enqueue(ScriptedResponse(body=listen_response(detected_language="en")))
    gemini.enqueue(gemini_json(ANALYSES, prompt_tokens=900, output_tokens=120))
    api = await make_api(
        DEEPGRAM_API_KEY="dg-secret-0a1b2c3d",
        DEEPGRAM_BASE_URL=deepgram.base_url,
        GEMINI_API_KEY=GEMINI_KEY,
        GEMINI_BASE_URL=gemini.base_url,
        RETRY_BACKOFF_SECONDS="0",
    )
    token = await api.user()
    media = make_webm(tmp_path, seconds=18, width=160, height=120, fps=5)
    ticket, _ = await api.upload(token, media.read_bytes())
    rid = ticket["recording_id"]
    assert (await _wait_ready(api, token, rid))["status"] == "ready"

    # the transcript and Gemini's analyses were indexed by the pipeline
    found = await (
        await api.client.get('/api/v1/search/?q="release+notes"', headers=api.auth(token))
    ).json()
    kinds = {(h["kind"], h["field"], h["start"]) for h in found["results"]}
    assert ("segment", "transcript", 10.2) in kinds
    assert ("analysis", "action_items", 15.3) in kinds
    dashboard = await (
        await api.client.get("/api/v1/search/?q=dashboards", headers=api.auth(token))
    ).json()
    assert {h["start"] for h in dashboard["results"] if h["kind"] == "segment"} == {4.6}

    def answer(request):
        lines = prompt_text(request).split("<passages>\n", 1)[1].split("\n</passages>")[0]
        passages = [json.loads(line) for line in lines.splitlines()]
        cited = next(p for p in passages if "release notes" in p["text"])
        return gemini_json(
            {
                "answer": "Speaker 0 asked for the release notes by Friday.",
                "citations": [
                    {
                        "passage": cited["passage"],
                        "start": cited["start"],
                        "end": cited["end"],
                        "quote": "send the release notes by Friday",
                    }
                ],
            },
            prompt_tokens=400,
            output_tokens=30,
        )

    gemini.enqueue(answer)
    response = await api.client.post(
        f"/api/v1/recordings/{rid}/ask/",
        json={"question": "When are the release notes due?"},
        headers=api.auth(token),
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["kind"], body["engine"], body["flagged"]) == (
        "generative",
        "gemini:gemini-3.8-flash",
        False,
    )
    (citation,) = body["citations"]
    assert (citation["recording_id"], citation["start"], citation["end"]) == (rid, 10.2, 14.9)
    assert body["usage"] == {"input_tokens": 400, "output_tokens": 30}
    usage = await (
        await api.client.get(f"/api/v1/recordings/{rid}/", headers=api.auth(token))
    ).json()
    assert usage["usage"]["input_tokens"] == 900  # the recording's analyses; answers apart
