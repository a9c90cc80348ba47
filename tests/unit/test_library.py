"""The library's promises: its public names, its purity, and the documented example."""

from __future__ import annotations

import ast
import contextlib
import io
import re
import sys
from pathlib import Path

import elyune_core

ROOT = Path(__file__).resolve().parents[2]


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022 order)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_public_names_are_sorted_and_importable():
    assert elyune_core.__all__ == sorted(elyune_core.__all__, key=_isort_key)
    for name in elyune_core.__all__:
        assert getattr(elyune_core, name) is not None


def test_public_classes_and_functions_have_docstrings():
    missing = [
        name
        for name in elyune_core.__all__
        if callable(getattr(elyune_core, name))
        and isinstance(getattr(elyune_core, name), type | type(len) | type(test_library_example))
        and not (getattr(elyune_core, name).__doc__ or "").strip()
    ]
    assert missing == []


def test_the_core_imports_only_the_standard_library_and_attrs():
    allowed = set(sys.stdlib_module_names) | {"attrs", "elyune_core"}
    offenders = []
    for path in (ROOT / "src" / "elyune_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert offenders == []


def test_library_example():
    """The example in docs/library.md runs as written."""
    text = (ROOT / "docs" / "library.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/library.md", "exec"), {"__name__": "__main__"})  # noqa: S102
    lines = out.getvalue().splitlines()
    assert lines[0] == "ready"
    assert lines[1] == "I will ship it by Friday!"
    assert "action_items" in lines[2]
