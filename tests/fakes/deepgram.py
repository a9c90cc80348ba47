"""A fake Deepgram pre-recorded API: ``POST /v1/listen``.

``FakeDeepgram`` records what the SDK sent (query flags, headers, the audio bytes) and
answers with scripted responses; ``listen_response`` builds a realistic diarized result
in the shape Deepgram returns (metadata, channel alternatives with words and paragraphs,
utterances), and ``deepgram_error`` an error body like Deepgram's.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes import FakeApiServer, ScriptedResponse

#: One utterance: ``(speaker, start, end, text)``.
Utterance = tuple[int, float, float, str]

TWO_SPEAKERS: tuple[Utterance, ...] = (
    (0, 0.32, 4.1, "Good morning, Bob. Thanks for joining the weekly release meeting."),
    (1, 4.6, 9.8, "Good morning, Alice. The customers love the new dashboard."),
    (0, 10.2, 14.9, "Great. Can you send the release notes by Friday?"),
    (1, 15.3, 17.6, "Sure, I will send them on Thursday."),
)


class FakeDeepgram(FakeApiServer):
    """Speaks ``POST /v1/listen`` (pre-recorded transcription of a request body)."""

    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_post("/v1/listen", self._answer)


def _bare(word: str) -> str:
    return word.strip(".,?!;:").lower()


def _words(speaker: int, start: float, end: float, text: str) -> list[dict[str, Any]]:
    tokens = text.split()
    step = (end - start) / max(len(tokens), 1)
    return [
        {
            "word": _bare(token),
            "start": round(start + i * step, 3),
            "end": round(start + (i + 1) * step - 0.02, 3),
            "confidence": 0.98,
            "speaker": speaker,
            "speaker_confidence": 0.91,
            "punctuated_word": token,
        }
        for i, token in enumerate(tokens)
    ]


def listen_response(
    utterances: Sequence[Utterance] = TWO_SPEAKERS,
    *,
    duration: float = 18.0,
    request_id: str | None = None,
    detected_language: str | None = None,
    language_confidence: float | None = None,
    model: str = "nova-3",
) -> dict[str, Any]:
    """A Deepgram pre-recorded result with *utterances*, diarized and smart-formatted.

    With *detected_language* the channel carries ``detected_language`` and
    ``language_confidence`` as Deepgram returns them when ``detect_language=true``.
    """
    model_id = str(uuid.UUID(int=7))
    all_words = [w for u in utterances for w in _words(*u)]
    transcript = " ".join(u[3] for u in utterances)
    paragraphs = [
        {
            "sentences": [{"text": text, "start": start, "end": end}],
            "speaker": speaker,
            "num_words": len(text.split()),
            "start": start,
            "end": end,
        }
        for speaker, start, end, text in utterances
    ]
    channel: dict[str, Any] = {
        "alternatives": [
            {
                "transcript": transcript,
                "confidence": 0.97,
                "words": all_words,
                "paragraphs": {
                    "transcript": "".join(f"\n\nSpeaker {u[0]}: {u[3]}" for u in utterances),
                    "paragraphs": paragraphs,
                },
            }
        ]
    }
    if detected_language is not None:
        channel["detected_language"] = detected_language
        channel["language_confidence"] = language_confidence
    return {
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": request_id or str(uuid.uuid4()),
            "sha256": hashlib.sha256(transcript.encode()).hexdigest(),
            "created": "2025-03-04T10:11:12.345Z",
            "duration": duration,
            "channels": 1,
            "models": [model_id],
            "model_info": {model_id: {"name": f"general-{model}", "version": "2025-01-01.0"}},
        },
        "results": {
            "channels": [channel],
            "utterances": [
                {
                    "start": start,
                    "end": end,
                    "confidence": 0.95,
                    "channel": 0,
                    "transcript": text,
                    "words": _words(speaker, start, end, text),
                    "speaker": speaker,
                    "id": str(uuid.UUID(int=100 + i)),
                }
                for i, (speaker, start, end, text) in enumerate(utterances)
            ],
        },
    }


def deepgram_error(
    status: int,
    err_code: str,
    err_msg: str,
    *,
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
) -> ScriptedResponse:
    """An error answer in Deepgram's ``{err_code, err_msg, request_id}`` shape."""
    return ScriptedResponse(
        status=status,
        body={"err_code": err_code, "err_msg": err_msg, "request_id": str(uuid.uuid4())},
        headers=dict(headers or {}),
        delay=delay,
    )


__all__ = ["TWO_SPEAKERS", "FakeDeepgram", "Utterance", "deepgram_error", "listen_response"]
