"""FfmpegLiveMedia and the WebM scanner on streams made with ffmpeg, cut into pieces."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from elyune_adapters.media import FfmpegTranscoder
from elyune_adapters.media.live import PCM_RATE, FfmpegLiveMedia
from elyune_core.errors import InvalidMediaError
from elyune_core.ports import ClusterMark, StreamScan
from tests.support.media import ffmpeg_exe

CLUSTER_ID = b"\x1f\x43\xb6\x75"
UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def make_stream(
    path: Path,
    *,
    seconds: float,
    size: str = "320x240",
    rate: int = 30,
    video: str | None = "libvpx",
    audio: bool = True,
    extra: tuple[str, ...] = (),
) -> Path:
    args = [ffmpeg_exe(), "-hide_banner", "-v", "error"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.3:sample_rate=48000"]
    args += ["-t", str(seconds)]
    if video:
        args += ["-c:v", video, "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k"]
        args += ["-g", str(rate)]
    if audio:
        args += ["-c:a", "libopus", "-ac", "2"]
    args += [*extra, "-f", "webm", "-y", str(path)]
    subprocess.run(args, check=True)
    return path


def _vint(data: bytes, pos: int, mask: bool) -> tuple[int, int]:
    length = 9 - data[pos].bit_length()
    raw = int.from_bytes(data[pos : pos + length], "big")
    return (raw & ((1 << (7 * length)) - 1) if mask else raw), pos + length


def unknown_sizes(data: bytes) -> bytes:
    """*data* (a WebM with known sizes) as MediaRecorder writes it: Segment and Cluster
    sizes unknown."""
    _, pos = _vint(data, 0, False)
    size, pos = _vint(data, pos, True)
    out = bytearray(data[: pos + size])
    pos += size
    _, at = _vint(data, pos, False)
    _, body = _vint(data, at, True)
    out += data[pos:at] + UNKNOWN
    pos = body
    while pos < len(data):
        ident, at = _vint(data, pos, False)
        size, payload = _vint(data, at, True)
        out += data[pos:at]
        out += UNKNOWN if data[pos:at] == CLUSTER_ID else data[at:payload]
        out += data[payload : payload + size]
        pos = payload + size
    return bytes(out)


def chunks(data: bytes, seed: int, low: int = 1, high: int = 60_000) -> list[bytes]:
    rng = random.Random(seed)
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.randint(low, high)
        pieces.append(data[pos : pos + step])
        pos += step
    return pieces


def scan_incrementally(
    media: FfmpegLiveMedia, pieces: list[bytes]
) -> tuple[int, list[ClusterMark], StreamScan | None]:
    """Feed *pieces* as a worker would: carry the unconsumed tail to the next scan."""
    buffer, base, header, first = b"", 0, b"", None
    found: list[ClusterMark] = []
    for index, piece in enumerate(pieces):
        buffer += piece
        final = index == len(pieces) - 1
        at_start = first is None
        scan = media.scan(buffer, at_start=at_start, final=final, header=header)
        if at_start:
            if scan.header_size == 0:
                assert scan.consumed == 0 and not scan.clusters
                continue
            first = scan
            header = buffer[: scan.header_size]
        for mark in scan.clusters:
            found.append(
                ClusterMark(
                    offset=mark.offset + base,
                    size=mark.size,
                    start=mark.start,
                    end=mark.end,
                    keyframe=mark.keyframe,
                )
            )
        buffer = buffer[scan.consumed :]
        base += scan.consumed
    assert first is not None
    return first.header_size, found, first


@pytest.fixture(scope="module")
def media() -> FfmpegLiveMedia:
    return FfmpegLiveMedia()


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("streams")
    made = {
        "vp8": make_stream(folder / "vp8.webm", seconds=12, extra=("-cluster_time_limit", "1000")),
        "vp9_720p": make_stream(
            folder / "vp9.webm",
            seconds=4,
            size="1280x720",
            video="libvpx-vp9",
            extra=("-cluster_size_limit", "60000", "-cluster_time_limit", "5000"),
        ),
        "small_odd": make_stream(folder / "odd.webm", seconds=3, size="161x121", rate=15),
        "audio": make_stream(folder / "audio.webm", seconds=5, video=None),
        "video": make_stream(folder / "video.webm", seconds=3, audio=False),
    }
    data = {name: path.read_bytes() for name, path in made.items()}
    data["vp8_live"] = unknown_sizes(data["vp8"])
    data["vp9_live"] = unknown_sizes(data["vp9_720p"])
    return data


@pytest.fixture(scope="module")
def long_stream(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("long") / "long.webm"
    extra = ("-cluster_time_limit", "1000")
    return unknown_sizes(make_stream(path, seconds=60, size="192x108", extra=extra).read_bytes())


# ---------------------------------------------------------------------- scan


def test_scan_reads_the_header_tracks_and_every_cluster(
    media: FfmpegLiveMedia, streams: dict[str, bytes]
) -> None:
    data = streams["vp8"]
    scan = media.scan(data, at_start=True, final=True)
    assert data[scan.header_size : scan.header_size + 4] == CLUSTER_ID
    assert scan.tracks is not None
    assert (scan.tracks.video_codec, scan.tracks.audio_codec) == ("V_VP8", "A_OPUS")
    assert (scan.tracks.width, scan.tracks.height) == (320, 240)
    marks = scan.clusters
    assert len(marks) >= 11
    assert marks[0].offset == scan.header_size and marks[0].start == 0.0
    for before, after in itertools.pairwise(marks):
        assert before.offset + before.size == after.offset
        assert before.start < after.start <= before.end + 0.05
    assert scan.consumed == marks[-1].offset + marks[-1].size
    assert 11.9 <= marks[-1].end <= 12.1
    assert all(mark.keyframe for mark in marks)  # one keyframe a second, one cluster a second


def test_scan_of_a_720p_vp9_stream_tells_keyframe_clusters(
    media: FfmpegLiveMedia, streams: dict[str, bytes]
) -> None:
    scan = media.scan(streams["vp9_720p"], at_start=True, final=True)
    assert scan.tracks is not None
    assert (scan.tracks.video_codec, scan.tracks.width, scan.tracks.height) == (
        "V_VP9",
        1280,
        720,
    )
    flags = [mark.keyframe for mark in scan.clusters]
    assert flags[0] and not all(flags)  # small clusters: most begin between keyframes
    # Without the header the keyframes are told from every track's first frame.
    body = streams["vp9_720p"][scan.header_size :]
    bare = media.scan(body, at_start=False, final=True)
    assert [mark.keyframe for mark in bare.clusters] == flags


def test_audio_only_and_video_only_streams(
    media: FfmpegLiveMedia, streams: dict[str, bytes]
) -> None:
    audio = media.scan(streams["audio"], at_start=True, final=True)
    assert audio.tracks is not None and not audio.tracks.has_video
    assert audio.tracks.audio_codec == "A_OPUS"
    assert all(mark.keyframe for mark in audio.clusters)
    assert 4.9 <= audio.clusters[-1].end <= 5.1
    video = media.scan(streams["video"], at_start=True, final=True)
    assert video.tracks is not None and not video.tracks.has_audio
    assert 2.9 <= video.clusters[-1].end <= 3.1


@pytest.mark.parametrize("name", ["vp8", "vp8_live", "vp9_720p", "vp9_live"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_scan_of_arbitrary_chunks_matches_the_whole_stream(
    media: FfmpegLiveMedia, streams: dict[str, bytes], name: str, seed: int
) -> None:
    data = streams[name]
    whole = media.scan(data, at_start=True, final=True)
    header_size, found, first = scan_incrementally(media, chunks(data, seed))
    assert header_size == whole.header_size
    assert first is not None and first.tracks == whole.tracks
    assert found == list(whole.clusters)


def test_unknown_size_clusters_wait_for_the_next_cluster_unless_final(
    media: FfmpegLiveMedia, streams: dict[str, bytes]
) -> None:
    data = streams["vp8_live"]
    whole = media.scan(data, at_start=True, final=True)
    last = whole.clusters[-1]
    # ffmpeg wrote Cues after the last cluster: a top-level element, so it ends it...
    assert media.scan(data, at_start=True, final=False).clusters == whole.clusters
    # ... but a recording that goes on has no end to its last cluster yet
    recording = data[: last.offset + last.size]
    assert media.scan(recording, at_start=True, final=False).clusters == whole.clusters[:-1]
    assert media.scan(recording, at_start=True, final=True).clusters == whole.clusters
    # a byte-by-byte start: nothing until the first Cluster's id has arrived
    for cut in (1, 3, 40, whole.header_size + 3):
        early = media.scan(data[:cut], at_start=True, final=False)
        assert (early.header_size, early.clusters, early.consumed) == (0, (), 0)
    ready = media.scan(data[: whole.header_size + 4], at_start=True, final=False)
    assert ready.header_size == ready.consumed == whole.header_size and not ready.clusters


@pytest.mark.parametrize("name", ["vp8", "vp8_live"])
def test_truncated_data_gives_only_the_complete_clusters(
    media: FfmpegLiveMedia, streams: dict[str, bytes], name: str
) -> None:
    data = streams[name]
    whole = media.scan(data, at_start=True, final=True)
    third = whole.clusters[3]
    cut = data[: third.offset + third.size // 2]
    scan = media.scan(cut, at_start=True, final=False)
    assert scan.clusters == whole.clusters[:3]
    assert scan.consumed == third.offset
    final = media.scan(cut, at_start=True, final=True)
    if name == "vp8":  # a known size says the cluster is unfinished
        assert final.clusters == whole.clusters[:3]
    else:  # an unknown size ends it at its last complete block
        assert final.clusters[:3] == whole.clusters[:3]
        assert final.clusters[3].offset == third.offset
        assert final.clusters[3].size < third.size
        assert final.consumed <= len(cut)


def test_bytes_that_are_not_webm_are_refused(
    media: FfmpegLiveMedia, streams: dict[str, bytes]
) -> None:
    noise = random.Random(7).randbytes(50_000)
    with pytest.raises(InvalidMediaError, match="not WebM"):
        media.scan(noise, at_start=True, final=False)
    with pytest.raises(InvalidMediaError):
        media.scan(b"\x00\x00\x00\x20ftypisom" + noise, at_start=True, final=True)
    with pytest.raises(InvalidMediaError):
        media.scan(b"\x00" + noise, at_start=False, final=False)
    body = streams["vp8_live"]
    start = media.scan(body, at_start=True, final=True).header_size
    with pytest.raises(InvalidMediaError):  # a stream resumed at a wrong byte
        media.scan(body[start + 5 :], at_start=False, final=True)


# ---------------------------------------------------------------------- audio


def pcm(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype="<i2").astype(np.float64)


def lag_and_correlation(
    reference: np.ndarray, other: np.ndarray, at: int, shift: int = 0
) -> tuple[int, float]:
    """The lag (samples) at which 0.1 s of *other* from ``at - shift`` best matches
    *reference* from *at*, and the correlation there."""
    window = reference[at : at + 1600]
    base = at - shift
    lags = range(-40, 41)
    best = max(lags, key=lambda lag: float(np.dot(window, other[base + lag : base + lag + 1600])))
    return best, float(np.corrcoef(window, other[base + best : base + best + 1600])[0, 1])


async def check_pieces_match_the_whole(
    media: FfmpegLiveMedia, data: bytes, folder: Path, per_piece: int
) -> None:
    """Decode *data*'s audio whole and a few clusters at a time (each piece from the end
    of the one before), and compare."""
    scan = media.scan(data, at_start=True, final=True)
    header, marks = data[: scan.header_size], scan.clusters
    whole_body = folder / "whole.bin"
    whole_body.write_bytes(data[scan.header_size :])
    whole_end = await media.decode_audio(header, whole_body, folder / "whole.raw", 0.0)
    reference = pcm(folder / "whole.raw")
    assert abs(whole_end - marks[-1].end) <= 0.07  # to within an Opus frame
    assert len(reference) == round(whole_end * PCM_RATE)

    pieces, at, bounds = [], 0.0, []
    groups = [marks[i : i + per_piece] for i in range(0, len(marks), per_piece)]
    for index, group in enumerate(groups):
        body = folder / f"body{index}.bin"
        body.write_bytes(data[group[0].offset : group[-1].offset + group[-1].size])
        target = folder / f"piece{index}.raw"
        end = await media.decode_audio(header, body, target, at)
        assert end > at
        pieces.append((target, at))
        bounds.append(round(at * PCM_RATE))
        at = end
    assert abs(at - whole_end) <= 0.01
    wav = folder / "pieces.wav"
    await media.write_wav(pieces, 0.0, at, wav)
    with wave.open(str(wav)) as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (16000, 1, 2)
        joined = np.frombuffer(file.readframes(file.getnframes()), "<i2").astype(np.float64)
    assert abs(len(joined) - len(reference)) <= 160  # 10 ms
    # Every second matches the whole decoding to within 1 ms (16 samples) with a
    # correlation > 0.99 (away from the first 100 ms of a piece, where a fresh Opus
    # decoder has not settled yet).
    for second in range(int(whole_end)):
        start = second * PCM_RATE + 800
        for bound in bounds:
            if start - 1600 < bound < start + 2400:
                start = bound + 1600
        lag, correlation = lag_and_correlation(reference, joined, start)
        assert abs(lag) <= 16, (second, lag)
        assert correlation > 0.99, (second, correlation)


@pytest.mark.parametrize(("name", "per_piece"), [("vp8", 3), ("vp8_live", 3), ("vp8_live", 1)])
async def test_audio_decoded_piece_by_piece_lines_up_with_the_whole_stream(
    media: FfmpegLiveMedia, streams: dict[str, bytes], tmp_path: Path, name: str, per_piece: int
) -> None:
    await check_pieces_match_the_whole(media, streams[name], tmp_path, per_piece)


async def test_decode_audio_pads_before_the_first_frame_and_drops_what_precedes_start(
    media: FfmpegLiveMedia, streams: dict[str, bytes], tmp_path: Path
) -> None:
    data = streams["vp8"]
    scan = media.scan(data, at_start=True, final=True)
    header = data[: scan.header_size]
    whole = tmp_path / "whole.bin"
    whole.write_bytes(data[scan.header_size :])
    await media.decode_audio(header, whole, tmp_path / "whole.raw", 0.0)
    reference = pcm(tmp_path / "whole.raw")
    mark = scan.clusters[5]
    body = tmp_path / "body.bin"
    body.write_bytes(data[mark.offset : mark.offset + mark.size])

    early = mark.start - 0.5  # half a second of silence, then the cluster's audio
    end = await media.decode_audio(header, body, tmp_path / "early.raw", early)
    padded = pcm(tmp_path / "early.raw")
    assert end == pytest.approx(early + len(padded) / PCM_RATE)
    silent = int(np.argmax(np.abs(padded) > 0))
    assert abs(silent - 0.5 * PCM_RATE) <= 16 + 120  # + the skipped decoder delay
    assert not padded[:silent].any()

    late = mark.start + 0.25  # the first quarter second is dropped
    end = await media.decode_audio(header, body, tmp_path / "late.raw", late)
    cut = pcm(tmp_path / "late.raw")
    assert abs(end - mark.end) <= 0.03
    first = round(late * PCM_RATE)
    for at in (first + 400, first + 4000):
        lag, correlation = lag_and_correlation(reference, cut, at, shift=first)
        assert abs(lag) <= 16 and correlation > 0.99, (lag, correlation)


async def test_ffmpeg_work_on_bad_pieces_is_refused_with_a_reason(
    media: FfmpegLiveMedia, streams: dict[str, bytes], tmp_path: Path
) -> None:
    data = streams["vp8"]
    scan = media.scan(data, at_start=True, final=True)
    assert scan.tracks is not None
    header = data[: scan.header_size]
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(random.Random(3).randbytes(20_000))
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    for body in (garbage, empty, tmp_path / "missing.bin"):
        with pytest.raises(InvalidMediaError):
            await media.decode_audio(header, body, out, 0.0)
        with pytest.raises(InvalidMediaError):
            await media.encode_segment(header, body, out, scan.tracks, 1.0)
    video = streams["video"]
    video_header = video[: media.scan(video, at_start=True, final=True).header_size]
    body = tmp_path / "body.bin"
    body.write_bytes(data[scan.clusters[0].offset : scan.clusters[1].offset])
    with pytest.raises(InvalidMediaError, match="no audio"):
        await media.decode_audio(video_header, body, out, 0.0)
    with pytest.raises(InvalidMediaError):
        await media.join([], tmp_path / "joined.mp4")
    assert not out.exists()


# ---------------------------------------------------------------------- segments


def stream_end(path: Path, stream: str) -> float:
    """End time (seconds) of the last packet of *stream* (``v`` or ``a``) of *path*."""
    copy = ["-map", f"0:{stream}:0", "-c", "copy", "-f", "framecrc", "-"]
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), *copy],
        capture_output=True,
        text=True,
        check=True,
    )
    base = None
    end = 0.0
    for line in done.stdout.splitlines():
        if line.startswith("#tb"):
            num, den = line.split(":")[1].strip().split("/")
            base = int(num) / int(den)
        elif line and not line.startswith("#"):
            fields = [field.strip() for field in line.split(",")]
            assert base is not None
            end = max(end, (int(fields[2]) + int(fields[3])) * base)
    return end


def decode_errors(path: Path) -> str:
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    return done.stderr.strip()


async def encode_and_join(
    media: FfmpegLiveMedia, data: bytes, folder: Path, per_segment: int
) -> Path:
    scan = media.scan(data, at_start=True, final=True)
    assert scan.tracks is not None
    header = data[: scan.header_size]
    keyed = [i for i, mark in enumerate(scan.clusters) if mark.keyframe]
    starts = keyed[::per_segment]
    segments = []
    for number, first in enumerate(starts):
        last = starts[number + 1] if number + 1 < len(starts) else len(scan.clusters)
        marks = scan.clusters[first:last]
        body = folder / f"body{number}.bin"
        body.write_bytes(data[marks[0].offset : marks[-1].offset + marks[-1].size])
        following = scan.clusters[last].start if last < len(scan.clusters) else marks[-1].end
        segment = folder / f"segment{number}.ts"
        await media.encode_segment(header, body, segment, scan.tracks, following - marks[0].start)
        segments.append(segment)
    target = folder / "joined.mp4"
    await media.join(segments, target)
    return target


@pytest.mark.parametrize("per_segment", [3, 1])
async def test_joined_segments_keep_audio_and_video_in_step(
    media: FfmpegLiveMedia, long_stream: bytes, tmp_path: Path, per_segment: int
) -> None:
    joined = await encode_and_join(media, long_stream, tmp_path, per_segment=per_segment)
    assert len(list(tmp_path.glob("segment*.ts"))) >= 60 // per_segment
    info = await FfmpegTranscoder().probe(joined)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.sample_rate, info.channels) == (192, 108, 48000, 2)
    assert abs(info.duration - 60.0) <= 0.1
    assert abs(stream_end(joined, "v") - 60.0) <= 0.1
    assert abs(stream_end(joined, "a") - 60.0) <= 0.1
    assert decode_errors(joined) == ""
    assert joined.read_bytes()[4:8] == b"ftyp"


async def test_a_long_segment_reports_its_progress_as_it_encodes(
    media: FfmpegLiveMedia, long_stream: bytes, tmp_path: Path
) -> None:
    """The video a busy machine left for the job is one long segment: its encoding says
    how far it is (that keeps the step's lease alive; silent, it was stopped as stuck)."""
    scan = media.scan(long_stream, at_start=True, final=True)
    assert scan.tracks is not None
    marks = scan.clusters[5:]  # from a keyframe past the start, as the rest of a recording
    while not marks[0].keyframe:
        marks = marks[1:]
    body = tmp_path / "rest.bin"
    body.write_bytes(long_stream[marks[0].offset : marks[-1].offset + marks[-1].size])
    heard: list[float] = []

    async def on_progress(fraction: float) -> None:
        heard.append(fraction)

    duration = marks[-1].end - marks[0].start
    target = tmp_path / "rest.ts"
    header = long_stream[: scan.header_size]
    await media.encode_segment(header, body, target, scan.tracks, duration, on_progress)
    assert target.stat().st_size > 0
    assert len(heard) >= 2 and heard == sorted(heard)
    assert 0.0 < heard[-1] <= 1.0 and heard[0] < 0.9


@pytest.mark.parametrize("name", ["vp9_720p", "small_odd", "audio", "video"])
async def test_segments_of_every_kind_of_stream_join_into_a_playable_mp4(
    media: FfmpegLiveMedia, streams: dict[str, bytes], tmp_path: Path, name: str
) -> None:
    data = streams[name]
    joined = await encode_and_join(media, data, tmp_path, per_segment=2)
    scan = media.scan(data, at_start=True, final=True)
    info = await FfmpegTranscoder().probe(joined)
    assert info.has_video == (name != "audio") and info.has_audio == (name != "video")
    if info.has_video:
        assert info.video_codec == "h264"
        assert info.width is not None and info.height is not None
        assert info.width % 2 == 0 and info.height % 2 == 0
    if info.has_audio:
        assert info.audio_codec == "aac"
    assert abs(info.duration - scan.clusters[-1].end) <= 0.1
    assert decode_errors(joined) == ""


# ---------------------------------------------------------------------- wav


async def test_write_wav_fills_gaps_with_silence_and_cuts_to_the_range(
    media: FfmpegLiveMedia, tmp_path: Path
) -> None:
    one, two = tmp_path / "one.raw", tmp_path / "two.raw"
    one.write_bytes(np.arange(1, 16001, dtype="<i2").tobytes())  # 1.0 s from 2.0
    two.write_bytes(np.full(8000, -5, dtype="<i2").tobytes())  # 0.5 s from 3.5
    target = tmp_path / "out.wav"
    await media.write_wav([(one, 2.0), (two, 3.5)], 1.5, 3.75, target)
    with wave.open(str(target)) as file:
        assert (file.getframerate(), file.getnchannels()) == (16000, 1)
        samples = np.frombuffer(file.readframes(file.getnframes()), "<i2")
    assert len(samples) == round(2.25 * 16000)
    assert not samples[:8000].any()  # 1.5 to 2.0: before the first piece
    assert list(samples[8000 : 16000 + 8000][:3]) == [1, 2, 3]
    assert samples[8000 + 15999] == 16000
    assert not samples[24000:32000].any()  # 3.0 to 3.5: the gap
    assert (samples[32000:] == -5).all() and len(samples[32000:]) == 4000


# ---------------------------------------------------------------------- MediaRecorder

RECORDING = Path(__file__).parent.parent / "data" / "mediarecorder" / "recording.webm"


@pytest.fixture(scope="module")
def recording() -> tuple[bytes, list[int]]:
    sizes = json.loads((RECORDING.parent / "chunks.json").read_text())
    return RECORDING.read_bytes(), sizes


def test_a_real_mediarecorder_stream_scans_chunk_by_chunk(
    media: FfmpegLiveMedia, recording: tuple[bytes, list[int]]
) -> None:
    data, sizes = recording
    whole = media.scan(data, at_start=True, final=True)
    assert whole.tracks is not None
    assert (whole.tracks.video_codec, whole.tracks.audio_codec) == ("V_VP8", "A_OPUS")
    assert (whole.tracks.width, whole.tracks.height) == (320, 240)
    marks = whole.clusters
    assert all(data[m.offset + 4 : m.offset + 12] == UNKNOWN for m in marks)
    assert marks[0].keyframe and not all(m.keyframe for m in marks)
    assert whole.consumed == len(data) and 6.0 <= marks[-1].end <= 7.0
    # the blobs as MediaRecorder gave them: the first has the header, none ends a cluster
    blobs, pos = [], 0
    for size in sizes:
        blobs.append(data[pos : pos + size])
        pos += size
    assert pos == len(data)
    first = media.scan(blobs[0], at_start=True, final=False)
    assert first.header_size == whole.header_size
    for blobs_now in (blobs, chunks(data, 5, high=3000)):
        header_size, found, _ = scan_incrementally(media, blobs_now)
        assert header_size == whole.header_size
        assert found == list(marks)


async def test_a_real_mediarecorder_stream_decodes_in_pieces(
    media: FfmpegLiveMedia, recording: tuple[bytes, list[int]], tmp_path: Path
) -> None:
    await check_pieces_match_the_whole(media, recording[0], tmp_path, 2)


async def test_a_real_mediarecorder_stream_encodes_and_joins(
    media: FfmpegLiveMedia, recording: tuple[bytes, list[int]], tmp_path: Path
) -> None:
    data = recording[0]
    joined = await encode_and_join(media, data, tmp_path, per_segment=1)
    assert len(list(tmp_path.glob("segment*.ts"))) == 2
    end = media.scan(data, at_start=True, final=True).clusters[-1].end
    info = await FfmpegTranscoder().probe(joined)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == (
        "h264",
        "aac",
        320,
        240,
    )
    assert abs(info.duration - end) <= 0.1
    assert decode_errors(joined) == ""
