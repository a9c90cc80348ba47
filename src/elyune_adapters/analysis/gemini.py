"""Transcript analyses with Google Gemini (google-genai, ``client.aio.models.generate_content``).

One request asks for every requested kind at once, as JSON constrained by a response
schema that covers exactly those kinds. The prompt carries the transcript as lines of
``[segment id] start-end speaker: text`` with the speakers' given names, and asks for the
answer in the transcript's language.

The API version is chosen here, not left to the SDK: ``v1beta`` (``GEMINI_API_VERSION``).
google-genai 3.x calls ``v1`` by default (and follows ``GOOGLE_GENAI_API_VERSION``), but
``v1``'s GenerateContentRequest has no ``systemInstruction`` and its GenerationConfig no
``responseMimeType``/``responseSchema``: Google answers 400 "Unknown name ... Cannot find
field" (googleapis/python-genai issue 1837). ``v1beta`` documents both.

Nothing is returned unchecked. Each kind is validated against the transcript: segment ids
must exist (in the part of the transcript the model saw), timestamps must lie inside the
recording and inside or near their segment (a timestamp slightly off is moved to the
segment start), owners must be speakers or people named in the transcript, labels come
from the fixed set and scores from [-1, 1]. Kinds that fail are asked for again once, with
the list of problems; a kind that fails again gets a readable ``error`` in its outcome.
Output that is not JSON, or empty, is treated the same way.

Answers a second request cannot change are not asked for again: a prompt blocked by
``promptFeedback`` (SAFETY, PROHIBITED_CONTENT, ...) and an answer stopped for its content
(finish reason SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, LANGUAGE, ...) end
as an error naming the reason with Gemini's ``blockReasonMessage``/``finishMessage``. An
answer cut off at the output limit (MAX_TOKENS) is not repeated either: its part of the
transcript is split in two and each half asked for, down to single segments. The raw
response body is read because the SDK drops ``finishMessage`` for the Gemini Developer
API; thought parts (``"thought": true``) are skipped and the other text parts joined.

Transcripts longer than the token budget (estimated at ~4 characters a token) are
analysed in parts of whole segments and merged: the part summaries are summarised by one
more request, action items and key points are concatenated and de-duplicated, sentiment
is averaged weighted by how much was said. Token counts come from ``usageMetadata``; a
request that served several kinds shares its tokens among them, so the per-kind counts
add up to what Gemini billed (thinking tokens count as output).

Failures of the request itself raise ``AnalysisFailedError``: 429 and 5xx (and 408, and
lost connections) are retried with exponential backoff, honouring ``Retry-After`` and
Google's ``RetryInfo``, then reported as transient; a rejected API key (401, or
``API_KEY_INVALID``) fails at once with "Gemini rejected the API key"; a 403 says what
Google refused with its ``ErrorInfo`` reason and message (the API not enabled for the
key's project, a key restricted to other APIs, a suspended project); other 4xx are
permanent with Google's message; a timeout is transient. The SDK's own retries are off.
The API key never appears in log records or exception messages.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeAlias

import aiohttp
import attrs
import httpx
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from elyune_adapters.analysis.owners import UnknownOwnerError, resolve_owner
from elyune_core.entities import (
    ActionItem,
    ActionItems,
    AnalysisContent,
    AnalysisKind,
    KeyPoint,
    KeyPoints,
    Segment,
    Sentiment,
    SentimentLabel,
    SpeakerSentiment,
    Summary,
)
from elyune_core.errors import AnalysisFailedError
from elyune_core.ports import AnalysisOutcome, AnalysisRequest, Analyzer

logger = logging.getLogger(__name__)

_KEY_REJECTED = "Gemini rejected the API key"
DEFAULT_MODEL = "gemini-3.8-flash"
DEFAULT_API_VERSION = "v1beta"
# Finish reasons that stop an answer for its content: asking again does not help.
_CONTENT_STOPS = {
    "SAFETY": "for safety reasons",
    "RECITATION": "because it would recite protected material",
    "BLOCKLIST": "because it contains blocklisted terms",
    "PROHIBITED_CONTENT": "because it contains prohibited content",
    "SPII": "because it contains sensitive personal information",
    "LANGUAGE": "because the transcript's language is not supported",
    "IMAGE_SAFETY": "for safety reasons",
    "IMAGE_PROHIBITED_CONTENT": "because it contains prohibited content",
    "MODEL_ARMOR": "because a Model Armor policy blocked it",
}
# ErrorInfo reasons of a 403, in words.
_DENIED = {
    "SERVICE_DISABLED": "the Generative Language API is not enabled for the API key's project",
    "API_KEY_SERVICE_BLOCKED": "the API key is not allowed to call the Gemini API",
    "API_KEY_HTTP_REFERRER_BLOCKED": "the API key is restricted to other websites",
    "API_KEY_IP_ADDRESS_BLOCKED": "the API key is restricted to other IP addresses",
    "CONSUMER_SUSPENDED": "the API key's project is suspended",
    "BILLING_DISABLED": "billing is disabled for the API key's project",
}
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{20,}")
_RETRY_STATUSES = frozenset({408, 429})
_MAX_ERRORS_SHOWN = 5
_LABELS = tuple(label.value for label in SentimentLabel)
_KIND_NAMES = {
    AnalysisKind.SUMMARY: "summary",
    AnalysisKind.ACTION_ITEMS: "action items",
    AnalysisKind.KEY_POINTS: "key points",
    AnalysisKind.SENTIMENT: "sentiment",
}

_SYSTEM = """\
You analyse transcripts of recorded meetings and screen recordings.
Answer only with JSON that follows the response schema.
Base every statement on the transcript; never invent facts, people, dates or numbers.
Each transcript line reads: [segment id] start-end (seconds) speaker: text.
Every segment_id you give must be the id of the segment the statement comes from, and
every timestamp must be the start time in seconds of that segment or a moment inside it.
Refer to speakers by the names shown in the transcript."""

_TASKS = {
    AnalysisKind.SUMMARY: (
        "summary: a short title (at most 10 words) and one paragraph summarising what "
        "was discussed and decided."
    ),
    AnalysisKind.ACTION_ITEMS: (
        "action_items: every task someone committed to or was asked to do. text says what "
        "is to be done; owner is the speaker name or the person named in the transcript who "
        "should do it (null if nobody is named); due is the deadline as it was said (null "
        "if none); segment_id and timestamp point at where it was said. An empty list if "
        "there are none."
    ),
    AnalysisKind.KEY_POINTS: (
        "key_points: the main points, decisions and facts, in order, each with the "
        "segment_id and timestamp where it was said."
    ),
    AnalysisKind.SENTIMENT: (
        "sentiment: the overall tone. label is one of positive, neutral, negative or mixed; "
        "score runs from -1 (very negative) to 1 (very positive); explanation is one "
        "sentence; speakers gives the label and score of each speaker, by name."
    ),
}

CheckResult: TypeAlias = tuple[AnalysisContent | None, list[str]]
Checker: TypeAlias = Callable[[AnalysisKind, Any], CheckResult]


class GeminiAnalyzer(Analyzer):
    """An ``Analyzer`` backed by Gemini structured output.

    *api_key* authenticates every request; *model* is the Gemini model
    (``gemini-3.8-flash``). *api_version* is the REST API version called (``v1beta``, the
    one that documents system instructions and structured output); *base_url* points the
    client somewhere other than Google's endpoint (a local fake server, a proxy).
    *timeout* bounds each request, in seconds. *temperature* is sent only when given:
    Google recommends the default (1.0) for Gemini 3 models, where lower values can make
    the answer loop. Transcripts estimated
    above *token_budget* tokens (*chars_per_token* characters each) are analysed in parts.
    A timestamp up to *timestamp_tolerance* seconds outside its segment is moved to the
    segment start. Failed requests worth retrying are tried *max_attempts* times in all,
    waiting *backoff_base* × 2ⁿ seconds (or what the server asks, up to
    *max_retry_delay*; a longer wait is left to the pipeline).
    """

    def __init__(
        self,
        api_key: str,
        model: str = DEFAULT_MODEL,
        *,
        base_url: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 300.0,
        temperature: float | None = None,
        token_budget: int = 200_000,
        chars_per_token: float = 4.0,
        timestamp_tolerance: float = 2.0,
        max_attempts: int = 3,
        backoff_base: float = 2.0,
        max_retry_delay: float = 60.0,
    ) -> None:
        if not api_key:
            raise ValueError("a Gemini API key is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if token_budget < 1 or chars_per_token <= 0:
            raise ValueError("token_budget and chars_per_token must be positive")
        if not api_version:
            raise ValueError("an API version is required (v1beta)")
        self._api_key = api_key
        self.model = model
        self.name = f"gemini:{model}"
        self._base_url = base_url
        self._api_version = api_version
        self._timeout = timeout
        self._temperature = temperature
        self._token_budget = token_budget
        self._chars_per_token = chars_per_token
        self._tolerance = timestamp_tolerance
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._max_retry_delay = max_retry_delay

    def __repr__(self) -> str:
        return (
            f"GeminiAnalyzer(model={self.model!r}, api_version={self._api_version!r}, "
            f"base_url={self._base_url!r})"
        )

    async def analyze(self, request: AnalysisRequest) -> Mapping[AnalysisKind, AnalysisOutcome]:
        """Analyse the transcript of *request* for each of its kinds.

        Returns one outcome per requested kind, with content or a readable error. Raises
        ``AnalysisFailedError`` when Gemini itself cannot be used (``transient`` when a
        later attempt may succeed).
        """
        kinds = tuple(dict.fromkeys(request.kinds))
        if not kinds:
            return {}
        context = _Context.of(request)
        if not context.segments:
            return {
                kind: AnalysisOutcome(kind, error="The transcript has no speech to analyse.")
                for kind in kinds
            }
        budget = self._token_budget * self._chars_per_token
        runs = [part.segments for part in _split(context, budget)]
        usage = _Usage()
        client = self._client()
        try:
            per_part: list[dict[AnalysisKind, AnalysisContent | str]] = []
            index = 0
            while index < len(runs):
                part = _Part(index, len(runs), runs[index])
                logger.info(
                    "Gemini analysis of recording %s: part %d of %d (%d segments), kinds %s",
                    request.transcript.recording_id,
                    part.index + 1,
                    part.count,
                    len(part.segments),
                    ", ".join(kinds),
                )
                try:
                    answer = await self._analyse_part(client, context, part, kinds, usage)
                except _CutOffError as cut:
                    if len(part.segments) > 1:
                        first, second = _halves(context, part.segments)
                        runs[index : index + 1] = [first, second]
                        logger.warning(
                            "Gemini's answer for part %d of %d was cut off at the output "
                            "token limit (MAX_TOKENS); asking for it in two parts of %d and "
                            "%d segments",
                            part.index + 1,
                            part.count,
                            len(first),
                            len(second),
                        )
                        continue
                    answer = {kind: _cut_off_error(cut.reply) for kind in kinds}
                per_part.append(answer)
                index += 1
            parts = [_Part(i, len(runs), run) for i, run in enumerate(runs)]
            results = await self._merge(client, context, parts, kinds, per_part, usage)
        finally:
            await client.aio.aclose()
            client.close()
        outcomes: dict[AnalysisKind, AnalysisOutcome] = {}
        for kind in kinds:
            tokens_in, tokens_out = usage.of(kind)
            result = results[kind]
            if isinstance(result, str):
                outcomes[kind] = AnalysisOutcome(
                    kind, error=result, input_tokens=tokens_in, output_tokens=tokens_out
                )
            else:
                outcomes[kind] = AnalysisOutcome(
                    kind, content=result, input_tokens=tokens_in, output_tokens=tokens_out
                )
        logger.info(
            "Gemini analysis of recording %s done: %s",
            request.transcript.recording_id,
            ", ".join(f"{k}={'error' if outcomes[k].error else 'ok'}" for k in kinds),
        )
        return outcomes

    # ------------------------------------------------------------------ analysis steps

    async def _analyse_part(
        self,
        client: genai.Client,
        context: _Context,
        part: _Part,
        kinds: tuple[AnalysisKind, ...],
        usage: _Usage,
    ) -> dict[AnalysisKind, AnalysisContent | str]:
        def check(kind: AnalysisKind, value: Any) -> CheckResult:
            return _CHECKS[kind](value, context, part, self._tolerance)

        return await self._ask(client, _part_prompt(context, part, kinds), kinds, check, usage)

    async def _merge(
        self,
        client: genai.Client,
        context: _Context,
        parts: Sequence[_Part],
        kinds: tuple[AnalysisKind, ...],
        per_part: Sequence[Mapping[AnalysisKind, AnalysisContent | str]],
        usage: _Usage,
    ) -> dict[AnalysisKind, AnalysisContent | str]:
        if len(parts) == 1:
            return dict(per_part[0])
        merged: dict[AnalysisKind, AnalysisContent | str] = {}
        for kind in kinds:
            failures = [
                f"part {i + 1} of {len(parts)}: {result[kind]}"
                for i, result in enumerate(per_part)
                if isinstance(result[kind], str)
            ]
            if failures:
                merged[kind] = "; ".join(failures)
                continue
            contents = [result[kind] for result in per_part]
            if kind is AnalysisKind.SUMMARY:
                summaries = [c for c in contents if isinstance(c, Summary)]
                merged[kind] = await self._summarise_parts(client, context, summaries, usage)
            elif kind is AnalysisKind.ACTION_ITEMS:
                merged[kind] = ActionItems(
                    _dedupe([i for c in contents if isinstance(c, ActionItems) for i in c.items])
                )
            elif kind is AnalysisKind.KEY_POINTS:
                merged[kind] = KeyPoints(
                    _dedupe([p for c in contents if isinstance(c, KeyPoints) for p in c.items])
                )
            else:
                sentiments = [c for c in contents if isinstance(c, Sentiment)]
                merged[kind] = _merge_sentiments(sentiments, parts)
        return merged

    async def _summarise_parts(
        self,
        client: genai.Client,
        context: _Context,
        summaries: Sequence[Summary],
        usage: _Usage,
    ) -> AnalysisContent | str:
        whole = _Part(0, 1, context.segments)

        def check(kind: AnalysisKind, value: Any) -> CheckResult:
            return _check_summary(value, context, whole, self._tolerance)

        kinds = (AnalysisKind.SUMMARY,)
        try:
            result = await self._ask(client, _merge_prompt(context, summaries), kinds, check, usage)
        except _CutOffError as cut:
            return _with_message(
                "Gemini's summary of the part summaries was cut off at its output token "
                "limit (finishReason MAX_TOKENS)",
                cut.reply.finish_message,
            )
        return result[AnalysisKind.SUMMARY]

    async def _ask(
        self,
        client: genai.Client,
        prompt: str,
        kinds: tuple[AnalysisKind, ...],
        check: Checker,
        usage: _Usage,
    ) -> dict[AnalysisKind, AnalysisContent | str]:
        """Ask for *kinds*, check the answer, and ask once more for the kinds that failed.

        A refusal (blocked prompt, answer stopped for its content) is not asked again; an
        answer cut off at the output limit raises ``_CutOffError`` so the caller can shrink
        the part.
        """
        conversation = [_turn("user", prompt)]
        reply = await self._generate(client, conversation, kinds)
        usage.add(kinds, reply)
        if reply.cut_off:
            raise _CutOffError(reply)
        refusal = reply.refusal()
        if refusal is not None:
            logger.warning("Gemini did not answer for %s: %s", ", ".join(kinds), refusal)
            return dict.fromkeys(kinds, refusal)
        results, problems = _evaluate(reply, kinds, check)
        if not problems:
            return dict(results)
        retry = tuple(kind for kind in kinds if kind in problems)
        logger.info(
            "Gemini's answer did not pass the checks for %s; asking again (%d problems)",
            ", ".join(retry),
            sum(len(p) for p in problems.values()),
        )
        logger.debug("Problems with Gemini's answer: %s", problems)
        conversation += [
            _turn("model", reply.text or "(no answer)"),
            _turn("user", _correction_prompt(problems, retry)),
        ]
        second = await self._generate(client, conversation, retry)
        usage.add(retry, second)
        if second.cut_off:
            raise _CutOffError(second)
        refusal = second.refusal()
        if refusal is not None:
            logger.warning("Gemini did not answer again for %s: %s", ", ".join(retry), refusal)
            results.update(dict.fromkeys(retry, refusal))
            return dict(results)
        second_results, second_problems = _evaluate(second, retry, check)
        results.update(second_results)
        for kind, errors in second_problems.items():
            logger.warning("Gemini's %s failed the checks twice: %s", kind, errors)
            results[kind] = _readable(kind, errors)
        return dict(results)

    # ------------------------------------------------------------------ the request

    def _client(self) -> genai.Client:
        # api_version is always given: the SDK's own default (v1 in google-genai 3.x, or
        # GOOGLE_GENAI_API_VERSION) does not accept systemInstruction or a response schema.
        options = types.HttpOptions(
            base_url=self._base_url,
            api_version=self._api_version,
            timeout=max(1, round(self._timeout * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        return genai.Client(api_key=self._api_key, vertexai=False, http_options=options)

    async def _generate(
        self,
        client: genai.Client,
        conversation: list[types.Content],
        kinds: tuple[AnalysisKind, ...],
        *,
        schema: types.Schema | None = None,
        system: str | None = None,
    ) -> _Reply:
        """One ``generateContent`` call (retried as the class docstring says); *schema*
        and *system* replace the analyses' own (the answerer uses this transport)."""
        config = types.GenerateContentConfig(
            system_instruction=_SYSTEM if system is None else system,
            temperature=self._temperature,
            response_mime_type="application/json",
            response_schema=_schema(kinds) if schema is None else schema,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            # The raw body: the SDK's Gemini API mapping drops candidates' finishMessage.
            should_return_http_response=True,
        )
        attempt = 1
        while True:
            try:
                response = await client.aio.models.generate_content(
                    model=self.model, contents=list(conversation), config=config
                )
            except genai_errors.APIError as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    self._fail(exc, attempt)
                logger.warning(
                    "Gemini answered %s (attempt %d of %d); retrying in %.2f s",
                    exc.code,
                    attempt,
                    self._max_attempts,
                    delay,
                )
            except (TimeoutError, httpx.TimeoutException) as exc:
                logger.warning("Gemini did not answer within %.1f s", self._timeout)
                raise AnalysisFailedError(
                    f"Gemini did not answer within {self._timeout:g} s", transient=True
                ) from exc
            except (aiohttp.ClientError, httpx.TransportError) as exc:
                if attempt >= self._max_attempts:
                    raise AnalysisFailedError(
                        f"Gemini could not be reached ({type(exc).__name__})", transient=True
                    ) from exc
                delay = self._backoff(attempt)
                logger.warning(
                    "Gemini could not be reached (%s, attempt %d of %d); retrying in %.2f s",
                    type(exc).__name__,
                    attempt,
                    self._max_attempts,
                    delay,
                )
            except (json.JSONDecodeError, pydantic.ValidationError) as exc:
                raise AnalysisFailedError(
                    "Gemini returned a response in an unexpected shape", transient=False
                ) from exc
            else:
                http = response.sdk_http_response
                try:
                    return _Reply.parse(http.body if http is not None else None)
                except ValueError as exc:
                    raise AnalysisFailedError(
                        f"Gemini returned a response in an unexpected shape ({exc})",
                        transient=False,
                    ) from exc
            await asyncio.sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        return float(self._backoff_base * 2 ** (attempt - 1))

    def _retry_delay(self, exc: genai_errors.APIError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up now."""
        code = exc.code or 0
        if not (code in _RETRY_STATUSES or code >= 500) or attempt >= self._max_attempts:
            return None
        asked = _retry_after(exc)
        delay = self._backoff(attempt) if asked is None else asked
        return delay if delay <= self._max_retry_delay else None

    def _fail(self, exc: genai_errors.APIError, attempt: int) -> NoReturn:
        code = exc.code or 0
        detail = _redact(str(exc.message or exc.status or "no error message"), self._api_key)
        reason = _error_reason(exc)
        logger.warning(
            "Gemini failed with %s %s after %d attempt(s): %s",
            code,
            " ".join(x for x in (exc.status, reason) if x),
            attempt,
            detail,
        )
        # Google's error body can quote the key (a suspended consumer): keep it out of
        # the exception chain, which a caller may log.
        cause = None if _quotes_key(exc, self._api_key) else exc
        if _key_rejected(exc, reason):
            raise AnalysisFailedError(_KEY_REJECTED, transient=False) from cause
        if code in _RETRY_STATUSES or code >= 500:
            raise AnalysisFailedError(
                f"Gemini is unavailable ({code}) after {attempt} attempt(s): {detail}",
                transient=True,
            ) from cause
        if code == 403:
            label = ", ".join(x for x in (f"{code} {exc.status or ''}".strip(), reason) if x)
            what = _DENIED.get(reason or "")
            prefix = f"Gemini denied access: {what}" if what else "Gemini denied access"
            raise AnalysisFailedError(f"{prefix} ({label}): {detail}", transient=False) from cause
        raise AnalysisFailedError(
            f"Gemini refused the request ({code}): {detail}", transient=False
        ) from cause


# --------------------------------------------------------------------------- value objects


@attrs.frozen
class _Reply:
    """What one ``generateContent`` answer says: text, why it stopped, tokens used.

    ``text`` joins the first candidate's text parts that are not thoughts (``None`` when
    there is none). ``finish``/``finish_message`` are the candidate's ``finishReason`` and
    ``finishMessage``; ``block``/``block_message`` the prompt feedback's ``blockReason``
    and ``blockReasonMessage``; ``candidates`` how many candidates came back.
    """

    text: str | None
    input_tokens: int
    output_tokens: int
    finish: str = ""
    finish_message: str | None = None
    block: str | None = None
    block_message: str | None = None
    candidates: int = 1

    @classmethod
    def parse(cls, body: str | None) -> _Reply:
        """The reply in *body* (a ``GenerateContentResponse`` as JSON); ``ValueError`` if not."""
        if not body:
            raise ValueError("an empty body")
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        meta = _mapping(data.get("usageMetadata"))
        tokens_in = _count(meta.get("promptTokenCount"))
        tokens_out = _count(meta.get("candidatesTokenCount")) + _count(
            meta.get("thoughtsTokenCount")
        )
        feedback = _mapping(data.get("promptFeedback"))
        block = _label_text(feedback.get("blockReason"))
        if block == "BLOCKED_REASON_UNSPECIFIED":
            block = None
        candidates = data.get("candidates")
        if candidates is not None and not isinstance(candidates, list):
            raise ValueError("candidates is not a list")
        block_message = _label_text(feedback.get("blockReasonMessage"))
        if not candidates:
            return cls(
                None,
                tokens_in,
                tokens_out,
                block=block,
                block_message=block_message,
                candidates=0,
            )
        candidate = _mapping(candidates[0])
        content = _mapping(candidate.get("content"))
        parts = content.get("parts")
        texts = [
            part["text"]
            for part in (parts if isinstance(parts, list) else [])
            if isinstance(part, dict)
            and isinstance(part.get("text"), str)
            and part.get("thought") is not True
        ]
        text = "".join(texts)
        return cls(
            text if text.strip() else None,
            tokens_in,
            tokens_out,
            finish=_label_text(candidate.get("finishReason")) or "",
            finish_message=_label_text(candidate.get("finishMessage")),
            block=block,
            block_message=block_message,
            candidates=len(candidates),
        )

    @property
    def cut_off(self) -> bool:
        """The answer stopped at the output token limit before its JSON was complete."""
        if self.finish != "MAX_TOKENS":
            return False
        try:
            json.loads(self.text or "")
        except json.JSONDecodeError:
            return True
        return False

    def refusal(self) -> str | None:
        """Why Gemini will not answer this prompt, when asking again cannot help."""
        if self.block:
            return _with_message(
                f"Gemini blocked the prompt (blockReason {self.block})", self.block_message
            )
        if self.finish in _CONTENT_STOPS:
            return _with_message(
                f"Gemini stopped its answer {_CONTENT_STOPS[self.finish]} "
                f"(finishReason {self.finish})",
                self.finish_message,
            )
        return None

    @property
    def note(self) -> str:
        """What to add to "the answer was empty/not JSON" so it says why."""
        if self.candidates == 0:
            return "Gemini returned no candidates and no block reason"
        notes = []
        if self.finish and self.finish != "STOP":
            notes.append(f"finishReason {self.finish}")
        if self.finish_message:
            notes.append(self.finish_message)
        return ": ".join(notes)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _label_text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _with_message(text: str, message: str | None) -> str:
    return f"{text}: {message}" if message else text


class _CutOffError(Exception):
    """Gemini's answer for a part stopped at the output token limit (MAX_TOKENS)."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__("MAX_TOKENS")
        self.reply = reply


