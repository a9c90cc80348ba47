"""The local analysis engine: extractive, rule-based and lexicon-based, no language model.

Everything here runs on the machine in milliseconds and picks sentences that were said
rather than writing new ones:

* **summary**: TextRank over TF-IDF vectors of the sentences; the 2-4 most central ones
  in the order they were said. The title is built from the transcript's key phrases
  (RAKE), or the most central sentence.
* **action items**: commitments and assignments ("I'll ...", "Dana, can you ...",
  "Dana will ...", "action item for Dana: ...", "we need to <task>"), not chatter,
  questions, past tense, agenda talk or hypotheticals (:func:`classify`); a reply ("Yes,
  I'll take that one.") gives the request before it its owner. Owners are people
  (:mod:`elyune_adapters.analysis.owners`), due dates are the words that were said.
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
from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from elyune_adapters.analysis.owners import UnknownOwnerError, resolve_owner, speaker_display
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
    rf"(?:next|this|coming)\s+(?:week|month|quarter|sprint|morning|afternoon|evening|{WEEKDAYS})|"
    rf"(?:{WEEKDAYS})(?:\s+(?:morning|afternoon|evening))?|{_DATE}|{_TIME})"
)
DUE = re.compile(
    rf"\b(?:(?:by|before|until|no\s+later\s+than|on|at)\s+{_PERIOD}"
    rf"|(?:within|in)\s+(?:\d+|{'|'.join(NUMBER_WORDS)}|a|an|a\s+couple\s+of)\s+"
    r"(?:hours?|days?|weeks?|months?)"
    rf"|{_PERIOD})\b",
    re.IGNORECASE,
)

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
    return speaker_display(label, names)


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
    r"[^\W\d_]+\s*,|[^\W\d_]+\s+(?:will|is\s+going\s+to|needs\s+to|has\s+to|should|must|can)\b|"
    r"[^\W\d_]+['’]s\s+going\s+to\b|[^\W\d_]+['’]ll\b|"
    r"[^\W\d_]+\s+(?:agreed|offered|volunteered|promised)\s+to\b"
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
            words = [re.sub(r"['’](?:s|ll|d)$", "", w) for w in _WORD.findall(sentence)]
            for position, word in enumerate(words):
                if word[:1].islower():
                    lowered.add(word.lower())
                elif _could_be_a_name(word) and (
                    position > 0 or _NAME_AT_START.match(sentence[sentence.find(word) :])
                ):
                    candidates.add(word)
    found |= {word for word in candidates if word.lower() not in lowered}
    return found


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


def find_due(text: str) -> str | None:
    """The deadline said in *text* ("by Friday", "tomorrow", "next week"), if any."""
    match = DUE.search(text)
    return " ".join(match.group(0).split()) if match else None


# --------------------------------------------------------------------------- commitments

# Words that open a sentence without changing what it says ("Okay, so, I'll ...").
_LEAD = (
    r"(?:(?:ok|okay|so|and|alright|all\s+right|right|great|sure(?:\s+thing)?|yes|yeah|yep|"
    r"fine|cool|then|also|today|tomorrow|first|next|now|well|perfect|good|absolutely|"
    r"of\s+course|no\s+problem|just\s+to\s+confirm|to\s+recap|recap|in\s+that\s+case|"
    r"after\s+lunch|later\s+today|this\s+afternoon|this\s+morning|anyway|um|uh|"
    r"sounds\s+good|will\s+do|got\s+it|no\s+worries|for\s+sure|definitely|don't\s+worry|"
    r"to\s+summari[sz]e|in\s+summary|to\s+sum\s+up|quick\s+recap|recapping)\b"
    r"[\s,:.!-]*)*"
)
_I_WILL = re.compile(
    r"\bi\s*(?:'ll|\s+will|\s+shall|'m\s+going\s+to|\s+am\s+going\s+to|'m\s+gonna|"
    r"\s+can\s+take|'m\s+taking|\s+(?:need|have|got)\s+to|\s+volunteer\s+to|"
    r"\s+promise\s+to|\s+commit\s+to|\s+(?:plan|intend|aim)\s+to|(?:'m|\s+am)\s+planning\s+to|"
    r"'ll\s+try\s+to|\s+can\s+(?!see\b|hear\b|tell\b|imagine\b|understand\b|say\b|think\b|"
    r"only\b|already\b|confirm\s+that\b))\b|\blet\s+me\b|\bcount\s+on\s+me\s+to\b|"
    r"\bleave\s+(?:it|this|that)\s+(?:to|with)\s+me\b|"
    r"\bmy\s+(?:action\s+items?|next\s+steps?|to-?dos?)\s+"
    r"(?:is|are|will\s+be)\s+(?:to\s+)?",
    re.IGNORECASE,
)
# What follows "I'll" or "let me" when it is talk about the meeting, not a task.
_NOT_A_TASK = re.compile(
    r"^\s*(?:just\s+)?(?:be\s+(?:honest|frank|brief|clear|quick|candid|straight|short|fine|"
    r"okay|ok|back|right\s+back|there|out|off|away|late|on\s+(?:vacation|holiday|leave))|"
    r"say|admit|guess|bet|never|not|see\s+(?:you|what|how|if|whether)|talk\s+to\s+you|"
    r"know|think|hand\s+(?:it\s+)?over|pass\s+(?:it\s+)?(?:on|over|to|back)|go\s+first|"
    r"start(?:\s+us)?(?:\s+off)?\b(?!\s+(?:the|a|an|on|drafting|writing|working)\b)|"
    r"begin|kick\s+(?:it|us|things)\s+off|keep\s+(?:it|this)\s+(?:short|quick|brief)|"
    r"stop\s+(?:sharing|there|here)|share\s+(?:my|the|a)\s+screen|(?:un)?mute|"
    r"leave\s+it\s+there|wrap\s+(?:it\s+|this\s+)?up|jump\s+(?:in|off)|drop\s+off|repeat|"
    r"explain\s+(?:that|again)|try\s+again|let\s+you\s+go|continue|move\s+on|"
    r"summari[sz]e|recap|quickly\s+\w+|"
    r"(?:just\s+)?(?:check|look\s+at|pull\s+up|find|open|grab)\s+my|pull\s+up|bring\s+up|"
    r"hand\s+(?:it\s+|this\s+)?back|give\s+(?:it\s+)?back|keep\s+(?:it|this)\s+\w+)\b",
    re.IGNORECASE,
)
# What follows "let's" / "we'll" when it is agenda talk or chatter.
_AGENDA = re.compile(
    r"^\s*(?:keep\s+(?:it|this|things)\s+(?:short|quick|brief)|get\s+(?:started|going)|"
    r"start|begin|move\s+on|wrap\s+(?:it\s+|this\s+|things\s+)?up|"
    r"go\s+(?:around|through|over)|talk\s+(?:about|through)|discuss|cover|recap|"
    r"look\s+at\s+the\s+agenda|review\s+the\s+agenda|take\s+a\s+(?:break|minute|second)|"
    r"see|hear\s+from|circle\s+back|come\s+back\s+to|get\s+to|continue|"
    r"pick\s+(?:this|it|that)\s+up|do\s+(?:that|this|it)\b|call\s+it|end|finish\s+(?:here|early)|"
    r"stop\s+here|meet\s+again|be\s+\w+|focus\s+on|jump\s+(?:in|into)|dive\s+in|"
    r"(?:have\s+to\s+|need\s+to\s+)?(?:wait|see)|try\s+to\s+keep|kick\s+(?:it\s+|things\s+)?off|"
    r"get\s+going|(?:look\s+at|turn\s+to|switch\s+to|go\s+to)\b[^,.;]*\bnext\b|"
    r"first\s+\w+|quickly\s+\w+|now\s+\w+)\b",
    re.IGNORECASE,
)
_PAST = re.compile(
    r"\b(?:was|were)\s+(?:going|supposed|meant|planning|hoping)\s+to\b|"
    r"\b(?:should|would|could|must|might|may)\s*(?:n't\s*)?(?:have|'ve)\b|"
    r"\b(?:said|promised|told\s+\w+|mentioned)\s+(?:that\s+)?(?:i|we|he|she|they)\s*"
    r"(?:'d|'ll|\s+would|\s+will)\b|\bi\s+already\b|\bhad\s+(?:planned|hoped)\b",
    re.IGNORECASE,
)
_HYPOTHETICAL = re.compile(
    r"^\W*if\b.*\b(?:would|could|might)\b|\bif\s+(?:we|i|you|they|it|the\s+\w+)\s+"
    r"(?:had|were|allowed|could)\b|\b(?:someday|some\s+day|one\s+day|eventually|"
    r"in\s+theory|at\s+some\s+point|in\s+an\s+ideal\s+world|hypothetically)\b|"
    r"\bit\s+would\s+be\s+(?:nice|great|good|cool|ideal)\b|"
    r"\b(?:i|we|they|you)\s*(?:'d|\s+would)\s+(?:love|like|prefer|want)\s+to\b|"
    r"\b(?:i|we|they)\s+(?:might|may|could|would)\b|\b(?:i|we|they)'d\b(?!\s+like\s+you)",
    re.IGNORECASE,
)
_ASK = re.compile(
    r"\b(?:can|could|would|will)\s+(?:you|someone|somebody|anyone|anybody|one\s+of\s+you)"
    r"\s+(?!(?:all|guys|both)\s+(?:hear|see)\b)(?:all\s+|guys\s+|both\s+)?"
    r"(?:please\s+|maybe\s+|also\s+|quickly\s+)?(?!believe\b|imagine\b|hear\b|see\s+my\b|"
    r"repeat\b|say\b|remind\s+me\b)[^\W\d_]|\bwho\s+(?:can|could|wants\s+to|will|is\s+able\s+to)\b|"
    r"\b(?:is|are)\s+(?:anyone|anybody|someone|somebody|you)\s+(?:able|willing|free|available)"
    r"\s+to\b|\bdo\s+you\s+have\s+(?:the\s+)?(?:time|a\s+minute|bandwidth|capacity)\s+to\b|"
    r"\bwould\s+you\s+mind\b|\bany\s+volunteers?\b|"
    r"^\W*(?:anyone|anybody|someone|somebody)\s+(?:free|able|willing|available|wants?)\s+to\b|"
    r"\bdoes\s+(?:anyone|anybody|someone)\s+"
    r"want\s+to\b",
    re.IGNORECASE,
)
_TELL = re.compile(
    r"\bplease\s+(?!be\s+aware|note\b|find\b|see\s+attached|hold\b|welcome\b)[^\W\d_]|"
    r"\b(?:when(?:ever)?\s+you\s+(?:get|have)\s+(?:a|the)\s+(?:chance|minute|moment|second)|"
    r"if\s+you\s+(?:can|could|have\s+(?:the\s+)?time)|when\s+you\s+can)\b|"
    r"\bi\s+(?:need|want|'d\s+like|would\s+like)\s+you\s+to\b|"
    r"\b(?:you|you'll|you\s+will)\s+(?:need\s+to|have\s+to|must)\b|"
    r"\b(?:leave|leaving)\s+(?:it|this|that)\s+(?:to|with)\s+you\b|\bover\s+to\s+you\b",
    re.IGNORECASE,
)
_YOU_WILL = re.compile(
    r"\byou\s*(?:'ll|\s+will|'re\s+going\s+to|\s+are\s+going\s+to)\s+(?!be\s+\w+ed\b)",
    re.IGNORECASE,
)
_TAG_QUESTION = re.compile(r",\s*(?:yes|right|ok|okay|correct|yeah|agreed|no)\s*\?$", re.IGNORECASE)
_OPEN = re.compile(
    r"\b(?:can|could|would|will)\s+(?:someone|somebody|anyone|anybody|one\s+of\s+you)\b|"
    r"\bwho\s+(?:can|could|wants\s+to|will|is\s+able\s+to)\b|"
    r"\b(?:is|are)\s+(?:anyone|anybody|someone|somebody)\s+(?:able|willing|free|available)\b|"
    r"\bany\s+volunteers?\b|\bdoes\s+(?:anyone|anybody|someone)\s+want\s+to\b|"
    r"^\W*(?:anyone|anybody|someone|somebody)\s+(?:free|able|willing|available|wants?)\s+to\b|"
    r"\bneed\s+(?:someone|somebody|a\s+volunteer)\s+to\b|"
    r"\b(?:someone|somebody)\s+(?:needs|has|should|must)\b",
    re.IGNORECASE,
)
_TEAM = re.compile(
    r"\b(?:we|the\s+team|everyone|everybody|all\s+of\s+us)\s*(?:'ll|\s+will|\s+shall|"
    r"'re\s+going\s+to|\s+are\s+going\s+to|\s+(?:really\s+)?(?:need|have|got)\s+to|\s+must|"
    r"\s+should)\b|\blet'?s\b|\blet\s+us\b|^\W*(?:make\s+sure|remember\s+to|"
    r"don't\s+forget\s+to|be\s+sure\s+to)\b",
    re.IGNORECASE,
)
_ACTION_ITEM = re.compile(
    r"\b(?:action\s+items?|to-?\s?dos?|next\s+step)\s*(?:for\s+([^\W\d_]+))?\s*[:\-–]\s*(?=\w)",
    re.IGNORECASE,
)
_REPLY = re.compile(
    rf"^\W*{_LEAD}(?:(?:i\s*(?:'ll|\s+will|\s+can|\s+could)|let\s+me|i'?m\s+happy\s+to|"
    r"happy\s+to)\s+(?:(?:definitely|gladly|also)\s+)?(?:take|do|handle|own|grab|pick\s+up|"
    r"cover|take\s+care\s+of|look\s+into|get|deal\s+with|sort\s+out|tackle|run\s+with|"
    r"jump\s+on)(?:\s+(?:that|it|this|those|them))?(?:\s+one)?(?:\s+on)?(?:\s+for\s+you)?"
    r"|(?:i'?m\s+)?on\s+it|will\s+do|consider\s+it\s+done|leave\s+it\s+with\s+me|"
    r"count\s+me\s+in|i'?ll\s+volunteer|that's\s+mine|mine)\b(?P<rest>[^.!?]*)[.!]*\s*$",
    re.IGNORECASE,
)
_VAGUE = _wordset(
    """
    everything something anything nothing stuff thing things one ones that this it them
    those these all rest whole part piece bit side end point today tomorrow tonight
    from me us you
    """
)
# A question the speech engine wrote without its question mark.
_QUESTION_WORDS = re.compile(
    r"^\W*(?:what|when|where|why|how|which|whose)\b|^\W*(?:did|do|does|are|is|was|were|have|"
    r"has|had|should|shall|could|would|can|will|may|might)\s+(?:i|you|we|they|he|she|it|the|"
    r"this|that|there|anyone|anybody|someone|somebody|everyone)\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(
    r"\b(?:can't|cannot|can\s+not|won't|will\s+not|shan't|unable\s+to|not\s+able\s+to|"
    r"(?:'m|am|are|'re|is|'s)\s+not\s+going\s+to|don't\s+(?:think|need|have\s+to|plan)|"
    r"do\s+not\s+(?:think|need|plan)|no\s+need\s+to|not\s+going\s+to|nobody|no\s+one)\b",
    re.IGNORECASE,
)


@attrs.frozen
class Claim:
    """What an action-item sentence says: its kind, who it names and its task's words.

    ``kind`` is ``commit`` (the speaker's own "I'll ..."), ``assign`` (to the person in
    ``person``), ``ask`` (a request to "you"), ``open`` (to anyone), ``team`` ("we need
    to ...", nobody in particular) or ``reply`` (a "Yes, I'll take that one." that takes
    its task from the request before it).
    """

    kind: str
    person: str | None = None
    terms: frozenset[str] = frozenset()


def _task_terms(task: str, people: Mapping[str, str]) -> frozenset[str]:
    """The words of *task* that say what is to be done (names of people count)."""
    due = DUE.search(task)
    if due:
        task = task[: due.start()] + " " + task[due.end() :]
    terms = set()
    for token in tokens(task):
        if token in people:
            terms.add(token)
        elif (
            token not in STOPWORDS
            and token not in NOT_TOPICS
            and token not in _VAGUE
            and not token.isdigit()
            and len(token) > 1
        ):
            terms.add(_stem(token))
    return frozenset(terms)


def _named_subject(text: str, people: Mapping[str, str]) -> str | None:
    """The person a sentence gives the task to: "Dana will ...", "Action item: Dana to ..."."""
    for match in re.finditer(r"[^\W\d_]+", text):
        person = people.get(match.group(0).lower())
        if person is None or not match.group(0)[:1].isupper():
            continue
        after = text[match.end() :]
        before = text[: match.start()]
        if re.match(
            r"\s*(?:'ll|\s+will|\s+shall|\s+is\s+going\s+to|'s\s+going\s+to|\s+(?:needs|has)\s+to|"
            r"\s+should|\s+must|\s+can(?!\s+be\b)|\s+takes|\s+owns|\s+is\s+on|"
            r"\s+(?:agreed|offered|volunteered|promised)\s+to)\b"
            r"(?!\s+(?:be\s+(?:out|off|away|late|back)|join|arrive|leave|drop|come|see|hear)\b)",
            after,
            re.IGNORECASE,
        ):
            return person
        if re.search(r"\b(?:can|could|would|will)\s+$", before, re.IGNORECASE) and re.match(
            r"\s+(?:please\s+)?(?!be\b)[a-z]", after
        ):
            return person  # "Could Dana update the notes?"
        if re.match(r"\s*:\s*\w", after) and not re.search(r"\w\s*$", before.rstrip(", ")):
            return person  # "Over to you, Dana: ..."
        if re.search(r"\blet'?s\s+(?:get|have|ask)\s+$", before, re.IGNORECASE):
            return person  # "Let's have Dana update the notes."
        if re.match(r"\s+to\s+(?!be\b)[^\W\d_]", after) and re.search(
            r"(?:^|[:;,\-–])\s*$|\b(?:action\s+items?|next\s+steps?)\W*$", before, re.IGNORECASE
        ):
            return person
    return None


def classify(text: str, people: Mapping[str, str]) -> Claim | None:
    """What kind of action item *text* is, if it is one (see :class:`Claim`).

    *people* maps lower-cased names said in the meeting to their spelling. Not items:
    past tense, hypotheticals, questions that are not requests, agenda talk and chatter,
    and promises without a task ("We'll do that.").
    """
    clean = _TAG_QUESTION.sub(".", " ".join(text.replace("’", "'").split()))
    if not clean or _PAST.search(clean) or _NEGATED.search(clean):
        return None
    asked = _ASK.search(clean) is not None
    told = _TELL.search(clean) is not None
    if _HYPOTHETICAL.search(clean) and not (asked or told):
        return None
    named_ask = re.search(r"^\W*(?:\w+\W+){0,2}?(?i:can|could|would|will)\s+[A-Z]", clean)
    asked = asked or (named_ask is not None and _named_subject(clean, people) is not None)
    question = clean.endswith("?") or (_QUESTION_WORDS.match(clean) is not None and not asked)
    if question and not asked:
        return None
    reply = _REPLY.match(clean)
    if reply and not _task_terms(reply.group("rest"), people):
        return Claim("reply")
    marker = _ACTION_ITEM.search(clean)
    if marker:
        named = people.get((marker.group(1) or "").lower()) or _named_subject(clean, people)
        terms = _task_terms(clean[marker.end() :], people)
        if terms:
            return Claim("assign" if named else "team", named, terms)
        return None
    named = _named_subject(clean, people)
    if named:
        said = re.search(rf"\b{re.escape(named)}\b", clean, re.IGNORECASE)
        terms = _task_terms(clean[said.end() :] if said else clean, people) - {named.lower()}
        return Claim("assign", named, terms) if terms else None
    you = addressed(clean, set(people.values()))
    yours = _YOU_WILL.search(clean) if you else None
    if yours and you:  # "Dana, you'll send the report."
        terms = _task_terms(clean[yours.end() :], people)
        return Claim("assign", you, terms) if terms else None
    if asked or told:
        request = _ASK.search(clean) or _TELL.search(clean)
        assert request is not None
        terms = _task_terms(clean[request.start() :], people) - {(you or "").lower()}
        if not terms or _NOT_A_TASK.match(clean[request.end() - 1 :]):
            return None
        if you:
            return Claim("assign", you, terms)
        return Claim("open" if _OPEN.search(clean) else "ask", None, terms)
    if _OPEN.search(clean):
        found = _OPEN.search(clean)
        assert found is not None
        terms = _task_terms(clean[found.end() :], people)
        return Claim("open", None, terms) if terms else None
    mine = _I_WILL.search(clean)
    if mine:
        task = clean[mine.end() :]
        if _NOT_A_TASK.match(task):
            return None
        terms = _task_terms(task, people)
        return Claim("commit", None, terms) if terms else Claim("reply")
    team = _TEAM.search(clean)
    if team:
        task = clean[team.end() :]
        if _AGENDA.match(task):
            return None
        terms = _task_terms(task, people)
        return Claim("team", None, terms) if terms else None
    return None


def _alike(a: frozenset[str], b: frozenset[str], threshold: float = 0.6) -> bool:
    if not a or not b:
        return False
    shared = len(a & b)
    return shared / len(a | b) >= threshold or (shared >= 2 and shared / min(len(a), len(b)) >= 0.8)


@attrs.define
class _Item:
    """An action item being collected."""

    sentence: Sentence
    claim: Claim
    owner: str | None
    due: str | None
    taken: bool = False


def action_items(
    sentences: Sequence[Sentence], transcript: Transcript, names: Mapping[str, str]
) -> ActionItems:
    """Commitments and assignments, each with a person as owner, due date and timing.

    Owners follow :func:`~elyune_adapters.analysis.owners.resolve_owner`: "I'll ..." is
    the speaker's (their name, else ``Speaker <label>``), "Dana will ..." and "Dana, can
    you ..." are Dana's, a request to "you" in a two-person talk is the other speaker's,
    and a request answered by "Yes, I'll take that one." is who answered. A reply, an
    acknowledgement ("Sure, I will send it.") or a recap of an item is not a new item.
    """
    found = proper_names(transcript, names)
    people = {p.lower(): p for p in found}
    speakers = transcript.speakers
    items: list[_Item] = []

    def owner(value: str | None, speaker: str | None) -> str | None:
        try:
            return resolve_owner(value, speakers, names, speaker=speaker)
        except UnknownOwnerError:
            return None

    for sentence in sentences:
        claim = classify(sentence.text, people)
        if claim is None:
            continue
        said_by = owner("I", sentence.speaker)
        request = next(
            (
                item
                for item in reversed(items)
                if item.claim.kind in ("assign", "ask", "open")
                and not item.taken
                and item.sentence.speaker != sentence.speaker
                and sentence.speaker is not None
                and sentence.index - item.sentence.index <= 4
            ),
            None,
        )
        answers = request is not None and (
            claim.kind == "reply"
            or (claim.kind == "commit" and _alike(claim.terms, request.claim.terms, 0.5))
        )
        if request is not None and answers:
            request.taken = True
            named = request.claim.person
            given = names.get(sentence.speaker or "")
            if said_by is not None and (named is None or (given and given != named)):
                request.owner = said_by
            request.due = request.due or find_due(sentence.text)
            continue
        if claim.kind == "reply":
            continue  # "I'll do that." answering nothing asks nothing of anyone
        if claim.kind == "commit":
            who = said_by
        elif claim.kind == "assign":
            who = owner(claim.person, sentence.speaker)
        elif claim.kind == "ask" and sentence.speaker is not None and len(speakers) == 2:
            other = speakers[1] if sentence.speaker == speakers[0] else speakers[0]
            who = owner(other, sentence.speaker)
        else:
            who = None
        repeated = any(
            (
                _alike(claim.terms, item.claim.terms)
                and (who == item.owner or who is None or item.owner is None)
            )
            or _alike(claim.terms, item.claim.terms, 0.75)
            for item in items
        )
        if repeated:
            continue
        items.append(_Item(sentence, claim, who, find_due(sentence.text)))
    return ActionItems(
        items=tuple(
            ActionItem(
                text=item.sentence.text,
                timestamp=item.sentence.start,
                segment_id=item.sentence.segment_id,
                speaker=item.sentence.speaker,
                owner=item.owner,
                due=item.due,
            )
            for item in items
        )
    )


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
    "Claim",
    "LocalAnalyzer",
    "Sentence",
    "action_items",
    "build_sentences",
    "classify",
    "find_due",
    "key_points",
    "sentiment",
    "split_sentences",
    "summarise",
]
