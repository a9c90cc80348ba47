"""The composition root: the one place that picks an adapter for each port.

Entry points (the HTTP app, the CLI, the worker) build a :class:`Container` from
:class:`~elyune_adapters.settings.Settings`, call ``await container.init_resources()``,
resolve the use cases they need (``await container.run_step()``) and call
``await container.shutdown_resources()`` at the end.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from elyune_adapters.auth.jwt import JwtTokenService
from elyune_adapters.events import ProcessEventHub
from elyune_adapters.hosted import CallRetry
from elyune_adapters.master_key import derive_key, master_secret, secret_box
from elyune_adapters.queue.inprocess import InProcessJobQueue, run_in_process
from elyune_adapters.queue.live import InProcessLiveQueue
from elyune_adapters.ratelimit import (
    MemoryRateLimiter,
    PipelinedRedisRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from elyune_adapters.settings import Settings
from elyune_adapters.sql.engine import SqlSchema, create_engine, upgrade
from elyune_adapters.sql.native import NativePool, NativeUnitOfWork
from elyune_adapters.sql.reader import create_sqlite_reader
from elyune_adapters.sql.repositories import RecordingCounts
from elyune_adapters.sql.sealing import SecretBox
from elyune_adapters.sql.unit_of_work import SqlReadUnitOfWork, SqlUnitOfWork
from elyune_adapters.storage.local import LocalObjectStore, LocalUploadReceiver
from elyune_adapters.storage.signing import UrlSigner
from elyune_adapters.system import (
    Argon2PasswordHasher,
    SystemClock,
    TempWorkspace,
    UuidIdSource,
    private_dir,
)
from elyune_adapters.webhooks.http import AiohttpWebhookSender, NetworkUrlGuard
from elyune_core.entities import StepName, WebhookEvent
from elyune_core.ids import RecordingId
from elyune_core.ports import (
    Analyzer,
    Answerer,
    JobQueue,
    LanguageSupport,
    LiveMedia,
    LiveQueue,
    MultipartStore,
    ObjectStore,
    QueueMonitor,
    RecordingEvent,
    Transcoder,
    Transcriber,
    UnitOfWork,
)
from elyune_core.use_cases import (
    AdvanceLiveRecording,
    AskQuestion,
    Authenticate,
    CleanupRecordings,
    CompleteUpload,
    CreateUser,
    CreateWebhook,
    DeclareChunks,
    DeleteRecording,
    DeleteVoiceProfile,
    DeleteWebhook,
    DeliverWebhooks,
    EnsureUser,
    FinalizeIdleLiveUploads,
    FindUploadTarget,
    FinishLiveUpload,
    GetJob,
    GetLiveProgress,
    GetLiveUpload,
    GetRecording,
    GetUser,
    ImportRecording,
    ListDeliveries,
    ListJobs,
    ListRecordings,
    ListVoiceProfiles,
    ListWebhooks,
    LivePolicy,
    LiveProcessingPolicy,
    LiveSteps,
    Login,
    PipelinePolicy,
    QueueOverview,
    QueueWebhookDeliveries,
    Reconcile,
    RefreshTokens,
    RenameSpeakers,
    RenameVoiceProfile,
    RequestLiveUpload,
    RequestUpload,
    RerunAnalysis,
    RetryJob,
    RetryJobStep,
    RunStep,
    SearchRecordings,
    SetPassword,
    SetUserFlags,
    SetVoiceProfiles,
    StartProcessing,
    StepHandlers,
    UpdateRecording,
    UploadPolicy,
    UsageReport,
)
from elyune_core.use_cases.multipart_upload import (
    AbortMultipart,
    CompleteMultipart,
    ListMultipartParts,
    SignParts,
    StartMultipart,
)
from elyune_core.use_cases.run_step import DEFAULT_TIME_LIMITS

if TYPE_CHECKING:
    from elyune_adapters.storage.multipart import LocalMultipart

logger = logging.getLogger("elyune")

T = TypeVar("T")

WEBHOOK_EVENTS = frozenset(e.value for e in WebhookEvent)


def worker_name() -> str:
    """A name for this process, unique across machines: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


