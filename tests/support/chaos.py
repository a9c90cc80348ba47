"""Outcomes of fault scenarios, for ``bench/chaos.py``."""

from __future__ import annotations

import json
import os
from pathlib import Path


def report(fault: str, **figures: object) -> None:
    """Append one scenario's outcome to the JSON-lines file ``ELYUNE_CHAOS_REPORT``
    names (nothing when it is unset: a plain test run)."""
    target = os.environ.get("ELYUNE_CHAOS_REPORT")
    if target:
        with Path(target).open("a") as out:
            out.write(json.dumps({"fault": fault, **figures}) + "\n")
