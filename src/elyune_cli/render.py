"""Rich output of the CLI: step progress, transcripts, analyses, listings."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from elyune_core import (
    STEP_TITLES,
    ActionItems,
    Analysis,
    AnalysisStatus,
    Job,
    KeyPoints,
    Recording,
    RecordingDetails,
    RecordingStatus,
    Sentiment,
    StepStatus,
    Summary,
    UserUsage,
    VoiceProfile,
    clock,
    progress,
)

_STATUS_STYLE = {
    StepStatus.PENDING: ("·", "dim"),
    StepStatus.RUNNING: ("▶", "yellow"),
    StepStatus.SUCCEEDED: ("✓", "green"),
    StepStatus.FAILED: ("✗", "bold red"),
    StepStatus.SKIPPED: ("–", "cyan"),
}


def steps_table(job: Job) -> Table:
    """A table of the job's steps with status, attempts and time."""
    table = Table(title=f"Processing · {progress(job):.0f}%", title_justify="left", expand=False)
    table.add_column("Step")
    table.add_column("Status")
    table.add_column("Tries", justify="right")
    table.add_column("Time", justify="right")
    table.add_column("Note", overflow="fold", max_width=60)
    for step in job.steps:
        mark, style = _STATUS_STYLE[step.status]
        status = step.status.value
        if step.status is StepStatus.RUNNING and step.progress:
            status = f"running {step.progress * 100:.0f}%"
        elif step.status is StepStatus.PENDING and step.retry_at is not None:
            status = f"waiting until {step.retry_at:%H:%M:%S} UTC"
        note = step.error or str(step.output.get("reason", ""))
        table.add_row(
            STEP_TITLES[step.name],
            Text(f"{mark} {status}", style=style),
            str(step.attempts or ""),
            f"{step.duration:.1f}s" if step.duration is not None else "",
            note,
        )
    return table


def step_line(job: Job, name: str) -> str:
    """One plain line about a step, for logs and pipes."""
    step = next(s for s in job.steps if s.name.value == name)
    text = f"{STEP_TITLES[step.name]}: {step.status.value}"
    if step.status is StepStatus.PENDING and step.retry_at is not None:
        text += f" (waiting until {step.retry_at:%H:%M:%S} UTC for a service to come back)"
    if step.duration is not None and step.status.done:
        text += f" ({step.duration:.1f}s)"
    if step.error:
        text += f" - {step.error}"
    elif "reason" in step.output:
        text += f" - {step.output['reason']}"
    return text


def details(console: Console, data: RecordingDetails) -> None:
    """Print a recording: header, transcript with timestamps, the four analyses."""
    recording = data.recording
    console.print(header(recording))
    transcript = data.transcript
    if transcript is not None:
        lines = Text()
        for segment in transcript.segments:
            lines.append(f"[{clock(segment.start)}] ", style="dim")
            who = recording.speaker_name(segment.speaker)
            if who:
                lines.append(f"{who}: ", style="bold")
            lines.append(segment.text.strip() + "\n")
        if not transcript.segments:
            lines.append("(no speech detected)", style="dim")
        matched = [
            f"{m.name} (speaker {label}, {m.confidence:.0%})"
            for label, m in sorted(recording.speaker_matches.items())
        ]
        if matched:
            lines.append("Recognised by voice: " + ", ".join(matched) + "\n", style="dim")
        language = transcript.language or "unknown"
        console.print(
            Panel(
                lines,
                title=f"Transcript · {language} · {transcript.engine}",
                title_align="left",
            )
        )
    for analysis in data.analyses:
        console.print(analysis_panel(recording, analysis))


def header(recording: Recording) -> Text:
    """The recording's title, status and a few facts."""
    text = Text()
    text.append(recording.title, style="bold")
    text.append(f"  {recording.id}\n", style="dim")
    facts = [f"status: {recording.status.value}"]
    if recording.duration is not None:
        facts.append(f"duration: {clock(recording.duration)}")
    if recording.media is not None:
        media = recording.media
        if media.has_video:
            facts.append(f"video: {media.video_codec} {media.width}x{media.height}")
        if media.has_audio:
            facts.append(f"audio: {media.audio_codec}")
    text.append(" · ".join(facts))
    for stored in recording.files:
        name = stored.key.rsplit("/", 1)[-1]
        extra = f", {stored.width}x{stored.height}" if stored.width else ""
        text.append(f"\n  {stored.kind.value:<9} {name} ({size(stored.size)}{extra})", style="dim")
    if recording.error and recording.status is RecordingStatus.READY:
        text.append(
            f"\nUsable, but {recording.error} (`elyune jobs retry` re-runs only that)",
            style="bold yellow",
        )
    elif recording.error:
        text.append(f"\n{recording.error}", style="bold red")
    return text


