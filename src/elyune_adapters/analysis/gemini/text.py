"""Word-level helpers shared by the Gemini package."""

from __future__ import annotations

import re


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _norm(value: str) -> str:
    return " ".join(_words(value.casefold()))
