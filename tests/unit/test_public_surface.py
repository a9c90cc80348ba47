"""The core's public surface is fenced: what ``elyune_core`` exports is exactly what
docs/library.md lists, every public module says what it exports, the rest is private,
and the error tree in ``errors.py`` names every error."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import elyune_core
import elyune_core.errors
import elyune_core.use_cases
from elyune_adapters.settings import SettingsError
from elyune_core.errors import ElyuneError

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = {"entities", "errors", "ids", "ports", "use_cases"}


def _documented() -> set[str]:
    text = (ROOT / "docs" / "library.md").read_text()
    section = text.split("## Public names", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", section)) - {
        "elyune_core",
        "__all__",
        "entities",
        "errors",
        "ids",
        "ports",
        "use_cases",
        "_",
    }


def test_the_exported_names_are_exactly_the_documented_ones() -> None:
    exported = set(elyune_core.__all__)
    documented = _documented()
    assert exported - documented == set(), "exported but not documented"
    assert documented - exported == set(), "documented but not exported"
    for name in exported:
        assert getattr(elyune_core, name) is not None


def test_only_the_public_modules_have_public_names() -> None:
    modules = {m.name for m in pkgutil.iter_modules(elyune_core.__path__)}
    assert {m for m in modules if not m.startswith("_")} == PUBLIC_MODULES


def test_every_public_module_says_what_it_exports() -> None:
    names = [f"elyune_core.{m}" for m in sorted(PUBLIC_MODULES)] + [
        f"elyune_core.use_cases.{m.name}"
        for m in pkgutil.iter_modules(elyune_core.use_cases.__path__)
    ]
    for name in names:
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{name} has no __all__"
        missing = [n for n in exported if not hasattr(module, n)]
        assert missing == [], f"{name}.__all__ names what it does not have: {missing}"


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_the_error_tree_names_every_error() -> None:
    importlib.import_module("elyune_adapters.settings")
    tree = elyune_core.errors.__doc__ or ""
    errors = {
        c
        for c in _subclasses(ElyuneError)
        if c.__module__.startswith(("elyune_core", "elyune_adapters.settings"))
    }
    assert SettingsError in errors
    missing = sorted(c.__name__ for c in errors if not re.search(rf"\b{c.__name__}\b", tree))
    assert missing == []
