"""The summary (TextRank) and its title (RAKE key phrases), and the key points."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from elyune_adapters.analysis.local.ranking import _normalised, _pick_diverse, _rank, _Ranked
from elyune_adapters.analysis.local.sentences import Sentence, _stem, tokens
from elyune_adapters.analysis.local.vocabulary import NOT_TOPICS, STOPWORDS
from elyune_adapters.analysis.owners import speaker_display
from elyune_core.entities import (
    KeyPoint,
    KeyPoints,
    Summary,
)

TITLE_LIMIT = 80


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
