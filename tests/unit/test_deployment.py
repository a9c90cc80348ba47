"""docker-compose.yml and the Dockerfile describe the production deployment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    """The compose file, through `docker compose config` when the client has it."""
    docker = shutil.which("docker")
    if docker:
        done = subprocess.run(
            [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "JWT_SECRET_KEY": "x" * 40,
                "POSTGRES_PASSWORD": "p",
                "MINIO_SECRET_KEY": "m" * 8,
                "REDIS_PASSWORD": "r",
            },
            check=False,
        )
        if done.returncode == 0:
            return yaml.safe_load(done.stdout)
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_with_health_checks_and_volumes():
    compose = _compose()
    services = compose["services"]
    assert {"api", "worker", "db", "redis", "minio", "minio-setup"} <= set(services)
    assert services["db"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert "--appendonly yes" in " ".join(services["redis"]["command"])
    assert "--requirepass" in " ".join(services["redis"]["command"])
    for name in ("db", "redis"):  # not published beyond the host
        assert all(str(p).startswith("127.0.0.1:") for p in services[name].get("ports", []))
    for name in ("api", "db", "redis", "minio"):
        assert "healthcheck" in services[name], name
    assert {"postgres-data", "redis-data", "minio-data"} <= set(compose["volumes"])
    ports = {str(p) for p in services["api"]["ports"]}
    assert any("8000" in p for p in ports)
    setup = services["minio-setup"]
    assert setup["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb" in " ".join(setup["entrypoint"])


def test_api_and_worker_use_the_seeds_variable_names():
    compose = _compose()
    for name in ("api", "worker"):
        environment = compose["services"][name]["environment"]
        keys = set(
            environment if isinstance(environment, dict) else [e.split("=")[0] for e in environment]
        )
        assert {
            "POSTGRES_HOST",
            "POSTGRES_DB",
            "POSTGRES_USER",
            "POSTGRES_PASSWORD",
            "MINIO_ENDPOINT",
            "MINIO_ACCESS_KEY",
            "MINIO_SECRET_KEY",
            "MINIO_BUCKET_NAME",
            "AWS_S3_ENDPOINT_URL",
            "REDIS_URL",
            "JWT_SECRET_KEY",
            "DEEPGRAM_API_KEY",
            "GEMINI_API_KEY",
            "MAX_UPLOAD_SIZE_MB",
        } <= keys, name
    assert "worker" in compose["services"]["worker"]["command"]


def test_dockerfile_is_multi_stage_non_root_with_ffmpeg():
    text = (ROOT / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert "ffmpeg" in text
    user = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user
    assert user[-1].split()[1] not in ("root", "0")
    assert "HEALTHCHECK" in text
