"""Workers on taskiq + Redis, as real ``elyune worker`` processes.

Every test deploys Elyune like production on one machine: PostgreSQL (a fresh schema),
Redis (a queue name of its own, or a private ``redis-server`` where the test flushes
and restarts it), SeaweedFS as the S3 object store (a bucket of its own; the local
folder store shared by every process when ``weed`` is not installed), real ffmpeg and
Whisper ``tiny.en``. Recordings are imported and started from this process through the
container (a queue client, like the API); workers are subprocesses with a data folder
each, killed, stopped and restarted as the test needs.

"No step ran twice to completion" is checked on the workers' logs (one line per step
run, naming the worker) as well as on the rows and objects left behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from minio import Minio
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from elyune_adapters.container import Container, create_container, resolve
from elyune_adapters.settings import load_settings
from elyune_core import (
    GetRecordingInput,
    ImportRecordingInput,
    JobStatus,
    RecordingId,
    RecordingStatus,
    StartProcessingInput,
    StepName,
    StepStatus,
)
from tests.conftest import REDIS_URL, reset_schema
from tests.support.chaos import report
from tests.support.media import SAMPLE, ffmpeg_exe
from tests.support.seaweed import SeaweedError, SeaweedServer, free_ports

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SECRET = "worker-tests-" + "x" * 32
SUCCEEDED = re.compile(r"worker (\S+): (\w+) of job (\S+) succeeded in")
#: A finished step whose next steps could not be queued (Redis down) logs this instead.
RECORDED = re.compile(r"worker (\S+): (\w+) of job (\S+) recorded, but")


# --------------------------------------------------------------------------- media


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``speech``: the first 7 s of the sample (one sentence); ``slow``: the sample's
    speech under a 1280x720 picture, so that a one-thread transcode takes a while."""
    folder = tmp_path_factory.mktemp("media")
    speech = folder / "speech.webm"
    slow = folder / "slow.webm"
    ffmpeg = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    subprocess.run([*ffmpeg, "-i", str(SAMPLE), "-t", "7", "-c", "copy", str(speech)], check=True)
    with slow.open("wb") as out:  # through a pipe, like Chrome writes it
        subprocess.run(
            [
                *ffmpeg,
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1280x720:rate=15:duration=50",
                "-i",
                str(SAMPLE),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libvpx",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-b:v",
                "1M",
                "-c:a",
                "copy",
                "-shortest",
                "-f",
                "webm",
                "pipe:1",
            ],
            stdout=out,
            check=True,
        )
    return {"speech": speech, "slow": slow}


# --------------------------------------------------------------------------- processes


@attrs.define
class Worker:
    """One ``elyune worker`` process and its log."""

    process: subprocess.Popen[bytes]
    log: Path
    name: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> Worker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"worker (\S+) ready:", self.output())
            if found:
                self.name = found.group(1)
                return self
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.1)
        pytest.fail(f"the worker did not start within {timeout} s:\n{self.output()}")

    def crash(self) -> None:
        """SIGKILL the worker and its children (its ffmpeg), like a machine that dies."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


def elyune_command() -> list[str]:
    """The ``elyune`` script of this environment (or the same through ``python -c``)."""
    script = Path(sys.executable).parent / "elyune"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from elyune_cli.app import main; main()"]


@attrs.define
class RedisServer:
    """A private ``redis-server`` without persistence, which a test may restart empty."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            )
            if done.stdout.strip() == b"PONG":
                return
            time.sleep(0.05)
        pytest.fail("the private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture(scope="module")
def seaweed() -> Iterator[SeaweedServer | None]:
    """SeaweedFS ``weed mini`` for the module, or ``None`` without ``weed``."""
    try:
        server = SeaweedServer().start()
    except SeaweedError:
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_ports(1)[0], tmp_path)
    server.start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- deployment


