"""Full-text search and answers with checked citations: the pure part.

A recording is indexed as *documents*: one per transcript segment (with its times and
speaker), one for the title, one for the description, one per named speaker and one per
analysis item (summary, action item, key point, sentiment explanation). The index
adapters (SQLite FTS5, PostgreSQL ``tsvector``) store these documents and rank them;
what goes in and how a query is read is decided here, the same for every adapter.

A query is words and ``"quoted phrases"``; every word/phrase must match (``mode="all"``,
search) or any may (``mode="any"``, retrieval for answers). Punctuation, operators and
case are ignored, so a query can never be read as the engines' own query syntax. In
``any`` mode a document matching more of the terms ranks above one matching fewer. A
question's terms leave out common English words (:data:`STOP_WORDS`,
:func:`question_terms`): "when", "is" and "the" match nearly every segment and would
otherwise decide which segments an answer is made from.

Citations of an answer are checked with :func:`check_citation`: the quoted words must be
in the cited segment after normalising case and punctuation, and the cited times must lie
inside the recording and inside (or within a second of) that segment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum

import attrs

from elyune_core.entities import (
    ActionItem,
    ActionItems,
    Analysis,
    KeyPoint,
    KeyPoints,
    RecordingStatus,
    Segment,
    Sentiment,
    Summary,
)
from elyune_core.ids import RecordingId, UserId

#: Longest query accepted (characters).
MAX_QUERY_LENGTH = 200
#: Most words/phrases a query may have.
MAX_QUERY_TERMS = 16
#: Longest question accepted by ask (characters).
MAX_QUESTION_LENGTH = 1000
#: Snippet markers the adapters put around matched words (never in indexed text).
MARK_START = "\x02"
MARK_END = "\x03"

#: Words a question's retrieval leaves out (question words, articles, pronouns, auxiliary
#: verbs, common prepositions; the pieces of contractions like "what's"): they are in
#: nearly every segment, so matching them says nothing about what was asked.
_STOP_WORDS = """
    a about after again all also am an and any are as at be been before being but by
    can could d did do does doing done during for from had has have having he her here
    hers him his how i if in into is it its just ll m me my no nor not now of off on
    once only or our ours out over re s shall she should so some such t than that the
    their theirs them then there these they this those through to too under until up
    us ve very was we were what when where which while who whom whose why will with
    would you your yours
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"\w+", re.UNICODE)
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class DocumentKind(StrEnum):
    """What an indexed document is."""

    SEGMENT = "segment"
    TITLE = "title"
    DESCRIPTION = "description"
    SPEAKER = "speaker"
    ANALYSIS = "analysis"


@attrs.frozen
class SearchDocument:
    """One searchable piece of a recording.

    ``field`` says which part: ``transcript``, ``title``, ``description``, ``speaker``
    or the analysis kind (``summary``, ``action_items``, ``key_points``, ``sentiment``).
    ``position`` is the segment id for segments, else an ordinal. ``start``/``end`` are
    seconds from the start when the document has a moment (segments, timed analysis
    items, a speaker's first words).
    """

    recording_id: RecordingId
    owner_id: UserId
    kind: DocumentKind
    field: str
    position: int
    text: str
    language: str | None = None
    start: float | None = None
    end: float | None = None
    speaker: str | None = None
    speaker_name: str | None = None


@attrs.frozen
class SearchTerms:
    """A parsed query: words and phrases (each a tuple of words)."""

    phrases: tuple[tuple[str, ...], ...]

    @property
    def words(self) -> tuple[str, ...]:
        """Every word of every phrase, in order."""
        return tuple(w for phrase in self.phrases for w in phrase)


@attrs.frozen
class SearchQuery:
    """What to search for, whose, and which page.

    ``speaker`` matches a speaker's display name (case-insensitive, whole name);
    ``recording_id`` limits the search to one recording; ``kinds`` to some document
    kinds. ``mode`` is ``all`` (every term must match) or ``any``.
    """

    owner_id: UserId
    terms: SearchTerms
    mode: str = "all"
    speaker: str | None = None
    status: RecordingStatus | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    recording_id: RecordingId | None = None
    kinds: tuple[DocumentKind, ...] = ()
    offset: int = 0
    limit: int = 20


