"""API benchmark: one API process, 100 users, 10,000 recordings for the measured user.

Starts `elyune serve` in its own process (embedded SQLite by default, or PostgreSQL with
`--database-url`), seeds the rows, then drives three routes from a separate process
with wrk (32 connections, 20 s each, after a short warm-up):

- GET  /api/v1/recordings/          (first page of the 10,000, with count)
- GET  /api/v1/recordings/{id}/     (one recording with signed URLs)
- POST /api/v1/recordings/request-upload/

It also uploads 1 GB through an embedded presigned URL and reports how much the API's
RSS grew. Targets: >= 1,500 requests/s and p99 < 50 ms on list and detail; the 1 GB
upload raises RSS by < 50 MB. Writes its section of docs/benchmarks.md.

    python bench/api.py [--runs 3] [--duration 20] [--postgres | --database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

PASSWORD = "bench password 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(env: dict[str, str], recordings: int, users: int) -> str:
    """Create the users and recordings; return the id of one of the measured user's."""
    os.environ.update(env)
    from elyune_adapters.container import create_container, resolve
    from elyune_adapters.settings import load_settings
    from elyune_core import Recording, RecordingId, RecordingStatus, UserId
    from elyune_core.use_cases import CreateUserInput

    settings = load_settings(env)
    container = create_container(settings)
    await resolve(container.init_resources())
    if not settings.database.is_sqlite:
        await (await resolve(container.schema())).upgrade()
    create = await resolve(container.create_user())
    owner = await create.execute(CreateUserInput("bench", PASSWORD))
    for n in range(users - 1):
        await create.execute(CreateUserInput(f"other{n}", None))
    uow = await resolve(container.uow())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    first = ""
    for batch in range(0, recordings, 1000):
        async with uow() as tx:
            for n in range(batch, min(batch + 1000, recordings)):
                rid = f"00000000-0000-4000-8000-{n:012d}"
                first = first or rid
                when = start + timedelta(seconds=n)
                await tx.recordings.add(
                    Recording(
                        id=RecordingId(rid),
                        owner_id=UserId(owner.id),
                        title=f"Weekly sync {n}",
                        filename="meeting.webm",
                        source_key=f"recordings/{owner.id}/{rid}/source.webm",
                        status=RecordingStatus.AWAITING_UPLOAD,
                        created_at=when,
                        updated_at=when,
                        file_size=10_485_760,
                        quality="1080p",
                        fps=30,
                    )
                )
            await tx.commit()
    await resolve(container.shutdown_resources())
    return first


def wrk(url: str, token: str, duration: int, script: str | None = None) -> dict[str, float]:
    """Run wrk with 32 connections and return requests/s, p50 and p99 in ms."""
    args = [
        "wrk",
        "-t2",
        "-c32",
        f"-d{duration}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
    if script:
        args += ["-s", lua.name]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def call(base: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def upload_gigabyte(base: str, token: str, pid: int) -> tuple[float, float]:
    """PUT 1 GB through the embedded URL; return (peak RSS growth MB, seconds).

    The API's RSS is sampled every 20 ms during the upload (its VmHWM would include the
    load test run before).
    """
    import threading

    size = 1024 * 1024 * 1024
    ticket = call(
        base,
        "/api/v1/recordings/request-upload/",
        {"filename": "big.webm", "file_size": size},
        token,
    )
    before = rss_kb(pid, "VmRSS")
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid, "VmRSS"))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "big.webm"
        with source.open("wb") as handle:  # sparse: no disk, no memory
            handle.truncate(size)
        started = time.perf_counter()
        subprocess.run(
            [
                "curl",
                "-sS",
                "--fail",
                "-T",
                str(source),
                "-H",
                "Content-Type: video/webm",
                ticket["upload_url"],
            ],
            check=True,
        )
        seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return (peak[0] - before) / 1024, seconds


