"""Run the ``elyune`` CLI in-process against a fresh data folder."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from typer.testing import CliRunner

from elyune_cli import app


@attrs.frozen
class Cli:
    """Invoke ``elyune`` with an isolated data folder (and extra environment)."""

    data_dir: Path
    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None, **env: str):
        runner = CliRunner()
        environment = {"ELYUNE_DATA_DIR": str(self.data_dir), **self.env, **env}
        return runner.invoke(app, list(args), input=input, env=environment)

    def json(self, *args: str, **env: str):
        result = self(*args, **env)
        assert result.exit_code in (0, 1), result.output
        return result, json.loads(result.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data", {"WHISPER_MODEL": "base"})
