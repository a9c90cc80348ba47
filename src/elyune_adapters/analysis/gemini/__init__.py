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
The API key never appears in log records or exception messages."""

from elyune_adapters.analysis.gemini.client import (
    DEFAULT_API_VERSION,
    DEFAULT_MODEL,
    GeminiAnalyzer,
)

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_MODEL", "GeminiAnalyzer"]
