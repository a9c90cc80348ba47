"""Test media: the committed sample recording and generators of small inputs.

Every generator writes with the ffmpeg binary of ``imageio-ffmpeg`` into the directory
it is given and returns the path of the new file. WebM files are written to a pipe by
default, like Chrome's MediaRecorder streams them: the header then carries no duration
and no cues, so a probe has to read the packets to learn how long the file is.

``SAMPLE`` is the committed recording ``src/elyune_cli/data/sample-meeting.webm``, made
by ``bench/make_sample.py`` from ``SAMPLE_SCRIPT``; tests assert on the words said in it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "src" / "elyune_cli" / "data" / "sample-meeting.webm"

#: The spoken lines of ``SAMPLE``, in order, as ``(speaker, text)``.
SAMPLE_SCRIPT: tuple[tuple[str, str], ...] = (
    ("Alice", "Good morning, Bob. Thanks for joining the weekly release meeting."),
    (
        "Bob",
        "Good morning, Alice. I am really happy with the launch. "
        "The customers love the new dashboard.",
    ),
    ("Alice", "That is great news. The team did an excellent job this sprint."),
    ("Bob", "Thank you. So what are the next steps?"),
    (
        "Alice",
        "I will send the release notes to the marketing team by Friday. "
        "Bob, can you update the onboarding guide tomorrow?",
    ),
    (
        "Bob",
        "Yes, I will update the onboarding guide tomorrow. I will also fix the login bug by Wednesday.",
    ),
    ("Alice", "Perfect. I am very pleased with our progress. Thank you, Bob."),
    ("Bob", "Thank you, Alice. Have a wonderful day."),
)

#: Speakers of ``SAMPLE_SCRIPT``, in order of first appearance.
SAMPLE_SPEAKERS: tuple[str, ...] = ("Alice", "Bob")

#: Length of ``SAMPLE`` in seconds (end of its last packet); ``bench/make_sample.py``
#: prints the new value when the script or the voices change.
SAMPLE_DURATION = 50.137


def sample_text() -> str:
    """Return everything said in ``SAMPLE``, one string."""
    return " ".join(text for _, text in SAMPLE_SCRIPT)


def ffmpeg_exe() -> str:
    """Return the path of the ffmpeg binary the tests use."""
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _run_ffmpeg(args: list[str], target: Path, *, streamed: bool) -> Path:
    """Run ffmpeg with *args* and write its output to *target* (through a pipe if *streamed*)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    if streamed:
        with target.open("wb") as out:
            done = subprocess.run(
                [*command, "-f", "webm", "pipe:1"], stdout=out, stderr=subprocess.PIPE, check=False
            )
    else:
        done = subprocess.run(
            [*command, "-f", "webm", str(target)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return target


def make_webm(
    directory: Path,
    *,
    seconds: float = 3,
    video: bool = True,
    audio: bool = True,
    tone: bool = True,
    name: str | None = None,
    width: int = 320,
    height: int = 240,
    fps: int = 15,
    streamed: bool = True,
) -> Path:
    """Write a small VP8/Opus WebM of *seconds* to *directory* and return its path.

    The picture is ffmpeg's ``testsrc2`` pattern (never black), the sound a 440 Hz tone,
    or silence when *tone* is false. *video* or *audio* false leaves that stream out.
    *streamed* (the default) writes through a pipe, so the header has no duration,
    like Chrome's MediaRecorder output.
    """
    if not (video or audio):
        raise ValueError("a WebM needs video or audio")
    suffix = "av" if video and audio else ("video" if video else "audio")
    target = Path(directory) / (name or f"test-{suffix}-{seconds:g}s.webm")
    args: list[str] = []
    if video:
        args += [
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
        ]
    if audio:
        source = (
            f"sine=frequency=440:sample_rate=48000:duration={seconds}"
            if tone
            else f"anullsrc=channel_layout=mono:sample_rate=48000:d={seconds}"
        )
        args += ["-f", "lavfi", "-i", source]
    if video:
        args += ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]
        args += ["-g", str(fps * 2)]
    if audio:
        args += ["-c:a", "libopus", "-b:a", "32k", "-ac", "1"]
    return _run_ffmpeg(args, target, streamed=streamed)


def make_silent_webm(directory: Path, *, seconds: float = 3, name: str | None = None) -> Path:
    """Write a WebM with video and a silent audio track."""
    return make_webm(
        directory, seconds=seconds, tone=False, name=name or f"test-silent-{seconds:g}s.webm"
    )


def make_video_only_webm(directory: Path, *, seconds: float = 3, name: str | None = None) -> Path:
    """Write a WebM with a video track and no audio track."""
    return make_webm(directory, seconds=seconds, audio=False, name=name)


def make_audio_only_webm(directory: Path, *, seconds: float = 3, name: str | None = None) -> Path:
    """Write a WebM with an Opus audio track (a tone) and no video track."""
    return make_webm(directory, seconds=seconds, video=False, name=name)


def make_empty_file(directory: Path, *, name: str = "empty.webm") -> Path:
    """Write a zero-byte file named like a recording."""
    target = Path(directory) / name
    target.write_bytes(b"")
    return target


def make_text_as_webm(directory: Path, *, name: str = "notes.webm") -> Path:
    """Write a text file with a ``.webm`` name."""
    target = Path(directory) / name
    target.write_text("Meeting notes\n\nThis is not a video, only text renamed to .webm.\n" * 20)
    return target


def make_truncated_webm(
    directory: Path, source: Path, *, fraction: float = 0.5, name: str | None = None
) -> Path:
    """Write the first *fraction* of *source*'s bytes to *directory*, cut mid-file.

    A cut at a random byte offset almost always falls inside a block, so the copy ends
    in the middle of an element, like an upload that was interrupted.
    """
    data = Path(source).read_bytes()
    cut = max(1, int(len(data) * fraction))
    target = Path(directory) / (name or f"truncated-{Path(source).stem}.webm")
    target.write_bytes(data[:cut])
    return target


def copy_sample(directory: Path, *, name: str = "sample-meeting.webm") -> Path:
    """Copy ``SAMPLE`` into *directory* under *name* and return the copy's path."""
    target = Path(directory) / name
    shutil.copyfile(SAMPLE, target)
    return target


__all__ = [
    "REPO_ROOT",
    "SAMPLE",
    "SAMPLE_DURATION",
    "SAMPLE_SCRIPT",
    "SAMPLE_SPEAKERS",
    "copy_sample",
    "ffmpeg_exe",
    "make_audio_only_webm",
    "make_empty_file",
    "make_silent_webm",
    "make_text_as_webm",
    "make_truncated_webm",
    "make_video_only_webm",
    "make_webm",
    "sample_text",
]
