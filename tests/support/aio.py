"""Run a coroutine to completion from sync code, even under a running event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* in a fresh loop on a helper thread and return its result.

    Module- and session-scoped sync fixtures may be set up while an async test's loop is
    running (it depends on which tests run first); ``asyncio.run`` would fail there.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
