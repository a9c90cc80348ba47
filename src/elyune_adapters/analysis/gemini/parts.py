"""What the Gemini adapter works with: the transcript's context and parts, one reply, the
tokens used."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from elyune_adapters.analysis.gemini.text import _norm, _words
from elyune_core.entities import (
    AnalysisKind,
    Segment,
)
from elyune_core.entities import speaker_display as display_name
from elyune_core.ports import AnalysisRequest

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
        return display_name(label, self.names)

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


def _line(context: _Context, segment: Segment) -> str:
    text = " ".join(segment.text.split())
    return (
        f"[{segment.id}] {segment.start:.2f}-{segment.end:.2f} "
        f"{context.display(segment.speaker)}: {text}"
    )
