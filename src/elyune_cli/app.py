"""The ``elyune`` command (typer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.markup import escape

from elyune_adapters.container import Container, resolve
from elyune_cli import render
from elyune_cli.runtime import (
    configure_logging,
    console,
    err_console,
    fail,
    guarded,
    run,
    settings,
    state,
)
from elyune_cli.worker import worker
from elyune_core import (
    GetRecordingInput,
    ImportRecordingInput,
    JobId,
    JobStatus,
    ListRecordingsInput,
    RecordingDetails,
    RecordingId,
    RecordingNotFoundError,
    RecordingStatus,
    RetryJobInput,
    StartProcessingInput,
    TranscriptFormat,
    TranscriptNotFoundError,
    User,
    UserNotFoundError,
    VoiceProfileId,
    VoiceProfileNotFoundError,
    export,
)
from elyune_core.ports import RecordingEvent
from elyune_core.use_cases import (
    CreateUserInput,
    RenameSpeakersInput,
    RenameVoiceProfileInput,
    SetPasswordInput,
    SetUserFlagsInput,
    SetVoiceProfilesInput,
)
from elyune_http import present

app = typer.Typer(
    name="elyune",
    help="Turn screen recordings into video, a timestamped transcript and analyses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
recordings_app = typer.Typer(help="List, show and export recordings.", no_args_is_help=True)
jobs_app = typer.Typer(help="Inspect and retry processing jobs.", no_args_is_help=True)
users_app = typer.Typer(help="Manage the users who can log in to the API.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
storage_app = typer.Typer(help="Stored recordings: retention.", no_args_is_help=True)
profiles_app = typer.Typer(
    help="Voice profiles: speakers named by hand, recognised by voice in new recordings.",
    no_args_is_help=True,
)
app.add_typer(recordings_app, name="recordings")
app.add_typer(jobs_app, name="jobs")
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")
app.add_typer(storage_app, name="storage")
app.add_typer(profiles_app, name="profiles")
app.command()(worker)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show progress logs.")] = False,
) -> None:
    state.debug = debug
    state.verbose = verbose


def main() -> None:
    """Entry point of the ``elyune`` script."""
    app()


# --------------------------------------------------------------------------- process


@app.command()
def process(
    file: Annotated[Path, typer.Argument(help="A WebM (or other audio/video) file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    title: Annotated[str | None, typer.Option(help="Title of the recording.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Spoken language (e.g. en, de); detected if omitted.")
    ] = None,
    speakers: Annotated[
        int | None, typer.Option(help="Exactly this many speakers (diarization hint).")
    ] = None,
    max_speakers: Annotated[
        int | None, typer.Option(help="At most this many speakers (diarization hint).")
    ] = None,
) -> None:
    """Process FILE: convert, transcribe and analyse it, then print the results."""
    if not file.exists():
        fail(f"{file}: no such file.", 2)
    if not file.is_file():
        fail(f"{file}: not a file.", 2)

    async def work(container: Container) -> RecordingDetails:
        config = container.settings()
        user = await (await resolve(container.ensure_user())).execute(config.cli_user)
        imported = await (await resolve(container.import_recording())).execute(
            ImportRecordingInput(
                user.id,
                file.absolute(),
                title=title,
                language=language,
                num_speakers=speakers,
                max_speakers=max_speakers,
            )
        )
        recording_id = imported.recording.id
        async with container.events().subscribe(recording_id) as events:
            started = await (await resolve(container.start_processing())).execute(
                StartProcessingInput(recording_id)
            )
            await _follow(container, started.job_id, events, quiet=as_json)
        return await (await resolve(container.get_recording())).execute(
            GetRecordingInput(recording_id)
        )

    result = run(work, start=True)
    _print_details(result, as_json)
    if result.recording.status is RecordingStatus.FAILED:
        raise typer.Exit(1)


async def _follow(
    container: Container,
    job_id: JobId,
    events: asyncio.Queue[RecordingEvent],
    *,
    quiet: bool,
) -> None:
    """Show the job's steps until it ends (also when steps run in other processes)."""
    uow = await resolve(container.uow())

    async def load() -> Any:
        async with uow() as tx:
            return await tx.jobs.get(job_id)

    seen: dict[str, str] = {}
    live = Live(console=err_console, auto_refresh=False, transient=False)
    use_live = err_console.is_terminal and not quiet
    if use_live:
        live.start()
    try:
        while True:
            job = await load()
            if use_live:
                live.update(render.steps_table(job), refresh=True)
            elif not quiet:
                for step in job.steps:
                    if (
                        seen.get(step.name.value) != step.status.value
                        and step.status.value != "pending"
                    ):
                        seen[step.name.value] = step.status.value
                        err_console.print(render.step_line(job, step.name.value), highlight=False)
            if job.status.finished:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(events.get(), timeout=0.5)
    finally:
        if use_live:
            live.stop()
    queue = await resolve(container.job_queue())
    await queue.join()  # let the last commits and events land before shutting down


