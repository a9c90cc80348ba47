"""Settings from the environment: frozen attrs sections and one :func:`load_settings`.

With nothing set every section has a working embedded default: SQLite and a local object
store under the data folder (``./.elyune``), jobs in-process, faster-whisper and the
local analyzer. Naming a production service (``POSTGRES_HOST``, ``MINIO_ENDPOINT``, a
broker URL, an API key) makes its other settings required: a missing or malformed one
fails here, at start-up, with a message naming the variable. Variable names follow the
earlier Django design (see ``.env.example``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

import attrs

from elyune_core import MATCH_THRESHOLD
from elyune_core.errors import ElyuneError


class SettingsError(ElyuneError):
    """A setting is missing or malformed; the message names the variable."""


@attrs.frozen
class DatabaseSettings:
    """Where rows live: a SQLAlchemy async URL and the pool size."""

    url: str
    pool_size: int = 5
    max_overflow: int = 10

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is a SQLite file."""
        return self.url.startswith("sqlite")

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe to print."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url


@attrs.frozen
class StorageSettings:
    """Where files live: a local folder (embedded) or a MinIO/S3 bucket."""

    kind: Literal["local", "minio"]
    root: Path
    endpoint: str | None = None
    access_key: str | None = attrs.field(default=None, repr=False)
    secret_key: str | None = attrs.field(default=None, repr=False)
    bucket: str = "media"
    secure: bool = False
    region: str | None = None
    public_endpoint: str | None = None


@attrs.frozen
class QueueSettings:
    """How steps reach workers: in-process, or taskiq over Redis.

    ``name`` is the Redis stream (and key prefix) of the queue; ``grace_seconds`` is how
    long a stopping worker lets its running steps finish before it hands them back.
    """

    kind: Literal["inprocess", "redis"]
    url: str | None = None
    concurrency: int = 2
    reconcile_seconds: float = 10.0
    name: str = "elyune"
    grace_seconds: float = 30.0


@attrs.frozen
class ProcessingSettings:
    """FFmpeg, and how the pipeline retries, leases, times and watches its steps.

    ``step_timeouts`` holds fixed time limits per step (``STEP_TIMEOUT_<STEP>``); a
    step without one gets a limit that follows the recording's duration. A step whose
    progress does not move for ``stall_seconds`` is stopped and retried.
    """

    ffmpeg_path: str | None = None
    ffmpeg_timeout: float | None = None
    ffmpeg_stall_seconds: float = 120.0
    ffmpeg_threads: int = 0
    ffmpeg_nice: int = 19
    max_attempts: int = 3
    backoff_base: float = 2.0
    #: tries of one call to a hosted engine (Deepgram, Gemini) within one step attempt,
    #: and the longest ``Retry-After`` wait honoured inside the call
    engine_attempts: int = 3
    engine_max_retry_delay: float = 60.0
    lease_seconds: float = 30.0
    stall_seconds: float = 120.0
    step_timeouts: Mapping[str, float] = attrs.field(factory=dict)
    outage_seconds: float = 1800.0
    temp_dir: Path | None = None
    #: cosine similarity from which a speaker takes a voice profile's name
    voice_match_threshold: float = MATCH_THRESHOLD


@attrs.frozen
class LiveSettings:
    """Live recordings, processed while they are recorded (``ELYUNE_LIVE_*``): the
    stretch of audio transcribed at a time, the shortest video segment, how long a
    worker holds a recording without a sign of life, and the longest recording kept."""

    stretch_seconds: float = 20.0
    segment_seconds: float = 10.0
    lease_seconds: float = 30.0
    max_seconds: float = 4 * 3600.0
    #: when idle, draft the growing stretch once this much audio waits (0: never)
    draft_seconds: float = 8.0


@attrs.frozen
class TranscriberSettings:
    """Speech to text: faster-whisper (embedded) or Deepgram."""

    kind: Literal["whisper", "deepgram"]
    whisper_model: str = "base"
    whisper_threads: int = 2
    whisper_compute_type: str = "int8"
    whisper_diarize: bool = True
    whisper_allow_download: bool = False
    deepgram_api_key: str | None = attrs.field(default=None, repr=False)
    deepgram_model: str = "nova-3"
    deepgram_diarize_model: str = "latest"
    deepgram_url: str | None = None
    timeout: float = 600.0


@attrs.frozen
class AnalyzerSettings:
    """Analyses: the local extractive engine or Google Gemini."""

    kind: Literal["local", "gemini"]
    gemini_api_key: str | None = attrs.field(default=None, repr=False)
    gemini_model: str = "gemini-3.8-flash"
    gemini_api_version: str = "v1beta"
    gemini_temperature: float | None = None
    gemini_url: str | None = None
    token_budget: int = 200_000
    timeout: float = 300.0