@attrs.frozen
class Snippet:
    """Text around the match and where the matched words are in it.

    ``highlights`` are ``(start, end)`` character offsets into ``text``.
    """

    text: str
    highlights: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_marked(cls, marked: str) -> Snippet:
        """A snippet from text whose matches are between ``MARK_START``/``MARK_END``."""
        out: list[str] = []
        spans: list[tuple[int, int]] = []
        length = 0
        opened: int | None = None
        for char in marked:
            if char == MARK_START:
                opened = length
            elif char == MARK_END:
                if opened is not None and length > opened:
                    spans.append((opened, length))
                opened = None
            else:
                out.append(char)
                length += 1
        return cls("".join(out), tuple(spans))

    def html(self) -> str:
        """The snippet HTML-escaped, matches in ``<mark>…</mark>``."""
        parts: list[str] = []
        at = 0
        for start, end in self.highlights:
            parts.append(_escape(self.text[at:start]))
            parts.append("<mark>" + _escape(self.text[start:end]) + "</mark>")
            at = end
        parts.append(_escape(self.text[at:]))
        return "".join(parts)


@attrs.frozen
class SearchHit:
    """One ranked match: the document, its recording and a highlighted snippet."""

    recording_id: RecordingId
    recording_title: str
    recording_created_at: datetime
    recording_status: RecordingStatus
    kind: DocumentKind
    field: str
    position: int
    score: float
    snippet: Snippet
    text: str
    start: float | None = None
    end: float | None = None
    speaker: str | None = None
    speaker_name: str | None = None


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def parse_query(text: str, *, max_terms: int = MAX_QUERY_TERMS) -> SearchTerms:
    """The words and ``"phrases"`` of *text*, lower-cased; punctuation is dropped.

    At most *max_terms* terms are kept. An empty result means there was nothing to
    search for.
    """
    phrases: list[tuple[str, ...]] = []
    seen: set[tuple[str, ...]] = set()
    for match in _TERM.finditer(text):
        quoted, bare = match.groups()
        words = tuple(w.casefold() for w in _WORD.findall(quoted if quoted is not None else bare))
        if not words:
            continue
        # a bare token with inner punctuation ("e-mail", "v1.2") is a phrase of its words
        if words not in seen:
            seen.add(words)
            phrases.append(words)
    return SearchTerms(tuple(phrases[:max_terms]))


def question_terms(text: str, *, max_terms: int = 32) -> SearchTerms:
    """The terms of a question for retrieval: :func:`parse_query` without the phrases
    made only of :data:`STOP_WORDS` (``"When is the backup window?"`` -> ``backup``,
    ``window``); all of them when nothing else is left. At most *max_terms* are kept."""
    terms = parse_query(text, max_terms=max(max_terms, len(text)))
    content = tuple(p for p in terms.phrases if not all(w in STOP_WORDS for w in p))
    return SearchTerms((content or terms.phrases)[:max_terms])


def clean_text(text: str) -> str:
    """*text* without control characters (the snippet markers among them)."""
    return _CONTROL.sub(" ", text)


