"""``elyune serve --workers N``: several processes on one port, with what was per process
(rate limits, listing totals) correct across them; refused without Redis."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from elyune_adapters.ratelimit import PipelinedRedisRateLimiter, RedisRateLimiter
from elyune_core import RateLimitedError, ServiceUnavailableError
from tests.conftest import REDIS_URL, reset_schema

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "kinds",
    [
        (RedisRateLimiter, RedisRateLimiter),
        (PipelinedRedisRateLimiter, PipelinedRedisRateLimiter),
        (PipelinedRedisRateLimiter, RedisRateLimiter),  # both count the same hits
    ],
)
async def test_redis_rate_limits_are_shared_by_every_limiter(kinds):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first = kinds[0](REDIS_URL, 3, 60.0, prefix=prefix)  # as two processes would
    second = kinds[1](REDIS_URL, 3, 60.0, prefix=prefix)
    try:
        await first.hit("token:ip:1")
        await second.hit("token:ip:1")
        await first.hit("token:ip:1", "token:user:a")
        with pytest.raises(RateLimitedError) as refused:
            await second.hit("token:ip:1")
        assert 0 < refused.value.retry_after <= 60
        await second.hit("token:ip:2")  # another key has its own budget
    finally:
        await first.close()
        await second.close()


async def test_pipelined_hits_of_one_loop_turn_are_counted_exactly():
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    limiter = PipelinedRedisRateLimiter(REDIS_URL, 50, 60.0, prefix=prefix)
    try:
        # 80 checks written together: exactly 50 pass, 30 are refused
        results = await asyncio.gather(
            *(limiter.hit("upload:user:u") for _ in range(80)), return_exceptions=True
        )
        assert sum(r is None for r in results) == 50
        assert all(isinstance(r, RateLimitedError) for r in results if r is not None)
    finally:
        await limiter.close()


async def test_the_pipelined_limiter_reports_redis_down_then_reconnects():
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]  # nothing listens there once closed
    down = PipelinedRedisRateLimiter(f"redis://127.0.0.1:{dead}/0", 3, 60.0, prefix=prefix)
    with pytest.raises(ServiceUnavailableError):
        await down.hit("token:ip:1")
    limiter = PipelinedRedisRateLimiter(REDIS_URL, 3, 60.0, prefix=prefix)
    try:
        await limiter.hit("token:ip:1")
        assert limiter._conn is not None
        limiter._conn.close()  # the server closed it, say
        await asyncio.sleep(0)
        await limiter.hit("token:ip:1")  # a new connection, the same count
        await limiter.hit("token:ip:1")
        with pytest.raises(RateLimitedError):
            await limiter.hit("token:ip:1")
    finally:
        await limiter.close()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ELYUNE_", "POSTGRES_", "MINIO_", "REDIS_", "DATABASE_", "PORT"))
    }
    return {
        **clean,
        "PYTHONPATH": str(ROOT / "src"),
        "ELYUNE_DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "WHISPER_MODEL": "tiny.en",
        "JWT_SECRET_KEY": "workers-test-secret-abcdefghijklmnopqrstuvwxyz",
        **extra,
    }


def test_workers_are_refused_without_redis(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "elyune_cli", "serve", "--workers", "2"],
        env=_env(tmp_path, PORT=str(_free_port())),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "--workers needs REDIS_URL" in run.stderr


async def test_several_processes_share_rate_limits_and_listing_totals(tmp_path, pg_database):
    await reset_schema(pg_database)
    port = _free_port()
    env = _env(
        tmp_path,
        PORT=str(port),
        DATABASE_URL=pg_database,
        REDIS_URL=REDIS_URL,
        ELYUNE_QUEUE_NAME=f"test-workers-{uuid.uuid4().hex[:8]}",
        RATE_LIMIT_PER_MINUTE="6",
    )
    cli = [sys.executable, "-m", "elyune_cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run(
        [*cli, "users", "create", "alice", "--password-stdin"],
        input=PASSWORD,
        text=True,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([*cli, "serve", "--workers", "2"], env=env, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        # Fresh connections (no keep-alive) so the kernel spreads them over the processes.
        async def fresh() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))

        session = await fresh()
        async with session:
            for _ in range(600):
                try:
                    async with session.get(f"{base}/readyz") as ready:
                        if ready.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                await asyncio.sleep(0.2)
            pids: set[str] = set()  # the id prefix of each process that answered
            for _ in range(600):  # until both processes answer (the second may be slower)
                async with session.get(f"{base}/healthz") as health:
                    pids.add(health.headers["X-Request-ID"][:8])
                if len(pids) == 2:
                    break
                await asyncio.sleep(0.1)
            assert len(pids) == 2, pids

            async with session.post(
                f"{base}/api/token/", json={"username": "alice", "password": PASSWORD}
            ) as login:
                assert login.status == 200
                auth = {"Authorization": f"Bearer {(await login.json())['access']}"}
            # The listing's total right after each new recording, whichever process
            # took the new one and whichever answers the listing.
            for n in range(1, 6):
                async with session.post(
                    f"{base}/api/v1/recordings/request-upload/",
                    json={"filename": "a.webm", "file_size": 10},
                    headers=auth,
                ) as created:
                    assert created.status == 201
                async with session.get(f"{base}/api/v1/recordings/", headers=auth) as page:
                    assert (await page.json())["count"] == n
            # 6 uploads a minute for this user, counted across both processes: 5 were
            # taken above, one more is allowed, then 429.
            statuses = []
            for _ in range(3):
                async with session.post(
                    f"{base}/api/v1/recordings/request-upload/",
                    json={"filename": "a.webm", "file_size": 10},
                    headers=auth,
                ) as response:
                    statuses.append(response.status)
            assert statuses == [201, 429, 429]
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    assert server.returncode == 0
