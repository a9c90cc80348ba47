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

With ``--reference DIR`` (the Django + DRF implementation of the seed's routes, see its
README) it instead runs that reference (gunicorn 2 workers x 4 threads) and ``elyune
serve --workers N`` (PostgreSQL, Redis) side by side on one PostgreSQL, in interleaved
rounds, with the reference's own ``load.sh`` (wrk 1 thread x 32 connections pinned to
CPU 1) against both, and writes the ratios with the absolute figures:

    python bench/api.py --reference ../shared/reference/drf [--rounds 5] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
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


async def seed(env: dict[str, str], recordings: int, users: int, others: int = 0) -> str:
    """Create the users and recordings (*others* for each other user, as the reference's
    seed makes 10); return the id of one of the measured user's."""
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
    other_users = [
        await create.execute(CreateUserInput(f"other{n}", None)) for n in range(users - 1)
    ]
    uow = await resolve(container.uow())
    if others:
        async with uow() as tx:
            for u, user in enumerate(other_users):
                for n in range(others):
                    rid = f"00000000-0000-4000-8001-{u:04d}{n:08d}"
                    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
                    await tx.recordings.add(
                        Recording(
                            id=RecordingId(rid),
                            owner_id=UserId(user.id),
                            title=f"Other {n}",
                            filename="meeting.webm",
                            source_key=f"recordings/{user.id}/{rid}/source.webm",
                            status=RecordingStatus.AWAITING_UPLOAD,
                            created_at=when,
                            updated_at=when,
                            file_size=10_485_760,
                        )
                    )
            await tx.commit()
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


REF_VENV = Path("/tmp/drf-ref/venv")
ROUTES = ("list", "detail", "request_upload")


