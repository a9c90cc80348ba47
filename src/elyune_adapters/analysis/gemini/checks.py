"""Nothing returned unchecked: each kind's answer validated against the transcript."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from elyune_adapters.analysis.gemini.parts import _Context, _Part, _Reply
from elyune_adapters.analysis.gemini.schema import _KIND_NAMES, _LABELS
from elyune_adapters.analysis.owners import UnknownOwnerError, resolve_owner
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
)

_MAX_ERRORS_SHOWN = 5


CheckResult: TypeAlias = tuple[AnalysisContent | None, list[str]]


Checker: TypeAlias = Callable[[AnalysisKind, Any], CheckResult]


def _evaluate(
    reply: _Reply, kinds: Sequence[AnalysisKind], check: Checker
) -> tuple[dict[AnalysisKind, AnalysisContent | str], dict[AnalysisKind, list[str]]]:
    suffix = f" ({reply.note})" if reply.note else ""
    if reply.text is None:
        return {}, {kind: [f"the answer was empty{suffix}"] for kind in kinds}
    try:
        data = json.loads(reply.text)
    except json.JSONDecodeError as exc:
        problem = (
            f"the answer was not valid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}){suffix}"
        )
        return {}, {kind: [problem] for kind in kinds}
    if not isinstance(data, dict):
        return {}, {kind: ["the answer was not a JSON object"] for kind in kinds}
    results: dict[AnalysisKind, AnalysisContent | str] = {}
    problems: dict[AnalysisKind, list[str]] = {}
    for kind in kinds:
        if kind.value not in data:
            problems[kind] = [f"'{kind.value}' is missing from the answer"]
            continue
        content, errors = check(kind, data[kind.value])
        if errors or content is None:
            problems[kind] = errors or ["the answer could not be used"]
        else:
            results[kind] = content
    return results, problems


def _readable(kind: AnalysisKind, errors: Sequence[str]) -> str:
    shown = "; ".join(errors[:_MAX_ERRORS_SHOWN])
    more = len(errors) - _MAX_ERRORS_SHOWN
    if more > 0:
        shown += f" (and {more} more)"
    return (
        f"Gemini's {_KIND_NAMES[kind]} did not fit the transcript, even when asked again: {shown}"
    )


def _text_field(value: Any, where: str, errors: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{where} is empty or not text")
        return ""
    return value.strip()


def _optional_text(value: Any, where: str, errors: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(f"{where} is not text")
        return None
    return value.strip() or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _check_score(value: Any, where: str, errors: list[str]) -> float:
    number = _number(value)
    if number is None or not -1.0 <= number <= 1.0:
        errors.append(f"{where} {value!r} is not a number between -1 and 1")
        return 0.0
    return number


def _check_label(value: Any, where: str, errors: list[str]) -> SentimentLabel:
    if isinstance(value, str) and value.strip().lower() in _LABELS:
        return SentimentLabel(value.strip().lower())
    errors.append(f"{where} {value!r} is not one of {', '.join(_LABELS)}")
    return SentimentLabel.NEUTRAL


def _check_anchor(
    item: Mapping[str, Any],
    where: str,
    context: _Context,
    part: _Part,
    tolerance: float,
    errors: list[str],
) -> tuple[Segment | None, float]:
    """The segment and (possibly corrected) timestamp of *item*, or errors."""
    raw_id = item.get("segment_id")
    number = _number(raw_id)
    if number is None or not number.is_integer():
        errors.append(f"{where}: segment_id {raw_id!r} is not a segment id")
        return None, 0.0
    segment = part.segment(int(number))
    if segment is None:
        errors.append(f"{where}: segment {int(number)} does not exist in the transcript")
        return None, 0.0
    raw_time = item.get("timestamp")
    if raw_time is None:
        return segment, segment.start
    timestamp = _number(raw_time)
    if timestamp is None:
        errors.append(f"{where}: timestamp {raw_time!r} is not a number")
        return None, 0.0
    if not 0.0 <= timestamp <= context.duration + 1e-6:
        errors.append(
            f"{where}: timestamp {timestamp:g} s is outside the recording "
            f"(0 to {context.duration:g} s)"
        )
        return None, 0.0
    if segment.start <= timestamp <= segment.end:
        return segment, timestamp
    if segment.start - tolerance <= timestamp <= segment.end + tolerance:
        return segment, segment.start
    errors.append(
        f"{where}: timestamp {timestamp:g} s is not in segment {segment.id} "
        f"({segment.start:g} to {segment.end:g} s)"
    )
    return None, 0.0


def _items(value: Any, name: str, errors: list[str]) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        errors.append(f"{name} is not a list")
        return []
    items: list[Mapping[str, Any]] = []
    for i, item in enumerate(value, start=1):
        if isinstance(item, dict):
            items.append(item)
        else:
            errors.append(f"{name} entry {i} is not an object")
    return items


def _check_summary(value: Any, context: _Context, part: _Part, tolerance: float) -> CheckResult:
    errors: list[str] = []
    if not isinstance(value, dict):
        return None, ["the summary is not an object with a title and a text"]
    title = _text_field(value.get("title"), "the title", errors)
    text = _text_field(value.get("text"), "the text", errors)
    return (None, errors) if errors else (Summary(title=title, text=text), [])


def _check_action_items(
    value: Any, context: _Context, part: _Part, tolerance: float
) -> CheckResult:
    errors: list[str] = []
    items: list[ActionItem] = []
    for i, item in enumerate(_items(value, "action_items", errors), start=1):
        where = f"action item {i}"
        text = _text_field(item.get("text"), f"{where}: the text", errors)
        owner = _optional_text(item.get("owner"), f"{where}: the owner", errors)
        due = _optional_text(item.get("due"), f"{where}: the due date", errors)
        segment, timestamp = _check_anchor(item, where, context, part, tolerance, errors)
        try:  # the owner rule shared with the local engine: a person, never a bare label
            owner = resolve_owner(
                owner,
                context.speakers,
                context.names,
                speaker=segment.speaker if segment else None,
                named=context.owner,
            )
        except UnknownOwnerError as exc:
            errors.append(f"{where}: {exc}")
        if segment is not None and text:
            items.append(
                ActionItem(
                    text=text,
                    timestamp=timestamp,
                    segment_id=segment.id,
                    speaker=segment.speaker,
                    owner=owner,
                    due=due,
                )
            )
    return (None, errors) if errors else (ActionItems(tuple(items)), [])


def _check_key_points(value: Any, context: _Context, part: _Part, tolerance: float) -> CheckResult:
    errors: list[str] = []
    points: list[KeyPoint] = []
    for i, item in enumerate(_items(value, "key_points", errors), start=1):
        where = f"key point {i}"
        text = _text_field(item.get("text"), f"{where}: the text", errors)
        segment, timestamp = _check_anchor(item, where, context, part, tolerance, errors)
        if segment is not None and text:
            points.append(KeyPoint(text=text, timestamp=timestamp, segment_id=segment.id))
    return (None, errors) if errors else (KeyPoints(tuple(points)), [])


def _check_sentiment(value: Any, context: _Context, part: _Part, tolerance: float) -> CheckResult:
    errors: list[str] = []
    if not isinstance(value, dict):
        return None, ["the sentiment is not an object"]
    label = _check_label(value.get("label"), "the label", errors)
    score = _check_score(value.get("score"), "the score", errors)
    explanation = _optional_text(value.get("explanation"), "the explanation", errors) or ""
    speakers: list[SpeakerSentiment] = []
    seen: set[str] = set()
    for i, item in enumerate(_items(value.get("speakers", []), "speakers", errors), start=1):
        where = f"speaker entry {i}"
        name = item.get("speaker")
        speaker = context.speaker_label(name) if isinstance(name, str) else None
        if speaker is None:
            known = ", ".join(context.display(label) for label in context.speakers)
            errors.append(
                f"{where}: {name!r} is not a speaker of the transcript (speakers: {known})"
            )
        elif speaker in seen:
            errors.append(f"{where}: {context.display(speaker)} is listed twice")
        speaker_label = _check_label(item.get("label"), f"{where}: the label", errors)
        speaker_score = _check_score(item.get("score"), f"{where}: the score", errors)
        if speaker is not None and speaker not in seen:
            seen.add(speaker)
            speakers.append(SpeakerSentiment(speaker, speaker_label, speaker_score))
    if errors:
        return None, errors
    return Sentiment(label, score, tuple(speakers), explanation), []


_CHECKS: dict[AnalysisKind, Callable[[Any, _Context, _Part, float], CheckResult]] = {
    AnalysisKind.SUMMARY: _check_summary,
    AnalysisKind.ACTION_ITEMS: _check_action_items,
    AnalysisKind.KEY_POINTS: _check_key_points,
    AnalysisKind.SENTIMENT: _check_sentiment,
}
