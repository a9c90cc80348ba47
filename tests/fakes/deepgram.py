"""A fake Deepgram pre-recorded API: ``POST /v1/listen``.

``FakeDeepgram`` records what the SDK sent (query flags, headers, the audio bytes) and
answers with scripted responses; ``listen_response`` builds a diarized result in the
shape of Deepgram's documented ``ListenV1Response`` (metadata with ``model_info`` and
``diarize_info``, channel alternatives with words carrying ``speaker`` and
``speaker_confidence``, utterances with their own words), and ``deepgram_error`` an error
body like Deepgram's.

As in real output, it can make some words of an utterance belong to another speaker than
the utterance's own ``speaker`` (*word_speakers*), have one-word utterances, report a
detected language with its confidence, or, for ``language=multi``, the ``languages`` of
the transcript and of each utterance and word.
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


def _words(
    speaker: int,
    start: float,
    end: float,
    text: str,
    speakers: Sequence[int] | None = None,
    language: str | None = None,
) -> list[dict[str, Any]]:
    tokens = text.split()
    step = (end - start) / max(len(tokens), 1)
    words = []
    for i, token in enumerate(tokens):
        said_by = speakers[i] if speakers is not None else speaker
        word: dict[str, Any] = {
            "word": _bare(token),
            "start": round(start + i * step, 3),
            "end": round(start + (i + 1) * step - 0.02, 3),
            "confidence": 0.98,
            "speaker": said_by,
            # The diarizer is less sure of a word it gives to someone else.
            "speaker_confidence": 0.91 if said_by == speaker else 0.47,
            "punctuated_word": token,
        }
        if language is not None:
            word["language"] = language
        words.append(word)
    return words


def listen_response(
    utterances: Sequence[Utterance] = TWO_SPEAKERS,
    *,
    duration: float = 18.0,
    request_id: str | None = None,
    detected_language: str | None = None,
    language_confidence: float | None = None,
    model: str = "nova-3",
    word_speakers: Mapping[int, Sequence[int]] | None = None,
    languages: Sequence[str] | None = None,
    diarizer: str = "v2",
) -> dict[str, Any]:
    """A Deepgram pre-recorded result with *utterances*, diarized and smart-formatted.

    With *detected_language* the channel carries ``detected_language`` and
    ``language_confidence`` as Deepgram returns them when ``detect_language=true``.
    *word_speakers* maps an utterance's index to the speaker of each of its words where
    they differ from the utterance's speaker. *languages* (``language=multi``) puts the
    transcript's languages, by word count, in ``languages`` and the first on each word.
    *model* is the model Deepgram reports having used, *diarizer* its diarizer arch.
    """
    model_id = str(uuid.UUID(int=7))
    overrides = word_speakers or {}
    language = languages[0] if languages else None
    per_utterance = [
        _words(*u, speakers=overrides.get(i), language=language) for i, u in enumerate(utterances)
    ]
    all_words = [w for words in per_utterance for w in words]
    transcript = " ".join(u[3] for u in utterances)
    alternative: dict[str, Any] = {
        "transcript": transcript,
        "confidence": 0.97,
        "words": all_words,
    }
    if languages is not None:
        alternative["languages"] = list(languages)
        alternative["languages_hinted"] = []
    channel: dict[str, Any] = {"alternatives": [alternative]}
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
            "model_info": {
                model_id: {"name": f"general-{model}", "version": "2025-01-01.0", "arch": model}
            },
            "diarize_info": {"model_uuid": str(uuid.UUID(int=8)), "arch": diarizer},
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
                    "words": per_utterance[i],
                    "speaker": speaker,
                    "id": str(uuid.UUID(int=100 + i)),
                    **({"languages": list(languages[:1])} if languages else {}),
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
