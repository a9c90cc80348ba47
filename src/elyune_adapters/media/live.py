"""The ``LiveMedia`` port: a WebM stream that arrives in pieces, on ffmpeg.

``scan`` is pure Python (:mod:`elyune_adapters.media.webm`). The other operations run
ffmpeg the way :class:`~elyune_adapters.media.ffmpeg.FfmpegTranscoder` does (same process
helpers, stall watch, time limit and errors), on the stream's header and a *body* of whole
clusters written together to one temporary file beside the target.

Times are kept absolute: ffmpeg reads with ``-copyts``, so every frame keeps its recording
time, and

- ``decode_audio`` lets ``aresample`` pad (or drop) samples so that the first one is at
  the requested *start* and the rest follow the frames' timestamps (silence in gaps over
  20 ms; MediaRecorder's timestamps wobble by about 10 ms, so smaller differences leave
  the samples contiguous and a piece decoded from the previous one's end continues it
  sample for sample);
- ``encode_segment`` writes MPEG-TS segments whose timestamps are recording times (plus
  :data:`TS_OFFSET`, which keeps B-frame decoding times positive) and ``join`` reads them
  back to back (ffmpeg's ``concat:`` protocol), so no segment's length can shift the next
  one. AAC frames are 1024 samples and every encoding starts with a priming frame; each
  segment's audio is laid on a global grid of 1024-sample frames from recording time 0:
  it covers the frames from the one nearest its start to the one nearest its end, the
  first of which is the encoder's priming frame. A/V stay aligned to within half a frame
  (11 ms) however many segments are joined; the price is 21 ms of silence at each join.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import wave
from collections.abc import Sequence
from pathlib import Path

from elyune_adapters.media.ffmpeg import FfmpegTranscoder, _check_source, _file_url, _Progress
from elyune_adapters.media.webm import cluster_time, parse_header, scan_stream
from elyune_core.errors import InvalidMediaError
from elyune_core.ports import LiveMedia, ProgressCallback, StreamScan, StreamTracks

#: Sample rate and width of ``decode_audio``'s raw output and ``write_wav``'s WAV.
PCM_RATE = 16000
_PCM_WIDTH = 2
#: Seconds added to every segment timestamp (MPEG-TS cannot carry negative ones).
TS_OFFSET = 10.0
_AAC_RATE = 48000
_AAC_FRAME = 1024
_COPY_CHUNK = 1 << 20
#: Seconds by which audio timestamps may differ from a steady stream without a gap.
_JITTER = 0.02


class FfmpegLiveMedia(LiveMedia):
    """``LiveMedia`` with ffmpeg at *ffmpeg_path* (``None``: imageio-ffmpeg's binary).

    *timeout*, *stall_timeout*, *threads* and *transcode_nice* mean what they mean for
    :class:`FfmpegTranscoder`; segments are encoded at *transcode_nice*, so the audio
    (and the transcript) gets the CPU first.
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
        self._ffmpeg = FfmpegTranscoder(
            ffmpeg_path,
            timeout=timeout,
            stall_timeout=stall_timeout,
            threads=threads,
            transcode_nice=transcode_nice,
        )
        self._nice = max(0, min(transcode_nice, 19))

    @property
    def ffmpeg_path(self) -> str:
        """The ffmpeg binary this adapter runs."""
        return self._ffmpeg.ffmpeg_path

    # ------------------------------------------------------------------ port

    def scan(self, data: bytes, *, at_start: bool, final: bool, header: bytes = b"") -> StreamScan:
        """See :func:`elyune_adapters.media.webm.scan_stream`; *header* is the stream's
        header bytes when *data* does not begin the stream."""
        parsed = parse_header(header) if header and not at_start else None
        return scan_stream(data, at_start=at_start, final=final, header=parsed)

    async def decode_audio(self, header: bytes, body: Path, target: Path, start: float) -> float:
        """Write *body*'s audio as raw 16 kHz mono s16le to *target*, its first sample at
        recording time *start*; return the time its samples end at."""
        tracks = _tracks(header)
        if not tracks.has_audio:
            raise InvalidMediaError("the stream has no audio track")
        first = round(start * PCM_RATE)
        await asyncio.to_thread(_body_start, header, body)  # it must begin with a cluster
        async with _joined(header, body, target) as source:
            args = [
                "-copyts",
                # keep the frames a fresh Opus decoder would skip at a piece's start: they
                # are real audio there (the stream's own priming has negative times)
                "-flags2",
                "+skip_manual",
                *self._ffmpeg._input(source),
                "-map",
                "0:a:0",
                "-vn",
                "-sn",
                "-dn",
                "-af",
                # first_pts counts samples at the input rate: align at 48 kHz (Opus's
                # rate; a multiple of 16 kHz, so the start stays exact), then resample.
                f"atrim=start=0,{_align(first * (_AAC_RATE // PCM_RATE))},aresample={PCM_RATE}",
                "-ac",
                "1",
                "-c:a",
                "pcm_s16le",
                *self._ffmpeg._thread_args(),
                "-f",
                "s16le",
                "-y",
                _file_url(target),
            ]
            await self._ffmpeg._produce(args, target, "decode the audio")
        samples = target.stat().st_size // _PCM_WIDTH
        return first / PCM_RATE + samples / PCM_RATE

    async def encode_segment(
        self,
        header: bytes,
        body: Path,
        target: Path,
        tracks: StreamTracks,
        duration: float,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Encode *body* (from its first cluster's time, for *duration* seconds) to an
        H.264/AAC MPEG-TS segment at recording times that :meth:`join` puts end to end;
        *on_progress* hears the encoded fraction (a long one, the video a busy machine
        left for the job, keeps its step's lease alive so)."""
        if duration <= 0:
            raise ValueError("duration must be positive")
        if not (tracks.has_video or tracks.has_audio):
            raise InvalidMediaError("the stream has neither an audio nor a video track")
        start = await asyncio.to_thread(_body_start, header, body)
        end = start + duration
        graph = []
        maps = []
        if tracks.has_video:
            graph.append(
                f"[0:V:0]trim=start={start:.6f}:end={end:.6f},"
                "scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p[v]"
            )
            maps += [
                "-map",
                "[v]",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-fps_mode",
                "passthrough",
            ]
        if tracks.has_audio:
            first, count = _audio_frames(start, end)
            graph.append(
                f"[0:a:0]atrim=start={first / _AAC_RATE:.6f},{_align(first)},"
                f"apad,atrim=end_sample={count}[a]"
            )
            maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "128k", "-ac", "2"]
        async with _joined(header, body, target) as source:
            args = [
                "-copyts",
                *self._ffmpeg._input(source),
                "-filter_complex",
                ";".join(graph),
                *maps,
                "-sn",
                "-dn",
                "-max_muxing_queue_size",
                "4096",
                *self._ffmpeg._thread_args(),
                "-output_ts_offset",
                f"{TS_OFFSET:g}",
                "-muxdelay",
                "0",
                "-muxpreload",
                "0",
                "-progress",
                "pipe:1",
                "-f",
                "mpegts",
                "-y",
                _file_url(target),
            ]
            progress = _Progress(duration, on_progress, from_first=True)
            await self._ffmpeg._produce(
                args,
                target,
                "encode a video segment",
                on_stdout=progress.feed,
                nice=self._nice,
            )

    async def join(self, segments: Sequence[Path], target: Path) -> None:
        """Join *segments* (from :meth:`encode_segment`, in order) into one MP4."""
        if not segments:
            raise InvalidMediaError("there are no segments to join")
        for segment in segments:
            _check_source(segment)
            if "|" in str(Path(segment).absolute()):
                raise ValueError(f"a segment path may not contain '|': {segment}")
        joined = "concat:" + "|".join(str(Path(s).absolute()) for s in segments)
        args = [
            "-protocol_whitelist",
            "concat,file",
            "-format_whitelist",
            "mpegts",
            "-f",
            "mpegts",
            "-i",
            joined,
            "-map",
            "0:v?",
            "-map",
            "0:a?",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-y",
            _file_url(target),
        ]
        await self._ffmpeg._produce(args, target, "join the video segments")

    async def write_wav(
        self, pieces: Sequence[tuple[Path, float]], start: float, end: float, target: Path
    ) -> None:
        """Write a 16 kHz mono WAV of [*start*, *end*) from raw s16le *pieces*, each with
        the recording time its first sample is at (silence where none covers)."""
        if end < start:
            raise ValueError("end must not be before start")
        await asyncio.to_thread(_write_wav, list(pieces), start, end, target)


# ---------------------------------------------------------------------- helpers


def _align(first: int) -> str:
    """An ``aresample`` at 48 kHz that puts the first sample at *first* (in samples) and
    the rest where their frames' timestamps say, filling gaps with silence.

    MediaRecorder's audio timestamps wobble by up to ±10 ms around a steady stream, so
    differences up to :data:`_JITTER` are not gaps: the samples stay contiguous (a piece
    that starts where the one before ended continues it sample for sample, as when the
    whole stream is decoded at once); larger ones are padded or dropped exactly.
    """
    return f"aresample={_AAC_RATE}:async=1:min_hard_comp={_JITTER}:first_pts={first}"


def _tracks(header: bytes) -> StreamTracks:
    found = scan_stream(header, at_start=True, final=True)
    assert found.tracks is not None
    return found.tracks


def _body_start(header: bytes, body: Path) -> float:
    """Recording time of *body*'s first cluster."""
    _check_source(body)
    with body.open("rb") as file:
        head = file.read(1 << 16)
    if not head:
        raise InvalidMediaError("the segment's body is empty")
    return cluster_time(head, parse_header(header))


def _audio_frames(start: float, end: float) -> tuple[int, int]:
    """First sample (at 48 kHz) and sample count of the audio of a segment [start, end).

    The segment's AAC frames are those of the global grid from the one nearest *start* to
    the one nearest *end*; the encoder fills the first with its priming, so the audio
    given to it begins one frame later.
    """
    first = round(start * _AAC_RATE / _AAC_FRAME) * _AAC_FRAME
    last = round(end * _AAC_RATE / _AAC_FRAME) * _AAC_FRAME
    count = max(last - first - _AAC_FRAME, _AAC_FRAME)
    return first + _AAC_FRAME, count


@contextlib.asynccontextmanager
async def _joined(header: bytes, body: Path, target: Path):  # type: ignore[no-untyped-def]
    """A temporary file beside *target* holding *header* then *body*."""
    _check_source(body)
    if not header:
        raise InvalidMediaError("the stream header is empty")
    path = target.with_name(f".{target.name}.input.webm")

    def write() -> None:
        with path.open("wb") as out, body.open("rb") as source:
            out.write(header)
            shutil.copyfileobj(source, out, _COPY_CHUNK)

    try:
        await asyncio.to_thread(write)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _write_wav(pieces: list[tuple[Path, float]], start: float, end: float, target: Path) -> None:
    first = round(start * PCM_RATE)
    total = max(round(end * PCM_RATE) - first, 0)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(_PCM_WIDTH)
        out.setframerate(PCM_RATE)
        written = 0  # samples from *first*
        for path, at in pieces:
            if written >= total:
                break
            begin = round(at * PCM_RATE) - first  # where the piece starts, from *first*
            length = path.stat().st_size // _PCM_WIDTH
            if begin + length <= written:
                continue
            if begin > written:
                gap = min(begin, total) - written
                _silence(out, gap)
                written += gap
                if written >= total:
                    break
            skip = written - begin
            with path.open("rb") as source:
                source.seek(skip * _PCM_WIDTH)
                left = min(length - skip, total - written)
                while left > 0:
                    block = source.read(min(left, _COPY_CHUNK) * _PCM_WIDTH)
                    if not block:
                        break
                    out.writeframesraw(block)
                    written += len(block) // _PCM_WIDTH
                    left -= len(block) // _PCM_WIDTH
        _silence(out, total - written)


def _silence(out: wave.Wave_write, samples: int) -> None:
    while samples > 0:
        block = min(samples, _COPY_CHUNK)
        out.writeframesraw(b"\0" * (block * _PCM_WIDTH))
        samples -= block


__all__ = ["PCM_RATE", "TS_OFFSET", "FfmpegLiveMedia"]