async def _engine(settings: Settings, box: SecretBox) -> AsyncIterator[AsyncEngine]:
    private_dir(settings.data_dir)  # the embedded database, objects and secret live here
    engine = create_engine(settings.database)
    try:
        if settings.database.is_sqlite:
            await upgrade(engine, box=box)  # the embedded database migrates itself
        yield engine
    finally:
        await engine.dispose()


async def _read_uow(
    settings: Settings, engine: AsyncEngine, counts: RecordingCounts, box: SecretBox
) -> AsyncIterator[Callable[[], UnitOfWork]]:
    """Read-only units of work: on SQLite a synchronous query-only engine (no thread hop
    per statement, never waiting for writers); on PostgreSQL an autocommit asyncpg pool
    of its own, without SQLAlchemy's execution layer (``sql/native.py``)."""
    if not settings.database.is_sqlite:
        native = NativePool(engine, settings.database.pool_size + settings.database.max_overflow)
        try:
            yield lambda: NativeUnitOfWork(native, counts, box)
        finally:
            await native.close()
        return
    reader = create_sqlite_reader(settings.database)
    try:
        yield lambda: SqlReadUnitOfWork(reader, counts, box)
    finally:
        reader.dispose()


def _uow_factory(
    engine: AsyncEngine, counts: RecordingCounts | None = None, box: SecretBox | None = None
) -> Callable[[], SqlUnitOfWork]:
    lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
    return lambda: SqlUnitOfWork(engine, lock, counts, box)


def _local_store(settings: Settings, secret: bytes) -> LocalObjectStore:
    private_dir(settings.storage.root)
    signer = UrlSigner(derive_key(secret, "storage"), settings.http.public_url)
    return LocalObjectStore(settings.storage.root, signer)


async def _object_store(
    settings: Settings, local_store: Callable[[], LocalObjectStore]
) -> AsyncIterator[ObjectStore]:
    storage = settings.storage
    if storage.kind == "minio":
        from elyune_adapters.storage.minio import MinioObjectStore

        scratch = settings.scratch_dir
        scratch.mkdir(parents=True, exist_ok=True)
        store = MinioObjectStore.from_settings(
            storage, cors_origins=settings.http.cors_origins, temp_dir=scratch
        )
        await store.ensure_bucket()
        yield store
        return
    yield local_store()


def _transcoder(settings: Settings) -> Transcoder:
    from elyune_adapters.media.ffmpeg import FfmpegTranscoder

    processing = settings.processing
    return FfmpegTranscoder(
        processing.ffmpeg_path,
        timeout=processing.ffmpeg_timeout,
        stall_timeout=processing.ffmpeg_stall_seconds,
        threads=processing.ffmpeg_threads,
        transcode_nice=processing.ffmpeg_nice,
    )


def _call_retry(settings: Settings) -> CallRetry:
    """How a hosted engine's call is retried within a step attempt (see hosted.py)."""
    processing = settings.processing
    return CallRetry(
        processing.engine_attempts, processing.backoff_base, processing.engine_max_retry_delay
    )


async def _transcriber(settings: Settings) -> AsyncIterator[Transcriber]:
    config = settings.transcriber
    if config.kind == "deepgram":
        from elyune_adapters.asr.deepgram import DeepgramTranscriber

        assert config.deepgram_api_key is not None
        yield DeepgramTranscriber(
            api_key=config.deepgram_api_key,
            model=config.deepgram_model,
            diarize_model=config.deepgram_diarize_model,
            base_url=config.deepgram_url,
            timeout=config.timeout,
            retry=_call_retry(settings),
        )
        return
    from elyune_adapters.asr.whisper import WhisperTranscriber

    whisper = WhisperTranscriber(
        config.whisper_model,
        models_dir=settings.data_dir / "models",
        compute_type=config.whisper_compute_type,
        cpu_threads=config.whisper_threads,
        diarize=config.whisper_diarize,
        allow_download=config.whisper_allow_download,
        # One model worker per step a taskiq worker runs at once; embedded mode rarely
        # transcribes two recordings at a time and each model worker costs memory.
        parallel=settings.queue.concurrency if settings.queue.kind == "redis" else 1,
        stall_seconds=settings.processing.stall_seconds,
        timeout=config.timeout,
    )
    try:
        yield whisper
    finally:  # the engine children go with the container
        await whisper.close()


