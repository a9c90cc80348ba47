"""The README's curl walk-through of the upload flow works as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("### Testing the upload flow with curl", 1)[1].split("```bash", 1)[1]
    block = block.split("```", 1)[0].replace("\\\n", " ")
    commands: list[str] = []
    current: list[str] | None = None
    for line in block.splitlines():
        text = line.strip()
        if text.startswith("curl "):
            current = [text]
            commands.append("")
        elif current is not None and text and not text.startswith(("#", "elyune")):
            current.append(text)  # a quoted body continued on the next line
        else:
            current = None
        if current is not None:
            commands[-1] = "\n".join(current)
    return commands


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "ELYUNE_DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "ELYUNE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WHISPER_MODEL": "tiny.en",
    }
    elyune = [sys.executable, "-m", "elyune_cli"]
    subprocess.run(
        [*elyune, "users", "create", "admin", "--password-stdin"],
        input="your_password\n",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    process = subprocess.Popen([*elyune, "serve"], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:  # pragma: no cover
        process.kill()
        pytest.fail(f"the API did not start: {process.stderr.read().decode()[-2000:]}")
    yield port
    process.terminate()
    process.wait(timeout=15)


def test_the_curl_walk_through(server):
    assert shutil.which("curl"), "curl is needed for this test"
    commands = _commands()
    assert len(commands) == 7
    values: dict[str, str] = {}

    def run(command: str) -> str:
        command = command.replace("127.0.0.1:8000", f"127.0.0.1:{server}")
        for placeholder, value in values.items():
            command = command.replace(placeholder, value)
        done = subprocess.run(
            ["bash", "-c", f"{command} --fail-with-body -sS --max-time 120"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        return done.stdout

    token = json.loads(run(commands[0]))
    values["YOUR_TOKEN"] = token["access"]
    ticket = json.loads(run(commands[1]))
    values["PRESIGNED_URL_FROM_RESPONSE"] = ticket["upload_url"]
    values["RECORDING_ID"] = ticket["recording_id"]
    values["S3_KEY_FROM_RESPONSE"] = ticket["s3_key"]
    run(commands[2])
    done = json.loads(run(commands[3]))
    assert done["queued"] is True
    events = run(commands[4])
    assert "event: done" in events
    assert '"status":"ready"' in events
    detail = json.loads(run(commands[5]))
    assert detail["status"] == "ready"
    assert "release notes" in detail["transcript"]["text"].lower()
    srt = run(commands[6])
    assert re.search(r"\d\d:\d\d:\d\d,\d{3} --> ", srt)
