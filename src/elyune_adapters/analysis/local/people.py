"""People in a transcript: names said, who is addressed, speakers named by others, due dates."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from elyune_adapters.analysis.local.sentences import Sentence, split_sentences
from elyune_adapters.analysis.local.vocabulary import (
    _CALENDAR,
    _NOUN_ENDINGS,
    _WORD,
    DUE,
    INTERJECTIONS,
    NOT_TOPICS,
    STOPWORDS,
)
from elyune_core.entities import (
    Transcript,
)

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
