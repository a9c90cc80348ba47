"""Settings: embedded defaults with nothing set, clear failures naming the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elyune_adapters.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_set_means_embedded_mode(tmp_path):
    settings = load_settings({"ELYUNE_DATA_DIR": str(tmp_path)})
    assert settings.mode == "embedded"
    assert settings.database.is_sqlite
    assert settings.storage.kind == "local"
    assert settings.queue.kind == "inprocess"
    assert settings.transcriber.kind == "whisper"
    assert settings.analyzer.kind == "local"
    assert settings.processing.max_attempts == 3
    # ffmpeg is watched for progress, not timed: no hard cap unless one is set
    assert settings.processing.ffmpeg_timeout is None
    assert settings.processing.ffmpeg_stall_seconds == 120
    assert settings.http.max_upload_mb == 2048


def test_the_seeds_variable_names_switch_to_production():
    settings = load_settings(
        {
            "POSTGRES_HOST": "db",
            "POSTGRES_DB": "elyune_db",
            "POSTGRES_USER": "elyune_user",
            "POSTGRES_PASSWORD": "p@ss:word",
            "MINIO_ENDPOINT": "minio:9000",
            "MINIO_ACCESS_KEY": "minioadmin",
            "MINIO_SECRET_KEY": "minioadmin",
            "AWS_S3_ENDPOINT_URL": "http://localhost:9000",
            "CELERY_BROKER_URL": "redis://redis:6379/0",
            "DEEPGRAM_API_KEY": "dg-key",
            "GEMINI_API_KEY": "gm-key",
        }
    )
    assert settings.mode == "production"
    assert (
        settings.database.url == "postgresql+asyncpg://elyune_user:p%40ss%3Aword@db:5432/elyune_db"
    )
    assert "p%40ss" not in settings.database.display_url
    assert settings.storage.kind == "minio"
    assert settings.queue.url == "redis://redis:6379/0"
    assert settings.transcriber.kind == "deepgram"
    assert settings.analyzer.kind == "gemini"
    assert "dg-key" not in repr(settings)
    assert "minioadmin" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"POSTGRES_HOST": "db"}, "POSTGRES_DB is required when POSTGRES_HOST is set"),
        ({"MINIO_ENDPOINT": "minio:9000"}, "MINIO_ACCESS_KEY is required"),
        ({"REDIS_URL": "http://redis"}, "REDIS_URL must be a redis://"),
        ({"TRANSCRIBER": "deepgram"}, "DEEPGRAM_API_KEY is required when TRANSCRIBER=deepgram"),
        ({"ANALYZER": "gpt"}, "ANALYZER must be one of local, gemini"),
        ({"MAX_UPLOAD_SIZE_MB": "0"}, "MAX_UPLOAD_SIZE_MB must be at least 1"),
        ({"JWT_SECRET_KEY": "short"}, "JWT_SECRET_KEY must be at least 32 characters"),
        (
            {"MINIO_SECURE": "perhaps", "MINIO_ENDPOINT": "m:9000"},
            "MINIO_SECURE must be true or false",
        ),
        ({"CORS_ALLOWED_ORIGINS": "evil.com"}, "CORS_ALLOWED_ORIGINS must list origins"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with"),
    ],
)
def test_bad_settings_fail_at_start_naming_the_variable(env, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(env)


def test_env_example_lists_every_variable_the_code_reads():
    code = (ROOT / "src" / "elyune_adapters" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', code))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    assert read, "the pattern no longer finds the variables"
    assert read - documented == set()


def test_step_time_limits_stalls_and_the_temporary_folder_can_be_set(tmp_path):
    settings = load_settings(
        {
            "ELYUNE_DATA_DIR": str(tmp_path),
            "STEP_TIMEOUT_TRANSCODE": "7200",
            "STEP_STALL_SECONDS": "300",
            "FFMPEG_TIMEOUT": "900",
            "TMPDIR": str(tmp_path / "scratch"),
        }
    )
    assert settings.processing.step_timeouts == {"transcode": 7200.0}
    assert settings.processing.stall_seconds == 300.0
    assert settings.processing.ffmpeg_timeout == 900.0
    assert settings.scratch_dir == tmp_path / "scratch" / "elyune"
    own = load_settings({"ELYUNE_DATA_DIR": str(tmp_path), "ELYUNE_TMP_DIR": str(tmp_path / "t")})
    assert own.scratch_dir == tmp_path / "t"
    assert load_settings({"ELYUNE_DATA_DIR": str(tmp_path)}).scratch_dir == tmp_path / "tmp"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STEP_TIMEOUT_TRANSCODE", "soon", "STEP_TIMEOUT_TRANSCODE must be a number"),
        ("STEP_TIMEOUT_PROBE", "0", "STEP_TIMEOUT_PROBE must be at least 1.0"),
        ("STEP_STALL_SECONDS", "-5", "STEP_STALL_SECONDS must be at least 1.0"),
    ],
)
def test_bad_step_limits_name_the_variable(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        load_settings({"ELYUNE_DATA_DIR": str(tmp_path), name: value})


def test_serve_options_move_the_public_url_unless_it_is_set():
    from elyune_adapters.settings import load_settings as load

    http = load({}).http
    assert http.listening_on(port=18900).public_url == "http://127.0.0.1:18900"
    assert http.listening_on("::1", 9000).public_url == "http://[::1]:9000"
    assert http.listening_on("0.0.0.0", 9000).public_url == "http://127.0.0.1:9000"  # noqa: S104
    moved = load({"HOST": "10.1.2.3", "PORT": "8100"}).http
    assert moved.public_url == "http://10.1.2.3:8100"
    fixed = load({"ELYUNE_PUBLIC_URL": "https://api.example.com/"}).http
    assert fixed.listening_on("0.0.0.0", 18900).public_url == "https://api.example.com"  # noqa: S104
    assert fixed.listening_on(port=18900).port == 18900
