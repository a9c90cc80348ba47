"""The prompts: the system instruction, each part's request, corrections, and the merge of
the part summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.genai import types

from elyune_adapters.analysis.gemini.parts import _Context, _line, _Part
from elyune_core.entities import (
    AnalysisKind,
    Summary,
)

_SYSTEM = """\
You analyse transcripts of recorded meetings and screen recordings.
Answer only with JSON that follows the response schema.
Base every statement on the transcript; never invent facts, people, dates or numbers.
Each transcript line reads: [segment id] start-end (seconds) speaker: text.
Every segment_id you give must be the id of the segment the statement comes from, and
every timestamp must be the start time in seconds of that segment or a moment inside it.
Refer to speakers by the names shown in the transcript."""


_TASKS = {
    AnalysisKind.SUMMARY: (
        "summary: a short title (at most 10 words) and one paragraph summarising what "
        "was discussed and decided."
    ),
    AnalysisKind.ACTION_ITEMS: (
        "action_items: every task someone committed to or was asked to do. text says what "
        "is to be done; owner is the speaker name or the person named in the transcript who "
        "should do it (null if nobody is named); due is the deadline as it was said (null "
        "if none); segment_id and timestamp point at where it was said. An empty list if "
        "there are none."
    ),
    AnalysisKind.KEY_POINTS: (
        "key_points: the main points, decisions and facts, in order, each with the "
        "segment_id and timestamp where it was said."
    ),
    AnalysisKind.SENTIMENT: (
        "sentiment: the overall tone. label is one of positive, neutral, negative or mixed; "
        "score runs from -1 (very negative) to 1 (very positive); explanation is one "
        "sentence; speakers gives the label and score of each speaker, by name."
    ),
}


def _language_rule(context: _Context) -> str:
    if context.language:
        return (
            "Write every text value in the language of the transcript "
            f"(language code {context.language}), whatever the language of these instructions."
        )
    return (
        "Write every text value in the language the transcript is spoken in, whatever the "
        "language of these instructions."
    )


def _speaker_list(context: _Context) -> str:
    if not context.speakers:
        return "not identified"
    return ", ".join(f"{context.display(label)} (label {label})" for label in context.speakers)


def _part_prompt(context: _Context, part: _Part, kinds: Sequence[AnalysisKind]) -> str:
    lines = []
    if context.title:
        lines.append(f"Recording title: {context.title}")
    lines.append(f"Recording length: {context.duration:.2f} seconds")
    lines.append(f"Speakers: {_speaker_list(context)}")
    if part.count > 1:
        first, last = part.segments[0], part.segments[-1]
        lines.append(
            f"This is part {part.index + 1} of {part.count} of a long transcript "
            f"(segments {first.id} to {last.id}); analyse this part only."
        )
    lines.append(_language_rule(context))
    lines.append("")
    lines.append("Tasks:")
    lines.extend(f"- {_TASKS[kind]}" for kind in kinds)
    lines.append("")
    lines.append("Transcript:")
    lines.extend(_line(context, segment) for segment in part.segments)
    return "\n".join(lines)


def _merge_prompt(context: _Context, summaries: Sequence[Summary]) -> str:
    lines = [
        f"These are the summaries of the {len(summaries)} consecutive parts of one "
        "recording, in order.",
        "Write the summary of the whole recording: a short title (at most 10 words) and "
        "one paragraph.",
        _language_rule(context),
    ]
    if context.title:
        lines.append(f"Recording title: {context.title}")
    lines.append("")
    for i, summary in enumerate(summaries, start=1):
        lines.append(f"Part {i}: {summary.title}")
        lines.append(summary.text)
        lines.append("")
    return "\n".join(lines).rstrip()


def _correction_prompt(
    problems: Mapping[AnalysisKind, Sequence[str]], kinds: Sequence[AnalysisKind]
) -> str:
    lines = ["Your answer cannot be used because of these problems:"]
    for kind in kinds:
        lines.extend(f"- {kind.value}: {problem}" for problem in problems[kind])
    lines.append("")
    lines.append(
        "Answer again with the complete, corrected JSON for: "
        + ", ".join(kind.value for kind in kinds)
        + ". Use only segment ids that appear in the transcript, timestamps inside those "
        "segments, and owners who are speakers or people named in the transcript."
    )
    return "\n".join(lines)


def _turn(role: str, text: str) -> types.Content:
    return types.Content(role=role, parts=[types.Part(text=text)])
