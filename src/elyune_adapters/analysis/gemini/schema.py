"""The response schema that constrains Gemini's JSON to the requested kinds."""

from __future__ import annotations

from collections.abc import Sequence

from google.genai import types

from elyune_core.entities import (
    AnalysisKind,
    SentimentLabel,
)

_LABELS = tuple(label.value for label in SentimentLabel)


_KIND_NAMES = {
    AnalysisKind.SUMMARY: "summary",
    AnalysisKind.ACTION_ITEMS: "action items",
    AnalysisKind.KEY_POINTS: "key points",
    AnalysisKind.SENTIMENT: "sentiment",
}


def _string(description: str, *, nullable: bool = False) -> types.Schema:
    return types.Schema(
        type=types.Type.STRING, description=description, nullable=True if nullable else None
    )


def _score(description: str) -> types.Schema:
    return types.Schema(type=types.Type.NUMBER, description=description, minimum=-1.0, maximum=1.0)


def _label() -> types.Schema:
    return types.Schema(type=types.Type.STRING, enum=list(_LABELS))


def _anchor() -> dict[str, types.Schema]:
    return {
        "segment_id": types.Schema(
            type=types.Type.INTEGER, description="Id of the segment it comes from."
        ),
        "timestamp": types.Schema(
            type=types.Type.NUMBER, description="Seconds from the start, inside that segment."
        ),
    }


def _object(properties: dict[str, types.Schema]) -> types.Schema:
    return types.Schema(
        type=types.Type.OBJECT,
        properties=properties,
        required=list(properties),
        property_ordering=list(properties),
    )


def _array(item: types.Schema) -> types.Schema:
    return types.Schema(type=types.Type.ARRAY, items=item)


def _kind_schema(kind: AnalysisKind) -> types.Schema:
    if kind is AnalysisKind.SUMMARY:
        return _object(
            {
                "title": _string("A short title."),
                "text": _string("One paragraph."),
            }
        )
    if kind is AnalysisKind.ACTION_ITEMS:
        return _array(
            _object(
                {
                    "text": _string("What is to be done."),
                    "owner": _string("Who should do it, if named.", nullable=True),
                    "due": _string("The deadline as said, if any.", nullable=True),
                    **_anchor(),
                }
            )
        )
    if kind is AnalysisKind.KEY_POINTS:
        return _array(_object({"text": _string("The point."), **_anchor()}))
    return _object(
        {
            "label": _label(),
            "score": _score("-1 very negative to 1 very positive."),
            "explanation": _string("One sentence."),
            "speakers": _array(
                _object(
                    {
                        "speaker": _string("The speaker's name as in the transcript."),
                        "label": _label(),
                        "score": _score("-1 very negative to 1 very positive."),
                    }
                )
            ),
        }
    )


def _schema(kinds: Sequence[AnalysisKind]) -> types.Schema:
    return _object({kind.value: _kind_schema(kind) for kind in kinds})
