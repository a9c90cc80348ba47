"""Transcript analysis adapters (the ``Analyzer`` port).

``LocalAnalyzer`` is the local, extractive engine (no language model). Names are imported
lazily so that importing this package loads no engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elyune_adapters.analysis.local import LocalAnalyzer

_LAZY = {
    "LocalAnalyzer": "elyune_adapters.analysis.local",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LocalAnalyzer"]