def _results(output: str, side: str, round_: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for line in output.splitlines():
        if line.startswith("RESULT "):
            row: dict[str, object] = dict(kv.split("=", 1) for kv in line.split()[1:])
            row.update(side=side, round=round_)
            rows.append(row)
    return rows


def _wait_up(url: str, process: subprocess.Popen | None = None, tries: int = 600) -> None:
    for _ in range(tries):
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (401 for an API route)
        except OSError:
            if process is not None and process.poll() is not None:
                sys.exit(f"the server exited with {process.returncode}")
            time.sleep(0.2)
    sys.exit(f"{url} did not answer")


def compare(args: argparse.Namespace) -> None:
    """Interleaved rounds of the DRF reference and Elyune on one PostgreSQL."""
    reference = Path(args.reference).resolve()
    python = REF_VENV / "bin" / "python"
    if not python.exists():
        sys.exit(
            f"the reference needs its venv: python3 -m venv {REF_VENV} && "
            f"{REF_VENV}/bin/pip install -r {reference}/requirements.txt"
        )
    tag = os.getpid()
    drf_db, elyune_db = f"drf_ab_{tag}", f"elyune_ab_{tag}"
    admin = ["psql", "-qh", "127.0.0.1", "-U", "postgres", "-c"]
    for name in (drf_db, elyune_db):
        subprocess.run([*admin, f'CREATE DATABASE "{name}"'], check=True)
    logs = Path(tempfile.mkdtemp(prefix="elyune-ab-"))
    ref_env = {
        **os.environ,
        "POSTGRES_DB": drf_db,
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
        "POSTGRES_HOST": "127.0.0.1",
        "VENV": str(REF_VENV),
    }
    drf_port, elyune_port = free_port(), free_port()
    workers = args.workers or os.cpu_count() or 1
    elyune_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")},
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{elyune_db}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "ELYUNE_QUEUE_NAME": f"elyune-ab-{tag}",
        "PORT": str(elyune_port),
        "ELYUNE_PUBLIC_URL": f"http://127.0.0.1:{elyune_port}",
        "RATE_LIMIT_PER_MINUTE": "100000000",
        "LOG_LEVEL": "warning",
        "JWT_SECRET_KEY": "ab-secret-abcdefghijklmnopqrstuvwxyz0123",
        "ELYUNE_DATA_DIR": str(logs / "elyune-data"),
    }
    drf = elyune = None
    rows: list[dict[str, object]] = []
    loads: list[str] = [Path("/proc/loadavg").read_text().split()[0]]  # before round 1
    try:
        seed_ref = [str(python), "manage.py", "seed"]
        subprocess.run(
            [str(python), "manage.py", "migrate", "-v0"], cwd=reference, env=ref_env, check=True
        )
        subprocess.run(seed_ref, cwd=reference, env=ref_env, check=True, capture_output=True)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--seed",
                "--recordings",
                str(args.recordings),
                "--others",
                "10",
            ],
            env=elyune_env,
            check=True,
            capture_output=True,
        )
        elyune_admin = ["psql", "-qh", "127.0.0.1", "-U", "postgres", "-d", elyune_db]
        # as the reference's seed ends: the count's index-only scan needs the visibility map
        subprocess.run([*elyune_admin, "-c", "VACUUM ANALYZE"], check=True, capture_output=True)
        drf = subprocess.Popen(
            ["./run.sh", str(drf_port), "gunicorn"],
            cwd=reference,
            env={**ref_env, "LOG": str(logs / "drf.log")},
            stdout=subprocess.PIPE,
            text=True,
        )
        drf_pid = int(drf.communicate(timeout=120)[0].strip().splitlines()[-1])
        elyune = subprocess.Popen(
            [sys.executable, "-m", "elyune_cli", "serve", "--workers", str(workers)],
            env=elyune_env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "elyune.log").open("w"),
        )
        _wait_up(f"http://127.0.0.1:{elyune_port}/healthz", elyune)
        sides = {
            "drf": (drf_port, "user0", "pw-0"),
            "elyune": (elyune_port, "bench", PASSWORD),
        }
        for round_ in range(1, args.rounds + 1):
            order = ("drf", "elyune") if round_ % 2 else ("elyune", "drf")
            for side in order:
                port, user, password = sides[side]
                out = subprocess.run(
                    ["./load.sh", str(port)],
                    cwd=reference,
                    check=True,
                    capture_output=True,
                    text=True,
                    env={
                        **os.environ,
                        "DURATION": str(args.duration),
                        "WARMUP": "2",
                        "LOAD_CPUS": "1",
                        "USER_NAME": user,
                        "USER_PASSWORD": password,
                        "LOGDIR": str(logs / side),
                    },
                ).stdout
                rows += _results(out, side, round_)
            loads.append(Path("/proc/loadavg").read_text().split()[0])
            print(f"round {round_}/{args.rounds} done (load {loads[-1]})", flush=True)
            if round_ < args.rounds:  # undo the reference's request-upload inserts (ab.sh)
                subprocess.run(
                    seed_ref, cwd=reference, env=ref_env, check=True, capture_output=True
                )
                # ... and Elyune's, so both list the same 10,000 recordings every round
                subprocess.run(
                    [
                        *elyune_admin,
                        "-c",
                        "DELETE FROM recordings WHERE id NOT LIKE '00000000-0000-4000-800%'",
                    ],
                    check=True,
                    capture_output=True,
                )
                subprocess.run(
                    [*elyune_admin, "-c", "VACUUM ANALYZE recordings"],
                    check=True,
                    capture_output=True,
                )
    finally:
        if elyune is not None:
            elyune.terminate()
            elyune.wait(timeout=60)
        if drf is not None:
            with contextlib.suppress(Exception):
                os.kill(drf_pid, signal.SIGTERM)
        time.sleep(1)
        for name in (drf_db, elyune_db):
            subprocess.run([*admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
    _write_comparison(args, rows, workers, loads)


def _write_comparison(
    args: argparse.Namespace, rows: list[dict[str, object]], workers: int, loads: list[str]
) -> None:
    def of(side: str, route: str, field: str) -> list[float]:
        return [float(r[field]) for r in rows if r["side"] == side and r["route"] == route]

    lines = [
        "## API against the Django + DRF reference (PostgreSQL)",
        "",
        f"Machine: {_report.machine()}. `python bench/api.py --reference "
        f"../shared/reference/drf --rounds {args.rounds} --duration {args.duration}`: the "
        "reference (Django 5.2 + DRF + simplejwt, gunicorn 2 workers x 4 threads, its "
        "README) and `elyune serve --workers "
        f"{workers}` (PostgreSQL, Redis for the shared rate limits; local object store) on "
        "the same PostgreSQL 15, same data (10,000 recordings for the measured user, 10 "
        "for each of 99 others, after VACUUM ANALYZE), driven by the reference's own `load.sh` (wrk 1 thread x 32 "
        f"connections pinned to CPU 1, {args.duration} s per route after a 2 s warm-up), "
        f"A B / B A interleaved over {args.rounds} rounds; between rounds the reference is "
        "re-seeded and Elyune's request-upload rows are deleted (both list 10,000 again). "
        "Medians; the ratio is the median of the per-round ratios (min-max).",
        "",
        f"1-minute load average before the first round: {loads[0]}; after each round: "
        f"{', '.join(loads[1:])} (on {os.cpu_count()} cores; other agents share the "
        "machine), so absolute figures are far below an idle machine's; both sides ran "
        "in the same minutes, round by round.",
        "",
        "| route | Django+DRF req/s | p99 | Elyune req/s | p99 | ratio (min-max) | non-2xx |",
        "|---|---|---|---|---|---|---|",
    ]
    labels = {
        "list": "`GET /api/v1/recordings/`",
        "detail": "`GET /api/v1/recordings/{id}/`",
        "request_upload": "`POST .../request-upload/`",
    }
    for route in ROUTES:
        ratios = []
        for round_ in range(1, args.rounds + 1):
            a = [
                float(r["rps"])
                for r in rows
                if r["round"] == round_ and r["route"] == route and r["side"] == "drf"
            ]
            b = [
                float(r["rps"])
                for r in rows
                if r["round"] == round_ and r["route"] == route and r["side"] == "elyune"
            ]
            if a and b and a[0] > 0:
                ratios.append(b[0] / a[0])
        bad = sum(int(r["non2xx"]) + int(r["sockerr"]) for r in rows if r["route"] == route)
        lines.append(
            f"| {labels[route]} | {_report.median(of('drf', route, 'rps')):,.0f} | "
            f"{_report.median(of('drf', route, 'p99_ms')):.0f} ms | "
            f"{_report.median(of('elyune', route, 'rps')):,.0f} | "
            f"{_report.median(of('elyune', route, 'p99_ms')):.0f} ms | "
            f"**{_report.median(ratios):.1f}x** ({min(ratios):.1f}-{max(ratios):.1f}) | {bad} |"
        )
    lines += ["", "Per-round lines (`RESULT` of `load.sh`):", "", "```"]
    lines += [
        " ".join(
            f"{k}={r[k]}" for k in ("side", "round", "route", "rps", "p50_ms", "p99_ms", "non2xx")
        )
        for r in rows
    ]
    lines.append("```")
    _report.write_section("api-reference", "\n".join(lines))
    print("\n".join(lines))


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
    parser.add_argument("--others", type=int, default=0, help="recordings per other user")
    parser.add_argument("--reference", help="the DRF reference's folder: compare with it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, help="Elyune's processes (default: cores)")
    args = parser.parse_args()
    if args.reference:
        if not shutil.which("wrk"):
            sys.exit("wrk is needed: apt-get install wrk")
        compare(args)
        return
    if args.seed:
        env = dict(os.environ)
        print(asyncio.run(seed(env, args.recordings, 100, args.others)))
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
