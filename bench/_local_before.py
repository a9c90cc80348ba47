"""FROZEN COPY of src/elyune_adapters/analysis/local.py at commit 6a40648 (before issue 9),
kept so that bench/action_items.py can compare the old action items with the new ones.
Do not edit: it is the baseline, not the engine.

The local analysis engine: extractive, rule-based and lexicon-based, no language model.

Everything here runs on the machine in milliseconds and picks sentences that were said
rather than writing new ones:

* **summary**: TextRank over TF-IDF vectors of the sentences; the 2-4 most central ones
  in the order they were said. The title is built from the transcript's key phrases
  (RAKE), or the most central sentence.
* **action items**: sentences that commit someone to do something ("I will", "can you",
  "we need to", "let's", "make sure"...), with who owns them and when they are due, when
  that was said.
* **key points**: the 3-6 most informative sentences, picked with maximal marginal
  relevance so that they do not repeat each other.
* **sentiment**: VADER compound scores per sentence (English only), aggregated overall
  and per speaker.

Sentences are cut from the transcript's segments and timed with its words.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

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
    Transcript,
    Word,
)
from elyune_core.ports import AnalysisOutcome, AnalysisRequest, Analyzer

TITLE_LIMIT = 80

# --------------------------------------------------------------------------- vocabulary


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _wordset(
    """
    a about above after again against all almost also although always am among an and
    another any anybody anyone anything anyway are aren't around as at away back be
    because been before being below between both but by can can't cannot could couldn't
    did didn't do does doesn't doing don't done down during each either else enough even
    ever every few for from further get gets getting got had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how
    how's however i i'd i'll i'm i've if in into is isn't it it's its itself just let
    let's like likely made make many may maybe me might mine more most much must mustn't
    my myself need needs neither never no nor not now of off often oh ok okay on once one
    only or other others otherwise our ours ourselves out over own perhaps quite rather
    really same say says said see seems shall shan't she she'd she'll she's should
    shouldn't since so some somebody someone something sometimes still such sure than that
    that's the their theirs them themselves then there there's these they they'd they'll
    they're they've thing things this those though through thus to too under until up
    upon us very via was wasn't we we'd we'll we're we've well were weren't what what's
    whatever when when's where where's whether which while who who's whom whose why why's
    will with within without won't would wouldn't yeah yes yet you you'd you'll you're
    you've your yours yourself yourselves um uh hmm mm ah actually basically literally
    right going gonna wanna kind sort lot lots bit anyway
    """
)

# Words that say nothing about the topic: greetings, praise, fillers, common verbs and
# time words. They split key phrases (as stopwords do) and never make a title.
NOT_TOPICS = _wordset(
    """
    good great excellent perfect wonderful nice fine awesome amazing fantastic terrible
    awful bad happy pleased glad sad sorry love loves loved hate like likes liked thanks
    thank hello hi hey bye goodbye morning afternoon evening night day days today
    tomorrow tonight yesterday week weeks month months year years time times minute
    minutes hour hours monday tuesday wednesday thursday friday saturday sunday weekend
    everyone everybody guys folks team's new old big small little next last first second
    third join joining joined send sending sent update updating updated fix fixing fixed
    do does did go goes going went come comes came take takes took give gives gave put
    puts keep keeps think thinks thought know knows knew want wants wanted try tries tried
    call calls called ask asks asked tell tells told look looks looked feel feels felt
    seem seems use uses used work works worked talk talks talked start started finish
    finished agree agreed mean means meant glad appreciate appreciated job
    """
)

# Words that start sentences and are followed by a comma, like names are ("Bob, ...").
INTERJECTIONS = _wordset(
    """
    alright absolutely agreed also anyway besides cool correct definitely exactly
    everything everyone first finally fine gosh guys honestly however indeed listen look
    meanwhile nothing now oops otherwise people please second sorry team then therefore
    third true well whoa wow yep nope anyhow additionally
    """
)
_NOUN_ENDINGS = ("ly", "ment", "tion", "sion", "ness", "ity", "ance", "ence", "ing", "ers")

NUMBER_WORDS = _wordset("zero one two three four five six seven eight nine ten")

ABBREVIATIONS = _wordset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e inc ltd co corp approx dept fig no"
)

WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = (
    rf"(?:(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b(?:\s+\d{{4}})?"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?)"
)
_TIME = r"(?:\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)|noon|midnight|\d{1,2}:\d{2})"
_PERIOD = (
    rf"(?:tomorrow(?:\s+(?:morning|afternoon|evening|night))?|today|tonight|eod|eow|"
    rf"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?"
    rf"(?:day|week|month|quarter|year|sprint|{WEEKDAYS})|"
    rf"(?:next|this|coming)\s+(?:week|month|quarter|sprint|{WEEKDAYS})|"
    rf"(?:{WEEKDAYS})(?:\s+(?:morning|afternoon|evening))?|{_DATE}|{_TIME})"
)
DUE = re.compile(
    rf"\b(?:(?:by|before|until|no\s+later\s+than|on|at)\s+{_PERIOD}"
    rf"|(?:within|in)\s+(?:\d+|{'|'.join(NUMBER_WORDS)}|a|an|a\s+couple\s+of)\s+"
    r"(?:hours?|days?|weeks?|months?)"
    rf"|{_PERIOD})\b",
    re.IGNORECASE,
)

_SUBJECT = r"(?:i|we|you|someone|somebody|everyone|everybody|the\s+team|{names})"
_COMMITMENTS = (
    # "I will", "I'll", "we'll", "Bob will" (not "I will be honest", "I'll say")
    r"\b{subject}\s*(?:'ll|\s+will|\s+shall)\s+(?!be\s+(?:honest|frank|brief|clear|quick|"
    r"candid|straight|fine|okay|ok)\b|say\b|admit\b|guess\b|bet\b|never\b|not\b|see\b)",
    # "I'm going to", "we are going to", "Bob is going to"
    r"\b{subject}\s*(?:'m|'re|'s|\s+am|\s+are|\s+is)\s+going\s+to\s+(?!be\s+honest)",
    # "we need to", "I have to", "you must", "Bob needs to", "we should"
    r"\b{subject}\s+(?:really\s+)?(?:need|needs|have|has|got)\s+to\b",
    r"\b{subject}\s+(?:really\s+)?(?:must|should)\s+(?!have\b|'ve\b)",
    r"\b(?:i|we)\s+can\s+take\b",
    # requests
    r"\b(?:can|could|would|will)\s+(?:you|someone|somebody)\s+(?:please\s+)?\w",
    r"\bplease\s+(?!be\s+aware\b|note\b|find\b|see\s+attached\b)\w+",
    r"\blet'?s\b|\blet\s+us\b",
    r"\bmake\s+sure\b|\baction\s+items?\b|\bto-?\s?dos?\b|\bfollow\s+up\b|\btake\s+care\s+of\b",
)
_NOT_COMMITMENTS = re.compile(
    r"\b(?:should|would|could|must|might)\s*(?:have|'ve)\b|\b(?:was|were)\s+going\s+to\b|"
    r"\bif\s+(?:i|we|you)\s+(?:had|could|would)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:can|could|would|will)\s+(?:you|someone|somebody)\b|\bplease\b", re.IGNORECASE
)
_FIRST_PERSON = re.compile(
    r"\bi(?:'ll|\s+will|\s+shall|(?:'m|\s+am)\s+going\s+to|\s+(?:need|have|got)\s+to|"
    r"\s+(?:must|should)|\s+can\s+take)\b",
    re.IGNORECASE,
)
_NAMED_SUBJECT = frozenset(("will", "is", "needs", "has", "should", "must", "can", "shall"))

_CALENDAR = frozenset(WEEKDAYS.split("|")) | frozenset(MONTHS.split("|"))
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])[\"'”’)\]]*\s+|(?<=[。！？])")


# --------------------------------------------------------------------------- sentences


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


def build_sentences(transcript: Transcript) -> list[Sentence]:
    """The sentences of *transcript*, each timed and tied to the segment it starts in.

    A sentence that a segment leaves unfinished continues into the next segment of the
    same speaker.
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
                and not part[:1].isupper()
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