def _languages(settings: Settings) -> LanguageSupport:
    from elyune_adapters.asr.languages import DeepgramLanguages, WhisperLanguages

    config = settings.transcriber
    if config.kind == "deepgram":
        return DeepgramLanguages()
    return WhisperLanguages(config.whisper_model)


def _analyzer(settings: Settings) -> Analyzer:
    config = settings.analyzer
    if config.kind == "gemini":
        from elyune_adapters.analysis.gemini import GeminiAnalyzer

        assert config.gemini_api_key is not None
        return GeminiAnalyzer(
            api_key=config.gemini_api_key,
            model=config.gemini_model,
            api_version=config.gemini_api_version,
            temperature=config.gemini_temperature,
            base_url=config.gemini_url,
            token_budget=config.token_budget,
            timeout=config.timeout,
            retry=_call_retry(settings),
        )
    from elyune_adapters.analysis.local import LocalAnalyzer

    return LocalAnalyzer()


class MonitoredJobQueue(JobQueue, QueueMonitor, Protocol):
    """A job queue that also tells its depth (both queue adapters are)."""


def _answerer(settings: Settings) -> Answerer:
    """Gemini when the analyses use it (same key and model), else the extractive one."""
    config = settings.analyzer
    if config.kind == "gemini":
        from elyune_adapters.analysis.answer import GeminiAnswerer

        assert config.gemini_api_key is not None
        return GeminiAnswerer(
            api_key=config.gemini_api_key,
            model=config.gemini_model,
            api_version=config.gemini_api_version,
            temperature=config.gemini_temperature,
            base_url=config.gemini_url,
            timeout=min(config.timeout, 120.0),
            retry=_call_retry(settings),
        )
    from elyune_adapters.analysis.answer import ExtractiveAnswerer

    return ExtractiveAnswerer()


async def _job_queue(
    settings: Settings, inprocess_queue: Callable[[], InProcessJobQueue]
) -> AsyncIterator[MonitoredJobQueue]:
    if settings.queue.kind == "redis":
        from elyune_adapters.queue.taskiq import TaskiqJobQueue

        queue = TaskiqJobQueue(settings.queue)
        await queue.start()
        try:
            yield queue
        finally:
            await queue.close()
        return
    inprocess = inprocess_queue()
    try:
        yield inprocess
    finally:
        await inprocess.close()


async def _live_queue(
    settings: Settings,
    job_queue: MonitoredJobQueue,
    inprocess_live_queue: Callable[[], InProcessLiveQueue],
) -> AsyncIterator[LiveQueue]:
    """Kicks live recordings: over the job queue's Redis stream in production (*job_queue*
    has started the broker), to tasks of this process in embedded mode."""
    if settings.queue.kind == "redis":
        from elyune_adapters.queue.taskiq import TaskiqLiveQueue

        yield TaskiqLiveQueue(settings.queue)
        return
    inprocess = inprocess_live_queue()
    try:
        yield inprocess
    finally:
        await inprocess.close()


def _live_media(settings: Settings) -> LiveMedia:
    from elyune_adapters.media.live import FfmpegLiveMedia

    processing = settings.processing
    return FfmpegLiveMedia(
        processing.ffmpeg_path,
        timeout=processing.ffmpeg_timeout,
        threads=processing.ffmpeg_threads,
    )


async def _in_process_runner(
    settings: Settings,
    queue: Callable[[], InProcessJobQueue],
    live_queue: Callable[[], InProcessLiveQueue],
    run_step: Callable[[], Awaitable[RunStep]],
    advance_live: Callable[[], Awaitable[AdvanceLiveRecording]],
    reconcile: Callable[[], Awaitable[Reconcile]],
    policy: PipelinePolicy,
    worker: str,
) -> AsyncIterator[None]:
    """In embedded mode this process runs the steps and the live processing (workers do
    it in production)."""
    if settings.queue.kind != "inprocess":
        yield None
        return

    async def advance(recording_id: RecordingId) -> object:
        return await (await advance_live()).execute(recording_id)

    live_queue().attach(advance)
    async with run_in_process(queue(), run_step, reconcile, policy, worker):
        yield None


def _live_processing_policy(settings: Settings) -> LiveProcessingPolicy:
    live = settings.live
    return LiveProcessingPolicy(
        stretch_seconds=live.stretch_seconds,
        segment_seconds=live.segment_seconds,
        lease=timedelta(seconds=live.lease_seconds),
        max_seconds=live.max_seconds,
        draft_seconds=live.draft_seconds,
    )


