"""A real ``elyune serve`` process on a free loopback port, for tests from outside.

The browser tests and the serve tests use it: the server is started the way a user
starts it (the CLI, its own process), and it is reached over real sockets.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def free_port() -> int:
    """A TCP port nobody listens on now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.frozen
class LiveServer:
    """A running ``elyune serve`` and the environment it runs in."""

    url: str
    port: int
    env: Mapping[str, str]
    process: subprocess.Popen[str]
    log: Path

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``elyune ARGS`` against the server's data folder."""
        return subprocess.run(
            [sys.executable, "-m", "elyune_cli", *args],
            env=dict(self.env),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request to the server: status, headers and body."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            path if path.startswith("http") else self.url + path, data=data, method=method
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def user(self, name: str = "alice", password: str = PASSWORD) -> dict[str, str]:
        """Create a user with the CLI and log in: ``{"access", "refresh"}``."""
        created = self.cli("users", "create", name, "--password-stdin", input=password + "\n")
        assert created.returncode == 0, created.stderr
        return self.login(name, password)

    def login(self, name: str, password: str = PASSWORD) -> dict[str, str]:
        status, _, body = self.request(
            "POST", "/api/token/", {"username": name, "password": password}
        )
        assert status == 200, body
        tokens: dict[str, str] = json.loads(body)
        return tokens


@contextmanager
def live_server(
    data_dir: Path, *args: str, port: int | None = None, **env: str
) -> Iterator[LiveServer]:
    """Start ``elyune serve --port PORT ARGS`` and stop it on exit."""
    port = port or free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ELYUNE_", "PORT", "HOST"))},
        "PYTHONPATH": str(ROOT / "src"),
        "ELYUNE_DATA_DIR": str(data_dir),
        "WHISPER_MODEL": "tiny.en",
        "RATE_LIMIT_PER_MINUTE": "1000",
        **env,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "elyune_cli", "serve", "--port", str(port), *args],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", port, environment, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"elyune serve exited: {log.read_text()}")
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"elyune serve did not start: {log.read_text()}") from None
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            process.kill()
            process.wait()