# --------------------------------------------------------------------------- ranking


def tfidf_matrix(texts: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
    """Rows of L2-normalised TF-IDF weights of the term lists *texts*."""
    vocabulary: dict[str, int] = {}
    for terms in texts:
        for term in terms:
            vocabulary.setdefault(term, len(vocabulary))
    matrix = np.zeros((len(texts), max(1, len(vocabulary))))
    for row, terms in enumerate(texts):
        for term, count in Counter(terms).items():
            matrix[row, vocabulary[term]] = count
    frequency = (matrix > 0).sum(axis=0)
    idf = np.log((1 + len(texts)) / (1 + frequency)) + 1.0
    matrix *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1.0, norms))


def textrank(similarity: npt.NDArray[np.float64], damping: float = 0.85) -> np.ndarray:
    """PageRank scores of the sentences of a *similarity* matrix."""
    count = similarity.shape[0]
    if count == 0:
        return np.zeros(0)
    weights = similarity.copy()
    np.fill_diagonal(weights, 0.0)
    sums = weights.sum(axis=1, keepdims=True)
    transition = np.where(sums > 0, weights / np.where(sums == 0, 1.0, sums), 1.0 / count)
    flow = np.ascontiguousarray(damping * transition.T)
    scores = np.full(count, 1.0 / count)
    for _ in range(100):
        updated = (1 - damping) / count + flow @ scores
        converged = np.abs(updated - scores).sum() < 1e-9
        scores = updated
        if converged:
            break
    return np.asarray(scores)


