"""Speech to text with Deepgram's pre-recorded API (deepgram-sdk 7, ``AsyncDeepgramClient``).

The extracted WAV is streamed from local disk as the request body (never a URL: Deepgram
cannot always reach a private object store) with diarization (``diarize_model``, which
replaces the deprecated ``diarize=true``), smart formatting, punctuation and utterances.
Paragraphs are not requested: nothing here reads them. Without a language, Deepgram
detects it and the detected language and its confidence are kept; with
``language=multi`` the dominant language of ``languages`` is.

Segments take their speaker from the words, not from the utterance: in real diarized
output an utterance's speaker sometimes disagrees with some of its own words. Each
utterance is split where the speaker of its words changes, so every word is credited to
the speaker Deepgram gave it; words keep ``speaker_confidence``. The engine is labelled
with the model Deepgram reports in ``metadata.model_info`` (its ``arch``), not the one
configured.

Failures are translated at this boundary into ``TranscriptionFailedError``:

* 429 and 5xx (and 408, and lost connections) are retried with exponential backoff,
  honouring ``Retry-After``; when the attempts run out the error is *transient*.
* 401 (and a 403 ``INVALID_AUTH``): "Deepgram rejected the API key", permanent, at once;
  another 403 (a project without access to the model or feature) says so with
  Deepgram's ``err_code`` and message.
* 400 and other 4xx: permanent, with Deepgram's own message.
* A timeout: transient, not retried here (the pipeline decides when to try again).
* A response without the fields asked for: permanent, naming what is missing.

The SDK's own retries are off so that only this policy applies. The API key never
appears in log records or exception messages.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import attrs
import httpx
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from deepgram.core.api_error import ApiError
from deepgram.core.parse_error import ParsingError

from elyune_adapters.asr.diarize import voices_for_transcript
from elyune_adapters.asr.voice_encoder import VoiceEncoder, VoiceEncoderError
from elyune_adapters.hosted import CallRetry, redact, retry_after, retryable
from elyune_core.entities import Segment, SpeakerVoice, Word
from elyune_core.errors import TranscriptionFailedError
from elyune_core.ports import Transcriber, TranscriptionRequest, TranscriptionResult

logger = logging.getLogger(__name__)

_CHUNK_SIZE = 1 << 20
_KEY_REJECTED = "Deepgram rejected the API key"


class DeepgramResponseError(Exception):
    """Deepgram's answer lacks a field the transcript needs (internal to this module)."""