def normalise(text: str) -> str:
    """*text* in Unicode NFKC form, case-folded and without punctuation: its words
    joined by single spaces (``"We'll MOVE it!"`` -> ``"we ll move it"``)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(folded))


# --------------------------------------------------------------------------- documents


def build_documents(
    *,
    recording_id: RecordingId,
    owner_id: UserId,
    title: str,
    description: str,
    speaker_names: Mapping[str, str],
    language: str | None,
    segments: Sequence[Segment],
    analyses: Iterable[Analysis],
) -> list[SearchDocument]:
    """The search documents of one recording (see the module docstring)."""

    def doc(kind: DocumentKind, field: str, position: int, text: str, **kw: object) -> None:
        text = clean_text(text).strip()
        if text:
            docs.append(
                SearchDocument(
                    recording_id=recording_id,
                    owner_id=owner_id,
                    kind=kind,
                    field=field,
                    position=position,
                    text=text,
                    language=language,
                    **kw,  # type: ignore[arg-type]
                )
            )

    def name_of(label: str | None) -> str | None:
        if label is None:
            return None
        return speaker_names.get(label) or f"Speaker {label}"

    docs: list[SearchDocument] = []
    doc(DocumentKind.TITLE, "title", 0, title)
    doc(DocumentKind.DESCRIPTION, "description", 0, description)
    first: dict[str, Segment] = {}
    for segment in segments:
        if segment.speaker is not None:
            first.setdefault(segment.speaker, segment)
        doc(
            DocumentKind.SEGMENT,
            "transcript",
            segment.id,
            segment.text,
            start=segment.start,
            end=segment.end,
            speaker=segment.speaker,
            speaker_name=name_of(segment.speaker),
        )
    for n, (label, name) in enumerate(sorted(speaker_names.items())):
        if not name.strip():
            continue
        at = first.get(label)
        doc(
            DocumentKind.SPEAKER,
            "speaker",
            n,
            name,
            start=None if at is None else at.start,
            end=None if at is None else at.end,
            speaker=label,
            speaker_name=name,
        )
    by_id = {s.id: s for s in segments}
    for analysis in analyses:
        content = analysis.content
        field = analysis.kind.value
        if isinstance(content, Summary):
            doc(DocumentKind.ANALYSIS, field, 0, f"{content.title}. {content.text}")
        elif isinstance(content, ActionItems | KeyPoints):
            items: tuple[ActionItem | KeyPoint, ...] = content.items
            for n, item in enumerate(items):
                seg = None if item.segment_id is None else by_id.get(item.segment_id)
                start = item.timestamp if item.timestamp is not None else (seg and seg.start)
                extra = ""
                if isinstance(item, ActionItem):
                    owner, due = item.owner, item.due
                    extra = "".join(
                        f" ({label}: {value})"
                        for label, value in (("owner", owner), ("due", due))
                        if value
                    )
                doc(
                    DocumentKind.ANALYSIS,
                    field,
                    n,
                    item.text + extra,
                    start=start,
                    end=None if seg is None else seg.end,
                    speaker=None if seg is None else seg.speaker,
                    speaker_name=None if seg is None else name_of(seg.speaker),
                )
        elif isinstance(content, Sentiment) and content.explanation:
            doc(DocumentKind.ANALYSIS, field, 0, content.explanation)
    return docs


# --------------------------------------------------------------------------- answers


class AnswerKind(StrEnum):
    """How an answer was made."""

    GENERATIVE = "generative"  # a language model wrote it from the retrieved segments
    EXTRACTIVE = "extractive"  # no language model: the best matching segments, quoted


@attrs.frozen
class Passage:
    """A transcript segment given to an answerer (the retrieved context)."""

    recording_id: RecordingId
    recording_title: str
    segment_id: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    speaker_name: str | None = None
    score: float = 0.0


@attrs.frozen
class Citation:
    """A moment an answer rests on: a segment of a recording and the words quoted."""

    recording_id: RecordingId
    segment_id: int
    start: float
    end: float
    quote: str
    speaker: str | None = None
    speaker_name: str | None = None


@attrs.frozen
class AnswerDraft:
    """What an answerer returned, before its citations are checked."""

    text: str
    citations: tuple[Citation, ...]
    kind: AnswerKind
    engine: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    #: what was wrong with the answer's shape (not JSON, a malformed citation...)
    errors: tuple[str, ...] = ()
    #: the engine's answer as it came (sent back when it is asked again)
    raw: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Answer:
    """A checked answer: citations that passed, and whether any had to be dropped."""

    question: str
    text: str
    kind: AnswerKind
    engine: str
    citations: tuple[Citation, ...]
    flagged: bool = False
    problems: tuple[str, ...] = ()
    passages: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    recording_id: RecordingId | None = None


#: Seconds a cited time may lie outside its segment.
CITATION_TOLERANCE = 1.0


def check_citation(
    citation: Citation, segment: Segment | None, duration: float | None
) -> str | None:
    """Why *citation* does not hold for the stored *segment* (``None`` when it does).

    *duration* is the recording's length in seconds, when known.
    """
    where = f"citation of recording {citation.recording_id} segment {citation.segment_id}"
    if segment is None:
        return f"{where}: there is no such segment"
    if not (citation.start <= citation.end):
        return f"{where}: start {citation.start:g} s is after end {citation.end:g} s"
    limit = segment.end if duration is None else max(duration, segment.end)
    if citation.start < 0 or citation.end > limit + 0.5:
        return (
            f"{where}: the times {citation.start:g}-{citation.end:g} s are outside the "
            f"recording (0-{limit:g} s)"
        )
    if (
        citation.start < segment.start - CITATION_TOLERANCE
        or citation.end > segment.end + CITATION_TOLERANCE
    ):
        return (
            f"{where}: the times {citation.start:g}-{citation.end:g} s are outside the "
            f"segment ({segment.start:g}-{segment.end:g} s)"
        )
    quote = normalise(citation.quote)
    if not quote:
        return f"{where}: the quote is empty"
    if f" {quote} " not in f" {normalise(segment.text)} ":
        return f"{where}: the quoted words {citation.quote!r} are not in that segment"
    return None


__all__ = [
    "CITATION_TOLERANCE",
    "MARK_END",
    "MARK_START",
    "MAX_QUERY_LENGTH",
    "MAX_QUERY_TERMS",
    "MAX_QUESTION_LENGTH",
    "STOP_WORDS",
    "Answer",
    "AnswerDraft",
    "AnswerKind",
    "Citation",
    "DocumentKind",
    "Passage",
    "SearchDocument",
    "SearchHit",
    "SearchQuery",
    "SearchTerms",
    "Snippet",
    "build_documents",
    "check_citation",
    "clean_text",
    "normalise",
    "parse_query",
    "question_terms",
]
