"""What every child process the adapters start (ffmpeg, engine processes) shares."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:
        return None


_PRCTL = _prctl()


def die_with_parent() -> None:
    """In a child (a ``preexec_fn``): get SIGKILL when the process that started it dies
    (Linux; elsewhere the callers' time limits still bound it), so nothing outlives a
    killed worker."""
    if _PRCTL is not None:
        with contextlib.suppress(OSError):
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


__all__ = ["die_with_parent"]