def run_once(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="elyune-api-bench-") as data:
        port = free_port()
        env = {
            **os.environ,
            "ELYUNE_DATA_DIR": data,
            "PORT": str(port),
            "ELYUNE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "RATE_LIMIT_PER_MINUTE": "100000000",
            "LOG_LEVEL": "warning",
        }
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        seeded = subprocess.run(
            [sys.executable, __file__, "--seed", "--recordings", str(args.recordings)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        detail_id = seeded.stdout.strip().splitlines()[-1]
        server = subprocess.Popen(
            [sys.executable, "-m", "elyune_cli", "serve"], env=env, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    call(base, "/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            token = call(base, "/api/token/", {"username": "bench", "password": PASSWORD})["access"]
            listing = call(base, "/api/v1/recordings/", token=token)
            assert listing["count"] == args.recordings, listing["count"]
            results: dict[str, object] = {}
            body = json.dumps(
                {"filename": "meeting.webm", "file_size": 1048576, "quality": "1080p", "fps": 30}
            )
            post = f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
            targets = {
                "list": (f"{base}/api/v1/recordings/", None),
                "detail": (f"{base}/api/v1/recordings/{detail_id}/", None),
                "request_upload": (f"{base}/api/v1/recordings/request-upload/", post),
            }
            for name, (url, script) in targets.items():
                wrk(url, token, 2, script)  # warm-up
                results[name] = wrk(url, token, args.duration, script)
            idle_rss = rss_kb(server.pid, "VmRSS") / 1024
            growth, seconds = upload_gigabyte(base, token, server.pid)
            results["upload"] = {
                "rss_growth_mb": growth,
                "seconds": seconds,
                "idle_rss_mb": idle_rss,
            }
            return results
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--recordings", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use a fresh database on the PostgreSQL server at 127.0.0.1:5432",
    )
    parser.add_argument("--seed", action="store_true")
    args = parser.parse_args()
    if args.seed:
        env = dict(os.environ)
        print(asyncio.run(seed(env, args.recordings, 100)))
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    runs = []
    for n in range(args.runs):
        print(f"run {n + 1}/{args.runs}", flush=True)
        if args.postgres:
            name = f"elyune_api_bench_{os.getpid()}_{n}"
            admin = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c"]
            subprocess.run([*admin, f'CREATE DATABASE "{name}"'], check=True)
            args.database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
            try:
                runs.append(run_once(args))
            finally:
                subprocess.run(
                    [*admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True
                )
        else:
            runs.append(run_once(args))
    database = "PostgreSQL" if args.database_url else "SQLite (embedded)"
    lines = [
        f"## API ({database})",
        "",
        f"Machine: {_report.machine()}. `python bench/api.py --runs {args.runs}"
        f"{' --database-url ...' if args.database_url else ''}`: one `elyune serve` process "
        f"(uvloop), 100 users, {args.recordings:,} recordings for the measured user; wrk in "
        f"a separate process, 2 threads, 32 connections, {args.duration} s per route after "
        f"a 2 s warm-up; medians of {args.runs} runs. Rate limits lifted for the run.",
        "",
        "| route | requests/s | p50 | p99 | non-2xx |",
        "|---|---|---|---|---|",
    ]
    for name, label in (
        ("list", "`GET /api/v1/recordings/` (page 1 of 10,000, with count)"),
        ("detail", "`GET /api/v1/recordings/{id}/`"),
        ("request_upload", "`POST /api/v1/recordings/request-upload/` (inserts a row)"),
    ):
        rps = _report.median([r[name]["rps"] for r in runs])
        p50 = _report.median([r[name]["p50"] for r in runs])
        p99 = _report.median([r[name]["p99"] for r in runs])
        errors = max(r[name]["errors"] for r in runs)
        lines.append(f"| {label} | {rps:,.0f} | {p50:.1f} ms | {p99:.1f} ms | {errors:.0f} |")
    growth = _report.median([r["upload"]["rss_growth_mb"] for r in runs])
    seconds = _report.median([r["upload"]["seconds"] for r in runs])
    idle = _report.median([r["upload"]["idle_rss_mb"] for r in runs])
    lines += [
        "",
        f"1 GB upload through the embedded presigned PUT (curl, RSS sampled every 20 ms): "
        f"API RSS grew by **{growth:.1f} MB** at its peak (from {idle:.0f} MB; target < 50 MB), "
        f"{seconds:.1f} s ({1024 / seconds:.0f} MB/s).",
        "",
        "Targets: >= 1,500 requests/s with p99 < 50 ms on list and detail. wrk and the API "
        "share the machine's 2 cores.",
    ]
    _report.write_section("api-postgres" if args.database_url else "api", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
