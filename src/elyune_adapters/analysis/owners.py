"""Who owns an action item: one rule for every analysis engine.

An owner is a person, shown the way the rest of Elyune shows people:

* a transcript speaker by their given name, or ``Speaker <label>`` while they have none
  (the form the transcript, the exports and the API use, so that naming the speaker
  later renames the owner too);
* a person named in what was said ("Dana will ...", "Carol, can you ...");
* nobody (``None``) for a group ("we", "the team", "everyone") or when it is not said.

Never a bare speaker label: ``"0"``, ``"SPEAKER_1"``, ``"spk 2"`` or ``"Speaker 1"`` are
all read as the transcript's speaker they name. A label that names none of the
transcript's speakers, or a name nobody said, is not an owner: :func:`resolve_owner`
raises :class:`UnknownOwnerError` so that a caller can ask again or drop it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from elyune_core.entities import speaker_display as display_name

__all__ = ["UnknownOwnerError", "resolve_owner", "speaker_display"]

_LABEL = re.compile(
    r"^\s*(?:(?:speaker|spkr|spk)[\s_\-#:]*([0-9]+|[a-z])|([0-9]+))\s*$", re.IGNORECASE
)
_FIRST_PERSON = frozenset(("i", "me", "myself"))
_NOBODY = frozenset(
    (
        "we",
        "us",
        "our team",
        "the team",
        "team",
        "everyone",
        "everybody",
        "all",
        "all of us",
        "both",
        "someone",
        "somebody",
        "anyone",
        "nobody",
        "none",
        "n/a",
        "na",
        "null",
        "unknown",
        "unassigned",
        "tbd",
        "you",
        "they",
        "them",
    )
)


class UnknownOwnerError(ValueError):
    """The owner is neither a speaker of the transcript nor a person named in it."""


def speaker_display(label: str | None, names: Mapping[str, str]) -> str | None:
    """How speaker *label* is shown: its given name, else ``Speaker <label>``."""
    if label is None:
        return None
    return display_name(label, {k: v.strip() for k, v in names.items()})


def _norm(value: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", value.casefold()))


def _label_key(match: re.Match[str]) -> str:
    key = (match.group(1) or match.group(2)).casefold()
    return key.lstrip("0") or "0" if key.isdigit() else key


def _speaker_label(value: str, speakers: Sequence[str], names: Mapping[str, str]) -> str | None:
    """The transcript speaker *value* refers to: its label in any spelling, or its name."""
    wanted = _norm(value)
    for label in speakers:
        spellings = (_norm(label), _norm(f"Speaker {label}"), _norm(names.get(label, "")))
        if wanted and wanted in spellings:
            return label
    match = _LABEL.match(value)
    if match:
        number = _label_key(match)
        for label in speakers:
            spelled = _LABEL.match(label)
            if spelled and _label_key(spelled) == number:
                return label
    return None


def resolve_owner(
    value: str | None,
    speakers: Sequence[str],
    names: Mapping[str, str],
    *,
    speaker: str | None = None,
    named: Callable[[str], str | None] | None = None,
) -> str | None:
    """The person who owns an action item whose owner was given as *value*.

    *speakers* are the transcript's speaker labels, *names* the names given to them,
    *speaker* the label of who said the item ("I" and "me" mean them), and *named* tells
    whether a value is a person said in the transcript (returning how to write them),
    when the caller can check that. Returns the speaker's name or ``Speaker <label>``,
    the person named, or ``None`` for nobody in particular.

    Raises :class:`UnknownOwnerError` for a speaker label the transcript does not have
    and for a name *named* does not know.
    """
    if value is None or not value.strip():
        return None
    text = " ".join(value.split()).strip(" .,;:!?\"'")
    folded = text.casefold()
    if not folded or folded in _NOBODY:
        return None
    label = _speaker_label(text, speakers, names)
    if label is not None:
        return speaker_display(label, names)
    if folded in _FIRST_PERSON:
        return speaker_display(speaker, names) if speaker is not None else None
    for given in names.values():
        if given.strip() and _norm(given) == _norm(text):
            return given.strip()
    if _LABEL.match(text) or not any(ch.isalpha() for ch in text):
        raise UnknownOwnerError(
            f"owner {value!r} is a speaker label, but not one of this transcript's speakers"
        )
    if named is None:
        return text
    person = named(text)
    if person is None:
        raise UnknownOwnerError(
            f"owner {value!r} is neither a speaker nor a person named in the transcript"
        )
    return person
