"""Engines in child processes: watched for progress, killed when stuck or stopped."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from elyune_adapters.asr.engine import EngineError, EnginePool, EngineProcess

MODULE = "tests.support.fake_engine"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


async def _gone(pid: int) -> bool:
    for _ in range(100):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
async def engine():
    process = EngineProcess(MODULE, {"model": "fake"}, threads=1, name="test engine")
    yield process
    await process.close()


async def test_an_engine_answers_and_stays_warm_with_its_threads_bounded(engine):
    first = await engine.call({"do": "echo"}, stall_seconds=30)
    second = await engine.call({"do": "echo"}, stall_seconds=30)
    assert first["pid"] == second["pid"] == engine.pid  # the same warm child
    assert first["threads"] == "1"  # OPENBLAS_NUM_THREADS follows the engine's threads


async def test_progress_reaches_the_caller(engine):
    seen: list[float] = []

    async def on_progress(value: float) -> None:
        seen.append(value)

    await engine.call({"do": "progress", "n": 4}, stall_seconds=30, on_progress=on_progress)
    assert seen == [0.1, 0.2, 0.3, 0.4]


async def test_a_slow_engine_that_reports_progress_is_not_stopped(engine):
    started = time.monotonic()
    # 8 x 0.2 s = 1.6 s in all, but never 0.5 s without a word
    answer = await engine.call({"do": "progress", "n": 8, "pause": 0.2}, stall_seconds=0.5)
    assert answer["type"] == "result" and time.monotonic() - started >= 1.6


async def test_a_stuck_engine_is_killed_and_the_call_fails_transiently(engine):
    await engine.call({"do": "echo"}, stall_seconds=30)
    pid = engine.pid
    with pytest.raises(EngineError, match=r"made no progress for 0\.5 s and was stopped") as caught:
        await engine.call({"do": "hang"}, stall_seconds=0.5)
    assert caught.value.transient
    assert await _gone(pid)
    again = await engine.call({"do": "echo"}, stall_seconds=30)  # a fresh child
    assert again["pid"] != pid


async def test_an_engine_past_its_time_limit_is_killed(engine):
    with pytest.raises(EngineError, match=r"took longer than 0\.6 s") as caught:
        await engine.call(
            {"do": "progress", "n": 100, "pause": 0.05}, stall_seconds=30, time_limit=0.6
        )
    assert not caught.value.transient
    assert engine.pid is None


async def test_cancelling_a_call_kills_the_engine_at_once(engine):
    await engine.call({"do": "echo"}, stall_seconds=30)
    pid = engine.pid
    task = asyncio.ensure_future(engine.call({"do": "hang"}, stall_seconds=60))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _gone(pid)  # no copy of the work runs on


async def test_an_engine_that_dies_says_so_with_its_last_words(engine):
    with pytest.raises(EngineError, match=r"exited with status 3: fake engine: giving up") as c:
        await engine.call({"do": "die"}, stall_seconds=30)
    assert c.value.transient


async def test_an_error_answer_keeps_the_engine(engine):
    await engine.call({"do": "echo"}, stall_seconds=30)
    pid = engine.pid
    with pytest.raises(EngineError, match="the audio is unreadable") as caught:
        await engine.call({"do": "fail"}, stall_seconds=30)
    assert not caught.value.transient
    assert engine.pid == pid


async def test_a_pool_hands_out_warm_engines_and_closes_them():
    pool = EnginePool(lambda: EngineProcess(MODULE, {}, threads=1), size=2)
    async with pool.engine() as one:
        first = await one.call({"do": "echo"}, stall_seconds=30)
    async with pool.engine() as again:
        assert (await again.call({"do": "echo"}, stall_seconds=30))["pid"] == first["pid"]
    pids = pool.pids
    await pool.close()
    assert pids and all([await _gone(pid) for pid in pids])