@attrs.define
class Stack:
    """One test's deployment: environment, shared folders, the client container and
    the worker processes started so far."""

    root: Path
    env: dict[str, str]
    container: Container
    workers: list[Worker] = attrs.field(factory=list)

    @property
    def queue(self) -> str:
        return self.env["ELYUNE_QUEUE_NAME"]

    def objects(self) -> dict[str, list[str]]:
        """Names of the stored objects by recording id; raises on an unfinished upload."""
        found: dict[str, list[str]] = {}
        if "MINIO_ENDPOINT" in self.env:
            bucket = self.env["MINIO_BUCKET_NAME"]
            client = Minio(
                self.env["MINIO_ENDPOINT"],
                access_key=self.env["MINIO_ACCESS_KEY"],
                secret_key=self.env["MINIO_SECRET_KEY"],
                secure=False,
            )
            keys = [o.object_name or "" for o in client.list_objects(bucket, recursive=True)]
            incomplete = list(client._list_multipart_uploads(bucket).uploads)
            assert not incomplete, incomplete
        else:
            root = self.root / "objects"
            keys = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
            assert not [k for k in keys if k.endswith(".part")], keys
        for key in keys:
            _, _owner, rid, name = key.split("/")
            found.setdefault(rid, []).append(name)
        return found

    def spawn(self, **env: str) -> Worker:
        """Start a worker with a data folder of its own and wait until it is ready."""
        index = len(self.workers)
        data = self.root / f"worker-{index}"
        log = self.root / f"worker-{index}.log"
        environment = {**self.env, "ELYUNE_DATA_DIR": str(data), **env}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*elyune_command(), "worker"],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a process group: crash() kills its ffmpeg too
            )
        worker = Worker(process, log)
        self.workers.append(worker)
        return worker.wait_ready()

    async def submit(self, path: Path, count: int = 1) -> list[RecordingId]:
        """Import *path* *count* times and start processing each (queued to Redis)."""
        c = self.container
        user = await (await resolve(c.ensure_user())).execute("local")
        importer = await resolve(c.import_recording())
        starter = await resolve(c.start_processing())
        ids = []
        for n in range(count):
            imported = await importer.execute(
                ImportRecordingInput(user.id, path, title=f"{path.stem} {n}")
            )
            await starter.execute(StartProcessingInput(imported.recording.id))
            ids.append(imported.recording.id)
        return ids

    async def jobs(self, ids: list[RecordingId]) -> dict[RecordingId, Any]:
        async with (await resolve(self.container.uow()))() as uow:
            return {rid: await uow.jobs.for_recording(rid) for rid in ids}

    async def wait_until(
        self, check: Callable[[], Awaitable[bool]], timeout: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await check():
                return
            await asyncio.sleep(0.2)
        logs = "\n".join(f"--- {w.name or w.log.name}\n{w.output()[-3000:]}" for w in self.workers)
        pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs}")

    async def wait_done(self, ids: list[RecordingId], timeout: float) -> dict[RecordingId, Any]:
        async def finished() -> bool:
            jobs = await self.jobs(ids)
            return all(
                j is not None and j.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
                for j in jobs.values()
            )

        await self.wait_until(finished, timeout, f"{len(ids)} job(s) to finish")
        return await self.jobs(ids)

    async def wait_step(
        self, rid: RecordingId, step: StepName, status: StepStatus, timeout: float = 60
    ) -> Any:
        async def reached() -> bool:
            job = (await self.jobs([rid]))[rid]
            return job is not None and job.step(step).status is status

        await self.wait_until(reached, timeout, f"{step.value} to be {status.value}")
        return (await self.jobs([rid]))[rid].step(step)

    async def count(self, sql: str, **params: object) -> int:
        engine = await resolve(self.container.engine())
        async with engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())

    def succeeded_runs(self) -> Counter[tuple[str, str]]:
        """How often each (job, step) was logged as succeeded, over every worker."""
        runs: Counter[tuple[str, str]] = Counter()
        for worker in self.workers:
            for pattern in (SUCCEEDED, RECORDED):
                for _, step, job in pattern.findall(worker.output()):
                    runs[(job, step)] += 1
        return runs

    async def close(self) -> None:
        for worker in self.workers:
            worker.crash()
        await resolve(self.container.shutdown_resources())
        redis = Redis.from_url(self.env["REDIS_URL"])
        try:
            keys = [k async for k in redis.scan_iter(match=f"{self.queue}*")]
            keys.append(f"autoclaim:elyune:{self.queue}")
            await redis.delete(*keys)
        except (RedisError, OSError):  # a private server that is already gone
            pass
        finally:
            await redis.aclose()


Deploy = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def deploy(
    pg_database: str, tmp_path: Path, seaweed: SeaweedServer | None
) -> AsyncIterator[Deploy]:
    """Deploy with a fresh schema, a new queue and a new bucket; ``deploy(redis_url, **env)``."""
    stacks: list[Stack] = []
    storage = {"ELYUNE_STORAGE_DIR": str(tmp_path / "objects")}
    if seaweed is not None:
        storage = {
            "MINIO_ENDPOINT": seaweed.endpoint,
            "MINIO_ACCESS_KEY": seaweed.access_key,
            "MINIO_SECRET_KEY": seaweed.secret_key,
            "MINIO_BUCKET_NAME": f"elyune-workers-{uuid.uuid4().hex[:12]}",
        }

    async def make(redis_url: str = REDIS_URL, **extra: str) -> Stack:
        await reset_schema(pg_database)
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ELYUNE_", "POSTGRES_", "MINIO_", "REDIS_", "CELERY_", "TMPDIR"))
        }
        env = {
            **base,
            "DATABASE_URL": pg_database,
            "REDIS_URL": redis_url,
            "ELYUNE_QUEUE_NAME": f"elyune-test-{uuid.uuid4().hex[:12]}",
            "ELYUNE_DATA_DIR": str(tmp_path / "client"),
            **storage,
            "JWT_SECRET_KEY": SECRET,
            "WHISPER_MODEL": "tiny.en",
            "LOG_LEVEL": "info",
            **extra,
        }
        container = create_container(load_settings(env))
        await resolve(container.init_resources())
        await (await resolve(container.schema())).upgrade()
        stack = Stack(tmp_path, env, container)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        await stack.close()


