"""Shared by the benchmark scripts: machine facts, medians, and docs/benchmarks.md sections."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by the scripts in `bench/` (`make bench` runs them all); each script rewrites
its own section. Figures are medians over several runs on the machine named in each
section. Nothing here is asserted by the tests: timings live here, not in `make test`.
"""


def machine() -> str:
    """One line about this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, "
        f"{dt.date.today().isoformat()}"
    )


def median(values: list[float]) -> float:
    """The median of *values*."""
    return statistics.median(values) if values else float("nan")


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section *name* of docs/benchmarks.md with *body*."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    text = REPORT.read_text() if REPORT.exists() else HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{block}\n"
    )
    REPORT.write_text(text)
