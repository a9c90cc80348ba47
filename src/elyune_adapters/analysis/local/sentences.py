"""Sentences cut from a transcript's segments and timed with its words."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import attrs

from elyune_adapters.analysis.local.vocabulary import _SENTENCE_END, _WORD, ABBREVIATIONS, STOPWORDS
from elyune_core.entities import (
    Segment,
    Transcript,
    Word,
)


@attrs.frozen
class Sentence:
    """One sentence of the transcript, where it was said and by whom."""

    index: int
    text: str
    segment_id: int
    start: float
    end: float
    speaker: str | None = None


def split_sentences(text: str) -> list[str]:
    """Cut *text* into sentences at ``. ! ?`` (not after abbreviations or initials)."""
    pieces: list[str] = []
    buffer = ""
    position = 0
    for match in _SENTENCE_END.finditer(text):
        chunk = text[position : match.end()]
        position = match.end()
        buffer += chunk
        words = buffer.rstrip().rstrip(".").split()
        last = words[-1].lower() if words else ""
        if buffer.rstrip().endswith(".") and (
            last in ABBREVIATIONS or (len(last) == 1 and last.isalpha() and last != "i")
        ):
            continue
        if buffer.strip():
            pieces.append(buffer.strip())
        buffer = ""
    buffer += text[position:]
    if buffer.strip():
        pieces.append(buffer.strip())
    return pieces


def tokens(text: str) -> list[str]:
    """Lower-case words of *text* (apostrophes kept: ``let's``)."""
    return [t.lower().replace("’", "'") for t in _WORD.findall(text)]


def _stem(token: str) -> str:
    """A light English stemmer: enough to count ``reports`` and ``report`` together."""
    if token.endswith("'s"):
        token = token[:-2]
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3 and not token.endswith("ss"):
            return token[: -len(suffix)] + keep
    return token


def content_terms(text: str) -> list[str]:
    """Stemmed words of *text* that carry meaning (stopwords and numbers dropped)."""
    return [
        _stem(t)
        for t in tokens(text)
        if t not in STOPWORDS and not t.isdigit() and (len(t) > 1 or not t.isascii())
    ]


class _WordIndex:
    """The transcript's words sorted by time, to find a segment's words quickly."""

    def __init__(self, words: Sequence[Word]) -> None:
        self._words = sorted(words, key=lambda w: (w.start + w.end) / 2)
        self._middles = [(w.start + w.end) / 2 for w in self._words]

    def of(self, segment: Segment) -> list[Word]:
        low = bisect.bisect_left(self._middles, segment.start - 0.05)
        high = bisect.bisect_right(self._middles, segment.end + 0.05)
        return [
            w
            for w in self._words[low:high]
            if w.speaker is None or segment.speaker is None or w.speaker == segment.speaker
        ]


def _normal(token: str) -> str:
    return "".join(ch for ch in token.lower() if ch.isalnum())


def _sentence_starts(
    segment: Segment, parts: Sequence[str], words: Sequence[Word]
) -> list[tuple[float, float]]:
    """Start and end of each of *parts* (the sentences of *segment*), from its words."""
    spans: list[tuple[float, float]] = []
    length = max(1, len(segment.text))
    span = segment.end - segment.start
    offset = 0
    cursor = 0
    for part in parts:
        at = segment.text.find(part, offset)
        at = offset if at < 0 else at
        offset = at + len(part)
        fallback = (
            segment.start + span * at / length,
            segment.start + span * min(1.0, offset / length),
        )
        count = len(part.split())
        first = _normal(part.split()[0]) if count else ""
        found = None
        for candidate in range(cursor, min(cursor + 4, len(words))):
            if _normal(words[candidate].text) == first or (
                _normal(words[candidate].punctuated or "") == first
            ):
                found = candidate
                break
        if found is None and cursor < len(words) and count and len(words) - cursor >= count:
            found = cursor
        if found is None:
            spans.append(fallback)
            continue
        last = min(len(words) - 1, found + max(0, count - 1))
        spans.append((words[found].start, max(words[found].start, words[last].end)))
        cursor = found + count
    return spans


def _unfinished(text: str) -> bool:
    """Whether *text* stops on a word no sentence ends with ("by", "the", "and")."""
    words = tokens(text)
    return bool(words) and words[-1] in STOPWORDS and words[-1] not in _CAN_END


_CAN_END = frozenset(("it", "them", "me", "you", "us", "too", "now", "here", "there", "then"))


def build_sentences(transcript: Transcript) -> list[Sentence]:
    """The sentences of *transcript*, each timed and tied to the segment it starts in.

    A sentence that a segment leaves unfinished continues into the next segment of the
    same speaker (when that starts in lower case, or the first stops on a word such as
    "by" or "the" that no sentence ends with).
    """
    sentences: list[Sentence] = []
    pending: Sentence | None = None
    index = _WordIndex(transcript.words)
    for segment in transcript.segments:
        text = segment.text.strip()
        if not text:
            continue
        parts = split_sentences(text)
        spans = _sentence_starts(segment, parts, index.of(segment))
        for number, (part, (start, end)) in enumerate(zip(parts, spans, strict=True)):
            if (
                number == 0
                and pending is not None
                and pending.speaker == segment.speaker
                and (not part[:1].isupper() or _unfinished(pending.text))
            ):
                pending = attrs.evolve(pending, text=f"{pending.text} {part}", end=end)
            else:
                if pending is not None:
                    sentences.append(pending)
                pending = Sentence(
                    index=0,
                    text=part,
                    segment_id=segment.id,
                    start=round(start, 3),
                    end=round(end, 3),
                    speaker=segment.speaker,
                )
            if pending.text[-1:] in ".!?。！？…":
                sentences.append(pending)
                pending = None
    if pending is not None:
        sentences.append(pending)
    return [attrs.evolve(s, index=i) for i, s in enumerate(sentences)]
