"""Where request-upload spends its time: py-spy samples one `elyune serve` under wrk.

Seeds a fresh database (PostgreSQL with ``--postgres``, else embedded SQLite), starts one
API process, drives ``POST /api/v1/recordings/request-upload/`` with wrk (1 thread, 32
connections) and records the process with py-spy (a dev dependency) for ``--seconds``;
then writes the share of samples under each of the request's stages to its section of
docs/benchmarks.md. Needs wrk, and root or ptrace rights for py-spy.

    python bench/profile_api.py [--postgres] [--seconds 15]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report
import api

# Stages of the request, by the frame that marks them (inclusive share of samples).
STAGES = [
    ("handler and middlewares (the response's write apart)", "Application._handle"),
    ("authentication middleware and everything under it", "authentication (elyune_http"),
    ("the request-upload view", "request_upload (elyune_http"),
    ("rate limit check", "hit (elyune_"),
    ("the use case (sign URLs, insert the row)", "RequestUpload.execute"),
    ("SQL statements (SQLAlchemy or the native asyncpg path) and the driver", "Connection.execute"),
    ("opening the unit of work (connection checkout)", "UnitOfWork.__aenter__"),
    ("commit", "UnitOfWork.commit"),
    ("URL signing", "presign_"),
    ("writing the response (beside the handler)", "RequestHandler.finish_response"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--recordings", type=int, default=10_000)
    args = parser.parse_args()
    py_spy = Path(sys.executable).with_name("py-spy")
    with tempfile.TemporaryDirectory(prefix="elyune-profile-") as data:
        port = api.free_port()
        env = {
            **os.environ,
            "ELYUNE_DATA_DIR": data,
            "PORT": str(port),
            "ELYUNE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "RATE_LIMIT_PER_MINUTE": "100000000",
            "LOG_LEVEL": "warning",
        }
        name = f"elyune_profile_{os.getpid()}"
        admin = ["psql", "-qh", "127.0.0.1", "-U", "postgres", "-c"]
        if args.postgres:
            subprocess.run([*admin, f'CREATE DATABASE "{name}"'], check=True)
            env["DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        server = None
        try:
            subprocess.run(
                [sys.executable, api.__file__, "--seed", "--recordings", str(args.recordings)],
                env=env,
                check=True,
                capture_output=True,
            )
            server = subprocess.Popen(
                [sys.executable, "-m", "elyune_cli", "serve", "--workers", "1"],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            api._wait_up(f"{base}/healthz", server)
            token = api.call(base, "/api/token/", {"username": "bench", "password": api.PASSWORD})
            body = json.dumps(
                {
                    "filename": "bench-recording.webm",
                    "file_size": 10485760,
                    "quality": "1080p",
                    "fps": 30,
                    "has_system_audio": True,
                    "has_microphone": False,
                }
            )
            script = (
                f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
                lua.write(script)
            load = subprocess.Popen(
                [
                    "wrk",
                    "-t1",
                    "-c32",
                    f"-d{args.seconds + 5}s",
                    "-s",
                    lua.name,
                    "-H",
                    f"Authorization: Bearer {token['access']}",
                    f"{base}/api/v1/recordings/request-upload/",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(3)
            raw = Path(data) / "profile.txt"
            subprocess.run(
                [
                    str(py_spy),
                    "record",
                    "-p",
                    str(server.pid),
                    "-d",
                    str(args.seconds),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                ],
                check=True,
                capture_output=True,
            )
            out = load.communicate()[0]
            os.unlink(lua.name)
            stacks = raw.read_text().splitlines()
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            if args.postgres:
                subprocess.run([*admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    shares: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks:
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for label, marker in STAGES:
            if marker in stack:
                shares[label] += int(count)
    database = "PostgreSQL" if args.postgres else "SQLite (embedded)"
    load_avg = Path("/proc/loadavg").read_text().split()[0]
    lines = [
        f"## request-upload profile ({database})",
        "",
        f"Machine: {_report.machine()}, 1-minute load {load_avg} (other agents were "
        f"running). `python bench/profile_api.py{' --postgres' if args.postgres else ''}`: "
        f"one `elyune serve` process under wrk (1 thread, 32 connections, {rps:,.0f} req/s "
        f"while sampled, py-spy slows it), {total:,} py-spy samples at 200 Hz over "
        f"{args.seconds} s. Share of all samples (idle loop included) under each stage; the view, the use case and SQL nest in the handler:",
        "",
        "| stage | samples |",
        "|---|---|",
    ]
    lines += [f"| {label} | {100 * shares[label] / max(total, 1):.1f} % |" for label, _ in STAGES]
    # The frames the samples were in (self time): system calls show up in the Python
    # frame that made them (a socket write in asyncpg's or aiohttp's writer).
    leaves: collections.Counter[str] = collections.Counter()
    for line in stacks:
        stack, _, count = line.rpartition(" ")
        leaves[stack.rsplit(";", 1)[-1] or "(idle)"] += int(count)
    lines += ["", "Top frames (self):", "", "| frame | samples |", "|---|---|"]
    lines += [
        f"| `{frame}` | {100 * n / max(total, 1):.1f} % |" for frame, n in leaves.most_common(8)
    ]
    _report.write_section(
        "api-profile-postgres" if args.postgres else "api-profile", "\n".join(lines)
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