def _tokens(settings: Settings, secret: bytes) -> JwtTokenService:
    http = settings.http
    key = http.jwt_secret_key.encode() if http.jwt_secret_key else derive_key(secret, "jwt")
    return JwtTokenService(
        key,
        algorithm=http.jwt_algorithm,
        access_ttl=timedelta(minutes=http.access_token_minutes),
        refresh_ttl=timedelta(days=http.refresh_token_days),
    )


def _upload_policy(settings: Settings) -> UploadPolicy:
    return UploadPolicy(
        max_bytes=settings.http.max_upload_mb * 1024 * 1024,
        url_expires=timedelta(seconds=settings.http.upload_url_seconds),
    )


def _live_policy(settings: Settings) -> LivePolicy:
    return LivePolicy(
        max_chunk_size=settings.http.live_max_chunk_mb * 1024 * 1024,
        chunk_url_expires=timedelta(seconds=settings.http.live_chunk_url_seconds),
        idle=timedelta(seconds=settings.http.live_idle_seconds),
    )


async def _chunk_rate_limiter(settings: Settings) -> AsyncIterator[RateLimiter]:
    """The limiter of live uploads' chunk requests: the same kinds as ``_rate_limiter``
    with its own, larger limit (a recording declares about one chunk a second)."""
    limited = attrs.evolve(
        settings,
        http=attrs.evolve(
            settings.http, rate_limit_per_minute=settings.http.live_chunk_requests_per_minute
        ),
    )
    async for limiter in _rate_limiter(limited):
        yield limiter


async def _webhook_sender(guard: NetworkUrlGuard) -> AsyncIterator[AiohttpWebhookSender]:
    sender = AiohttpWebhookSender(guard)
    try:
        yield sender
    finally:
        await sender.close()


async def _webhook_listener(
    events: ProcessEventHub, queue_deliveries: Callable[[], Awaitable[QueueWebhookDeliveries]]
) -> AsyncIterator[None]:
    """Turn this process's recording events into webhook deliveries."""

    async def listener(event: RecordingEvent) -> None:
        if event.type in WEBHOOK_EVENTS:
            await (await queue_deliveries()).execute(event)

    events.add_listener(listener)
    yield None


def _one_statement_uow(
    settings: Settings,
    uow: Callable[[], UnitOfWork],
    read_uow: Callable[[], UnitOfWork],
) -> Callable[[], UnitOfWork]:
    """Units of work that run a single statement (request-upload's INSERT): on
    PostgreSQL the autocommit pool, so the statement is its own transaction (no ping,
    BEGIN and COMMIT round trips); on SQLite the usual writer."""
    return uow if settings.database.is_sqlite else read_uow


def _recording_counts(settings: Settings) -> RecordingCounts | None:
    """Listing totals cached in this process, which forgets an owner's on every add or
    delete it makes; with several API processes another one's add would go unseen, so
    then every listing counts."""
    return RecordingCounts() if settings.http.workers <= 1 else None


async def _rate_limiter(settings: Settings) -> AsyncIterator[RateLimiter]:
    """In Redis when it is configured (every API process, on any host, counts the same
    hits), else in this process's memory (the embedded mode serves from one process)."""
    limit = settings.http.rate_limit_per_minute
    limiter: RateLimiter
    url = settings.queue.url
    if settings.queue.kind == "redis" and url and PipelinedRedisRateLimiter.supports(url):
        limiter = PipelinedRedisRateLimiter(url, limit, 60.0, prefix=settings.queue.name)
    elif settings.queue.kind == "redis" and url:
        limiter = RedisRateLimiter(url, limit, 60.0, prefix=settings.queue.name)
    else:
        limiter = MemoryRateLimiter(limit, 60.0)
    try:
        yield limiter
    finally:
        await limiter.close()


def _upload_receiver(
    settings: Settings, local_store: Callable[[], LocalObjectStore]
) -> LocalUploadReceiver | None:
    """The embedded API receives uploads itself; with S3 the browser talks to S3."""
    return LocalUploadReceiver(local_store()) if settings.storage.kind == "local" else None