def _details_dict(data: RecordingDetails) -> dict[str, Any]:
    """The API's detail of the recording, with the transcript's words."""
    return present.recording_detail(data, words=True)


def _print_details(data: RecordingDetails, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(_details_dict(data), ensure_ascii=False, indent=2) + "\n")
    else:
        render.details(console, data)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="API processes on this port (default: one per core with Redis, else 1).",
        ),
    ] = None,
) -> None:
    """Run the REST API (with the embedded defaults when nothing is configured)."""
    import functools
    import os

    import attrs

    from elyune_http import run as run_api

    config = settings()
    shared = config.queue.kind == "redis"
    if workers is None:
        workers = (os.cpu_count() or 1) if shared else 1
    if workers > 1 and not shared:
        err_console.print(
            "[red]--workers needs REDIS_URL:[/red] without Redis the API serves from one "
            "process (its rate limits, caches and in-process jobs live in that process)."
        )
        raise typer.Exit(2)
    http = attrs.evolve(config.http.listening_on(host, port), workers=workers)
    configure_logging(config, verbose=True)
    err_console.print(
        f"Elyune API on http://{http.host}:{http.port} ({config.mode} mode, "
        f"{workers} process{'es' if workers > 1 else ''}); docs at {http.public_url}/api/docs/",
        soft_wrap=True,  # a URL broken over two lines cannot be clicked or copied
    )
    run_api(
        attrs.evolve(config, http=http),
        setup=functools.partial(configure_logging, config, verbose=True),
    )


# --------------------------------------------------------------------------- recordings


