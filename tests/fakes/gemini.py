"""A fake Gemini API: ``POST /{version}/models/{model}:generateContent``.

``FakeGemini`` records what the SDK sent (path, ``x-goog-api-key``, the JSON body with
contents, generation config and response schema) and answers with scripted responses;
``gemini_json`` builds a successful answer whose text is a JSON document, ``gemini_text``
one with any text, and ``gemini_error`` an error in Google's ``{"error": {...}}`` shape.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from tests.fakes import FakeApiServer, RecordedRequest, ScriptedResponse


class FakeGemini(FakeApiServer):
    """Speaks ``generateContent`` of the Gemini Developer API (any API version)."""

    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_post("/{version}/models/{target}", self._answer)

    def prompts(self) -> list[str]:
        """The text of every request's contents, joined per request."""
        return [prompt_text(r) for r in self.requests]


def prompt_text(request: RecordedRequest) -> str:
    """All text parts of the contents (and system instruction) of *request*."""
    body = request.json()
    parts: list[str] = []
    system = body.get("systemInstruction") or {}
    parts.extend(p.get("text", "") for p in system.get("parts", []))
    for content in body.get("contents", []):
        parts.extend(p.get("text", "") for p in content.get("parts", []))
    return "\n".join(parts)


def gemini_text(
    text: str,
    *,
    prompt_tokens: int = 1200,
    output_tokens: int = 150,
    finish_reason: str = "STOP",
    model: str = "gemini-2.5-flash",
    delay: float = 0.0,
) -> ScriptedResponse:
    """A successful ``generateContent`` answer whose first candidate says *text*."""
    return ScriptedResponse(
        body={
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": finish_reason,
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
            },
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:22],
        },
        delay=delay,
    )


def gemini_json(
    payload: Mapping[str, Any], *, prompt_tokens: int = 1200, output_tokens: int = 150
) -> ScriptedResponse:
    """A successful answer whose text is *payload* as JSON (structured output)."""
    return gemini_text(
        json.dumps(payload, ensure_ascii=False),
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
    )


def gemini_error(
    code: int,
    message: str,
    status: str,
    *,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ScriptedResponse:
    """An error answer as Google APIs send it (``error.code/message/status/details``)."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason is not None:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
    return ScriptedResponse(status=code, body={"error": error}, headers=dict(headers or {}))


def invalid_key_error() -> ScriptedResponse:
    """What Gemini answers to a wrong API key (a 400 with reason ``API_KEY_INVALID``)."""
    return gemini_error(
        400,
        "API key not valid. Please pass a valid API key.",
        "INVALID_ARGUMENT",
        reason="API_KEY_INVALID",
    )


__all__ = [
    "FakeGemini",
    "gemini_error",
    "gemini_json",
    "gemini_text",
    "invalid_key_error",
    "prompt_text",
]
