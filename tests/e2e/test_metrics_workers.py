"""``/metrics`` under ``elyune serve --workers 2``: whichever process answers a scrape,
the HTTP series count every process's requests (prometheus_client's multi-process
mode, in a folder ``serve`` sets up), and the queue series are Redis's."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REDIS_URL, reset_schema
from tests.e2e.test_serve_workers import _env, _free_port

TOKEN = "metrics-token-for-the-workers-test"


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "elyune_http_requests":
            return sum(
                s.value
                for s in family.samples
                if s.name.endswith("_total") and s.labels["route"] == "/healthz"
            )
    raise AssertionError("no elyune_http_requests in the scrape")


def _gauge(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return family.samples[0].value
    raise AssertionError(f"no {name} in the scrape")


async def test_every_process_scrape_counts_all_processes_requests(tmp_path, pg_database):
    await reset_schema(pg_database)
    port = _free_port()
    env = _env(
        tmp_path,
        PORT=str(port),
        DATABASE_URL=pg_database,
        REDIS_URL=REDIS_URL,
        ELYUNE_QUEUE_NAME=f"test-metrics-{uuid.uuid4().hex[:8]}",
        METRICS_TOKEN=TOKEN,
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cli = [sys.executable, "-m", "elyune_cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([*cli, "serve", "--workers", "2"], env=env, stderr=log)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        connector = aiohttp.TCPConnector(force_close=True)  # the kernel spreads them
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(600):
                try:
                    async with session.get(f"{base}/readyz") as ready:
                        if ready.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                await asyncio.sleep(0.2)
            answered: set[str] = set()
            sent = 0
            for _ in range(600):  # until both processes answered a health check
                async with session.get(f"{base}/healthz") as health:
                    answered.add(health.headers["X-Request-ID"][:8])
                    sent += 1
                if len(answered) == 2 and sent >= 20:
                    break
            assert len(answered) == 2

            scraped: set[str] = set()
            for _ in range(200):  # until both processes answered a scrape
                async with session.get(f"{base}/metrics", headers=auth) as scrape:
                    assert scrape.status == 200
                    text = await scrape.text()
                    scraped.add(scrape.headers["X-Request-ID"][:8])
                assert _healthz_count(text) == sent
                assert _gauge(text, "elyune_queue_up") == 1
                if len(scraped) == 2:
                    break
            assert len(scraped) == 2
            async with session.get(f"{base}/metrics") as anonymous:
                assert anonymous.status == 401
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    assert server.returncode == 0