class DeepgramTranscriber(Transcriber):
    """A ``Transcriber`` backed by Deepgram's pre-recorded ``/v1/listen`` endpoint.

    *api_key* authenticates every request; *model* is the Deepgram model (``nova-3``);
    *diarize_model* the diarizer (``latest``, ``v2`` or ``v1``).
    *environment* (a ``DeepgramClientEnvironment``) or *base_url* (an ``http(s)://`` URL
    used for REST calls) point the client somewhere other than Deepgram's production
    endpoints, e.g. a local fake server. *timeout* bounds each network wait, in seconds.
    Failed requests worth retrying are tried *max_attempts* times in all, waiting
    *backoff_base* × 2ⁿ seconds (or what ``Retry-After`` asks, up to *max_retry_delay*;
    a longer wait is left to the pipeline); *retry* gives the three at once
    (:class:`elyune_adapters.hosted.CallRetry`, what the container passes from the settings).
    """

    #: Deepgram recordings are transcribed whole at the end, never stretch by stretch.
    supports_stretches = False

    def __init__(
        self,
        api_key: str,
        model: str = "nova-3",
        *,
        diarize_model: str = "latest",
        environment: DeepgramClientEnvironment | None = None,
        base_url: str | None = None,
        timeout: float = 600.0,
        max_attempts: int = 3,
        backoff_base: float = 2.0,
        max_retry_delay: float = 60.0,
        retry: CallRetry | None = None,
        voices: bool = True,
        voice_threads: int = 1,
    ) -> None:
        if not api_key:
            raise ValueError("a Deepgram API key is required")
        if environment is not None and base_url is not None:
            raise ValueError("give either environment or base_url, not both")
        self._retry = retry or CallRetry(max_attempts, backoff_base, max_retry_delay)
        self._api_key = api_key
        if not diarize_model:
            raise ValueError("a diarize_model is required (latest, v2 or v1)")
        self.model = model
        self.name = f"deepgram:{model}"
        self._diarize_model = diarize_model
        self._environment = environment or _environment_for(base_url)
        self._timeout = timeout
        self._voice_encoder = VoiceEncoder(threads=voice_threads) if voices else None

    def __repr__(self) -> str:
        return f"DeepgramTranscriber(model={self.model!r}, base={self._environment.base!r})"

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Transcribe the WAV of *request* with speakers, words and (detected) language.

        Raises ``TranscriptionFailedError``; ``transient`` tells whether a later attempt
        may succeed.
        """
        size = await _file_size(request.audio)
        attempt = 1
        while True:
            try:
                response = await self._send(request, size)
            except ApiError as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    self._fail(request, exc, attempt)
                logger.warning(
                    "Deepgram answered %s for recording %s (attempt %d of %d); retrying in %.2f s",
                    exc.status_code,
                    request.recording_id,
                    attempt,
                    self._retry.attempts,
                    delay,
                )
            except ParsingError as exc:
                raise TranscriptionFailedError(
                    "Deepgram returned a transcription in an unexpected shape", transient=False
                ) from exc
            except httpx.TimeoutException as exc:
                logger.warning(
                    "Deepgram timed out after %.1f s for recording %s",
                    self._timeout,
                    request.recording_id,
                )
                raise TranscriptionFailedError(
                    f"Deepgram did not answer within {self._timeout:g} s", transient=True
                ) from exc
            except httpx.TransportError as exc:
                retry = self._retry.after_transport(attempt)
                if retry is None:
                    raise TranscriptionFailedError(
                        f"Deepgram could not be reached ({type(exc).__name__})", transient=True
                    ) from exc
                delay = retry
                logger.warning(
                    "Deepgram could not be reached for recording %s (%s, attempt %d of %d); "
                    "retrying in %.2f s",
                    request.recording_id,
                    type(exc).__name__,
                    attempt,
                    self._retry.attempts,
                    delay,
                )
            else:
                try:
                    result = _to_result(response, request, self.model)
                except DeepgramResponseError as exc:
                    logger.error(
                        "Deepgram's answer for recording %s is incomplete: %s",
                        request.recording_id,
                        exc,
                    )
                    raise TranscriptionFailedError(
                        f"Deepgram returned an incomplete transcription: {exc}", transient=False
                    ) from exc
                logger.info(
                    "Deepgram transcribed recording %s: %d segments, language %s, engine %s, "
                    "request %s",
                    request.recording_id,
                    len(result.segments),
                    result.language,
                    result.engine,
                    result.request_id,
                )
                voices = await self._voices(request, result.segments)
                return attrs.evolve(result, voices=voices) if voices else result
            await asyncio.sleep(delay)
            attempt += 1

    # ------------------------------------------------------------------ internals

    async def _voices(
        self, request: TranscriptionRequest, segments: Sequence[Segment]
    ) -> tuple[SpeakerVoice, ...]:
        """Each Deepgram speaker's voice, embedded locally from the WAV (for voice
        profiles); a failure only leaves the transcript without voices."""
        if self._voice_encoder is None or not segments:
            return ()
        try:
            return await asyncio.to_thread(
                voices_for_transcript, request.audio, segments, self._voice_encoder
            )
        except (VoiceEncoderError, ArithmeticError, ValueError, RuntimeError) as exc:
            logger.warning("no voices for recording %s: %s", request.recording_id, exc)
            return ()

    async def _send(self, request: TranscriptionRequest, size: int) -> Any:
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            client = AsyncDeepgramClient(
                api_key=self._api_key,
                environment=self._environment,
                timeout=self._timeout,
                max_retries=0,
                httpx_client=http,
            )
            language: dict[str, Any] = (
                {"language": request.language} if request.language else {"detect_language": True}
            )
            handle = await asyncio.to_thread(request.audio.open, "rb")
            try:
                return await client.listen.v1.media.transcribe_file(
                    request=_read_chunks(handle),
                    model=self.model,
                    diarize_model=self._diarize_model,
                    smart_format=True,
                    punctuate=True,
                    utterances=True,
                    request_options={"additional_headers": {"Content-Length": str(size)}},
                    **language,
                )
            finally:
                await asyncio.to_thread(handle.close)

    def _retry_delay(self, exc: ApiError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up now."""
        return self._retry.after_status(
            exc.status_code or 0, attempt, retry_after(exc.headers or {})
        )

    def _fail(self, request: TranscriptionRequest, exc: ApiError, attempt: int) -> NoReturn:
        status = exc.status_code or 0
        detail = redact(_error_message(exc.body), self._api_key)
        code = _error_code(exc.body)
        logger.warning(
            "Deepgram failed recording %s with %s after %d attempt(s): %s",
            request.recording_id,
            status,
            attempt,
            detail,
        )
        if status == 401 or (status == 403 and code in (None, "INVALID_AUTH")):
            raise TranscriptionFailedError(_KEY_REJECTED, transient=False) from exc
        if status == 403:
            raise TranscriptionFailedError(
                f"Deepgram denied access (403 {code}): {detail}", transient=False
            ) from exc
        if retryable(status):
            raise TranscriptionFailedError(
                f"Deepgram is unavailable ({status}) after {attempt} attempt(s): {detail}",
                transient=True,
            ) from exc
        if 200 <= status < 300:
            raise TranscriptionFailedError(
                "Deepgram returned a response that is not JSON", transient=False
            ) from exc
        raise TranscriptionFailedError(
            f"Deepgram refused the audio ({status}): {detail}", transient=False
        ) from exc