def assert_single_objects(stack: Stack, ids: list[RecordingId]) -> None:
    """Exactly the four expected objects per recording, and no unfinished upload."""
    objects = stack.objects()
    assert set(objects) == {str(rid) for rid in ids}
    for names in objects.values():
        assert sorted(names) == ["audio.wav", "source.webm", "thumbnail.jpg", "video.mp4"]


def assert_single_outputs(stack: Stack, ids: list[RecordingId]) -> None:
    """Single objects, and nothing left in any worker's scratch folder."""
    assert_single_objects(stack, ids)
    assert_no_scratch(stack)


def assert_no_scratch(stack: Stack) -> None:
    """No worker left a file in its scratch folder (``<data>/tmp``)."""
    folders = [stack.root / worker.log.stem / "tmp" for worker in stack.workers]
    assert any(folder.is_dir() for folder in folders)  # steps did use them
    for folder in folders:
        assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())


# --------------------------------------------------------------------------- tests


async def test_two_workers_run_the_whole_pipeline_of_the_sample(deploy: Deploy) -> None:
    stack = await deploy()
    first, second = stack.spawn(), stack.spawn()
    [rid] = await stack.submit(SAMPLE)
    job = (await stack.wait_done([rid], timeout=90))[rid]

    assert job.status is JobStatus.SUCCEEDED, job
    assert all(s.status is StepStatus.SUCCEEDED and s.attempts == 1 for s in job.steps)
    assert {s.worker for s in job.steps} <= {first.name, second.name}
    details = await (await resolve(stack.container.get_recording())).execute(GetRecordingInput(rid))
    assert details.recording.status is RecordingStatus.READY
    text_ = details.transcript.text.lower()
    for said in ("release notes", "onboarding guide", "login bug"):
        assert said in text_
    assert len(details.analyses) == 4
    assert sorted(stack.succeeded_runs().values()) == [1] * 6
    for worker in (first, second):  # one log line per step, naming the worker
        assert all(w == worker.name for w, _, _ in SUCCEEDED.findall(worker.output()))
    assert_single_outputs(stack, [rid])


async def test_a_killed_worker_s_transcode_is_taken_over(
    deploy: Deploy, media: dict[str, Path]
) -> None:
    stack = await deploy(STEP_LEASE_SECONDS="5", RECONCILE_SECONDS="2", FFMPEG_THREADS="1")
    doomed = stack.spawn()
    [rid] = await stack.submit(media["slow"])
    running = await stack.wait_step(rid, StepName.TRANSCODE, StepStatus.RUNNING)
    assert running.worker == doomed.name
    await asyncio.sleep(1.0)  # well inside the transcode
    doomed.crash()
    crashed = time.monotonic()
    rescuer = stack.spawn()
    job = (await stack.wait_done([rid], timeout=120))[rid]
    recovered = time.monotonic() - crashed

    assert job.status is JobStatus.SUCCEEDED, job
    transcode = job.step(StepName.TRANSCODE)
    assert transcode.attempts == 2
    assert transcode.worker == rescuer.name
    params = {"rid": rid}
    assert (
        await stack.count("SELECT count(*) FROM transcripts WHERE recording_id=:rid", **params) == 1
    )
    assert (
        await stack.count(
            "SELECT count(*) FROM analyses WHERE recording_id=:rid AND status='succeeded'",
            **params,
        )
        == 4
    )
    segments = await stack.count(
        "SELECT count(*) FROM transcript_segments WHERE recording_id=:rid", **params
    )
    distinct = await stack.count(
        "SELECT count(DISTINCT (start, text)) FROM transcript_segments WHERE recording_id=:rid",
        **params,
    )
    assert segments == distinct > 0
    assert max(stack.succeeded_runs().values()) == 1
    assert_single_objects(stack, [rid])  # (the killed worker's scratch folder stays)
    report("SIGKILL mid-transcode", recover_s=round(recovered, 1), completed=True, duplicated=False)


