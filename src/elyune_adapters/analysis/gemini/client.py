"""The ``Analyzer`` on Gemini: one request per part for every kind, checked, retried, merged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import aiohttp
import httpx
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from elyune_adapters.analysis.gemini.checks import (
    _CHECKS,
    Checker,
    CheckResult,
    _check_summary,
    _evaluate,
    _readable,
)
from elyune_adapters.analysis.gemini.errors import (
    _DENIED,
    _GOOGLE_KEY,
    _KEY_REJECTED,
    _error_reason,
    _key_rejected,
    _quotes_key,
    _retry_after,
)
from elyune_adapters.analysis.gemini.merge import _dedupe, _merge_sentiments
from elyune_adapters.analysis.gemini.parts import (
    _Context,
    _cut_off_error,
    _CutOffError,
    _halves,
    _Part,
    _Reply,
    _split,
    _Usage,
    _with_message,
)
from elyune_adapters.analysis.gemini.prompts import (
    _SYSTEM,
    _correction_prompt,
    _merge_prompt,
    _part_prompt,
    _turn,
)
from elyune_adapters.analysis.gemini.schema import _schema
from elyune_adapters.hosted import CallRetry, redact, retryable
from elyune_core.entities import (
    ActionItems,
    AnalysisContent,
    AnalysisKind,
    KeyPoints,
    Sentiment,
    Summary,
)
from elyune_core.errors import AnalysisFailedError
from elyune_core.ports import AnalysisOutcome, AnalysisRequest, Analyzer

logger = logging.getLogger(__name__)


DEFAULT_MODEL = "gemini-3.8-flash"


DEFAULT_API_VERSION = "v1beta"


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
    *max_retry_delay*; a longer wait is left to the pipeline); *retry* gives the three at
    once (:class:`elyune_adapters.hosted.CallRetry`, what the container passes).
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
        retry: CallRetry | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Gemini API key is required")
        self._retry = retry or CallRetry(max_attempts, backoff_base, max_retry_delay)
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
        """One ``generateContent`` call (retried as the package docstring says); *schema*
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
                    self._retry.attempts,
                    delay,
                )
            except (TimeoutError, httpx.TimeoutException) as exc:
                logger.warning("Gemini did not answer within %.1f s", self._timeout)
                raise AnalysisFailedError(
                    f"Gemini did not answer within {self._timeout:g} s", transient=True
                ) from exc
            except (aiohttp.ClientError, httpx.TransportError) as exc:
                retry = self._retry.after_transport(attempt)
                if retry is None:
                    raise AnalysisFailedError(
                        f"Gemini could not be reached ({type(exc).__name__})", transient=True
                    ) from exc
                delay = retry
                logger.warning(
                    "Gemini could not be reached (%s, attempt %d of %d); retrying in %.2f s",
                    type(exc).__name__,
                    attempt,
                    self._retry.attempts,
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

    def _retry_delay(self, exc: genai_errors.APIError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up now."""
        return self._retry.after_status(exc.code or 0, attempt, _retry_after(exc))

    def _fail(self, exc: genai_errors.APIError, attempt: int) -> NoReturn:
        code = exc.code or 0
        detail = redact(
            str(exc.message or exc.status or "no error message"), self._api_key, (_GOOGLE_KEY,)
        )
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
        if retryable(code):
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