@attrs.frozen
class _Ranked:
    """Sentences worth ranking, with their vectors and scores."""

    sentences: tuple[Sentence, ...]
    vectors: npt.NDArray[np.float64]
    centrality: npt.NDArray[np.float64]
    information: npt.NDArray[np.float64]


def _substantive(sentence: Sentence) -> bool:
    terms = [t for t in content_terms(sentence.text) if t not in NOT_TOPICS]
    return len(tokens(sentence.text)) >= 4 and len(terms) >= 2


def _rank(sentences: Sequence[Sentence]) -> _Ranked:
    chosen = [s for s in sentences if _substantive(s)] or list(sentences)
    terms = [content_terms(s.text) for s in chosen]
    vectors = tfidf_matrix(terms)
    centrality = textrank(vectors @ vectors.T) if chosen else np.zeros(0)
    frequency = Counter(t for ts in terms for t in set(ts))
    information = np.array(
        [
            sum(math.log(1 + len(chosen) / frequency[t]) for t in set(ts) if t not in NOT_TOPICS)
            for ts in terms
        ],
        dtype=np.float64,
    )
    return _Ranked(tuple(chosen), vectors, centrality, information)


def _normalised(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    return np.zeros_like(values) if high - low < 1e-12 else (values - low) / (high - low)


def _pick_diverse(
    ranked: _Ranked, relevance: npt.NDArray[np.float64], count: int, trade_off: float = 0.7
) -> list[int]:
    """Maximal marginal relevance: relevant sentences that do not repeat each other."""
    picked: list[int] = []
    candidates = list(range(len(ranked.sentences)))
    similarity = ranked.vectors @ ranked.vectors.T
    while candidates and len(picked) < count:
        best, best_score = candidates[0], -math.inf
        for candidate in candidates:
            redundancy = max((similarity[candidate, p] for p in picked), default=0.0)
            if redundancy > 0.8:
                continue
            score = trade_off * relevance[candidate] - (1 - trade_off) * redundancy
            if score > best_score:
                best, best_score = candidate, score
        if best_score == -math.inf:
            break
        picked.append(best)
        candidates.remove(best)
    return picked


# --------------------------------------------------------------------------- summary


def _speaker_name(label: str | None, names: Mapping[str, str]) -> str | None:
    if label is None:
        return None
    return names.get(label) or f"Speaker {label}"


def key_phrases(sentences: Sequence[Sentence], limit: int = 3) -> list[str]:
    """The transcript's top phrases (RAKE: runs of topic words, scored by degree)."""
    phrases: list[tuple[str, ...]] = []
    for sentence in sentences:
        run: list[str] = []
        for piece in re.split(r"[,;:.!?()\"“”]", sentence.text):
            for token in [*tokens(piece), ""]:
                if (
                    not token
                    or token in STOPWORDS
                    or token in NOT_TOPICS
                    or token.isdigit()
                    or len(token) < 2
                ):
                    if 0 < len(run) <= 4:
                        phrases.append(tuple(run))
                    run = []
                else:
                    run.append(token)
    if not phrases:
        return []
    frequency: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for phrase in phrases:
        for word in phrase:
            frequency[_stem(word)] += 1
            degree[_stem(word)] += len(phrase)
    counts = Counter(phrases)
    scores: dict[tuple[str, ...], float] = {}
    for phrase, seen in counts.items():
        base = sum(degree[_stem(w)] / frequency[_stem(w)] for w in phrase)
        scores[phrase] = base * (1 + math.log(seen))
    chosen: list[str] = []
    used: set[str] = set()
    for phrase in sorted(scores, key=lambda p: (-scores[p], phrases.index(p))):
        stems = {_stem(w) for w in phrase}
        if stems & used or (len(phrase) == 1 and scores[phrase] < 2):
            continue
        chosen.append(" ".join(phrase))
        used |= stems
        if len(chosen) == limit:
            break
    return chosen


def _shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


def make_title(sentences: Sequence[Sentence], central: Sentence | None, english: bool) -> str:
    """A short title: the top key phrases, or else the most central sentence."""
    phrases = key_phrases(sentences) if english else []
    if phrases:
        head, rest = phrases[0], phrases[1:]
        title = head[:1].upper() + head[1:]
        if rest:
            title += ": " + ", ".join(rest)
        while len(title) > TITLE_LIMIT and rest:
            rest = rest[:-1]
            title = head[:1].upper() + head[1:] + (": " + ", ".join(rest) if rest else "")
        return _shorten(title)
    if central is not None:
        return _shorten(central.text.rstrip(".!?。！？"))
    return "Untitled recording"


def summarise(
    sentences: Sequence[Sentence],
    names: Mapping[str, str],
    english: bool,
    ranked: _Ranked | None = None,
) -> Summary:
    """An extractive summary: the 2-4 most central sentences, in order, and a title."""
    if not sentences:
        return Summary(title="No speech", text="No speech was recognised in this recording.")
    ranked = ranked or _rank(sentences)
    count = min(len(ranked.sentences), max(2, min(4, math.ceil(len(sentences) / 6))))
    relevance = 0.6 * _normalised(ranked.centrality) + 0.4 * _normalised(ranked.information)
    picked = sorted(_pick_diverse(ranked, relevance, count))
    if not picked:
        picked = list(range(min(count, len(ranked.sentences))))
    central = ranked.sentences[int(np.argmax(relevance))] if len(relevance) else None
    speakers = {s.speaker for s in sentences if s.speaker is not None}
    lines: list[str] = []
    previous: str | None = None
    for index in picked:
        sentence = ranked.sentences[index]
        who = _speaker_name(sentence.speaker, names) if len(speakers) > 1 else None
        lines.append(f"{who}: {sentence.text}" if who and who != previous else sentence.text)
        previous = who
    return Summary(title=make_title(sentences, central, english), text=" ".join(lines))


def key_points(
    sentences: Sequence[Sentence], limit: int = 6, ranked: _Ranked | None = None
) -> KeyPoints:
    """The 3-6 most informative sentences that do not repeat each other, in order."""
    if not sentences:
        return KeyPoints()
    ranked = ranked or _rank(sentences)
    available = len(ranked.sentences)
    count = min(available, max(3, min(limit, math.ceil(available / 2))))
    relevance = 0.5 * _normalised(ranked.centrality) + 0.5 * _normalised(ranked.information)
    picked = sorted(_pick_diverse(ranked, relevance, count))
    return KeyPoints(
        items=tuple(
            KeyPoint(
                text=ranked.sentences[i].text,
                timestamp=ranked.sentences[i].start,
                segment_id=ranked.sentences[i].segment_id,
            )
            for i in picked
        )
    )


# --------------------------------------------------------------------------- action items


_NAME_AT_START = re.compile(
    r"[^\W\d_]+\s*,|[^\W\d_]+\s+(?:will|is\s+going\s+to|needs\s+to|has\s+to|should|must|can)\b"
)


def _could_be_a_name(word: str) -> bool:
    lower = word.lower()
    return (
        word[:1].isupper()
        and word.isalpha()
        and word != "I"
        and len(word) <= 12
        and lower not in STOPWORDS
        and lower not in NOT_TOPICS
        and lower not in INTERJECTIONS
        and lower not in _CALENDAR
        and not lower.endswith(_NOUN_ENDINGS)
    )


def proper_names(transcript: Transcript, names: Mapping[str, str]) -> set[str]:
    """Names of people in *transcript*: the known speaker names, and capitalised words
    that are never written in lower case and stand where names stand: inside a sentence
    (``Thanks, Bob``), addressed at its start (``Bob, can you``) or as the subject of a
    commitment (``Dana will``)."""
    found = {n.strip() for n in names.values() if n.strip()}
    lowered: set[str] = set()
    candidates: set[str] = set()
    for segment in transcript.segments:
        for sentence in split_sentences(segment.text):
            words = _WORD.findall(sentence)
            for position, word in enumerate(words):
                if word[:1].islower():
                    lowered.add(word.lower())
                elif _could_be_a_name(word) and (
                    position > 0 or _NAME_AT_START.match(sentence[sentence.find(word) :])
                ):
                    candidates.add(word)
    found |= {word for word in candidates if word.lower() not in lowered}
    return found


def _commitment_patterns(names: Iterable[str]) -> list[re.Pattern[str]]:
    escaped = "|".join(re.escape(n.lower()) for n in sorted(names, key=len, reverse=True))
    subject = _SUBJECT.format(names=escaped or "(?!x)x")
    return [re.compile(p.format(subject=subject), re.IGNORECASE) for p in _COMMITMENTS]


def is_commitment(text: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    """Whether *text* commits someone to do something (see the module docstring)."""
    clean = text.replace("’", "'")
    if _NOT_COMMITMENTS.search(clean):
        return False
    if clean.rstrip().endswith("?") and not _REQUEST.search(clean):
        return False  # a question, not a request
    return any(p.search(clean) for p in patterns)


_GREETING = r"(?:ok|okay|so|and|also|great|perfect|thanks|thank\s+you|good\s+\w+|hi|hello|hey|bye)"


def addressed(text: str, people: set[str]) -> str | None:
    """The person *text* speaks to: ``Bob, can you ...``, ``Thank you, Bob.``, if any."""
    lowered = {p.lower(): p for p in people}
    patterns = (
        rf"^\s*(?:{_GREETING}[,\s]+)*([^\W\d_]+)\s*[,!?]",
        r",\s*([^\W\d_]+)\s*[.!?]*\s*$",
        rf"\b{_GREETING}\s*,?\s+([^\W\d_]+)\b",
    )
    for pattern in patterns:
        match = re.search(pattern, text, re.IGNORECASE)
        if match and match.group(1).lower() in lowered:
            return lowered[match.group(1).lower()]
    return None


def infer_speaker_names(
    sentences: Sequence[Sentence], people: set[str], speakers: Sequence[str]
) -> dict[str, str]:
    """Names of the two speakers of a conversation, from how they address each other.

    When one speaker calls the other by a single name (``Thank you, Bob.``), the other
    speaker is that person. Only for exactly two speakers, and only when consistent.
    """
    if len(speakers) != 2:
        return {}
    called: dict[str, set[str]] = {label: set() for label in speakers}
    for sentence in sentences:
        if sentence.speaker in called:
            name = addressed(sentence.text.replace("’", "'"), people)
            if name:
                called[sentence.speaker].add(name)
    inferred: dict[str, str] = {}
    for label in speakers:
        other = speakers[1] if label == speakers[0] else speakers[0]
        if len(called[label]) == 1:
            inferred[other] = next(iter(called[label]))
    if len(set(inferred.values())) != len(inferred):
        return {}
    return inferred


def find_owner(
    sentence: Sentence,
    people: set[str],
    names: Mapping[str, str],
    speakers: Sequence[str],
) -> str | None:
    """Who *sentence* makes responsible.

    In order: a person addressed with a request (``Bob, can you ...``) or named as the
    subject (``Dana will ...``); for a request to "you" in a two-person talk, the other
    speaker; for "I will ..." the speaker (their name when known); for "we" nobody.
    """
    text = sentence.text.replace("’", "'")
    lowered = {p.lower(): p for p in people}
    name = addressed(text, people)
    if name and _REQUEST.search(text):
        return name
    words = _WORD.findall(text)
    for position, word in enumerate(words[:-1]):
        if word.lower() in lowered and words[position + 1].lower() in _NAMED_SUBJECT:
            return lowered[word.lower()]
    request = _REQUEST.search(text)
    starts_with_request = request is not None and not text[: request.start()].strip(" ,")
    if starts_with_request or (request and not _FIRST_PERSON.search(text)):
        if sentence.speaker is not None and len(speakers) == 2:
            other = speakers[1] if sentence.speaker == speakers[0] else speakers[0]
            return names.get(other) or other
        return None
    if _FIRST_PERSON.search(text) and sentence.speaker is not None:
        return names.get(sentence.speaker) or sentence.speaker
    return None


def find_due(text: str) -> str | None:
    """The deadline said in *text* ("by Friday", "tomorrow", "next week"), if any."""
    match = DUE.search(text)
    return " ".join(match.group(0).split()) if match else None


def _same_item(
    sentence: Sentence,
    owner: str | None,
    terms: set[str],
    earlier: Sentence,
    earlier_owner: str | None,
    earlier_terms: set[str],
) -> bool:
    """Whether *sentence* repeats an earlier item: the same task for the same owner, or a
    reply ("Yes, I will ...") to a request made just before."""
    if not terms or not earlier_terms:
        return False
    shared = len(terms & earlier_terms)
    alike = shared / len(terms | earlier_terms) >= 0.6
    if owner == earlier_owner and alike:
        return True
    reply = (
        sentence.index - earlier.index <= 3
        and sentence.speaker != earlier.speaker
        and _REQUEST.search(earlier.text) is not None
        and _FIRST_PERSON.search(sentence.text.replace("’", "'")) is not None
    )
    covered = shared >= 2 and shared / min(len(terms), len(earlier_terms)) >= 0.6
    return reply and (alike or covered)


def action_items(
    sentences: Sequence[Sentence], transcript: Transcript, names: Mapping[str, str]
) -> ActionItems:
    """Sentences that commit someone to something, with owner, due date and timing."""
    people = proper_names(transcript, names)
    patterns = _commitment_patterns(people)
    speakers = transcript.speakers
    items: list[ActionItem] = []
    seen: list[tuple[Sentence, str | None, set[str]]] = []
    for sentence in sentences:
        if not is_commitment(sentence.text, patterns):
            continue
        owner = find_owner(sentence, people, names, speakers)
        terms = {t for t in content_terms(sentence.text) if t not in NOT_TOPICS}
        if any(_same_item(sentence, owner, terms, *earlier) for earlier in seen):
            continue
        seen.append((sentence, owner, terms))
        items.append(
            ActionItem(
                text=sentence.text,
                timestamp=sentence.start,
                segment_id=sentence.segment_id,
                speaker=sentence.speaker,
                owner=owner,
                due=find_due(sentence.text),
            )
        )
    return ActionItems(items=tuple(items))


# --------------------------------------------------------------------------- sentiment

STRONG = 0.5
NEUTRAL_BAND = 0.05


def _label(scores: Sequence[float], weights: Sequence[float]) -> tuple[SentimentLabel, float]:
    if not scores:
        return SentimentLabel.NEUTRAL, 0.0
    total = sum(weights) or 1.0
    score = sum(s * w for s, w in zip(scores, weights, strict=True)) / total
    positive = sum(s * w for s, w in zip(scores, weights, strict=True) if s > 0)
    negative = -sum(s * w for s, w in zip(scores, weights, strict=True) if s < 0)
    strong_both = max(scores) >= STRONG and min(scores) <= -STRONG
    if strong_both and min(positive, negative) >= 0.33 * max(positive, negative):
        return SentimentLabel.MIXED, round(score, 4)
    if score >= NEUTRAL_BAND:
        return SentimentLabel.POSITIVE, round(score, 4)
    if score <= -NEUTRAL_BAND:
        return SentimentLabel.NEGATIVE, round(score, 4)
    return SentimentLabel.NEUTRAL, round(score, 4)


def looks_english(transcript: Transcript) -> bool:
    """Whether *transcript* is English: its language, or else its share of stopwords."""
    if transcript.language:
        return transcript.language.lower().split("-")[0] in ("en", "eng", "english")
    words = tokens(transcript.text)
    return not words or sum(w in STOPWORDS for w in words) / len(words) >= 0.2


def sentiment(
    sentences: Sequence[Sentence],
    transcript: Transcript,
    names: Mapping[str, str],
    polarity: Callable[[str], float],
) -> Sentiment:
    """Overall and per-speaker tone from VADER scores of each sentence (English only)."""
    if not sentences:
        return Sentiment(
            label=SentimentLabel.NEUTRAL, score=0.0, explanation="There is no speech to judge."
        )
    if not looks_english(transcript):
        language = transcript.language or "not English"
        return Sentiment(
            label=SentimentLabel.NEUTRAL,
            score=0.0,
            explanation=(
                "The local engine judges tone in English only and this transcript's "
                f"language is {language}, so it is reported as neutral."
            ),
        )
    scores = [polarity(s.text) for s in sentences]
    weights = [float(max(1, len(tokens(s.text)))) for s in sentences]
    label, score = _label(scores, weights)
    per_speaker: list[SpeakerSentiment] = []
    for speaker in transcript.speakers:
        own = [
            (sc, w)
            for s, sc, w in zip(sentences, scores, weights, strict=True)
            if s.speaker == speaker
        ]
        if own:
            own_label, own_score = _label([o[0] for o in own], [o[1] for o in own])
            per_speaker.append(SpeakerSentiment(speaker=speaker, label=own_label, score=own_score))
    return Sentiment(
        label=label,
        score=max(-1.0, min(1.0, score)),
        speakers=tuple(per_speaker),
        explanation=_explain(label, sentences, scores, per_speaker, names),
    )


def _explain(
    label: SentimentLabel,
    sentences: Sequence[Sentence],
    scores: Sequence[float],
    speakers: Sequence[SpeakerSentiment],
    names: Mapping[str, str],
) -> str:
    positive = sum(s >= NEUTRAL_BAND for s in scores)
    negative = sum(s <= -NEUTRAL_BAND for s in scores)
    total = len(scores)
    best = _shorten(sentences[int(np.argmax(scores))].text.rstrip(".!?"), 60)
    worst = _shorten(sentences[int(np.argmin(scores))].text.rstrip(".!?"), 60)
    counts = f"{positive} of {total} sentences sound positive and {negative} negative"
    if label is SentimentLabel.MIXED:
        text = f"Mixed: strong praise (“{best}”) meets strong criticism (“{worst}”); {counts}"
    elif label is SentimentLabel.POSITIVE:
        text = f"Mostly positive: {counts}, for example “{best}”"
    elif label is SentimentLabel.NEGATIVE:
        text = f"Mostly negative: {counts}, for example “{worst}”"
    else:
        text = f"Mostly neutral: {counts}"
    differing = [s for s in speakers if s.label is not label]
    if len(speakers) > 1 and differing:
        who = ", ".join(f"{_speaker_name(s.speaker, names)} {s.label.value}" for s in differing)
        text += f" ({who})"
    return text + "."


# --------------------------------------------------------------------------- the adapter


class LocalAnalyzer(Analyzer):
    """The local, extractive analysis engine: no language model, no network.

    Summaries and key points are sentences that were said (TextRank and maximal marginal
    relevance over TF-IDF), action items are found by commitment phrases, sentiment by
    VADER's lexicon (English only). Fast and private, but it cannot paraphrase.
    """

    name = "local"

    def __init__(self) -> None:
        self._vader: SentimentIntensityAnalyzer | None = None
        self._lock = threading.Lock()

    def _polarity(self, text: str) -> float:
        if self._vader is None:
            with self._lock:
                if self._vader is None:
                    self._vader = SentimentIntensityAnalyzer()
        return float(self._vader.polarity_scores(text)["compound"])

    async def analyze(self, request: AnalysisRequest) -> Mapping[AnalysisKind, AnalysisOutcome]:
        """Return one outcome per kind of *request*, computed in a worker thread."""
        return await asyncio.to_thread(self.analyze_now, request)

    def analyze_now(self, request: AnalysisRequest) -> dict[AnalysisKind, AnalysisOutcome]:
        """The same as :meth:`analyze`, in the calling thread."""
        transcript = request.transcript
        sentences = build_sentences(transcript)
        people = proper_names(transcript, request.speaker_names)
        names = {
            **infer_speaker_names(sentences, people, transcript.speakers),
            **request.speaker_names,
        }
        english = looks_english(transcript)
        ranked = _rank(sentences) if sentences else None
        outcomes: dict[AnalysisKind, AnalysisOutcome] = {}
        for kind in dict.fromkeys(request.kinds):
            content: AnalysisContent
            if kind is AnalysisKind.SUMMARY:
                content = summarise(sentences, names, english, ranked)
            elif kind is AnalysisKind.ACTION_ITEMS:
                content = action_items(sentences, transcript, names)
            elif kind is AnalysisKind.KEY_POINTS:
                content = key_points(sentences, ranked=ranked)
            else:
                content = sentiment(sentences, transcript, names, self._polarity)
            outcomes[kind] = AnalysisOutcome(kind=kind, content=content)
        return outcomes


__all__ = [
    "LocalAnalyzer",
    "Sentence",
    "action_items",
    "build_sentences",
    "find_due",
    "key_points",
    "sentiment",
    "split_sentences",
    "summarise",
]
