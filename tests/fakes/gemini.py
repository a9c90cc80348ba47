"""A fake Gemini API: ``POST /{version}/models/{model}:generateContent``.

``FakeGemini`` records what the SDK sent (path, ``x-goog-api-key``, the JSON body with
contents, generation config and response schema) and answers with scripted responses.
Like the service, it first checks the request against the API version in the path and
refuses, whatever the script says, what that version does not define: ``v1`` has no
``systemInstruction``, ``tools`` or ``cachedContent`` and its ``generationConfig`` has no
``responseMimeType``/``responseSchema``/``responseJsonSchema``/``thinkingConfig``
(generativelanguage ``v1`` GenerateContentRequest and GenerationConfig reference), so it
answers 400 "Invalid JSON payload received. Unknown name ..." the way
googleapis/python-genai issue 1837 shows; an unknown version is a 404.

The answers follow the documented ``GenerateContentResponse``: ``gemini_json`` and
``gemini_text`` build a candidate whose text may be split over several parts, with
thought parts (``"thought": true``) first when asked; ``finish_reason``/``finish_message``
give SAFETY, MAX_TOKENS and the others; ``gemini_blocked`` is a prompt blocked by
``promptFeedback``; ``gemini_empty`` an answer without candidates or with a candidate
without parts; ``gemini_error`` an error in Google's ``{"error": {...}}`` shape with a
``google.rpc.ErrorInfo`` reason, and the helpers below the 400/403 answers Google sends
for a bad key, a disabled API, a key restricted to other APIs and a suspended project.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes import FakeApiServer, RecordedRequest, ScriptedResponse

DEFAULT_MODEL = "gemini-3.8-flash"

# Fields of GenerateContentRequest and GenerationConfig per API version (the REST
# reference of generativelanguage v1 and v1beta).
_REQUEST_FIELDS = {
    "v1": frozenset({"model", "contents", "safetySettings", "generationConfig"}),
    "v1beta": frozenset(
        {
            "model",
            "contents",
            "systemInstruction",
            "tools",
            "toolConfig",
            "safetySettings",
            "generationConfig",
            "cachedContent",
        }
    ),
}
_CONFIG_COMMON = frozenset(
    {
        "stopSequences",
        "candidateCount",
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "enableEnhancedCivicAnswers",
    }
)
_CONFIG_FIELDS = {
    "v1": _CONFIG_COMMON | {"responseJsonSchemaOrdered"},
    "v1beta": _CONFIG_COMMON
    | {
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseJsonSchemaOrdered",
        "responseModalities",
        "speechConfig",
        "thinkingConfig",
        "imageConfig",
        "mediaResolution",
    },
}


class FakeGemini(FakeApiServer):
    """Speaks ``generateContent`` of the Gemini Developer API, ``v1`` and ``v1beta``."""

    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_post("/{version}/models/{target}", self._answer)

    def prompts(self) -> list[str]:
        """The text of every request's contents, joined per request."""
        return [prompt_text(r) for r in self.requests]

    def _refusal(self, request: RecordedRequest) -> ScriptedResponse | None:
        version = request.path.split("/")[1]
        if version not in _REQUEST_FIELDS:
            return ScriptedResponse(status=404, body="<html><title>Error 404 (Not Found)</title>")
        try:
            body = request.json()
        except ValueError:
            return gemini_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        if not isinstance(body, dict):
            return gemini_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        unknown = [(name, None) for name in body if name not in _REQUEST_FIELDS[version]] + [
            (name, "generation_config")
            for name in body.get("generationConfig") or {}
            if name not in _CONFIG_FIELDS[version]
        ]
        if unknown:
            return unknown_fields_error(unknown)
        config = body.get("generationConfig") or {}
        if "responseSchema" in config and "responseJsonSchema" in config:
            return gemini_error(
                400,
                "responseSchema and responseJsonSchema cannot both be set.",
                "INVALID_ARGUMENT",
            )
        has_schema = "responseSchema" in config or "responseJsonSchema" in config
        if has_schema and config.get("responseMimeType") != "application/json":
            return gemini_error(
                400,
                "* GenerateContentRequest.generation_config.response_mime_type: "
                "response_mime_type must be application/json when a response schema is set.",
                "INVALID_ARGUMENT",
            )
        return None