def _policy(settings: Settings) -> PipelinePolicy:
    processing = settings.processing
    limits = dict(DEFAULT_TIME_LIMITS)
    for step, seconds in processing.step_timeouts.items():
        name = StepName(step)
        limits[name] = attrs.evolve(limits[name], fixed=seconds)
    # An engine that answers in one call reports no progress until it has answered: its
    # step is stuck only once its own request timeout has passed.
    stall = processing.stall_seconds
    step_stall = {StepName.ANALYZE: max(stall, settings.analyzer.timeout + 60.0)}
    if settings.transcriber.kind == "deepgram":
        step_stall[StepName.TRANSCRIBE] = max(stall, settings.transcriber.timeout + 60.0)
    return PipelinePolicy(
        max_attempts=processing.max_attempts,
        backoff_base=processing.backoff_base,
        lease_seconds=processing.lease_seconds,
        stall_seconds=stall,
        step_stall_seconds=step_stall,
        time_limits=limits,
        outage_seconds=processing.outage_seconds,
    )


# --------------------------------------------------------------------------- multipart uploads
# Resumable uploads of large files (elyune_http.multipart), kept apart for merging.


def _local_multipart(
    settings: Settings, secret: bytes, local_store: Callable[[], LocalObjectStore]
) -> LocalMultipart | None:
    """The embedded store's multipart uploads (the API receives the parts), or None."""
    if settings.storage.kind != "local":
        return None
    from elyune_adapters.storage.multipart import LocalMultipart

    return LocalMultipart(local_store(), derive_key(secret, "multipart"), settings.http.public_url)


async def _multipart_store(
    settings: Settings, local: Callable[[], LocalMultipart | None]
) -> AsyncIterator[MultipartStore]:
    embedded = local()
    if embedded is not None:
        yield embedded
        return
    from elyune_adapters.storage.multipart import S3Multipart

    store = S3Multipart.from_settings(settings.storage)
    try:
        yield store
    finally:
        store.close()


