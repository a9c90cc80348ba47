"""CPU-heavy engines in child processes that can be watched, stopped and killed.

A speech model runs native code (CTranslate2, BLAS) that Python cannot interrupt: a
thread stuck in it cannot be cancelled, slows everything else down, and keeps a stopping
worker alive. So the embedded engines run in a child Python process instead, and this
module is the parent's side of it:

* The child is ``python -m <module>``. It reads one JSON document per line on its stdin
  (its configuration first, then one request per line) and writes one per line on the
  descriptor the parent gives it: ``{"type": "progress", "value": 0.4}`` while it works,
  then ``{"type": "result", ...}`` or ``{"type": "error", "message": ..., "transient":
  ...}``. Whatever else it prints goes to the worker's log.
* A child that writes nothing for ``stall_seconds`` is stuck: it is killed and the call
  fails with a transient error (a retry may well succeed). A call that runs past its
  time limit is killed too. Cancelling the call (a worker stopping, the pipeline's own
  watchdog) kills the child at once, so no copy of the work runs on.
* Numerical libraries in the child get the threads the engine was given
  (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``), and the child gets
  ``SIGKILL`` when its parent dies (Linux).
* A child that answered stays alive for the next call, with its model loaded (a warm
  engine); :class:`EnginePool` keeps up to *size* of them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from elyune_adapters.processes import die_with_parent

logger = logging.getLogger("elyune.engine")

#: Environment variables that bound the threads of numerical libraries.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
#: Longest message line a child may write (a long transcript's result).
_LINE_LIMIT = 256 * 1024 * 1024


class EngineError(Exception):
    """A call to an engine process failed; ``transient`` when a retry may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class EngineProcess:
    """One child process running *module* (see the module docstring)."""

    def __init__(
        self,
        module: str,
        config: Mapping[str, Any],
        *,
        threads: int,
        name: str = "engine",
    ) -> None:
        self._module = module
        self._config = dict(config)
        self._threads = max(1, threads)
        self._name = name
        self._process: asyncio.subprocess.Process | None = None
        self._messages: asyncio.StreamReader | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process and self._process.returncode is None else None

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        """Start the child and send it its configuration."""
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        for variable in THREAD_VARIABLES:
            env[variable] = str(self._threads)
        env["ELYUNE_ENGINE_FD"] = str(write_fd)
        env["PYTHONUNBUFFERED"] = "1"
        # glibc gives each thread that allocates its own heap arena; the model's threads
        # then scatter freed memory over many arenas that are never returned, and the
        # engine's RSS creeps up with the recording's length. Two arenas keep it flat.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self._module,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                pass_fds=(write_fd,),
                preexec_fn=die_with_parent,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            os.close(read_fd)
            raise EngineError(
                f"the {self._name} could not be started: {exc}", transient=True
            ) from exc
        finally:
            os.close(write_fd)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_LINE_LIMIT)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
        )
        self._messages = reader
        assert self._process.stderr is not None
        self._stderr_task = asyncio.create_task(self._drain(self._process.stderr))
        await self._send(self._config)

    async def call(
        self,
        request: Mapping[str, Any],
        *,
        stall_seconds: float,
        time_limit: float | None = None,
        on_progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Send *request* and return the child's result.

        Raises :class:`EngineError` when the child fails, is stuck for *stall_seconds*,
        runs past *time_limit* or dies; the child is killed in each of those cases, and
        when the call is cancelled.
        """
        if not self.alive:
            await self.start()
        assert self._messages is not None
        ok = False
        started = time.monotonic()
        try:
            await self._send(request)
            while True:
                wait = stall_seconds
                if time_limit is not None:
                    left = time_limit - (time.monotonic() - started)
                    if left <= 0:
                        raise EngineError(
                            f"the {self._name} took longer than {time_limit:g} s and was stopped",
                            transient=False,
                        )
                    wait = min(wait, left)
                try:
                    line = await asyncio.wait_for(self._messages.readline(), wait)
                except TimeoutError:
                    if time_limit is not None and time.monotonic() - started >= time_limit:
                        continue  # reported as past its time limit above
                    raise EngineError(
                        f"the {self._name} made no progress for {stall_seconds:g} s and was "
                        "stopped",
                        transient=True,
                    ) from None
                except ValueError as exc:  # a line over the limit
                    raise EngineError(
                        f"the {self._name} answered too much: {exc}", transient=False
                    ) from exc
                if not line:
                    raise EngineError(await self._death(), transient=True)
                message = _parse(line)
                kind = message.get("type")
                if kind == "progress":
                    if on_progress is not None:
                        await on_progress(float(message.get("value", 0.0)))
                elif kind == "result":
                    ok = True
                    return message
                elif kind == "error":
                    ok = True  # the child is fine; the request was not
                    raise EngineError(
                        str(message.get("message") or f"the {self._name} failed"),
                        transient=bool(message.get("transient", False)),
                    )
        finally:
            if not ok:
                await self.kill()

    async def kill(self) -> None:
        """Kill the child (if it runs) and wait for it."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(Exception):
                await process.wait()
        await self._close_pipes()

    def abandon(self) -> None:
        """Kill the child without its event loop (which may be closed) and forget it."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, OSError):
                os.kill(process.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(process.pid, 0)
        self._process = None
        self._messages = None
        self._stderr_task = None

    async def close(self) -> None:
        """Ask the child to exit (end of its input), kill it if it does not."""
        process = self._process
        if process is not None and process.returncode is None and process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 5.0)
        await self.kill()

    # ------------------------------------------------------------------ internals

    async def _send(self, document: Mapping[str, Any]) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        try:
            process.stdin.write(json.dumps(document).encode() + b"\n")
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise EngineError(await self._death(), transient=True) from exc

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        with contextlib.suppress(ValueError, OSError):
            while line := await stream.readline():
                text = line.decode("utf-8", errors="replace").rstrip()
                if text:
                    self._stderr.append(text)
                    logger.debug("%s: %s", self._name, text)

    async def _death(self) -> str:
        process = self._process
        code = None
        if process is not None:
            try:
                code = await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                code = None
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        last = next((line for line in reversed(self._stderr) if line.strip()), "")
        how = (
            f"was killed by signal {-code}"
            if code is not None and code < 0
            else f"exited with status {code}"
            if code is not None
            else "stopped answering"
        )
        reason = f"the {self._name} {how}"
        if code is not None and -code == signal.SIGKILL:
            reason += " (out of memory?)"
        return f"{reason}: {last}" if last else reason

    async def _close_pipes(self) -> None:
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stderr_task
            self._stderr_task = None
        self._messages = None


class EnginePool:
    """Up to *size* warm :class:`EngineProcess` children, handed out one call at a time.

    Children belong to the event loop that started them: used from another loop (a new
    ``asyncio.run``), the pool kills the old ones and starts afresh.
    """

    def __init__(self, factory: Callable[[], EngineProcess], size: int = 1) -> None:
        self._factory = factory
        self._size = max(1, size)
        self._slots = asyncio.Semaphore(self._size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[EngineProcess] = []
        self._busy: set[EngineProcess] = set()

    def _follow_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        for engine in (*self._idle, *self._busy):
            engine.abandon()
        self._idle.clear()
        self._busy.clear()
        self._slots = asyncio.Semaphore(self._size)
        self._loop = loop

    @contextlib.asynccontextmanager
    async def engine(self) -> AsyncIterator[EngineProcess]:
        """A child for one call; it goes back to the pool only if it is still alive."""
        self._follow_loop()
        async with self._slots:
            engine = self._idle.pop() if self._idle else self._factory()
            self._busy.add(engine)
            try:
                yield engine
            finally:
                self._busy.discard(engine)
                if engine.alive:
                    self._idle.append(engine)

    @property
    def pids(self) -> list[int]:
        """Process ids of the running children."""
        return [e.pid for e in (*self._idle, *self._busy) if e.pid is not None]

    def abandon(self) -> None:
        """Kill every child now, without an event loop (the one that started them may be
        closed): for tests and process exit."""
        for engine in (*self._idle, *self._busy):
            engine.abandon()
        self._idle.clear()
        self._busy.clear()
        self._loop = None

    async def close(self) -> None:
        """Stop every child."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            self._follow_loop()
            return
        engines = [*self._idle, *self._busy]
        self._idle.clear()
        await asyncio.gather(*(e.close() for e in engines), return_exceptions=True)


def _parse(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        return {"type": "noise"}
    return message if isinstance(message, dict) else {"type": "noise"}


# --------------------------------------------------------------------------- child side


class ChildChannel:
    """The child's end: requests from stdin, messages to the parent's descriptor.

    Anything the child's libraries print to stdout goes to stderr instead, so it cannot
    be mistaken for a message.
    """

    def __init__(self) -> None:
        fd = int(os.environ.get("ELYUNE_ENGINE_FD", "1"))
        out = os.dup(fd)
        if fd != 2:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.dup2(2, 1)  # stray prints go to the log
        self._out = os.fdopen(out, "w", buffering=1, encoding="utf-8")
        self._in = sys.stdin

    def read(self) -> dict[str, Any] | None:
        """The next request, or ``None`` once the parent closed the input."""
        while True:
            line = self._in.readline()
            if not line:
                return None
            if line.strip():
                parsed = json.loads(line)
                return parsed if isinstance(parsed, dict) else {}

    def send(self, message: Mapping[str, Any]) -> None:
        """Write one message line."""
        self._out.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._out.flush()

    def progress(self, value: float) -> None:
        """Tell the parent how far the work is (0 to 1)."""
        self.send({"type": "progress", "value": round(float(value), 4)})

    def error(self, message: str, *, transient: bool) -> None:
        """Tell the parent the request failed."""
        self.send({"type": "error", "message": message, "transient": transient})


__all__ = ["THREAD_VARIABLES", "ChildChannel", "EngineError", "EnginePool", "EngineProcess"]