def prompt_text(request: RecordedRequest) -> str:
    """All text parts of the contents (and system instruction) of *request*."""
    body = request.json()
    parts: list[str] = []
    system = body.get("systemInstruction") or {}
    parts.extend(p.get("text", "") for p in system.get("parts", []))
    for content in body.get("contents", []):
        parts.extend(p.get("text", "") for p in content.get("parts", []))
    return "\n".join(parts)


def _usage(prompt_tokens: int, output_tokens: int, thoughts_tokens: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens + thoughts_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if thoughts_tokens:
        usage["thoughtsTokenCount"] = thoughts_tokens
    return usage


def gemini_parts(
    parts: Sequence[Mapping[str, Any]] | None,
    *,
    prompt_tokens: int = 1200,
    output_tokens: int = 150,
    thoughts_tokens: int = 0,
    finish_reason: str | None = "STOP",
    finish_message: str | None = None,
    model: str = DEFAULT_MODEL,
    delay: float = 0.0,
) -> ScriptedResponse:
    """An answer with one candidate made of *parts* (``None``: a candidate without content).

    SAFETY and the other content stops come with ``safetyRatings`` and, as the service
    sends them, often without content parts; *finish_message* is ``finishMessage``.
    """
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"parts": [dict(p) for p in parts], "role": "model"}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    if finish_message is not None:
        candidate["finishMessage"] = finish_message
    if finish_reason == "SAFETY":
        candidate["safetyRatings"] = [
            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True},
            {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
        ]
    return ScriptedResponse(
        body={
            "candidates": [candidate],
            "usageMetadata": _usage(prompt_tokens, output_tokens, thoughts_tokens),
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:22],
        },
        delay=delay,
    )


def gemini_text(
    text: str,
    *,
    prompt_tokens: int = 1200,
    output_tokens: int = 150,
    finish_reason: str = "STOP",
    finish_message: str | None = None,
    model: str = DEFAULT_MODEL,
    delay: float = 0.0,
    chunks: int = 1,
    thought: str | None = None,
    thoughts_tokens: int = 0,
) -> ScriptedResponse:
    """A successful ``generateContent`` answer whose first candidate says *text*.

    *chunks* > 1 splits the text over that many parts (the service may do so); *thought*
    puts a thought summary part (``"thought": true``) before them, as thinking models do
    when thoughts are included.
    """
    size = max(1, -(-len(text) // max(chunks, 1)))
    parts: list[dict[str, Any]] = []
    if thought is not None:
        parts.append({"text": thought, "thought": True})
    pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    parts.extend({"text": piece} for piece in pieces)
    parts[-1]["thoughtSignature"] = "c2lnbmF0dXJl"
    return gemini_parts(
        parts,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        thoughts_tokens=thoughts_tokens,
        finish_reason=finish_reason,
        finish_message=finish_message,
        model=model,
        delay=delay,
    )


def gemini_json(
    payload: Mapping[str, Any],
    *,
    prompt_tokens: int = 1200,
    output_tokens: int = 150,
    chunks: int = 1,
    thought: str | None = None,
) -> ScriptedResponse:
    """A successful answer whose text is *payload* as JSON (structured output)."""
    return gemini_text(
        json.dumps(payload, ensure_ascii=False),
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        chunks=chunks,
        thought=thought,
    )


def gemini_blocked(
    reason: str = "SAFETY", message: str | None = None, *, prompt_tokens: int = 800
) -> ScriptedResponse:
    """A prompt blocked before any answer: no candidates, ``promptFeedback.blockReason``."""
    feedback: dict[str, Any] = {
        "blockReason": reason,
        "safetyRatings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"},
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"},
        ],
    }
    if message is not None:
        feedback["blockReasonMessage"] = message
    return ScriptedResponse(
        body={
            "promptFeedback": feedback,
            "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
            "modelVersion": DEFAULT_MODEL,
            "responseId": uuid.uuid4().hex[:22],
        }
    )


