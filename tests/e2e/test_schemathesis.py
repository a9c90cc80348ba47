"""Schemathesis over the whole API: the OpenAPI document says what the server checks.

``elyune serve`` runs in a subprocess on the embedded defaults; ``st run`` (a dev
dependency) generates requests from ``/api/schema/`` for every operation, valid and
invalid, and applies all of its checks: no 5xx, answers as documented, every request
the schema allows accepted (``positive_data_acceptance``) and every one it forbids
refused (``negative_data_rejection``), ``Allow`` on unsupported methods, auth. The run
is bounded in time (``ST_MAX_TIME`` seconds) and must find nothing.

Webhook URLs are checked against their resolved addresses, which no schema can say,
so this server allows private addresses (``WEBHOOK_ALLOW_PRIVATE``): what is left to
check is the URL's form, which the document states as a pattern.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "ELYUNE_DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RATE_LIMIT_PER_MINUTE": "100000000",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WHISPER_MODEL": "tiny.en",
    }
    cli = [sys.executable, "-m", "elyune_cli"]
    subprocess.run(
        [*cli, "users", "create", "alice", "--password-stdin"],
        input=PASSWORD,
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([*cli, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"elyune serve exited: {(tmp_path / 'serve.log').read_text()}")
                time.sleep(0.2)
        yield base, tmp_path / "serve.log"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_schemathesis_finds_no_failure(server, tmp_path):
    base, log = server
    token = _post_json(f"{base}/api/token/", {"username": "alice", "password": PASSWORD})
    st = Path(sys.executable).with_name("st")
    command = [
        str(st),
        "run",
        f"{base}/api/schema/",
        "--header",
        f"Authorization: Bearer {token['access']}",
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("ST_MAX_EXAMPLES", "25"),
        "--max-time",
        os.environ.get("ST_MAX_TIME", "120"),
        "--workers",  # one: Python 3.11's ast.parse is not thread-safe (hypothesis uses it)
        "1",
        "--seed",
        os.environ.get("ST_SEED", "10"),
        "--request-timeout",
        "20",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-4000:]
    served = log.read_text()
    failed = [line for line in served.splitlines() if " 500 " in line or "Unhandled" in line]
    assert not failed, "\n".join(failed[:20])