# --------------------------------------------------------------------------- helpers


def _environment_for(base_url: str | None) -> DeepgramClientEnvironment:
    if base_url is None:
        return DeepgramClientEnvironment.PRODUCTION
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError("base_url must be an http:// or https:// URL")
    socket = "ws" + base.removeprefix("http")
    return DeepgramClientEnvironment(base=base, production=socket, agent=socket, agent_rest=base)


async def _file_size(path: Path) -> int:
    try:
        stat = await asyncio.to_thread(path.stat)
    except OSError as exc:
        raise TranscriptionFailedError(
            f"The audio file to transcribe cannot be read: {exc.strerror}", transient=False
        ) from exc
    if stat.st_size == 0:
        raise TranscriptionFailedError("The audio file to transcribe is empty", transient=False)
    return stat.st_size


async def _read_chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    """Yield the rest of the open file *handle* in chunks, reading off the event loop."""
    while chunk := await asyncio.to_thread(handle.read, _CHUNK_SIZE):
        yield chunk


def _error_message(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("err_msg", "message", "details", "error", "reason"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
        return "no error message"
    if isinstance(body, str | bytes):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        return text.strip()[:300] or "no error message"
    return "no error message"


def _error_code(body: Any) -> str | None:
    value = body.get("err_code") if isinstance(body, Mapping) else None
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- response mapping


def _field(obj: Any, name: str) -> Any:
    """*name* of an SDK model or a plain mapping; ``None`` when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _required(obj: Any, path: str) -> Any:
    value = obj
    for name in path.split("."):
        value = _field(value, name)
        if value is None:
            raise DeepgramResponseError(f"missing {path}")
    return value


def _number(value: Any, where: str) -> float:
    if value is None:
        raise DeepgramResponseError(f"missing {where}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DeepgramResponseError(f"{where} is not a number")
    return float(value)


def _optional_number(value: Any, where: str) -> float | None:
    return None if value is None else _number(value, where)


def _text(value: Any, where: str) -> str:
    if value is None:
        raise DeepgramResponseError(f"missing {where}")
    if not isinstance(value, str):
        raise DeepgramResponseError(f"{where} is not text")
    return value


def _sequence(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        raise DeepgramResponseError(f"missing {where}")
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise DeepgramResponseError(f"{where} is not a list")
    return value


def _speaker(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeepgramResponseError(f"{where} is not a speaker number")
    return str(value)


def _word(item: Any, at: str) -> Word:
    punctuated = _field(item, "punctuated_word")
    return Word(
        text=_text(_field(item, "word"), f"{at}.word"),
        start=_number(_field(item, "start"), f"{at}.start"),
        end=_number(_field(item, "end"), f"{at}.end"),
        confidence=_optional_number(_field(item, "confidence"), f"{at}.confidence"),
        speaker=_speaker(_field(item, "speaker"), f"{at}.speaker"),
        punctuated=punctuated if isinstance(punctuated, str) else None,
        speaker_confidence=_optional_number(
            _field(item, "speaker_confidence"), f"{at}.speaker_confidence"
        ),
    )


def _runs(words: Sequence[Word]) -> list[list[Word]]:
    """*words* in runs of one speaker (a word without a speaker joins the run it is in)."""
    runs: list[list[Word]] = []
    for word in words:
        speaker = word.speaker
        current = runs[-1] if runs else None
        current_speaker = next((w.speaker for w in current or () if w.speaker), None)
        if current is None or (
            speaker is not None and current_speaker is not None and speaker != current_speaker
        ):
            runs.append([word])
        else:
            current.append(word)
    return runs


def _utterance_segments(item: Any, at: str, first_id: int) -> list[Segment]:
    """The segments of one utterance: one per run of words with the same speaker."""
    start = _number(_field(item, "start"), f"{at}.start")
    end = _number(_field(item, "end"), f"{at}.end")
    transcript = _text(_field(item, "transcript"), f"{at}.transcript").strip()
    speaker = _speaker(_field(item, "speaker"), f"{at}.speaker")
    confidence = _optional_number(_field(item, "confidence"), f"{at}.confidence")
    raw_words = _field(item, "words")
    words = (
        [_word(w, f"{at}.words[{j}]") for j, w in enumerate(_sequence(raw_words, f"{at}.words"))]
        if raw_words is not None
        else []
    )
    runs = _runs(words)
    if len(runs) <= 1:
        said_by = next((w.speaker for w in words if w.speaker is not None), speaker)
        return [Segment(first_id, start, end, transcript, said_by, confidence)]
    segments = []
    for offset, run in enumerate(runs):
        known = [w.confidence for w in run if w.confidence is not None]
        segments.append(
            Segment(
                id=first_id + offset,
                start=run[0].start,
                end=run[-1].end,
                text=" ".join(w.punctuated or w.text for w in run),
                speaker=next((w.speaker for w in run if w.speaker is not None), speaker),
                confidence=round(sum(known) / len(known), 4) if known else None,
            )
        )
    return segments


def _reported_model(metadata: Any, configured: str) -> str:
    """The model Deepgram says it used (``model_info``'s ``arch``, else its ``name``)."""
    info = _field(metadata, "model_info")
    models = _field(metadata, "models")
    entries: list[Any] = []
    if isinstance(info, Mapping):
        keys = [m for m in models if m in info] if isinstance(models, Sequence) else []
        entries = [info[k] for k in keys] or list(info.values())
    for entry in entries:
        for name in ("arch", "name"):
            value = _field(entry, name)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return configured


def _to_result(response: Any, request: TranscriptionRequest, model: str) -> TranscriptionResult:
    """Map Deepgram's answer to a ``TranscriptionResult``; raise on missing fields."""
    metadata = _required(response, "metadata")
    results = _required(response, "results")
    request_id = _text(_field(metadata, "request_id"), "metadata.request_id")
    billed = _number(_field(metadata, "duration"), "metadata.duration")
    channels = _sequence(_field(results, "channels"), "results.channels")
    if not channels:
        raise DeepgramResponseError("results.channels is empty")
    channel = channels[0]
    alternatives = _sequence(_field(channel, "alternatives"), "results.channels[0].alternatives")
    if not alternatives:
        raise DeepgramResponseError("results.channels[0].alternatives is empty")
    best = alternatives[0]
    where = "results.channels[0].alternatives[0]"
    text = _text(_field(best, "transcript"), f"{where}.transcript")

    words = [
        _word(item, f"{where}.words[{i}]")
        for i, item in enumerate(_sequence(_field(best, "words"), f"{where}.words"))
    ]

    segments: list[Segment] = []
    utterances = _sequence(_field(results, "utterances"), "results.utterances")
    for i, item in enumerate(utterances):
        segments.extend(_utterance_segments(item, f"results.utterances[{i}]", len(segments)))

    speakers = {s.speaker for s in segments if s.speaker is not None} | {
        w.speaker for w in words if w.speaker is not None
    }
    language, confidence = _language(channel, best, request)
    return TranscriptionResult(
        text=text.strip(),
        language=language,
        segments=tuple(segments),
        words=tuple(words),
        engine=f"deepgram:{_reported_model(metadata, model)}",
        language_confidence=confidence,
        duration=billed,
        speaker_count=len(speakers) or None,
        request_id=request_id,
        audio_seconds=billed,
    )


def _language(
    channel: Any, best: Any, request: TranscriptionRequest
) -> tuple[str | None, float | None]:
    detected = _field(channel, "detected_language")
    if isinstance(detected, str) and detected:
        confidence = _optional_number(
            _field(channel, "language_confidence"), "results.channels[0].language_confidence"
        )
        return detected, confidence
    languages = _field(best, "languages")
    if isinstance(languages, Sequence) and languages and isinstance(languages[0], str):
        return languages[0], None
    if request.language and request.language != "multi":
        return request.language, None
    return None, None


__all__ = ["DeepgramTranscriber"]