def gemini_empty(*, prompt_tokens: int = 800) -> ScriptedResponse:
    """An answer with an empty candidates list and no prompt feedback."""
    return ScriptedResponse(
        body={
            "candidates": [],
            "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
            "modelVersion": DEFAULT_MODEL,
        }
    )


def gemini_error(
    code: int,
    message: str,
    status: str,
    *,
    reason: str | None = None,
    metadata: Mapping[str, str] | None = None,
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
                "metadata": dict(metadata or {"service": "generativelanguage.googleapis.com"}),
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
        ]
    return ScriptedResponse(status=code, body={"error": error}, headers=dict(headers or {}))


def unknown_fields_error(fields: Sequence[tuple[str, str | None]]) -> ScriptedResponse:
    """The 400 for fields the API version does not define (one line per field)."""
    lines = [
        f'Invalid JSON payload received. Unknown name "{name}"'
        + (f" at '{where}'" if where else "")
        + ": Cannot find field."
        for name, where in fields
    ]
    violations = [
        {"field": where, "description": line} if where else {"description": line}
        for (_, where), line in zip(fields, lines, strict=True)
    ]
    return ScriptedResponse(
        status=400,
        body={
            "error": {
                "code": 400,
                "message": "\n".join(lines),
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": violations,
                    }
                ],
            }
        },
    )


def invalid_key_error() -> ScriptedResponse:
    """What Gemini answers to a wrong API key (a 400 with reason ``API_KEY_INVALID``)."""
    return gemini_error(
        400,
        "API key not valid. Please pass a valid API key.",
        "INVALID_ARGUMENT",
        reason="API_KEY_INVALID",
    )


def service_disabled_error(project: str = "123456789012") -> ScriptedResponse:
    """The 403 for a key whose project has not enabled the Generative Language API."""
    url = (
        "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/"
        f"overview?project={project}"
    )
    return gemini_error(
        403,
        f"Generative Language API has not been used in project {project} before or it is "
        f"disabled. Enable it by visiting {url} then retry. If you enabled this API "
        "recently, wait a few minutes for the action to propagate to our systems and retry.",
        "PERMISSION_DENIED",
        reason="SERVICE_DISABLED",
        metadata={
            "consumer": f"projects/{project}",
            "service": "generativelanguage.googleapis.com",
            "serviceTitle": "Generative Language API",
            "activationUrl": url,
            "containerInfo": project,
        },
    )


def key_service_blocked_error() -> ScriptedResponse:
    """The 403 for a key restricted to other APIs (reason ``API_KEY_SERVICE_BLOCKED``)."""
    return gemini_error(
        403,
        "Requests to this API generativelanguage.googleapis.com method "
        "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked.",
        "PERMISSION_DENIED",
        reason="API_KEY_SERVICE_BLOCKED",
    )


def consumer_suspended_error(api_key: str) -> ScriptedResponse:
    """The 403 for a suspended project; Google's message quotes the key itself."""
    return gemini_error(
        403,
        f"Permission denied: Consumer 'api_key:{api_key}' has been suspended.",
        "PERMISSION_DENIED",
        reason="CONSUMER_SUSPENDED",
        metadata={
            "consumer": f"projects/api_key:{api_key}",
            "service": "generativelanguage.googleapis.com",
        },
    )


__all__ = [
    "DEFAULT_MODEL",
    "FakeGemini",
    "consumer_suspended_error",
    "gemini_blocked",
    "gemini_empty",
    "gemini_error",
    "gemini_json",
    "gemini_parts",
    "gemini_text",
    "invalid_key_error",
    "key_service_blocked_error",
    "prompt_text",
    "service_disabled_error",
    "unknown_fields_error",
]