def analysis_panel(recording: Recording, analysis: Analysis) -> Panel:
    """One analysis as a panel."""
    title = f"{analysis.kind.value.replace('_', ' ').title()} · {analysis.engine}"
    if analysis.status is not AnalysisStatus.SUCCEEDED or analysis.content is None:
        body = Text(f"{analysis.status.value}: {analysis.error or ''}", style="dim")
        return Panel(body, title=title, title_align="left")
    content = analysis.content
    parts: list[Text] = []
    if isinstance(content, Summary):
        parts.append(Text(content.title, style="bold"))
        parts.append(Text(content.text))
    elif isinstance(content, ActionItems):
        for item in content.items or ():
            line = Text("• ")
            if item.timestamp is not None:
                line.append(f"[{clock(item.timestamp)}] ", style="dim")
            line.append(item.text)
            extra = []
            if item.owner:
                extra.append(f"owner: {item.owner}")
            elif item.speaker:
                extra.append(f"said by: {recording.speaker_name(item.speaker)}")
            if item.due:
                extra.append(f"due: {item.due}")
            if extra:
                line.append(f"  ({', '.join(extra)})", style="cyan")
            parts.append(line)
        if not content.items:
            parts.append(Text("No action items.", style="dim"))
    elif isinstance(content, KeyPoints):
        for point in content.items:
            line = Text("• ")
            if point.timestamp is not None:
                line.append(f"[{clock(point.timestamp)}] ", style="dim")
            line.append(point.text)
            parts.append(line)
    elif isinstance(content, Sentiment):
        parts.append(Text(f"{content.label.value} ({content.score:+.2f})", style="bold"))
        if content.explanation:
            parts.append(Text(content.explanation))
        for speaker in content.speakers:
            who = recording.speaker_name(speaker.speaker) or speaker.speaker
            parts.append(Text(f"  {who}: {speaker.label.value} ({speaker.score:+.2f})"))
    return Panel(Group(*parts), title=title, title_align="left")


def recordings_table(items: Sequence[Recording], total: int) -> Table:
    """A listing of recordings."""
    table = Table(title=f"{total} recording(s)", title_justify="left")
    table.add_column("ID", no_wrap=True)
    table.add_column("Title")
    table.add_column("Status")
    table.add_column("Duration", justify="right")
    table.add_column("Created")
    for r in items:
        table.add_row(
            r.id,
            r.title,
            r.status.value,
            clock(r.duration) if r.duration is not None else "",
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def profiles_table(profiles: Sequence[VoiceProfile]) -> Table:
    """A user's voice profiles (names are user text: shown as text, never as markup)."""
    table = Table(title=f"{len(profiles)} voice profile(s)", title_justify="left")
    table.add_column("ID", no_wrap=True)
    table.add_column("Name")
    table.add_column("Speech", justify="right")
    table.add_column("Recordings", justify="right")
    table.add_column("Updated")
    for p in profiles:
        table.add_row(
            Text(p.id),
            Text(p.name),
            f"{p.seconds:.1f} s",
            str(len(p.recording_ids)),
            p.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def usage_table(rows: Sequence[UserUsage], since: str) -> Table:
    """Usage per user."""
    table = Table(title=f"Usage over the last {since}", title_justify="left")
    table.add_column("User")
    table.add_column("Recordings", justify="right")
    table.add_column("Audio minutes", justify="right")
    table.add_column("Input tokens", justify="right")
    table.add_column("Output tokens", justify="right")
    for row in rows:
        table.add_row(
            row.username,
            str(row.recordings),
            f"{row.audio_minutes:.1f}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
        )
    return table


def jobs_table(jobs: Sequence[Job]) -> Table:
    """A listing of jobs."""
    table = Table(title=f"{len(jobs)} job(s)", title_justify="left")
    table.add_column("Job", no_wrap=True)
    table.add_column("Recording", no_wrap=True)
    table.add_column("Status")
    table.add_column("Progress", justify="right")
    table.add_column("Error", overflow="fold", max_width=50)
    for job in jobs:
        table.add_row(
            job.id, job.recording_id, job.status.value, f"{progress(job):.0f}%", job.error or ""
        )
    return table


def size(size: int) -> str:
    """A byte count for people."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