@attrs.frozen
class HttpSettings:
    """The REST API: address, public URL, tokens, uploads, CORS, webhooks."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    jwt_secret_key: str | None = attrs.field(default=None, repr=False)
    jwt_algorithm: str = "HS256"
    access_token_minutes: float = 60.0
    refresh_token_days: float = 7.0
    max_upload_mb: int = 2048
    upload_url_seconds: int = 3600
    cors_origins: tuple[str, ...] = ()
    webhook_allow_private: bool = False
    rate_limit_per_minute: int = 20
    #: live uploads: the largest chunk, how long a chunk's URL works, the silence after
    #: which an upload still recording is finished, and chunk requests per user a minute
    live_max_chunk_mb: int = 32
    live_chunk_url_seconds: int = 900
    live_idle_seconds: int = 900
    live_chunk_requests_per_minute: int = 600
    workers: int = 1  # API processes on this host (``elyune serve --workers``)
    public_url_set: bool = False  # ELYUNE_PUBLIC_URL given: it wins over host and port
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 1000
    #: ``METRICS_TOKEN``: ``/metrics`` answers ``Authorization: Bearer <it>`` (and staff
    #: users' tokens); unset, only staff users' tokens.
    metrics_token: str | None = attrs.field(default=None, repr=False)

    def listening_on(self, host: str | None = None, port: int | None = None) -> HttpSettings:
        """These settings for another *host* and/or *port* (``elyune serve --port``): the
        public URL follows them unless ``ELYUNE_PUBLIC_URL`` names it."""
        host = self.host if host is None else host
        port = self.port if port is None else port
        public = self.public_url if self.public_url_set else public_url_for(host, port)
        return attrs.evolve(self, host=host, port=port, public_url=public)


@attrs.frozen
class Settings:
    """Every setting of Elyune."""

    data_dir: Path
    database: DatabaseSettings
    storage: StorageSettings
    queue: QueueSettings
    processing: ProcessingSettings
    transcriber: TranscriberSettings
    analyzer: AnalyzerSettings
    http: HttpSettings
    live: LiveSettings = attrs.field(factory=LiveSettings)
    cli_user: str = "local"
    log_level: str = "INFO"
    retention_days: float = 0.0

    @property
    def scratch_dir(self) -> Path:
        """Where steps write temporary files: ``ELYUNE_TMP_DIR``, else ``$TMPDIR/elyune``,
        else ``tmp/`` in the data folder."""
        return self.processing.temp_dir or self.data_dir / "tmp"

    @property
    def mode(self) -> str:
        """``embedded`` when nothing external is configured, else ``production``."""
        external = (
            not self.database.is_sqlite
            or self.storage.kind != "local"
            or self.queue.kind != "inprocess"
        )
        return "production" if external else "embedded"


class _Env:
    """Typed reads of environment variables, failing with the variable's name."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def required(self, name: str, because: str) -> str:
        value = self.text(name)
        if value is None:
            raise SettingsError(f"{name} is required when {because}.")
        return value

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {raw!r}.") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise SettingsError(f"{name} must be at least {minimum}{upper}, not {value}.")
        return value

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {raw!r}.") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, not {value}.")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name} must be true or false, not {raw!r}.")

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = (self.text(name) or default).lower()
        if value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
        return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from *environ* (default: ``os.environ``).

    Raises ``SettingsError`` naming the variable that is missing or malformed.
    """
    env = _Env(os.environ if environ is None else environ)
    data_dir = Path(env.text("ELYUNE_DATA_DIR", ".elyune") or ".elyune").expanduser().absolute()
    return Settings(
        data_dir=data_dir,
        database=_database(env, data_dir),
        storage=_storage(env, data_dir),
        queue=_queue(env),
        processing=_processing(env),
        transcriber=_transcriber(env),
        analyzer=_analyzer(env),
        http=_http(env),
        live=_live(env),
        cli_user=env.text("ELYUNE_CLI_USER", "local") or "local",
        retention_days=env.number("RETENTION_DAYS", 0.0),
        log_level=env.choice("LOG_LEVEL", ("debug", "info", "warning", "error"), "info").upper(),
    )


#: The pipeline's steps, as named in ``STEP_TIMEOUT_<STEP>`` variables.
STEP_NAMES = ("probe", "transcode", "extract_audio", "thumbnail", "transcribe", "analyze")


def _processing(env: _Env) -> ProcessingSettings:
    ffmpeg_timeout = env.number("FFMPEG_TIMEOUT", 0.0)
    timeouts = {
        step: env.number(f"STEP_TIMEOUT_{step.upper()}", 0.0, minimum=1.0)
        for step in STEP_NAMES
        if env.text(f"STEP_TIMEOUT_{step.upper()}") is not None
    }
    own, system = env.text("ELYUNE_TMP_DIR"), env.text("TMPDIR")
    temp = own or (str(Path(system) / "elyune") if system else None)
    return ProcessingSettings(
        ffmpeg_path=env.text("FFMPEG_PATH"),
        ffmpeg_timeout=ffmpeg_timeout or None,
        ffmpeg_stall_seconds=env.number("FFMPEG_STALL_SECONDS", 120.0, minimum=1.0),
        ffmpeg_threads=env.integer("FFMPEG_THREADS", 0, maximum=64),
        ffmpeg_nice=env.integer("FFMPEG_NICE", 19, maximum=19),
        max_attempts=env.integer("MAX_ATTEMPTS", 3, minimum=1, maximum=20),
        backoff_base=env.number("RETRY_BACKOFF_SECONDS", 2.0),
        engine_attempts=env.integer("ENGINE_MAX_ATTEMPTS", 3, minimum=1, maximum=10),
        engine_max_retry_delay=env.number("ENGINE_MAX_RETRY_SECONDS", 60.0),
        lease_seconds=env.number("STEP_LEASE_SECONDS", 30.0, minimum=3.0),
        stall_seconds=env.number("STEP_STALL_SECONDS", 120.0, minimum=1.0),
        step_timeouts=timeouts,
        outage_seconds=env.number("OUTAGE_RETRY_SECONDS", 1800.0),
        temp_dir=Path(temp).expanduser().absolute() if temp else None,
        voice_match_threshold=_threshold(env),
    )


def _live(env: _Env) -> LiveSettings:
    return LiveSettings(
        stretch_seconds=env.number("ELYUNE_LIVE_STRETCH_SECONDS", 20.0, minimum=5.0),
        segment_seconds=env.number("ELYUNE_LIVE_SEGMENT_SECONDS", 10.0, minimum=2.0),
        lease_seconds=env.number("ELYUNE_LIVE_LEASE_SECONDS", 30.0, minimum=3.0),
        max_seconds=env.number("ELYUNE_LIVE_MAX_SECONDS", 4 * 3600.0, minimum=60.0),
        draft_seconds=env.number("ELYUNE_LIVE_DRAFT_SECONDS", 8.0, minimum=0.0),
    )


def _threshold(env: _Env) -> float:
    value = env.number("VOICE_MATCH_THRESHOLD", MATCH_THRESHOLD, minimum=0.5)
    if not 0.5 <= value <= 1.0:
        raise SettingsError("VOICE_MATCH_THRESHOLD must be between 0.5 and 1.")
    return value


def _database(env: _Env, data_dir: Path) -> DatabaseSettings:
    pool = env.integer("DB_POOL_SIZE", 5, minimum=1, maximum=200)
    overflow = env.integer("DB_MAX_OVERFLOW", 10, maximum=500)
    url = env.text("DATABASE_URL")
    if url is None and env.text("POSTGRES_HOST") is not None:
        because = "POSTGRES_HOST is set"
        host = env.required("POSTGRES_HOST", because)
        port = env.integer("POSTGRES_PORT", 5432, minimum=1, maximum=65535)
        name = env.required("POSTGRES_DB", because)
        user = env.required("POSTGRES_USER", because)
        password = env.text("POSTGRES_PASSWORD", "") or ""
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        url = f"postgresql+asyncpg://{auth}@{host}:{port}/{quote(name, safe='')}"
    if url is None:
        url = f"sqlite+aiosqlite:///{data_dir / 'elyune.sqlite3'}"
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://."
        )
    return DatabaseSettings(url=url, pool_size=pool, max_overflow=overflow)


def _storage(env: _Env, data_dir: Path) -> StorageSettings:
    endpoint = env.text("MINIO_ENDPOINT")
    root = Path(env.text("ELYUNE_STORAGE_DIR") or data_dir / "objects")
    if endpoint is None:
        return StorageSettings(kind="local", root=root)
    because = "MINIO_ENDPOINT is set"
    secure = env.flag("MINIO_SECURE", endpoint.startswith("https://"))
    endpoint = endpoint.removeprefix("http://").removeprefix("https://").rstrip("/")
    if not endpoint or "/" in endpoint:
        raise SettingsError("MINIO_ENDPOINT must be host:port, like minio:9000.")
    public = env.text("AWS_S3_ENDPOINT_URL")
    if public is not None and not public.startswith(("http://", "https://")):
        raise SettingsError("AWS_S3_ENDPOINT_URL must be an http:// or https:// URL.")
    bucket = env.text("MINIO_BUCKET_NAME", "media") or "media"
    if not 3 <= len(bucket) <= 63 or not bucket.replace("-", "").replace(".", "").isalnum():
        raise SettingsError("MINIO_BUCKET_NAME must be a valid bucket name (3-63 chars).")
    return StorageSettings(
        kind="minio",
        root=root,
        endpoint=endpoint,
        access_key=env.required("MINIO_ACCESS_KEY", because),
        secret_key=env.required("MINIO_SECRET_KEY", because),
        bucket=bucket.lower(),
        secure=secure,
        region=env.text("MINIO_REGION"),
        public_endpoint=public,
    )


def _queue(env: _Env) -> QueueSettings:
    url = env.text("REDIS_URL") or env.text("CELERY_BROKER_URL")
    concurrency = env.integer("WORKER_CONCURRENCY", 2, minimum=1, maximum=64)
    reconcile = env.number("RECONCILE_SECONDS", 10.0, minimum=1.0)
    if url is None:
        return QueueSettings(kind="inprocess", concurrency=max(concurrency, 4))
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("REDIS_URL must be a redis:// or rediss:// URL.")
    name = env.text("ELYUNE_QUEUE_NAME", "elyune") or "elyune"
    if not name.replace("-", "").replace("_", "").replace(".", "").replace(":", "").isalnum():
        raise SettingsError("ELYUNE_QUEUE_NAME may hold letters, digits and - _ . : only.")
    return QueueSettings(
        kind="redis",
        url=url,
        concurrency=concurrency,
        reconcile_seconds=reconcile,
        name=name,
        grace_seconds=env.number("WORKER_GRACE_SECONDS", 30.0),
    )


def _transcriber(env: _Env) -> TranscriberSettings:
    key = env.text("DEEPGRAM_API_KEY")
    kind = env.choice("TRANSCRIBER", ("whisper", "deepgram"), "deepgram" if key else "whisper")
    if kind == "deepgram" and key is None:
        raise SettingsError("DEEPGRAM_API_KEY is required when TRANSCRIBER=deepgram.")
    url = env.text("DEEPGRAM_BASE_URL")
    if url is not None and not url.startswith(("http://", "https://")):
        raise SettingsError("DEEPGRAM_BASE_URL must be an http:// or https:// URL.")
    return TranscriberSettings(
        kind="deepgram" if kind == "deepgram" else "whisper",
        whisper_model=env.text("WHISPER_MODEL", "base") or "base",
        whisper_threads=env.integer("WHISPER_THREADS", 2, minimum=1, maximum=64),
        whisper_compute_type=env.text("WHISPER_COMPUTE_TYPE", "int8") or "int8",
        whisper_diarize=env.flag("WHISPER_DIARIZE", True),
        whisper_allow_download=env.flag("WHISPER_ALLOW_DOWNLOAD", False),
        deepgram_api_key=key,
        deepgram_model=env.text("DEEPGRAM_MODEL", "nova-3") or "nova-3",
        # diarize_model replaces the deprecated diarize=true (which still means v1).
        deepgram_diarize_model=env.choice(
            "DEEPGRAM_DIARIZE_MODEL", ("latest", "v2", "v1"), "latest"
        ),
        deepgram_url=url,
        timeout=env.number("TRANSCRIBE_TIMEOUT", 600.0, minimum=1.0),
    )


def _analyzer(env: _Env) -> AnalyzerSettings:
    key = env.text("GEMINI_API_KEY")
    kind = env.choice("ANALYZER", ("local", "gemini"), "gemini" if key else "local")
    if kind == "gemini" and key is None:
        raise SettingsError("GEMINI_API_KEY is required when ANALYZER=gemini.")
    url = env.text("GEMINI_BASE_URL")
    if url is not None and not url.startswith(("http://", "https://")):
        raise SettingsError("GEMINI_BASE_URL must be an http:// or https:// URL.")
    # v1 has no systemInstruction and no responseMimeType/responseSchema: refuse it here
    # rather than fail every analysis with Google's 400.
    version = env.text("GEMINI_API_VERSION", "v1beta") or "v1beta"
    if version not in ("v1beta", "v1alpha"):
        raise SettingsError(
            f"GEMINI_API_VERSION must be v1beta or v1alpha, not {version!r}: the Gemini API "
            "v1 does not accept system instructions or structured output (responseSchema)."
        )
    temperature = env.text("GEMINI_TEMPERATURE")
    return AnalyzerSettings(
        kind="gemini" if kind == "gemini" else "local",
        gemini_api_key=key,
        gemini_model=env.text("GEMINI_MODEL", "gemini-3.8-flash") or "gemini-3.8-flash",
        gemini_api_version=version,
        gemini_temperature=(
            None if temperature is None else env.number("GEMINI_TEMPERATURE", 1.0, minimum=0.0)
        ),
        gemini_url=url,
        token_budget=env.integer("GEMINI_TOKEN_BUDGET", 200_000, minimum=1000),
        timeout=env.number("ANALYZE_TIMEOUT", 300.0, minimum=1.0),
    )


def _http(env: _Env) -> HttpSettings:
    algorithm = env.choice("JWT_ALGORITHM", ("hs256", "hs384", "hs512"), "hs256").upper()
    secret = env.text("JWT_SECRET_KEY")
    if secret is not None and len(secret) < 32:
        raise SettingsError("JWT_SECRET_KEY must be at least 32 characters long.")
    port = env.integer("PORT", 8000, minimum=0, maximum=65535)
    host = env.text("HOST", "127.0.0.1") or "127.0.0.1"
    explicit = env.text("ELYUNE_PUBLIC_URL")
    public = (explicit or public_url_for(host, port)).rstrip("/")
    if not public.startswith(("http://", "https://")):
        raise SettingsError("ELYUNE_PUBLIC_URL must be an http:// or https:// URL.")
    origins = tuple(
        o.strip().rstrip("/")
        for o in (env.text("CORS_ALLOWED_ORIGINS", "") or "").split(",")
        if o.strip()
    )
    for origin in origins:
        if not origin.startswith(("http://", "https://", "chrome-extension://")):
            raise SettingsError(
                "CORS_ALLOWED_ORIGINS must list origins like chrome-extension://<id> or "
                f"https://app.example.com, not {origin!r}."
            )
    return HttpSettings(
        host=host,
        port=port,
        public_url=public,
        jwt_secret_key=secret,
        jwt_algorithm=algorithm,
        access_token_minutes=env.number("ACCESS_TOKEN_LIFETIME_MINUTES", 60.0, minimum=1.0),
        refresh_token_days=env.number("REFRESH_TOKEN_LIFETIME_DAYS", 7.0, minimum=0.01),
        max_upload_mb=env.integer("MAX_UPLOAD_SIZE_MB", 2048, minimum=1, maximum=1_000_000),
        upload_url_seconds=env.integer(
            "UPLOAD_URL_EXPIRES_SECONDS", 3600, minimum=1, maximum=604800
        ),
        cors_origins=origins,
        webhook_allow_private=env.flag("WEBHOOK_ALLOW_PRIVATE", False),
        rate_limit_per_minute=env.integer("RATE_LIMIT_PER_MINUTE", 20, minimum=1),
        live_max_chunk_mb=env.integer("ELYUNE_LIVE_MAX_CHUNK_MB", 32, minimum=1, maximum=5120),
        live_chunk_url_seconds=env.integer(
            "ELYUNE_LIVE_CHUNK_URL_EXPIRES_SECONDS", 900, minimum=1, maximum=604800
        ),
        live_idle_seconds=env.integer("ELYUNE_LIVE_IDLE_SECONDS", 900, minimum=10),
        live_chunk_requests_per_minute=env.integer(
            "ELYUNE_LIVE_CHUNK_REQUESTS_PER_MINUTE", 600, minimum=1
        ),
        public_url_set=explicit is not None,
        header_timeout=env.number("HTTP_HEADER_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        body_timeout=env.number("HTTP_BODY_TIMEOUT_SECONDS", 60.0, minimum=0.1),
        max_connections=env.integer("HTTP_MAX_CONNECTIONS", 1000, minimum=1),
        metrics_token=_metrics_token(env),
    )


def _metrics_token(env: _Env) -> str | None:
    token = env.text("METRICS_TOKEN")
    if token is not None and (len(token) < 24 or not token.isascii() or " " in token):
        raise SettingsError("METRICS_TOKEN must be at least 24 characters, ASCII, no spaces.")
    return token


def public_url_for(host: str, port: int) -> str:
    """The URL clients reach an API listening on *host* and *port* at."""
    return f"http://{_url_host(host)}:{port}"


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - only to build a display URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


__all__ = [
    "AnalyzerSettings",
    "DatabaseSettings",
    "HttpSettings",
    "ProcessingSettings",
    "QueueSettings",
    "Settings",
    "SettingsError",
    "StorageSettings",
    "TranscriberSettings",
    "load_settings",
]