class _Usage:
    """Tokens per kind; a request that served several kinds shares its tokens evenly."""

    def __init__(self) -> None:
        self._tokens: dict[AnalysisKind, list[int]] = {}

    def add(self, kinds: Sequence[AnalysisKind], reply: _Reply) -> None:
        shares_in = _shares(reply.input_tokens, len(kinds))
        shares_out = _shares(reply.output_tokens, len(kinds))
        for kind, tokens_in, tokens_out in zip(kinds, shares_in, shares_out, strict=True):
            totals = self._tokens.setdefault(kind, [0, 0])
            totals[0] += tokens_in
            totals[1] += tokens_out

    def of(self, kind: AnalysisKind) -> tuple[int | None, int | None]:
        totals = self._tokens.get(kind)
        return (totals[0], totals[1]) if totals else (None, None)


def _shares(total: int, count: int) -> list[int]:
    base, extra = divmod(total, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


@attrs.frozen
class _Context:
    """What the checks and prompts need to know about the transcript."""

    segments: tuple[Segment, ...]
    duration: float
    language: str | None
    title: str
    names: Mapping[str, str]
    speakers: tuple[str, ...]
    text: str
    words: frozenset[str]

    @classmethod
    def of(cls, request: AnalysisRequest) -> _Context:
        transcript = request.transcript
        segments = tuple(s for s in transcript.segments if s.text.strip())
        last_end = max((s.end for s in segments), default=0.0)
        duration = max(request.duration or transcript.duration or 0.0, last_end)
        names = {label: name.strip() for label, name in request.speaker_names.items() if name}
        text = " ".join(s.text for s in segments).casefold()
        words = frozenset(_words(text)) | frozenset(
            w for name in names.values() for w in _words(name.casefold())
        )
        return cls(
            segments=segments,
            duration=duration,
            language=transcript.language,
            title=request.title.strip(),
            names=names,
            speakers=transcript.speakers,
            text=text,
            words=words,
        )

    def display(self, label: str | None) -> str:
        """The name shown for speaker *label*."""
        if label is None:
            return "Unknown speaker"
        return self.names.get(label) or f"Speaker {label}"

    def speaker_label(self, value: str) -> str | None:
        """The label of the speaker called *value* (a label, ``Speaker 0`` or a name)."""
        wanted = _norm(value)
        for label in self.speakers:
            if wanted in (_norm(label), _norm(f"Speaker {label}"), _norm(self.display(label))):
                return label
        return None

    def owner(self, value: str) -> str | None:
        """*value* as an owner: a speaker's display name or a person named in the text."""
        label = self.speaker_label(value)
        if label is not None:
            return self.display(label)
        for name in self.names.values():
            if _norm(name) == _norm(value):
                return name
        folded = value.casefold().strip()
        parts = _words(folded)
        if parts and all(part in self.words for part in parts):
            return value.strip()
        if folded and folded in self.text:
            return value.strip()
        return None


@attrs.frozen
class _Part:
    """A run of whole segments analysed in one request."""

    index: int
    count: int
    segments: tuple[Segment, ...]

    def segment(self, segment_id: int) -> Segment | None:
        return next((s for s in self.segments if s.id == segment_id), None)

    @property
    def weight(self) -> int:
        return sum(len(s.text) for s in self.segments) or 1

    def speaker_weight(self, label: str) -> int:
        return sum(len(s.text) for s in self.segments if s.speaker == label)


def _halves(
    context: _Context, segments: tuple[Segment, ...]
) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """*segments* (at least two) in two runs of about equal transcript length."""
    sizes = [len(_line(context, segment)) + 1 for segment in segments]
    total = sum(sizes)
    before = [sum(sizes[:cut]) for cut in range(1, len(segments))]
    cut = 1 + min(range(len(before)), key=lambda i: abs(2 * before[i] - total))
    return segments[:cut], segments[cut:]


def _cut_off_error(reply: _Reply) -> str:
    return _with_message(
        "Gemini's answer was cut off at its output token limit (finishReason MAX_TOKENS), "
        "even for a single segment of the transcript",
        reply.finish_message,
    )


def _split(context: _Context, char_budget: float) -> list[_Part]:
    """Whole segments in runs whose transcript lines stay within *char_budget*."""
    runs: list[list[Segment]] = [[]]
    used = 0
    for segment in context.segments:
        size = len(_line(context, segment)) + 1
        if runs[-1] and used + size > char_budget:
            runs.append([])
            used = 0
        runs[-1].append(segment)
        used += size
    return [_Part(i, len(runs), tuple(run)) for i, run in enumerate(runs)]


# --------------------------------------------------------------------------- prompts


def _line(context: _Context, segment: Segment) -> str:
    text = " ".join(segment.text.split())
    return (
        f"[{segment.id}] {segment.start:.2f}-{segment.end:.2f} "
        f"{context.display(segment.speaker)}: {text}"
    )


def _language_rule(context: _Context) -> str:
    if context.language:
        return (
            "Write every text value in the language of the transcript "
            f"(language code {context.language}), whatever the language of these instructions."
        )
    return (
        "Write every text value in the language the transcript is spoken in, whatever the "
        "language of these instructions."
    )


def _speaker_list(context: _Context) -> str:
    if not context.speakers:
        return "not identified"
    return ", ".join(f"{context.display(label)} (label {label})" for label in context.speakers)


def _part_prompt(context: _Context, part: _Part, kinds: Sequence[AnalysisKind]) -> str:
    lines = []
    if context.title:
        lines.append(f"Recording title: {context.title}")
    lines.append(f"Recording length: {context.duration:.2f} seconds")
    lines.append(f"Speakers: {_speaker_list(context)}")
    if part.count > 1:
        first, last = part.segments[0], part.segments[-1]
        lines.append(
            f"This is part {part.index + 1} of {part.count} of a long transcript "
            f"(segments {first.id} to {last.id}); analyse this part only."
        )
    lines.append(_language_rule(context))
    lines.append("")
    lines.append("Tasks:")
    lines.extend(f"- {_TASKS[kind]}" for kind in kinds)
    lines.append("")
    lines.append("Transcript:")
    lines.extend(_line(context, segment) for segment in part.segments)
    return "\n".join(lines)


def _merge_prompt(context: _Context, summaries: Sequence[Summary]) -> str:
    lines = [
        f"These are the summaries of the {len(summaries)} consecutive parts of one "
        "recording, in order.",
        "Write the summary of the whole recording: a short title (at most 10 words) and "
        "one paragraph.",
        _language_rule(context),
    ]
    if context.title:
        lines.append(f"Recording title: {context.title}")
    lines.append("")
    for i, summary in enumerate(summaries, start=1):
        lines.append(f"Part {i}: {summary.title}")
        lines.append(summary.text)
        lines.append("")
    return "\n".join(lines).rstrip()


def _correction_prompt(
    problems: Mapping[AnalysisKind, Sequence[str]], kinds: Sequence[AnalysisKind]
) -> str:
    lines = ["Your answer cannot be used because of these problems:"]
    for kind in kinds:
        lines.extend(f"- {kind.value}: {problem}" for problem in problems[kind])
    lines.append("")
    lines.append(
        "Answer again with the complete, corrected JSON for: "
        + ", ".join(kind.value for kind in kinds)
        + ". Use only segment ids that appear in the transcript, timestamps inside those "
        "segments, and owners who are speakers or people named in the transcript."
    )
    return "\n".join(lines)


def _turn(role: str, text: str) -> types.Content:
    return types.Content(role=role, parts=[types.Part(text=text)])


# --------------------------------------------------------------------------- response schema


def _string(description: str, *, nullable: bool = False) -> types.Schema:
    return types.Schema(
        type=types.Type.STRING, description=description, nullable=True if nullable else None
    )


def _score(description: str) -> types.Schema:
    return types.Schema(type=types.Type.NUMBER, description=description, minimum=-1.0, maximum=1.0)


def _label() -> types.Schema:
    return types.Schema(type=types.Type.STRING, enum=list(_LABELS))


def _anchor() -> dict[str, types.Schema]:
    return {
        "segment_id": types.Schema(
            type=types.Type.INTEGER, description="Id of the segment it comes from."
        ),
        "timestamp": types.Schema(
            type=types.Type.NUMBER, description="Seconds from the start, inside that segment."
        ),
    }


def _object(properties: dict[str, types.Schema]) -> types.Schema:
    return types.Schema(
        type=types.Type.OBJECT,
        properties=properties,
        required=list(properties),
        property_ordering=list(properties),
    )


def _array(item: types.Schema) -> types.Schema:
    return types.Schema(type=types.Type.ARRAY, items=item)


def _kind_schema(kind: AnalysisKind) -> types.Schema:
    if kind is AnalysisKind.SUMMARY:
        return _object(
            {
                "title": _string("A short title."),
                "text": _string("One paragraph."),
            }
        )
    if kind is AnalysisKind.ACTION_ITEMS:
        return _array(
            _object(
                {
                    "text": _string("What is to be done."),
                    "owner": _string("Who should do it, if named.", nullable=True),
                    "due": _string("The deadline as said, if any.", nullable=True),
                    **_anchor(),
                }
            )
        )
    if kind is AnalysisKind.KEY_POINTS:
        return _array(_object({"text": _string("The point."), **_anchor()}))
    return _object(
        {
            "label": _label(),
            "score": _score("-1 very negative to 1 very positive."),
            "explanation": _string("One sentence."),
            "speakers": _array(
                _object(
                    {
                        "speaker": _string("The speaker's name as in the transcript."),
                        "label": _label(),
                        "score": _score("-1 very negative to 1 very positive."),
                    }
                )
            ),
        }
    )


def _schema(kinds: Sequence[AnalysisKind]) -> types.Schema:
    return _object({kind.value: _kind_schema(kind) for kind in kinds})


# --------------------------------------------------------------------------- checks


def _evaluate(
    reply: _Reply, kinds: Sequence[AnalysisKind], check: Checker
) -> tuple[dict[AnalysisKind, AnalysisContent | str], dict[AnalysisKind, list[str]]]:
    suffix = f" ({reply.note})" if reply.note else ""
    if reply.text is None:
        return {}, {kind: [f"the answer was empty{suffix}"] for kind in kinds}
    try:
        data = json.loads(reply.text)
    except json.JSONDecodeError as exc:
        problem = (
            f"the answer was not valid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}){suffix}"
        )
        return {}, {kind: [problem] for kind in kinds}
    if not isinstance(data, dict):
        return {}, {kind: ["the answer was not a JSON object"] for kind in kinds}
    results: dict[AnalysisKind, AnalysisContent | str] = {}
    problems: dict[AnalysisKind, list[str]] = {}
    for kind in kinds:
        if kind.value not in data:
            problems[kind] = [f"'{kind.value}' is missing from the answer"]
            continue
        content, errors = check(kind, data[kind.value])
        if errors or content is None:
            problems[kind] = errors or ["the answer could not be used"]
        else:
            results[kind] = content
    return results, problems


def _readable(kind: AnalysisKind, errors: Sequence[str]) -> str:
    shown = "; ".join(errors[:_MAX_ERRORS_SHOWN])
    more = len(errors) - _MAX_ERRORS_SHOWN
    if more > 0:
        shown += f" (and {more} more)"
    return (
        f"Gemini's {_KIND_NAMES[kind]} did not fit the transcript, even when asked again: {shown}"
    )


def _text_field(value: Any, where: str, errors: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{where} is empty or not text")
        return ""
    return value.strip()


def _optional_text(value: Any, where: str, errors: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(f"{where} is not text")
        return None
    return value.strip() or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _check_score(value: Any, where: str, errors: list[str]) -> float:
    number = _number(value)
    if number is None or not -1.0 <= number <= 1.0:
        errors.append(f"{where} {value!r} is not a number between -1 and 1")
        return 0.0
    return number


def _check_label(value: Any, where: str, errors: list[str]) -> SentimentLabel:
    if isinstance(value, str) and value.strip().lower() in _LABELS:
        return SentimentLabel(value.strip().lower())
    errors.append(f"{where} {value!r} is not one of {', '.join(_LABELS)}")
    return SentimentLabel.NEUTRAL


def _check_anchor(
    item: Mapping[str, Any],
    where: str,
    context: _Context,
    part: _Part,
    tolerance: float,
    errors: list[str],
) -> tuple[Segment | None, float]:
    """The segment and (possibly corrected) timestamp of *item*, or errors."""
    raw_id = item.get("segment_id")
    number = _number(raw_id)
    if number is None or not number.is_integer():
        errors.append(f"{where}: segment_id {raw_id!r} is not a segment id")
        return None, 0.0
    segment = part.segment(int(number))
    if segment is None:
        errors.append(f"{where}: segment {int(number)} does not exist in the transcript")
        return None, 0.0
    raw_time = item.get("timestamp")
    if raw_time is None:
        return segment, segment.start
    timestamp = _number(raw_time)
    if timestamp is None:
        errors.append(f"{where}: timestamp {raw_time!r} is not a number")
        return None, 0.0
    if not 0.0 <= timestamp <= context.duration + 1e-6:
        errors.append(
            f"{where}: timestamp {timestamp:g} s is outside the recording "
            f"(0 to {context.duration:g} s)"
        )
        return None, 0.0
    if segment.start <= timestamp <= segment.end:
        return segment, timestamp
    if segment.start - tolerance <= timestamp <= segment.end + tolerance:
        return segment, segment.start
    errors.append(
        f"{where}: timestamp {timestamp:g} s is not in segment {segment.id} "
        f"({segment.start:g} to {segment.end:g} s)"
    )
    return None, 0.0


def _items(value: Any, name: str, errors: list[str]) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        errors.append(f"{name} is not a list")
        return []
    items: list[Mapping[str, Any]] = []
    for i, item in enumerate(value, start=1):
        if isinstance(item, dict):
            items.append(item)
        else:
            errors.append(f"{name} entry {i} is not an object")
    return items


def _check_summary(value: Any, context: _Context, part: _Part, tolerance: float) -> CheckResult:
    errors: list[str] = []
    if not isinstance(value, dict):
        return None, ["the summary is not an object with a title and a text"]
    title = _text_field(value.get("title"), "the title", errors)
    text = _text_field(value.get("text"), "the text", errors)
    return (None, errors) if errors else (Summary(title=title, text=text), [])


def _check_action_items(
    value: Any, context: _Context, part: _Part, tolerance: float
) -> CheckResult:
    errors: list[str] = []
    items: list[ActionItem] = []
    for i, item in enumerate(_items(value, "action_items", errors), start=1):
        where = f"action item {i}"
        text = _text_field(item.get("text"), f"{where}: the text", errors)
        owner = _optional_text(item.get("owner"), f"{where}: the owner", errors)
        due = _optional_text(item.get("due"), f"{where}: the due date", errors)
        segment, timestamp = _check_anchor(item, where, context, part, tolerance, errors)
        try:  # the owner rule shared with the local engine: a person, never a bare label
            owner = resolve_owner(
                owner,
                context.speakers,
                context.names,
                speaker=segment.speaker if segment else None,
                named=context.owner,
            )
        except UnknownOwnerError as exc:
            errors.append(f"{where}: {exc}")
        if segment is not None and text:
            items.append(
                ActionItem(
                    text=text,
                    timestamp=timestamp,
                    segment_id=segment.id,
                    speaker=segment.speaker,
                    owner=owner,
                    due=due,
                )
            )
    return (None, errors) if errors else (ActionItems(tuple(items)), [])


def _check_key_points(value: Any, context: _Context, part: _Part, tolerance: float) -> CheckResult:
    errors: list[str] = []
    points: list[KeyPoint] = []
    for i, item in enumerate(_items(value, "key_points", errors), start=1):
        where = f"key point {i}"
        text = _text_field(item.get("text"), f"{where}: the text", errors)
        segment, timestamp = _check_anchor(item, where, context, part, tolerance, errors)
        if segment is not None and text:
            points.append(KeyPoint(text=text, timestamp=timestamp, segment_id=segment.id))
    return (None, errors) if errors else (KeyPoints(tuple(points)), [])


def _check_sentiment(value: Any, context: _Context, part: _Part, tolerance: float) -> CheckResult:
    errors: list[str] = []
    if not isinstance(value, dict):
        return None, ["the sentiment is not an object"]
    label = _check_label(value.get("label"), "the label", errors)
    score = _check_score(value.get("score"), "the score", errors)
    explanation = _optional_text(value.get("explanation"), "the explanation", errors) or ""
    speakers: list[SpeakerSentiment] = []
    seen: set[str] = set()
    for i, item in enumerate(_items(value.get("speakers", []), "speakers", errors), start=1):
        where = f"speaker entry {i}"
        name = item.get("speaker")
        speaker = context.speaker_label(name) if isinstance(name, str) else None
        if speaker is None:
            known = ", ".join(context.display(label) for label in context.speakers)
            errors.append(
                f"{where}: {name!r} is not a speaker of the transcript (speakers: {known})"
            )
        elif speaker in seen:
            errors.append(f"{where}: {context.display(speaker)} is listed twice")
        speaker_label = _check_label(item.get("label"), f"{where}: the label", errors)
        speaker_score = _check_score(item.get("score"), f"{where}: the score", errors)
        if speaker is not None and speaker not in seen:
            seen.add(speaker)
            speakers.append(SpeakerSentiment(speaker, speaker_label, speaker_score))
    if errors:
        return None, errors
    return Sentiment(label, score, tuple(speakers), explanation), []


_CHECKS: dict[AnalysisKind, Callable[[Any, _Context, _Part, float], CheckResult]] = {
    AnalysisKind.SUMMARY: _check_summary,
    AnalysisKind.ACTION_ITEMS: _check_action_items,
    AnalysisKind.KEY_POINTS: _check_key_points,
    AnalysisKind.SENTIMENT: _check_sentiment,
}


# --------------------------------------------------------------------------- merging parts


def _dedupe(items: Sequence[Any]) -> tuple[Any, ...]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = " ".join(_words(item.text.casefold()))
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return tuple(kept)


def _merge_sentiments(sentiments: Sequence[Sentiment], parts: Sequence[_Part]) -> Sentiment:
    """Average *sentiments* of consecutive *parts*, weighted by how much was said."""
    weights = [part.weight for part in parts]
    total = sum(weights)
    score = sum(s.score * w for s, w in zip(sentiments, weights, strict=True)) / total
    label_weight: dict[SentimentLabel, float] = {}
    for sentiment, weight in zip(sentiments, weights, strict=True):
        label_weight[sentiment.label] = label_weight.get(sentiment.label, 0.0) + weight
    positive = label_weight.get(SentimentLabel.POSITIVE, 0.0) / total
    negative = label_weight.get(SentimentLabel.NEGATIVE, 0.0) / total
    if positive >= 0.2 and negative >= 0.2:
        label = SentimentLabel.MIXED
    else:
        label = max(label_weight, key=lambda key: label_weight[key])
    heaviest = max(
        (pair for pair in zip(sentiments, weights, strict=True) if pair[0].label is label),
        key=lambda pair: pair[1],
        default=max(zip(sentiments, weights, strict=True), key=lambda pair: pair[1]),
    )
    speakers: dict[str, list[tuple[SpeakerSentiment, float]]] = {}
    for sentiment, part in zip(sentiments, parts, strict=True):
        for entry in sentiment.speakers:
            weight = part.speaker_weight(entry.speaker) or part.weight
            speakers.setdefault(entry.speaker, []).append((entry, weight))
    merged_speakers = []
    for speaker, entries in speakers.items():
        speaker_total = sum(w for _, w in entries)
        speaker_score = sum(e.score * w for e, w in entries) / speaker_total
        by_label: dict[SentimentLabel, float] = {}
        for entry, share in entries:
            by_label[entry.label] = by_label.get(entry.label, 0.0) + share
        merged_speakers.append(
            SpeakerSentiment(
                speaker,
                max(by_label, key=lambda key: by_label[key]),
                round(speaker_score, 4),
            )
        )
    return Sentiment(
        label=label,
        score=round(score, 4),
        speakers=tuple(merged_speakers),
        explanation=heaviest[0].explanation,
    )


# --------------------------------------------------------------------------- errors


def _error_reason(exc: genai_errors.APIError) -> str | None:
    """The ``reason`` of the ``google.rpc.ErrorInfo`` in Google's error body, if any."""
    details = exc.details
    error = details.get("error", details) if isinstance(details, dict) else None
    entries = error.get("details") if isinstance(error, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and str(entry.get("@type", "")).endswith("ErrorInfo"):
            reason = entry.get("reason")
            if isinstance(reason, str) and reason:
                return reason
    return None


def _key_rejected(exc: genai_errors.APIError, reason: str | None) -> bool:
    """The key itself is wrong (not a key Google knows, or no valid credentials)."""
    code = exc.code or 0
    if code == 401 or reason == "API_KEY_INVALID":
        return True
    message = str(exc.message or "").lower()
    return code == 400 and "api key" in message and ("invalid" in message or "not valid" in message)


def _quotes_key(exc: genai_errors.APIError, key: str) -> bool:
    text = json.dumps(exc.details, default=str)
    return bool(key and key in text) or _GOOGLE_KEY.search(text) is not None


def _retry_after(exc: genai_errors.APIError) -> float | None:
    """Seconds the server asked to wait: ``Retry-After``, else Google's ``RetryInfo``."""
    headers = getattr(exc.response, "headers", None)
    if headers is not None:
        value = headers.get("Retry-After") or headers.get("retry-after")
        if isinstance(value, str) and value.strip():
            seconds = _seconds_from_header(value.strip())
            if seconds is not None:
                return seconds
    return _retry_info_delay(exc.details)


def _seconds_from_header(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return None if math.isnan(seconds) else max(0.0, seconds)


def _retry_info_delay(details: Any) -> float | None:
    error = details.get("error", details) if isinstance(details, dict) else None
    entries = error.get("details") if isinstance(error, dict) else None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and str(entry.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(entry.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _redact(text: str, secret: str) -> str:
    """*text* without *secret* nor anything shaped like a Google API key."""
    text = text.replace(secret, "[REDACTED]") if secret else text
    return _GOOGLE_KEY.sub("[REDACTED]", text)


# --------------------------------------------------------------------------- text


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _norm(value: str) -> str:
    return " ".join(_words(value.casefold()))


__all__ = ["GeminiAnalyzer"]
