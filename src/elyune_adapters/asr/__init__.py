"""Speech-to-text adapters (the ``Transcriber`` port).

``WhisperTranscriber`` runs an embedded faster-whisper model on the CPU. Names are
imported lazily so that importing this package does not load faster-whisper.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elyune_adapters.asr.whisper import WhisperTranscriber, resolve_model

_LAZY = {
    "WhisperTranscriber": "elyune_adapters.asr.whisper",
    "resolve_model": "elyune_adapters.asr.whisper",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["WhisperTranscriber", "resolve_model"]