@recordings_app.command("list")
def recordings_list(
    status: Annotated[RecordingStatus | None, typer.Option(help="Only this status.")] = None,
    search: Annotated[str | None, typer.Option(help="Words in the title.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    page: Annotated[int, typer.Option(min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List recordings, newest first."""

    async def work(container: Container) -> Any:
        return await (await resolve(container.list_recordings())).execute(
            ListRecordingsInput(
                status=status, search=search, offset=(page - 1) * limit, limit=limit
            )
        )

    result = run(work)
    if as_json:
        body = present.page_body(result, None, None)
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    else:
        console.print(render.recordings_table(result.items, result.total))


@recordings_app.command("show")
def recordings_show(
    recording_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a recording with its steps, transcript and analyses."""

    async def work(container: Container) -> RecordingDetails:
        return await (await resolve(container.get_recording())).execute(
            GetRecordingInput(RecordingId(recording_id))
        )

    data = run(work)
    if as_json:
        _print_details(data, True)
        return
    render.details(console, data)
    if data.job is not None:
        console.print(render.steps_table(data.job))


@recordings_app.command("export")
def recordings_export(
    recording_id: Annotated[str, typer.Argument(metavar="ID")],
    fmt: Annotated[TranscriptFormat, typer.Option("--format", "-f")] = TranscriptFormat.SRT,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Export the transcript of a recording as SRT, WebVTT, text or JSON."""

    async def work(container: Container) -> str:
        data = await (await resolve(container.get_recording())).execute(
            GetRecordingInput(RecordingId(recording_id))
        )
        if data.transcript is None:
            raise TranscriptNotFoundError("The recording has no transcript (yet).")
        return export(data.transcript, fmt, data.recording.speaker_names)

    text = run(work)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}", 1)
    err_console.print(f"Wrote {output}")


# --------------------------------------------------------------------------- jobs


@jobs_app.command("retry")
def jobs_retry(
    recording_id: Annotated[str, typer.Argument(metavar="ID", help="Recording (or job) id.")],
) -> None:
    """Re-run only the failed steps of a recording's job, and wait for them."""

    async def work(container: Container) -> RecordingDetails:
        rid = await _recording_id(container, recording_id)
        async with container.events().subscribe(rid) as events:
            result = await (await resolve(container.retry_job())).execute(RetryJobInput(rid))
            err_console.print(f"Retrying: {', '.join(result.reset)}")
            await _follow(container, result.job_id, events, quiet=False)
        return await (await resolve(container.get_recording())).execute(GetRecordingInput(rid))

    data = run(work, start=True)
    console.print(render.header(data.recording))
    if data.recording.status is RecordingStatus.FAILED:
        raise typer.Exit(1)


@jobs_app.command("list")
def jobs_list(
    status: Annotated[JobStatus | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List processing jobs, newest first."""

    async def work(container: Container) -> Any:
        async with (await resolve(container.uow()))() as uow:
            return await uow.jobs.list(status, limit)

    jobs = run(work)
    if as_json:
        sys.stdout.write(json.dumps([present.job_to_dict(j) for j in jobs], indent=2) + "\n")
    else:
        console.print(render.jobs_table(jobs))


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job (or recording) id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a job's steps: status, attempts, timings, errors and which worker ran them."""

    async def work(container: Container) -> Any:
        rid = await _recording_id(container, job_id)
        async with (await resolve(container.uow()))() as uow:
            return await uow.jobs.for_recording(rid)

    job = run(work)
    if job is None:
        fail("the recording has no job yet.", 3)
    if as_json:
        sys.stdout.write(json.dumps(present.job_to_dict(job), indent=2) + "\n")
        return
    console.print(render.steps_table(job))
    for step in job.steps:
        if step.worker:
            console.print(f"  {step.name.value}: worker {step.worker}", style="dim")


async def _recording_id(container: Container, some_id: str) -> RecordingId:
    """The recording id for *some_id*, which may be a recording's or a job's id."""
    async with (await resolve(container.uow()))() as uow:
        try:
            return (await uow.recordings.get(RecordingId(some_id))).id
        except RecordingNotFoundError:
            pass
        try:
            return (await uow.jobs.get(JobId(some_id))).recording_id
        except Exception:
            raise RecordingNotFoundError(f"No recording or job with id {some_id}.") from None


@recordings_app.command("speakers")
def recordings_speakers(
    recording_id: Annotated[str, typer.Argument(metavar="ID")],
    names: Annotated[
        list[str], typer.Argument(metavar="LABEL=NAME...", help='e.g. 0=Alice 1="Bob B."')
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Name the speakers of a recording (``LABEL=`` removes a name); the voices named
    teach the owner's voice profiles."""
    pairs: dict[str, str] = {}
    for item in names:
        label, sep, name = item.partition("=")
        if not sep:
            fail(f"{item!r}: write LABEL=NAME, e.g. 0=Alice.", 2)
        pairs[label.strip()] = name

    async def work(container: Container) -> Any:
        data = await (await resolve(container.get_recording())).execute(
            GetRecordingInput(RecordingId(recording_id), urls=False)
        )
        return await (await resolve(container.rename_speakers())).execute(
            RenameSpeakersInput(data.recording.owner_id, data.recording.id, pairs)
        )

    recording = run(work)
    if as_json:
        body = present.speaker_names_to_dict(recording)
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    for label, name in sorted(recording.speaker_names.items()):
        console.print(f"{label}\t{name}", highlight=False, markup=False)


# --------------------------------------------------------------------------- voice profiles

_USER_OPTION = typer.Option(
    "--user", help="Whose profiles (a user name; default: ELYUNE_CLI_USER, as for process)."
)


async def _profile_owner(container: Container, username: str | None) -> User | None:
    if username is not None:
        return await _user_named(container, username)
    async with (await resolve(container.uow()))() as uow:
        return await uow.users.get_by_username(container.settings().cli_user)


@profiles_app.command("list")
def profiles_list(
    user: Annotated[str | None, _USER_OPTION] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a user's voice profiles: name, seconds of speech, recordings."""

    async def work(container: Container) -> Any:
        owner = await _profile_owner(container, user)
        if owner is None:
            return []
        return await (await resolve(container.list_voice_profiles())).execute(owner.id)

    profiles = run(work)
    if as_json:
        body = {
            "count": len(profiles),
            "results": [present.voice_profile_to_dict(p) for p in profiles],
        }
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(render.profiles_table(profiles))


@profiles_app.command("rename")
def profiles_rename(
    profile_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str, typer.Argument(metavar="NAME")],
    user: Annotated[str | None, _USER_OPTION] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rename a voice profile; the speakers it named follow."""

    async def work(container: Container) -> Any:
        owner = await _profile_owner(container, user)
        if owner is None:
            raise VoiceProfileNotFoundError("No such voice profile.")
        return await (await resolve(container.rename_voice_profile())).execute(
            RenameVoiceProfileInput(owner.id, VoiceProfileId(profile_id), name)
        )

    profile = run(work)
    if as_json:
        sys.stdout.write(
            json.dumps(present.voice_profile_to_dict(profile), ensure_ascii=False) + "\n"
        )
        return
    message = f"Voice profile {profile.id} is now {profile.name}."
    console.print(message, highlight=False, markup=False)


@profiles_app.command("delete")
def profiles_delete(
    profile_id: Annotated[str, typer.Argument(metavar="ID")],
    user: Annotated[str | None, _USER_OPTION] = None,
) -> None:
    """Delete a voice profile and the names it gave (names given by hand stay)."""

    async def work(container: Container) -> None:
        owner = await _profile_owner(container, user)
        if owner is None:
            raise VoiceProfileNotFoundError("No such voice profile.")
        await (await resolve(container.delete_voice_profile())).execute(
            owner.id, VoiceProfileId(profile_id)
        )

    run(work)
    console.print(f"Deleted voice profile {profile_id}.", highlight=False, markup=False)


# --------------------------------------------------------------------------- users


def _read_password(from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input.", 2)
        return password
    if not sys.stdin.isatty():
        fail("no terminal to ask for a password; use --password-stdin.", 2)
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(metavar="NAME")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    staff: Annotated[
        bool, typer.Option("--staff", help="An operator: the web app's operator view.")
    ] = False,
) -> None:
    """Create a user who can log in to the API (password prompted, or from stdin)."""
    password = _read_password(password_stdin)

    async def work(container: Container) -> Any:
        return await (await resolve(container.create_user())).execute(
            CreateUserInput(username, password, is_staff=staff)
        )

    user = run(work)
    console.print(f"Created {'staff ' if user.is_staff else ''}user {user.username} ({user.id})")


def _set_flags(username: str, **flags: bool) -> Any:
    async def work(container: Container) -> Any:
        return await (await resolve(container.set_user_flags())).execute(
            SetUserFlagsInput(username, **flags)
        )

    return run(work)


@users_app.command("set-staff")
def users_set_staff(
    username: Annotated[str, typer.Argument(metavar="NAME")],
    off: Annotated[bool, typer.Option("--off", help="Take the staff flag away.")] = False,
) -> None:
    """Make a user staff (an operator), or with --off a regular user again."""
    user = _set_flags(username, is_staff=not off)
    console.print(f"{user.username} is {'staff' if user.is_staff else 'no longer staff'}.")


@users_app.command("deactivate")
def users_deactivate(username: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Stop a user from logging in; their sessions end within seconds, their recordings
    are kept."""
    user = _set_flags(username, is_active=False)
    console.print(f"{user.username} is deactivated.")


@users_app.command("activate")
def users_activate(username: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Let a deactivated user log in again."""
    user = _set_flags(username, is_active=True)
    console.print(f"{user.username} is active.")


@users_app.command("list")
def users_list() -> None:
    """List users."""

    async def work(container: Container) -> Any:
        async with (await resolve(container.uow()))() as uow:
            return await uow.users.list()

    users = run(work)
    for user in users:
        flag = ("" if user.is_active else " (inactive)") + (" (staff)" if user.is_staff else "")
        console.print(f"{user.username}\t{user.id}\t{user.created_at:%Y-%m-%d}{flag}")


@users_app.command("voice-profiles")
def users_voice_profiles(
    username: Annotated[str, typer.Argument(metavar="NAME")],
    enabled: Annotated[
        bool,
        typer.Option(
            "--on/--off",
            help="Keep named speakers' voices and recognise them (--off deletes the "
            "user's voice profiles).",
        ),
    ],
) -> None:
    """Turn a user's voice profiles on or off."""

    async def work(container: Container) -> Any:
        user = await _user_named(container, username)
        return await (await resolve(container.set_voice_profiles())).execute(
            SetVoiceProfilesInput(user.id, enabled)
        )

    result = run(work)
    state_text = "on" if result.user.voice_profiles else "off"
    deleted = f"; {result.deleted} profile(s) deleted" if result.deleted else ""
    console.print(f"Voice profiles of {username} are {state_text}{deleted}.", highlight=False)


async def _user_named(container: Container, username: str) -> User:
    async with (await resolve(container.uow()))() as uow:
        user = await uow.users.get_by_username(username)
    if user is None:
        raise UserNotFoundError(f"No user called {username!r}.")
    return user


@users_app.command("set-password")
def users_set_password(
    username: Annotated[str, typer.Argument(metavar="NAME")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set (reset) a user's password; it ends the user's sessions."""
    password = _read_password(password_stdin)

    async def work(container: Container) -> Any:
        return await (await resolve(container.set_password())).execute(
            SetPasswordInput(username, password)
        )

    run(work)
    console.print(f"Password of {username} changed.")


# --------------------------------------------------------------------------- database


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""

    async def work(container: Container) -> Any:
        return await (await resolve(container.schema())).upgrade()

    revision = run(work)
    console.print(f"Database at revision {revision}.")


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the newest one."""

    async def work(container: Container) -> Any:
        schema = await resolve(container.schema())
        return await schema.current(), schema.head()

    revision, head = run(work)
    note = "up to date" if revision == head else f"newest is {head}"
    console.print(f"{revision or 'empty'} ({note})")


# --------------------------------------------------------------------------- retention and usage

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str, option: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` or ``2w`` as a time span; a clear exit otherwise."""
    value, unit = text[:-1], text[-1:].lower()
    if unit not in _UNITS or not value.isdigit() or int(value) <= 0:
        fail(f"{option} takes a span like 30d, 12h, 90m or 2w, not {text!r}.", 2)
    return timedelta(seconds=int(value) * _UNITS[unit])


@storage_app.command("cleanup")
def storage_cleanup(
    older_than: Annotated[str, typer.Option("--older-than", help="Age, e.g. 30d.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be deleted.")
    ] = False,
) -> None:
    """Delete recordings older than a span, with all their objects and rows."""
    age = parse_age(older_than, "--older-than")

    async def work(container: Container) -> Any:
        cutoff = (await resolve(container.clock())).now() - age
        return await (await resolve(container.cleanup_recordings())).execute(
            cutoff, dry_run=dry_run
        )

    result = run(work)
    verb = "Would delete" if result.dry_run else "Deleted"
    for recording in result.recordings:
        console.print(
            f"  {recording.id}  {recording.created_at:%Y-%m-%d}  {recording.title}",
            highlight=False,
        )
    console.print(
        f"{verb} {len(result.recordings)} recording(s), {result.objects} object(s), "
        f"{render.size(result.bytes)} freed."
    )


@app.command()
def usage(
    since: Annotated[str, typer.Option(help="Span to sum, e.g. 30d.")] = "30d",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Audio minutes transcribed and analysis tokens per user."""
    span = parse_age(since, "--since")

    async def work(container: Container) -> Any:
        start = (await resolve(container.clock())).now() - span
        return await (await resolve(container.usage_report())).execute(start)

    rows = run(work)
    if as_json:
        body = [
            {
                "username": r.username,
                "recordings": r.recordings,
                "audio_minutes": r.audio_minutes,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    console.print(render.usage_table(rows, since))


# --------------------------------------------------------------------------- search


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _search_user(container: Container, name: str | None) -> Any:
    """The user whose recordings are searched: *name*, else the CLI's own user."""

    async def find() -> Any:
        if name is None:  # the user `elyune process` files recordings under
            return await (await resolve(container.ensure_user())).execute(
                container.settings().cli_user
            )
        async with (await resolve(container.read_uow()))() as uow:
            user = await uow.users.get_by_username(name)
        if user is None:
            raise UserNotFoundError(f"No user called {name!r}.")
        return user

    return find()


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words and "quoted phrases" to find.')],
    user: Annotated[
        str | None, typer.Option(help="Whose recordings (default: the CLI's own user).")
    ] = None,
    speaker: Annotated[str | None, typer.Option(help="Only what this speaker said.")] = None,
    status: Annotated[RecordingStatus | None, typer.Option(help="Only this status.")] = None,
    recording: Annotated[str | None, typer.Option(help="Only this recording.")] = None,
    created_after: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM-DD", help="Only recordings created on or after this day (UTC)."
        ),
    ] = None,
    created_before: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="Only recordings created before this day (UTC)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    page: Annotated[int, typer.Option(min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search one user's transcripts, titles, speaker names and analyses."""
    from elyune_core.use_cases import SearchInput
    from elyune_http.search import parse_day

    def days() -> tuple[datetime | None, datetime | None]:
        return (
            None if created_after is None else parse_day("--created-after", created_after),
            None if created_before is None else parse_day("--created-before", created_before),
        )

    after, before = guarded(days)  # a bad date: one line, exit 2, before any work

    async def work(container: Container) -> Any:
        owner = await _search_user(container, user)
        return await (await resolve(container.search_recordings())).execute(
            SearchInput(
                owner_id=owner.id,
                text=query,
                speaker=speaker,
                status=status,
                created_after=after,
                created_before=before,
                recording_id=None if recording is None else RecordingId(recording),
                offset=(page - 1) * limit,
                limit=limit,
            )
        )

    result = run(work)
    if as_json:
        body = {
            "count": result.total,
            "results": [present.search_hit_to_dict(h) for h in result.items],
        }
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    if not result.items:
        console.print("No matches.")
        return
    console.print(f"{result.total} match(es)")
    for hit in result.items:
        where = f"{_clock(hit.start)}" if hit.start is not None else hit.kind.value
        who = f" {hit.speaker_name}:" if hit.speaker_name else ""
        console.print(
            f"[bold]{escape(hit.recording_title)}[/] [dim]{hit.recording_id}[/] "
            f"[cyan]{where}[/]{escape(who)} {escape(hit.snippet.text)}"
        )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    user: Annotated[
        str | None, typer.Option(help="Whose recordings (default: the CLI's own user).")
    ] = None,
    recording: Annotated[str | None, typer.Option(help="Ask only this recording.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ask a question of one user's recordings; the answer cites checked moments."""
    from elyune_core.use_cases import AskInput

    async def work(container: Container) -> Any:
        owner = await _search_user(container, user)
        return await (await resolve(container.ask_question())).execute(
            AskInput(owner.id, question, None if recording is None else RecordingId(recording))
        )

    answer = run(work)
    if as_json:
        sys.stdout.write(
            json.dumps(present.answer_to_dict(answer), ensure_ascii=False, indent=2) + "\n"
        )
        return
    console.print(f"[dim]{answer.kind.value} answer ({escape(answer.engine)})[/]")
    console.print(escape(answer.text))
    for c in answer.citations:
        console.print(
            f"  [cyan]{c.recording_id} {_clock(c.start)}-{_clock(c.end)}[/] "
            f"{escape(c.speaker_name or '')}: \u201c{escape(c.quote)}\u201d"
        )
    if answer.flagged:
        console.print("[yellow]Some citations failed the checks and were dropped.[/]")