async def test_jobs_survive_redis_being_flushed_and_restarted(
    deploy: Deploy, private_redis: RedisServer, media: dict[str, Path]
) -> None:
    stack = await deploy(private_redis.url, RECONCILE_SECONDS="2", WORKER_CONCURRENCY="1")
    worker = stack.spawn()
    ids = await stack.submit(media["speech"], count=4)
    await stack.wait_step(ids[0], StepName.PROBE, StepStatus.SUCCEEDED)
    redis = Redis.from_url(private_redis.url)
    try:
        waiting = (await redis.xinfo_groups(stack.queue))[0]["lag"]
        await redis.flushall()  # the queued messages (and their markers) are gone
    finally:
        await redis.aclose()
    assert waiting >= 3
    jobs = await stack.wait_done(ids, timeout=60)
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs.values())
    assert "is gone from Redis" in worker.output()

    more = await stack.submit(media["speech"], count=3)
    private_redis.stop()  # restarted empty while those are queued
    private_redis.start()
    jobs = await stack.wait_done(more, timeout=60)
    assert all(j.status is JobStatus.SUCCEEDED for j in jobs.values())
    assert worker.output().count("is gone from Redis") >= 2
    runs = stack.succeeded_runs()
    assert len(runs) == 7 * len(StepName) and set(runs.values()) == {1}
    assert_single_outputs(stack, ids + more)
    report("Redis flushed, then restarted empty", recordings=7, completed=True, duplicated=False)


async def test_twenty_recordings_with_two_workers(deploy: Deploy, media: dict[str, Path]) -> None:
    stack = await deploy(STEP_LEASE_SECONDS="20", RECONCILE_SECONDS="5")
    stack.spawn()
    stack.spawn()
    started = time.monotonic()
    ids = await stack.submit(media["speech"], count=20)
    jobs = await stack.wait_done(ids, timeout=150)
    elapsed = time.monotonic() - started

    assert all(j.status is JobStatus.SUCCEEDED for j in jobs.values())
    assert await stack.count("SELECT count(*) FROM recordings WHERE status='ready'") == 20
    runs = stack.succeeded_runs()
    # A step may be attempted again when its lease runs out on a starved machine (a
    # takeover, by design); none may run twice to completion or end other than done.
    retried = [
        (j.recording_id, s.name.value, s.attempts, s.worker)
        for j in jobs.values()
        for s in j.steps
        if s.attempts != 1
    ]
    warnings = [
        line
        for worker in stack.workers
        for line in worker.output().splitlines()
        if "WARNING" in line or "ERROR" in line
    ]
    if retried:
        print("retried steps:", retried, *warnings[-20:], sep="\n")
    assert len(runs) == 20 * len(StepName) and set(runs.values()) == {1}, (retried, warnings)
    assert all(s.status is StepStatus.SUCCEEDED for j in jobs.values() for s in j.steps)
    assert len(retried) <= 2, (retried, warnings[-20:])
    assert await stack.count("SELECT count(*) FROM transcripts") == 20
    assert await stack.count("SELECT count(*) FROM analyses WHERE status='succeeded'") == 80
    assert len({s.worker for j in jobs.values() for s in j.steps}) == 2  # both took work
    assert_single_outputs(stack, ids)
    print(f"20 recordings with 2 workers: {elapsed:.1f} s")


async def test_sigterm_hands_the_running_step_back_and_exits_0(
    deploy: Deploy, media: dict[str, Path]
) -> None:
    stack = await deploy(FFMPEG_THREADS="1", WORKER_GRACE_SECONDS="2", RECONCILE_SECONDS="2")
    worker = stack.spawn()
    [rid] = await stack.submit(media["slow"])
    await stack.wait_step(rid, StepName.TRANSCODE, StepStatus.RUNNING)
    worker.process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(worker.process.wait, 30)
    assert code == 0, worker.output()
    # (it exits within the 30 s wait above, not after the whole transcode: no timed
    # assertion here, a loaded machine may take a few seconds more to stop)
    transcode = (await stack.jobs([rid]))[rid].step(StepName.TRANSCODE)
    assert transcode.status in (StepStatus.SUCCEEDED, StepStatus.PENDING)
    if transcode.status is StepStatus.PENDING:
        assert transcode.worker is None and "worker stopped" in (transcode.error or "")
    assert "stopped" in worker.output().splitlines()[-1]

    stack.spawn()  # the handed-back step is queued again: another worker finishes the job
    job = (await stack.wait_done([rid], timeout=90))[rid]
    assert job.status is JobStatus.SUCCEEDED
    assert max(stack.succeeded_runs().values()) == 1
    assert_single_outputs(stack, [rid])  # the stopped transcode cleaned up after itself


def test_the_worker_refuses_to_start_without_a_broker(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from elyune_cli import app

    env = {"ELYUNE_DATA_DIR": str(tmp_path), "REDIS_URL": "", "CELERY_BROKER_URL": ""}
    result = CliRunner().invoke(app, ["worker"], env=env)
    assert result.exit_code == 2
    assert "set REDIS_URL (or CELERY_BROKER_URL)" in result.output
    assert len(result.output.strip().splitlines()) == 1
