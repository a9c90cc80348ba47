"""The ``Transcoder`` port on the ffmpeg command-line tool.

Every operation runs one ffmpeg process with ``asyncio.create_subprocess_exec`` (never a
shell). Its output is read as it comes, so a chatty ffmpeg cannot block on a full pipe, and
the process is killed when the operation times out or is cancelled.

The ffmpeg of ``imageio-ffmpeg`` has no ffprobe, so :meth:`FfmpegTranscoder.probe` copies
every audio and video packet into ffmpeg's ``framecrc`` muxer and reads the packet
timestamps: the duration is the end of the last packet, true even when the header has no
duration (Chrome's MediaRecorder writes none).

Truncation rule: a file is truncated when ffmpeg's demuxer reports that the data ends in
the middle of an element or packet ("File ended prematurely" for Matroska/WebM, "partial
file" for MP4/MOV, "Truncating packet" for raw formats) or, for MP4/MOV, that the index
(``moov``) is missing. A file cut exactly between two blocks cannot be told from a shorter
recording and is accepted; it plays.

Inputs are read only through the demuxers in :data:`ALLOWED_FORMATS`, so an upload that is
really a playlist or a script for one of ffmpeg's other demuxers is refused instead of
followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import attrs

from elyune_adapters.processes import die_with_parent
from elyune_core.entities import ImageInfo, MediaInfo
from elyune_core.errors import InvalidMediaError, MediaProcessingError
from elyune_core.ports import ProgressCallback, Transcoder

#: Demuxers ffmpeg may use to read an input (``-format_whitelist``).
ALLOWED_FORMATS = (
    "matroska",
    "webm",
    "mov",
    "mp4",
    "m4a",
    "3gp",
    "3g2",
    "avi",
    "flv",
    "mpegts",
    "mpeg",
    "ogg",
    "wav",
    "w64",
    "mp3",
    "aac",
    "flac",
    "asf",
    "aiff",
    "amr",
    "caf",
    "wv",
    "mxf",
)

#: Widest thumbnail, in pixels.
THUMBNAIL_MAX_WIDTH = 1280

_TRUNCATED = "the file is truncated: it ends in the middle of the data"
_UNREADABLE = "the file is not a video or audio file ffmpeg can read"
_TRUNCATION_MARKERS = (
    "ended prematurely",
    "partial file",
    "truncating packet",
    "moov atom not found",
)
# Lines of ffmpeg's stderr that only echo an earlier, more precise one.
_ECHO_LINES = (
    "conversion failed",
    "could not open encoder before eof",
    "error closing file",
    "error opening output files",
    "error parsing options",
    "error sending frames to consumers",
    "error while filtering",
    "exiting normally",
    "failed to set value",
    "nothing was written into output file",
    "task finished with error code",
    "terminating thread with return code",
    "to ignore this",
)
# When ffmpeg fails, the cause is among its last few lines, before the echoes of it.
_REASON_WINDOW = 12
# Leading bytes of container formats, to tell a damaged media file from something else.
_MEDIA_SIGNATURES = (
    (0, b"\x1a\x45\xdf\xa3"),  # EBML: Matroska, WebM
    (4, b"ftyp"),  # MP4, MOV, 3GP
    (0, b"RIFF"),  # WAV, AVI
    (0, b"OggS"),
    (0, b"ID3"),
    (0, b"fLaC"),
    (0, b"FLV"),
)
_CHANNEL_LAYOUTS = {
    "mono": 1,
    "stereo": 2,
    "downmix": 2,
    "quad": 4,
    "hexagonal": 6,
    "octagonal": 8,
    "hexadecagonal": 16,
}
_NOPTS = -(2**63)
_CHUNK = 1 << 16
_STDERR_HEAD = 200
_STDERR_TAIL = 100


def default_ffmpeg_path() -> str:
    """Return the ffmpeg binary bundled with ``imageio-ffmpeg``, else ``ffmpeg`` on PATH.

    Returns the bare name ``ffmpeg`` when neither exists; running it then fails with a
    ``MediaProcessingError`` that names the path.
    """
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg") or "ffmpeg"


class FfmpegTranscoder(Transcoder):
    """Probes and converts media files with the ffmpeg binary at *ffmpeg_path*.

    *ffmpeg_path* ``None`` means :func:`default_ffmpeg_path`. An ffmpeg run is watched,
    not timed: one that writes no progress for *stall_timeout* seconds is stuck, and is
    killed with a transient ``MediaProcessingError`` (a retry may well succeed), however
    long the file; a run still making progress goes on (the pipeline's step time limit,
    which follows the recording's duration, bounds it). *timeout*, when set, is a hard
    cap on one run (a permanent error). *threads* above zero caps the threads ffmpeg uses
    (``-threads``); zero lets ffmpeg decide. The transcode runs at *transcode_nice*
    (0 to 19) so that, on a busy machine, the audio branch (and so the transcript) gets
    the CPU first and the MP4 uses what is left.

    Unreadable, empty, truncated and missing inputs raise ``InvalidMediaError``; a
    failing ffmpeg raises ``MediaProcessingError`` (transient when it failed on a file
    that probed fine, since a retry may succeed).
    """

    def __init__(
        self,
        ffmpeg_path: str | None = None,
        *,
        timeout: float | None = None,
        stall_timeout: float = 120.0,
        threads: int = 0,
        transcode_nice: int = 19,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        if stall_timeout <= 0:
            raise ValueError("stall_timeout must be positive")
        if threads < 0:
            raise ValueError("threads must not be negative")
        self._ffmpeg = ffmpeg_path or default_ffmpeg_path()
        self._timeout = timeout
        self._stall = stall_timeout
        self._threads = threads
        self._nice = max(0, min(transcode_nice, 19))

    @property
    def ffmpeg_path(self) -> str:
        """The ffmpeg binary this transcoder runs."""
        return self._ffmpeg

    # ------------------------------------------------------------------ port

    async def probe(self, source: Path, on_progress: ProgressCallback | None = None) -> MediaInfo:
        """Return streams, codecs and the decoded duration of *source*.

        *on_progress* is awaited with a rising fraction as packets are read (the length is
        not known before the end, so it approaches 1 without reaching it).
        Raises ``InvalidMediaError`` for a missing, empty, truncated or non-media file.
        """
        size = _check_source(source)
        packets = _PacketLog(on_progress)
        run = await self._run(
            [
                *self._input(source),
                "-map",
                "0:V?",
                "-map",
                "0:a?",
                "-c",
                "copy",
                "-f",
                "framecrc",
                "pipe:1",
            ],
            on_stdout=packets.feed,
            loglevel="info",
        )
        return _media_info(source, size, run, packets)

    async def transcode(
        self,
        source: Path,
        target: Path,
        media: MediaInfo,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Write an H.264/AAC MP4 (``+faststart``) of *source* to *target*.

        *on_progress* is awaited with the converted fraction (0 to 1, increasing) as
        ffmpeg reports it, and with 1.0 once the file is complete.
        """
        _check_source(source)
        if not (media.has_video or media.has_audio):
            raise InvalidMediaError("the file has neither an audio nor a video track")
        args = self._input(source)
        if media.has_video:
            args += [
                "-map",
                "0:V:0",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-pix_fmt",
                "yuv420p",
                "-vf",
                "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                "-fps_mode",
                "vfr",
            ]
        else:
            args += ["-vn"]
        if media.has_audio:
            args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k"]
        else:
            args += ["-an"]
        args += [
            "-sn",
            "-dn",
            "-max_muxing_queue_size",
            "4096",
            *self._thread_args(),
            "-movflags",
            "+faststart",
            "-progress",
            "pipe:1",
            "-f",
            "mp4",
            "-y",
            _file_url(target),
        ]
        progress = _Progress(media.duration, on_progress)
        await self._produce(
            args, target, "convert the file to MP4", on_stdout=progress.feed, nice=self._nice
        )
        await progress.finish()

    async def extract_audio(
        self,
        source: Path,
        target: Path,
        media: MediaInfo,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Write the first audio track of *source* as 16 kHz mono PCM WAV to *target*
        (*on_progress* as for :meth:`transcode`)."""
        _check_source(source)
        if not media.has_audio:
            raise InvalidMediaError("the file has no audio track")
        args = [
            *self._input(source),
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-c:a",
            "pcm_s16le",
            *self._thread_args(),
            "-progress",
            "pipe:1",
            "-f",
            "wav",
            "-y",
            _file_url(target),
        ]
        progress = _Progress(media.duration, on_progress)
        await self._produce(args, target, "extract the audio", on_stdout=progress.feed)
        await progress.finish()

    async def thumbnail(self, source: Path, target: Path, media: MediaInfo) -> ImageInfo:
        """Write a JPEG poster frame of *source* to *target* and return its size.

        The frame is taken about 10% into the video (the most typical of a dozen frames
        there, which skips black and fading frames), scaled down to at most
        :data:`THUMBNAIL_MAX_WIDTH` pixels wide with its aspect ratio kept. When nothing
        can be decoded there, the first frame is used.
        """
        _check_source(source)
        if not media.has_video:
            raise InvalidMediaError("the file has no video track")
        at = _poster_time(media.duration)
        await self._produce(self._thumbnail_args(source, target, at), target, "make a thumbnail")
        if at > 0 and not _has_content(target):
            await self._produce(
                self._thumbnail_args(source, target, 0.0), target, "make a thumbnail"
            )
        try:
            data = await asyncio.to_thread(target.read_bytes)
            width, height = _jpeg_size(data)
        except (OSError, ValueError) as exc:
            raise MediaProcessingError(
                "ffmpeg did not write a readable thumbnail", transient=True
            ) from exc
        return ImageInfo(width=width, height=height)

    # ------------------------------------------------------------------ helpers

    def _input(self, source: Path) -> list[str]:
        return [
            "-format_whitelist",
            ",".join(ALLOWED_FORMATS),
            "-i",
            _file_url(source),
        ]

    def _thread_args(self) -> list[str]:
        return ["-threads", str(self._threads)] if self._threads > 0 else []

    def _thumbnail_args(self, source: Path, target: Path, at: float) -> list[str]:
        # Full-range 4:2:0, what JPEG decoders expect (mjpeg refuses limited range).
        scale = f"scale=w='min({THUMBNAIL_MAX_WIDTH},iw)':h=-2:out_range=full,format=yuvj420p"
        chain = f"thumbnail=n=12,{scale}" if at > 0 else scale
        return [
            *(["-ss", f"{at:.3f}"] if at > 0 else []),
            *self._input(source),
            "-map",
            "0:V:0",
            "-an",
            "-sn",
            "-dn",
            "-vf",
            chain,
            "-frames:v",
            "1",
            "-c:v",
            "mjpeg",
            "-q:v",
            "3",
            *self._thread_args(),
            "-progress",
            "pipe:1",
            "-f",
            "mjpeg",
            "-y",
            _file_url(target),
        ]

    async def _produce(
        self,
        args: list[str],
        target: Path,
        what: str,
        *,
        on_stdout: Callable[[str], Awaitable[None]] | None = None,
        nice: int = 0,
    ) -> None:
        """Run ffmpeg to write *target*; remove a partial *target* when it fails."""
        succeeded = False
        try:
            run = await self._run(args, on_stdout=on_stdout, loglevel="error", nice=nice)
            succeeded = run.returncode == 0
        finally:
            if not succeeded:
                target.unlink(missing_ok=True)
        if not succeeded:
            raise MediaProcessingError(
                f"ffmpeg could not {what}: {run.stderr.reason(run.returncode)}", transient=True
            )

    async def _run(
        self,
        args: list[str],
        *,
        on_stdout: Callable[[str], Awaitable[None]] | None,
        loglevel: str,
        nice: int = 0,
    ) -> _Run:
        """Run ffmpeg with *args*, feed stdout lines to *on_stdout*, collect stderr;
        *nice* above 0 lowers its CPU priority."""
        command = [self._ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", loglevel, *args]
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                preexec_fn=die_with_parent,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise MediaProcessingError(
                f"ffmpeg could not be started from {self._ffmpeg!r} ({reason}); install "
                "ffmpeg or set FFMPEG_PATH to the path of an ffmpeg binary"
            ) from exc
        if nice > 0:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, process.pid, nice)
        stderr = _Stderr()
        assert process.stdout is not None
        assert process.stderr is not None
        stderr_task = asyncio.ensure_future(_collect(process.stderr, stderr))
        try:
            async with asyncio.timeout(self._timeout):
                async for line in _lines(process.stdout, idle=self._stall):
                    if on_stdout is not None:
                        await on_stdout(line)
                await stderr_task
                returncode = await process.wait()
        except _StalledError as exc:
            raise MediaProcessingError(
                f"ffmpeg made no progress for {self._stall:g} s and was stopped",
                transient=True,
            ) from exc
        except TimeoutError as exc:
            raise MediaProcessingError(
                f"ffmpeg took longer than {self._timeout:g} s and was stopped"
            ) from exc
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            if not stderr_task.done():
                stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await stderr_task
        return _Run(returncode=returncode, stderr=stderr)


# ---------------------------------------------------------------------- running ffmpeg


@attrs.frozen
class _Run:
    returncode: int
    stderr: _Stderr


class _Stderr:
    """ffmpeg's stderr: the first and last lines, and every line seen for markers."""

    def __init__(self) -> None:
        self.head: list[str] = []
        self.tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self.markers: set[str] = set()

    def add(self, line: str) -> None:
        lowered = line.lower()
        for marker in _TRUNCATION_MARKERS:
            if marker in lowered:
                self.markers.add(marker)
        if len(self.head) < _STDERR_HEAD:
            self.head.append(line)
        else:
            self.tail.append(line)

    def lines(self) -> list[str]:
        return [*self.head, *self.tail]

    def reason(self, returncode: int) -> str:
        """Why ffmpeg failed: the first line of its final burst that is not an echo.

        ffmpeg reports the cause first ("width not divisible by 2") and then how the
        failure travelled up ("Error while opening encoder", "Conversion failed!"); lines
        long before the end are usually harmless decoder complaints.
        """
        for line in self.lines()[-_REASON_WINDOW:]:
            text = re.sub(r"^(\[[^\]]*\]\s*)+", "", line).strip()
            if text and not text.lower().startswith(_ECHO_LINES):
                return text.rstrip(".")
        return f"ffmpeg exited with status {returncode}"


class _StalledError(Exception):
    """ffmpeg wrote nothing for longer than allowed."""


async def _read(stream: asyncio.StreamReader, idle: float | None) -> bytes:
    if idle is None:
        return await stream.read(_CHUNK)
    try:
        return await asyncio.wait_for(stream.read(_CHUNK), idle)
    except TimeoutError:
        raise _StalledError() from None


async def _lines(stream: asyncio.StreamReader, idle: float | None = None) -> AsyncIterator[str]:
    """Yield the lines of *stream* (``\\n`` or ``\\r`` ended), however long they are;
    raise ``_StalledError`` when nothing comes for *idle* seconds."""
    pending = b""
    while chunk := await _read(stream, idle):
        pending += chunk
        *complete, pending = re.split(rb"\r\n|\r|\n", pending)
        for line in complete:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


async def _collect(stream: asyncio.StreamReader, into: _Stderr) -> None:
    async for line in _lines(stream):
        into.add(line)


def _file_url(path: Path) -> str:
    """An ffmpeg URL for the local *path* that no name can turn into another protocol."""
    return "file:" + str(Path(path).absolute())


def _check_source(source: Path) -> int:
    """Return the size of *source*, or raise ``InvalidMediaError`` if there is nothing."""
    try:
        stat = source.stat()
    except FileNotFoundError as exc:
        raise InvalidMediaError(f"the file {source.name!r} was not found") from exc
    except OSError as exc:
        raise MediaProcessingError(
            f"the file {source.name!r} cannot be read: {exc.strerror or exc}"
        ) from exc
    if not source.is_file():
        raise InvalidMediaError(f"{source.name!r} is not a file")
    if stat.st_size == 0:
        raise InvalidMediaError("the file is empty")
    return stat.st_size


def _looks_like_media(source: Path) -> bool:
    """Whether *source* starts like a known container (then it is damaged, not foreign)."""
    try:
        with source.open("rb") as file:
            start = file.read(16)
    except OSError:
        return False
    return any(start[at : at + len(magic)] == magic for at, magic in _MEDIA_SIGNATURES)


# ---------------------------------------------------------------------- probe


@attrs.define
class _Stream:
    kind: str = ""
    codec: str | None = None
    time_base: float = 0.0
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    packets: int = 0
    first: float | None = None
    last_start: float | None = None
    end: float | None = None


class _PacketLog:
    """Parses ffmpeg's ``framecrc`` output: stream headers, then one line per packet.

    Only a few numbers per stream are kept, whatever the file's length; *on_progress*
    hears of every further minute of media read.
    """

    def __init__(self, on_progress: ProgressCallback | None = None) -> None:
        self.streams: dict[int, _Stream] = {}
        self._on_progress = on_progress
        self._reported = 0.0

    def stream(self, index: int) -> _Stream:
        return self.streams.setdefault(index, _Stream())

    async def feed(self, line: str) -> None:
        if line.startswith("#"):
            self._header(line)
        elif line.strip():
            at = self._packet(line)
            if self._on_progress is not None and at is not None and at >= self._reported + 60:
                self._reported = at
                await self._on_progress(at / (at + 600.0))

    def _header(self, line: str) -> None:
        match = re.match(r"#(\w+) (\d+): (.*)$", line.strip())
        if match is None:
            return
        key, index, value = match.group(1), int(match.group(2)), match.group(3).strip()
        stream = self.stream(index)
        if key == "tb":
            num, _, den = value.partition("/")
            with contextlib.suppress(ValueError, ZeroDivisionError):
                stream.time_base = int(num) / int(den)
        elif key == "media_type":
            stream.kind = value
        elif key == "codec_id":
            stream.codec = value
        elif key == "dimensions":
            width, _, height = value.partition("x")
            with contextlib.suppress(ValueError):
                stream.width, stream.height = int(width), int(height)
        elif key == "sample_rate":
            with contextlib.suppress(ValueError):
                stream.sample_rate = int(value)
        elif key in ("channel_layout_name", "channel_layout"):
            stream.channels = _channel_count(value)

    def _packet(self, line: str) -> float | None:
        """Record one packet line; return its time in seconds, if it has one."""
        fields = [field.strip() for field in line.split(",")]
        try:
            index, dts, pts, duration = (int(field) for field in fields[:4])
        except ValueError:
            return None
        stream = self.stream(index)
        stamp = pts if pts != _NOPTS else dts
        if stamp == _NOPTS or stream.time_base <= 0:
            return None
        start = stamp * stream.time_base
        end = (stamp + max(duration, 0)) * stream.time_base
        stream.packets += 1
        stream.first = start if stream.first is None else min(stream.first, start)
        stream.last_start = start if stream.last_start is None else max(stream.last_start, start)
        stream.end = end if stream.end is None else max(stream.end, end)
        return start


def _channel_count(layout: str) -> int | None:
    """Number of channels of an ffmpeg channel layout name (``mono``, ``5.1(side)``)."""
    name = layout.strip().lower()
    if name in _CHANNEL_LAYOUTS:
        return _CHANNEL_LAYOUTS[name]
    if match := re.match(r"(\d+) channels", name):
        return int(match.group(1))
    if match := re.match(r"(\d+)\.(\d+)", name):
        return int(match.group(1)) + int(match.group(2))
    return None


def _media_info(source: Path, size: int, run: _Run, packets: _PacketLog) -> MediaInfo:
    """Turn one probing run of ffmpeg into ``MediaInfo``, or raise ``InvalidMediaError``."""
    stderr = run.stderr
    text = "\n".join(stderr.lines())
    opened = re.search(r"^Input #0, (.+?), from ", text, re.MULTILINE)
    if opened is None:
        if "moov atom not found" in stderr.markers:
            raise InvalidMediaError(f"{_TRUNCATED} (the MP4 index is missing)")
        if _looks_like_media(source):
            raise InvalidMediaError(
                "the file is truncated or damaged: ffmpeg cannot read its header"
            )
        raise InvalidMediaError(_UNREADABLE)
    videos = [s for s in packets.streams.values() if s.kind == "video"]
    audios = [s for s in packets.streams.values() if s.kind == "audio"]
    if not videos and not audios:
        raise InvalidMediaError("the file has neither an audio nor a video track")
    if stderr.markers:
        raise InvalidMediaError(_TRUNCATED)
    if run.returncode != 0:
        raise InvalidMediaError(
            f"ffmpeg could not read the whole file: {stderr.reason(run.returncode)}"
        )
    timed = [s for s in (*videos, *audios) if s.packets and s.first is not None]
    for stream in videos:
        _add_last_frame(stream)
    if not timed:
        raise InvalidMediaError("the file contains no audio or video data")
    # Negative timestamps are pre-roll (Opus pre-skip, B-frames) that is never shown.
    start = max(min(s.first for s in timed if s.first is not None), 0.0)
    end = max(s.end for s in timed if s.end is not None)
    video = videos[0] if videos else None
    audio = audios[0] if audios else None
    if video is not None and video.width is None:
        _stderr_dimensions(text, video)
    if audio is not None and audio.channels is None:
        audio.channels = _stderr_channels(text)
    return MediaInfo(
        duration=round(max(end - start, 0.0), 3),
        format_name=opened.group(1),
        has_video=video is not None,
        has_audio=audio is not None,
        video_codec=video.codec if video else None,
        audio_codec=audio.codec if audio else None,
        width=video.width if video else None,
        height=video.height if video else None,
        fps=_fps(video, text) if video else None,
        sample_rate=audio.sample_rate if audio else None,
        channels=audio.channels if audio else None,
        size=size,
    )


def _add_last_frame(video: _Stream) -> None:
    """Count the last frame's display time when the packets carry no durations."""
    if video.packets < 2 or None in (video.first, video.last_start, video.end):
        return
    assert video.first is not None and video.last_start is not None and video.end is not None
    if video.end - video.last_start < 1e-6:
        video.end += (video.last_start - video.first) / (video.packets - 1)


def _fps(video: _Stream, text: str) -> float | None:
    """Average frame rate of the packets, else the rate ffmpeg guessed from the header."""
    if video.packets > 1 and video.first is not None and video.last_start is not None:
        span = video.last_start - video.first
        if span > 0:
            return round((video.packets - 1) / span, 3)
    match = re.search(r"Video: .*?(\d+(?:\.\d+)?) fps", text)
    return float(match.group(1)) if match else None


def _stderr_dimensions(text: str, video: _Stream) -> None:
    match = re.search(r"Video: .*?, (\d{1,5})x(\d{1,5})", text)
    if match:
        video.width, video.height = int(match.group(1)), int(match.group(2))


def _stderr_channels(text: str) -> int | None:
    match = re.search(r"Audio: .*?, \d+ Hz, ([^,]+)", text)
    return _channel_count(match.group(1)) if match else None


# ---------------------------------------------------------------------- transcode


class _Progress:
    """Turns ffmpeg's ``-progress`` lines into increasing fractions for a callback; with
    *from_first*, times count from the first one seen (an output at recording times)."""

    def __init__(
        self, duration: float, callback: ProgressCallback | None, *, from_first: bool = False
    ) -> None:
        self._duration = duration
        self._callback = callback
        self._reported = 0.0
        self._first: float | None = None if from_first else 0.0

    async def feed(self, line: str) -> None:
        key, _, value = line.partition("=")
        if key != "out_time_us" or self._callback is None or self._duration <= 0:
            return
        try:
            seconds = int(value) / 1_000_000
        except ValueError:
            return
        if self._first is None:
            self._first = seconds
        fraction = min(max((seconds - self._first) / self._duration, 0.0), 0.999)
        if fraction > self._reported + 0.0005:  # fine-grained: it keeps the lease alive
            self._reported = fraction
            await self._callback(fraction)

    async def finish(self) -> None:
        if self._callback is not None:
            self._reported = 1.0
            await self._callback(1.0)


# ---------------------------------------------------------------------- thumbnail


def _poster_time(duration: float) -> float:
    """Seconds into a video of *duration* where the poster frame is taken."""
    if duration < 1.0:
        return 0.0
    return round(min(duration * 0.1, duration - 0.5), 3)


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


# Start-of-frame markers (SOF0-SOF15 without DHT, JPG and DAC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Return ``(width, height)`` from the frame header of the JPEG *data*."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("corrupt JPEG marker")
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF_MARKERS and at + 9 <= len(data):
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        if marker == 0xDA:
            break
        at += 2 + length
    raise ValueError("JPEG frame header not found")


__all__ = ["ALLOWED_FORMATS", "THUMBNAIL_MAX_WIDTH", "FfmpegTranscoder", "default_ffmpeg_path"]
