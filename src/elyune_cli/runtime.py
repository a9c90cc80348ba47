"""How a CLI command runs: settings, the container's life, and errors as one clear line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from elyune_adapters import logs
from elyune_adapters.container import Container, create_container, resolve
from elyune_adapters.settings import Settings, SettingsError, load_settings
from elyune_core.errors import ElyuneError, InvalidInputError, NotFoundError

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


class State:
    """Options shared by every command (set by the app's callback)."""

    debug: bool = False
    verbose: bool = False


state = State()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print *message* as one line on stderr and exit with *code*."""
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Settings:
    """The settings from the environment, or a clear exit when they are wrong."""
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


@contextlib.asynccontextmanager
async def open_container(config: Settings, *, start: bool = True) -> AsyncIterator[Container]:
    """A container, shut down on exit; with *start*, every resource is started first
    (needed to run steps in this process), else resources start on first use."""
    container = create_container(config)
    if start:
        await resolve(container.init_resources())
    try:
        yield container
    finally:
        await resolve(container.shutdown_resources())


def run(work: Callable[[Container], Awaitable[T]], *, start: bool = False) -> T:
    """Run *work* with a container; errors become a message and an exit code.

    *start* starts every resource first (the in-process queue needs it to run steps).
    """
    config = settings()
    configure_logging(config)

    async def main() -> T:
        async with open_container(config, start=start) as container:
            return await work(container)

    return guarded(lambda: asyncio.run(main()))


def guarded(call: Callable[[], T]) -> T:
    """Call *call*; its errors become one line on stderr and an exit code.

    Exit codes: 1 for a failure, 2 for bad settings or input, 3 for something not
    found, 130 when interrupted. ``--debug`` shows the traceback instead.
    """
    try:
        return call()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        raise typer.Exit(130) from None
    except Exception as exc:  # the entry point: never a traceback without --debug
        if state.debug:
            raise
        if isinstance(exc, NotFoundError):
            fail(str(exc), 3)
        if isinstance(exc, InvalidInputError | SettingsError):
            fail(str(exc), 2)
        if isinstance(exc, ElyuneError):
            fail(str(exc), 1)
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)", 1)


def configure_logging(config: Settings, *, verbose: bool = False) -> None:
    """Log to stderr: warnings by default, INFO with ``--verbose``, all with ``--debug``;
    secrets (tokens, signatures, keys, passwords) are masked in every record."""
    logs.install()
    if state.debug:
        level = logging.DEBUG
    elif state.verbose or verbose:
        level = logging.getLevelName(config.log_level)  # INFO unless LOG_LEVEL says
    else:
        level = logging.WARNING
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    quiet = max(level, logging.WARNING)
    for noisy in ("taskiq", "alembic", "faster_whisper", "httpx", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(quiet)