class Container(containers.DeclarativeContainer):
    """Every adapter and use case of Elyune, chosen from the settings."""

    settings = providers.Dependency(instance_of=Settings)
    worker = providers.Singleton(worker_name)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidIdSource)
    hasher = providers.Singleton(Argon2PasswordHasher)
    secret = providers.Singleton(master_secret, settings)
    events = providers.Singleton(ProcessEventHub)

    secret_box = providers.Singleton(secret_box, secret)  # webhook secrets at rest
    engine = providers.Resource(_engine, settings, secret_box)
    recording_counts = providers.Singleton(_recording_counts, settings)
    uow = providers.Singleton(_uow_factory, engine, recording_counts, secret_box)
    read_uow = providers.Resource(_read_uow, settings, engine, recording_counts, secret_box)
    one_statement_uow = providers.Factory(_one_statement_uow, settings, uow, read_uow)
    schema = providers.Factory(SqlSchema, engine, secret_box)
    local_store = providers.Singleton(_local_store, settings, secret)
    object_store = providers.Resource(_object_store, settings, local_store.provider)
    workspace = providers.Singleton(
        TempWorkspace, providers.Callable(lambda s: s.scratch_dir, settings)
    )
    transcoder = providers.Singleton(_transcoder, settings)
    transcriber = providers.Resource(_transcriber, settings)
    languages = providers.Singleton(_languages, settings)
    analyzer = providers.Singleton(_analyzer, settings)
    answerer = providers.Singleton(_answerer, settings)
    inprocess_queue = providers.Singleton(
        InProcessJobQueue, providers.Callable(lambda s: s.queue.concurrency, settings)
    )
    job_queue = providers.Resource(_job_queue, settings, inprocess_queue.provider)
    inprocess_live_queue = providers.Singleton(InProcessLiveQueue)
    live_queue = providers.Resource(_live_queue, settings, job_queue, inprocess_live_queue.provider)
    live_media = providers.Singleton(_live_media, settings)
    queue_monitor = providers.Callable(lambda queue: queue, job_queue)  # the same queue
    policy = providers.Singleton(_policy, settings)

    tokens = providers.Singleton(_tokens, settings, secret)
    upload_policy = providers.Singleton(_upload_policy, settings)
    live_policy = providers.Singleton(_live_policy, settings)
    upload_receiver = providers.Singleton(_upload_receiver, settings, local_store.provider)
    rate_limiter = providers.Resource(_rate_limiter, settings)
    chunk_rate_limiter = providers.Resource(_chunk_rate_limiter, settings)
    url_guard = providers.Singleton(
        NetworkUrlGuard,
        allow_private=providers.Callable(lambda s: s.http.webhook_allow_private, settings),
    )
    webhook_sender = providers.Resource(_webhook_sender, url_guard)

    live_processing_policy = providers.Singleton(_live_processing_policy, settings)
    live_steps = providers.Factory(
        LiveSteps,
        uow=uow,
        store=object_store,
        media=live_media,
        workspace=workspace,
        policy=live_processing_policy,
    )
    step_handlers = providers.Factory(
        StepHandlers,
        uow=uow,
        store=object_store,
        workspace=workspace,
        transcoder=transcoder,
        transcriber=transcriber,
        analyzer=analyzer,
        clock=clock,
        live=live_steps,
    )
    run_step = providers.Factory(
        RunStep,
        uow=uow,
        handlers=step_handlers,
        queue=job_queue,
        events=events,
        clock=clock,
        policy=policy,
        voice_threshold=providers.Callable(lambda s: s.processing.voice_match_threshold, settings),
    )

    start_processing = providers.Factory(
        StartProcessing, uow=uow, queue=job_queue, clock=clock, ids=ids
    )
    advance_live = providers.Factory(
        AdvanceLiveRecording,
        uow=uow,
        store=object_store,
        media=live_media,
        transcriber=transcriber,
        workspace=workspace,
        events=events,
        clock=clock,
        start=start_processing,
        worker=worker,
        policy=live_processing_policy,
    )
    get_live_progress = providers.Factory(GetLiveProgress, uow=read_uow)
    import_recording = providers.Factory(
        ImportRecording,
        uow=uow,
        store=object_store,
        events=events,
        clock=clock,
        ids=ids,
        languages=languages,
    )
    get_recording = providers.Factory(GetRecording, uow=read_uow, store=object_store)
    list_recordings = providers.Factory(ListRecordings, uow=read_uow)
    retry_job = providers.Factory(RetryJob, uow=uow, queue=job_queue, clock=clock)
    rerun_analysis = providers.Factory(RerunAnalysis, uow=uow, queue=job_queue, clock=clock)
    create_user = providers.Factory(CreateUser, uow=uow, hasher=hasher, clock=clock, ids=ids)
    ensure_user = providers.Factory(EnsureUser, uow=uow, create=create_user)
    set_password = providers.Factory(SetPassword, uow=uow, hasher=hasher)
    set_user_flags = providers.Factory(SetUserFlags, uow=uow)

    # the operator view (staff only: the entry points check)
    list_jobs = providers.Factory(ListJobs, uow=read_uow, clock=clock)
    get_job = providers.Factory(GetJob, uow=read_uow, clock=clock)
    retry_job_step = providers.Factory(
        RetryJobStep, uow=uow, queue=job_queue, clock=clock, retry=retry_job
    )
    queue_overview = providers.Factory(
        QueueOverview, uow=read_uow, monitor=queue_monitor, clock=clock
    )

    login = providers.Factory(Login, uow=read_uow, hasher=hasher, tokens=tokens, clock=clock)
    refresh_tokens = providers.Factory(RefreshTokens, uow=uow, tokens=tokens, clock=clock)
    authenticate = providers.Factory(Authenticate, uow=read_uow, tokens=tokens, clock=clock)
    request_upload = providers.Factory(
        RequestUpload,
        uow=one_statement_uow,
        store=object_store,
        clock=clock,
        ids=ids,
        policy=upload_policy,
        languages=languages,
    )
    complete_upload = providers.Factory(
        CompleteUpload,
        uow=uow,
        store=object_store,
        events=events,
        clock=clock,
        start=start_processing,
    )
    find_upload_target = providers.Factory(FindUploadTarget, uow=uow)
    request_live_upload = providers.Factory(
        RequestLiveUpload,
        uow=uow,
        clock=clock,
        ids=ids,
        policy=upload_policy,
        live_policy=live_policy,
        languages=languages,
    )
    declare_chunks = providers.Factory(
        DeclareChunks,
        uow=uow,
        store=object_store,
        clock=clock,
        policy=upload_policy,
        live_policy=live_policy,
        kicks=live_queue,
    )
    get_live_upload = providers.Factory(GetLiveUpload, uow=read_uow, store=object_store)
    finish_live_upload = providers.Factory(
        FinishLiveUpload,
        uow=uow,
        store=object_store,
        events=events,
        clock=clock,
        kicks=live_queue,
    )
    finalize_idle_live_uploads = providers.Factory(
        FinalizeIdleLiveUploads,
        uow=uow,
        store=object_store,
        events=events,
        live_policy=live_policy,
        kicks=live_queue,
    )
    reconcile = providers.Factory(
        Reconcile,
        uow=uow,
        queue=job_queue,
        clock=clock,
        live_queue=live_queue,
        finalize_idle=finalize_idle_live_uploads,
    )
    queue_runner = providers.Resource(
        _in_process_runner,
        settings,
        inprocess_queue.provider,
        inprocess_live_queue.provider,
        run_step.provider,
        advance_live.provider,
        reconcile.provider,
        policy,
        worker,
    )
    update_recording = providers.Factory(UpdateRecording, uow=uow, clock=clock, languages=languages)
    rename_speakers = providers.Factory(RenameSpeakers, uow=uow, clock=clock, ids=ids)
    delete_recording = providers.Factory(DeleteRecording, uow=uow, store=object_store, clock=clock)
    list_voice_profiles = providers.Factory(ListVoiceProfiles, uow=read_uow)
    rename_voice_profile = providers.Factory(RenameVoiceProfile, uow=uow, clock=clock)
    delete_voice_profile = providers.Factory(DeleteVoiceProfile, uow=uow, clock=clock)
    set_voice_profiles = providers.Factory(SetVoiceProfiles, uow=uow, clock=clock)
    get_user = providers.Factory(GetUser, uow=read_uow)
    cleanup_recordings = providers.Factory(CleanupRecordings, uow=uow, delete=delete_recording)
    usage_report = providers.Factory(UsageReport, uow=read_uow)
    search_recordings = providers.Factory(SearchRecordings, uow=read_uow)
    ask_question = providers.Factory(
        AskQuestion, uow=uow, read_uow=read_uow, answerer=answerer, clock=clock
    )

    create_webhook = providers.Factory(
        CreateWebhook, uow=uow, guard=url_guard, clock=clock, ids=ids
    )
    list_webhooks = providers.Factory(ListWebhooks, uow=read_uow)
    delete_webhook = providers.Factory(DeleteWebhook, uow=uow)
    list_deliveries = providers.Factory(ListDeliveries, uow=read_uow)
    queue_deliveries = providers.Factory(QueueWebhookDeliveries, uow=uow, clock=clock, ids=ids)
    deliver_webhooks = providers.Factory(
        DeliverWebhooks, uow=uow, sender=webhook_sender, clock=clock
    )
    webhook_listener = providers.Resource(_webhook_listener, events, queue_deliveries.provider)

    # ----------------------------------------------------------------- multipart uploads
    local_multipart = providers.Singleton(_local_multipart, settings, secret, local_store.provider)
    multipart_store = providers.Resource(_multipart_store, settings, local_multipart.provider)
    start_multipart = providers.Factory(StartMultipart, uow=uow, multipart=multipart_store)
    sign_multipart_parts = providers.Factory(
        SignParts,
        uow=uow,
        multipart=multipart_store,
        url_expires=providers.Callable(lambda p: p.url_expires, upload_policy),
    )
    list_multipart_parts = providers.Factory(ListMultipartParts, uow=uow, multipart=multipart_store)
    abort_multipart = providers.Factory(AbortMultipart, uow=uow, multipart=multipart_store)
    complete_multipart = providers.Factory(
        CompleteMultipart, uow=uow, multipart=multipart_store, complete=complete_upload
    )


async def resolve(value: Awaitable[T] | T) -> T:
    """The object a provider gave: providers with async dependencies return awaitables."""
    if inspect.isawaitable(value):
        return await value
    return value


def create_container(settings: Settings, **overrides: Any) -> Container:
    """A container for *settings*; *overrides* replace providers by name (tests, fakes)."""
    container = Container(settings=settings)
    for name, value in overrides.items():
        getattr(container, name).override(
            value if isinstance(value, providers.Provider) else providers.Object(value)
        )
    return container


__all__ = [
    "Container",
    "create_container",
    "derive_key",
    "master_secret",
    "resolve",
    "worker_name",
]
