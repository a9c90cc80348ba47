"""FfmpegTranscoder against the real ffmpeg binary, on the sample and generated media."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from elyune_adapters.media import FfmpegTranscoder, default_ffmpeg_path
from elyune_core.entities import ImageInfo, MediaInfo
from elyune_core.errors import InvalidMediaError, MediaProcessingError
from tests.support.aio import run_sync
from tests.support.media import (
    SAMPLE,
    SAMPLE_DURATION,
    copy_sample,
    ffmpeg_exe,
    make_audio_only_webm,
    make_empty_file,
    make_silent_webm,
    make_text_as_webm,
    make_truncated_webm,
    make_video_only_webm,
    make_webm,
)

UNICODE_NAME = "Réunion d'équipe – 週報 #1 (final).webm"


@pytest.fixture
def transcoder() -> FfmpegTranscoder:
    return FfmpegTranscoder()


@pytest.fixture(scope="module")
def sample_info() -> MediaInfo:
    return run_sync(FfmpegTranscoder().probe(SAMPLE))


def header_duration(path: Path) -> str:
    """The ``Duration:`` ffmpeg reads from the header of *path* (``N/A`` when absent)."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    match = re.search(r"Duration: ([^,]+),", done.stderr)
    assert match, done.stderr
    return match.group(1)


def top_level_boxes(path: Path) -> list[str]:
    """Types of the top-level ISO-BMFF boxes of *path*, in file order."""
    boxes = []
    with path.open("rb") as file:
        while header := file.read(8):
            size, kind = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
            boxes.append(kind)
            if size == 1:
                size = int.from_bytes(file.read(8), "big") - 8
            elif size == 0:
                break
            file.seek(size - 8, os.SEEK_CUR)
    return boxes


def ffmpeg_children() -> list[int]:
    """Pids of ffmpeg processes whose parent is this test process."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and name.startswith("ffmpeg"):
            pids.append(int(stat.parent.name))
    return pids


# --------------------------------------------------------------------------- probe


async def test_probe_finds_the_true_duration_of_a_recording_without_one_in_its_header(
    transcoder: FfmpegTranscoder,
) -> None:
    """The sample, like Chrome's MediaRecorder output, has no duration in its header."""
    assert header_duration(SAMPLE) == "N/A"

    media = await transcoder.probe(SAMPLE)

    assert media.duration == pytest.approx(SAMPLE_DURATION, abs=0.5)
    assert 30 <= media.duration <= 60
    assert "webm" in media.format_name
    assert (media.has_video, media.has_audio) == (True, True)
    assert (media.video_codec, media.audio_codec) == ("vp8", "opus")
    assert (media.width, media.height) == (960, 540)
    assert media.fps == pytest.approx(15, abs=0.5)
    assert (media.sample_rate, media.channels) == (48000, 1)
    assert media.size == SAMPLE.stat().st_size


@pytest.mark.parametrize(
    ("make", "seconds", "has_video", "has_audio"),
    [
        (make_webm, 3, True, True),
        (make_webm, 7, True, True),
        (make_silent_webm, 2, True, True),
        (make_video_only_webm, 4, True, False),
        (make_audio_only_webm, 5, False, True),
    ],
)
async def test_probe_reports_the_streams_and_length_of_generated_webm(
    transcoder: FfmpegTranscoder,
    tmp_path: Path,
    make: Callable[..., Path],
    seconds: float,
    has_video: bool,
    has_audio: bool,
) -> None:
    """Generated WebM files report their tracks and last-packet duration."""
    source = make(tmp_path, seconds=seconds)
    assert header_duration(source) == "N/A"

    media = await transcoder.probe(source)

    assert media.duration == pytest.approx(seconds, abs=0.5)
    assert (media.has_video, media.has_audio) == (has_video, has_audio)
    assert media.video_codec == ("vp8" if has_video else None)
    assert media.audio_codec == ("opus" if has_audio else None)
    assert (media.width, media.height) == ((320, 240) if has_video else (None, None))
    assert media.sample_rate == (48000 if has_audio else None)


async def test_probe_reads_a_webm_with_duration_and_cues(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """A seekable WebM (duration and cues in the header) probes the same way."""
    source = make_webm(tmp_path, seconds=4, streamed=False)
    assert header_duration(source) != "N/A"

    media = await transcoder.probe(source)

    assert media.duration == pytest.approx(4, abs=0.5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: make_empty_file(d), "the file is empty"),
        (lambda d: make_text_as_webm(d), "not a video or audio file ffmpeg can read"),
        (
            lambda d: make_truncated_webm(d, make_webm(d, seconds=3)),
            "the file is truncated: it ends in the middle of the data",
        ),
        (
            lambda d: make_truncated_webm(d, SAMPLE, fraction=0.97),
            "the file is truncated: it ends in the middle of the data",
        ),
        (
            lambda d: make_truncated_webm(d, SAMPLE, fraction=0.0002),
            "the file is truncated or damaged",
        ),
        (lambda d: d / "missing.webm", "'missing.webm' was not found"),
        (lambda d: d, "is not a file"),
    ],
    ids=["empty", "text", "truncated", "truncated-near-end", "truncated-header", "missing", "dir"],
)
async def test_probe_refuses_what_is_not_complete_media(
    transcoder: FfmpegTranscoder, tmp_path: Path, make: Callable[..., Path], message: str
) -> None:
    """Empty, foreign, truncated and missing files raise a permanent InvalidMediaError."""
    source = make(tmp_path)

    with pytest.raises(InvalidMediaError, match=re.escape(message)) as caught:
        await transcoder.probe(source)

    assert not caught.value.transient


async def test_probe_refuses_a_truncated_mp4(transcoder: FfmpegTranscoder, tmp_path: Path) -> None:
    """An MP4 cut before its index, or in the middle of its data, is truncated."""
    mp4 = tmp_path / "full.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(make_webm(tmp_path, seconds=2)), str(mp4)],
        check=True,
    )
    for fraction in (0.4, 0.9):
        cut = make_truncated_webm(tmp_path, mp4, fraction=fraction, name=f"cut-{fraction}.mp4")
        with pytest.raises(InvalidMediaError, match="the file is truncated"):
            await transcoder.probe(cut)


async def test_probe_accepts_a_webm_cut_between_two_clusters(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """A streamed WebM that stops on a cluster boundary is a shorter, playable recording."""
    data = SAMPLE.read_bytes()
    clusters = [m.start() for m in re.finditer(re.escape(b"\x1f\x43\xb6\x75"), data)]
    cut = tmp_path / "stopped.webm"
    cut.write_bytes(data[: clusters[len(clusters) // 2]])

    media = await transcoder.probe(cut)

    assert 5 < media.duration < SAMPLE_DURATION - 5


async def test_probe_refuses_images_and_playlists(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """Only audio/video demuxers may read an upload: no still images, no playlists."""
    image = tmp_path / "picture.webm"
    subprocess.run(
        [
            *(ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64:duration=0.1"),
            *("-frames:v", "1", "-f", "image2", "-c:v", "png", str(image)),
        ],
        check=True,
    )
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{make_webm(tmp_path)}\n#EXT-X-ENDLIST\n"
    )
    for source in (image, playlist):
        with pytest.raises(InvalidMediaError, match="not a video or audio file"):
            await transcoder.probe(source)


# --------------------------------------------------------------------------- transcode


async def test_transcode_writes_a_faststart_h264_aac_mp4_and_reports_progress(
    transcoder: FfmpegTranscoder, sample_info: MediaInfo, tmp_path: Path
) -> None:
    """The MP4 has H.264 and AAC, moov before mdat, the source's length; progress rises to 1."""
    target = tmp_path / "video.mp4"
    fractions: list[float] = []

    async def on_progress(fraction: float) -> None:
        fractions.append(fraction)

    await transcoder.transcode(SAMPLE, target, sample_info, on_progress)

    boxes = top_level_boxes(target)
    assert boxes.index("moov") < boxes.index("mdat")
    media = await transcoder.probe(target)
    assert "mp4" in media.format_name
    assert (media.video_codec, media.audio_codec) == ("h264", "aac")
    assert (media.width, media.height) == (960, 540)
    assert media.duration == pytest.approx(sample_info.duration, abs=0.5)
    assert len(fractions) >= 2
    assert all(0 <= f <= 1 for f in fractions)
    assert fractions == sorted(set(fractions))
    assert fractions[-1] == 1.0
    assert fractions[-2] > 0.9


@pytest.mark.parametrize(
    ("make", "has_video", "has_audio"),
    [(make_audio_only_webm, False, True), (make_video_only_webm, True, False)],
    ids=["audio-only", "video-only"],
)
async def test_transcode_keeps_only_the_tracks_the_source_has(
    transcoder: FfmpegTranscoder,
    tmp_path: Path,
    make: Callable[..., Path],
    has_video: bool,
    has_audio: bool,
) -> None:
    """Audio-only input gives an audio-only MP4; video-only input gives no audio track."""
    source = make(tmp_path, seconds=2)
    target = tmp_path / "out.mp4"

    await transcoder.transcode(source, target, await transcoder.probe(source))

    media = await transcoder.probe(target)
    assert (media.has_video, media.has_audio) == (has_video, has_audio)
    assert media.duration == pytest.approx(2, abs=0.5)


async def test_transcode_rounds_odd_dimensions_to_even(
    tmp_path: Path,
) -> None:
    """libx264's yuv420p needs even sizes: 321x241 becomes 320x240."""
    transcoder = FfmpegTranscoder(threads=1)
    source = make_webm(tmp_path, seconds=1, width=321, height=241)
    target = tmp_path / "odd.mp4"

    await transcoder.transcode(source, target, await transcoder.probe(source))

    media = await transcoder.probe(target)
    assert (media.width, media.height) == (320, 240)


# --------------------------------------------------------------------------- audio, thumbnail


async def test_extract_audio_writes_16_khz_mono_pcm_wav(
    transcoder: FfmpegTranscoder, sample_info: MediaInfo, tmp_path: Path
) -> None:
    """The WAV is 16 kHz, mono, 16-bit and as long as the source."""
    target = tmp_path / "audio.wav"

    await transcoder.extract_audio(SAMPLE, target, sample_info)

    with wave.open(str(target), "rb") as audio:
        assert audio.getframerate() == 16000
        assert audio.getnchannels() == 1
        assert audio.getsampwidth() == 2
        assert audio.getcomptype() == "NONE"
        seconds = audio.getnframes() / audio.getframerate()
    assert seconds == pytest.approx(sample_info.duration, abs=0.5)


async def test_thumbnail_writes_a_jpeg_and_returns_its_size(
    transcoder: FfmpegTranscoder, sample_info: MediaInfo, tmp_path: Path
) -> None:
    """The poster frame is a JPEG of the video's size when it is narrower than 1280."""
    target = tmp_path / "thumbnail.jpg"

    image = await transcoder.thumbnail(SAMPLE, target, sample_info)

    assert image == ImageInfo(width=960, height=540)
    assert target.read_bytes()[:3] == b"\xff\xd8\xff"
    assert ffmpeg_image_size(target) == (960, 540)


async def test_thumbnail_of_a_wide_video_is_scaled_to_1280_keeping_aspect(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """A 1920x1080 video gives a 1280x720 poster frame."""
    source = make_webm(tmp_path, seconds=1, width=1920, height=1080, fps=5)
    target = tmp_path / "wide.jpg"

    image = await transcoder.thumbnail(source, target, await transcoder.probe(source))

    assert image == ImageInfo(width=1280, height=720)
    assert ffmpeg_image_size(target) == (1280, 720)


async def test_thumbnail_falls_back_to_the_first_frame(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """When nothing can be decoded at the poster time, the first frame is used."""
    source = make_webm(tmp_path, seconds=1)
    media = attrs.evolve(await transcoder.probe(source), duration=120.0)

    image = await transcoder.thumbnail(source, tmp_path / "first.jpg", media)

    assert image == ImageInfo(width=320, height=240)


def ffmpeg_image_size(path: Path) -> tuple[int, int]:
    """Size of the image at *path*, as ffmpeg decodes it."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    match = re.search(r"Video: mjpeg.*?, (\d+)x(\d+)", done.stderr)
    assert match, done.stderr
    return int(match.group(1)), int(match.group(2))


async def test_audio_and_video_steps_refuse_a_missing_track(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """No audio track: no WAV; no video track: no thumbnail."""
    video_only = make_video_only_webm(tmp_path, seconds=1)
    audio_only = make_audio_only_webm(tmp_path, seconds=1)

    with pytest.raises(InvalidMediaError, match="no audio track"):
        await transcoder.extract_audio(
            video_only, tmp_path / "a.wav", await transcoder.probe(video_only)
        )
    with pytest.raises(InvalidMediaError, match="no video track"):
        await transcoder.thumbnail(
            audio_only, tmp_path / "t.jpg", await transcoder.probe(audio_only)
        )


async def test_every_operation_works_on_names_with_spaces_and_non_ascii_characters(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """Paths go to ffmpeg as ``file:`` URLs in argv, never through a shell."""
    folder = tmp_path / "dossier été 2024"
    folder.mkdir()
    source = make_webm(folder, seconds=2, name=UNICODE_NAME)

    media = await transcoder.probe(source)
    await transcoder.transcode(source, folder / "vidéo finale.mp4", media)
    await transcoder.extract_audio(source, folder / "son – 16k.wav", media)
    image = await transcoder.thumbnail(source, folder / "aperçu 1.jpg", media)

    assert media.duration == pytest.approx(2, abs=0.5)
    assert (await transcoder.probe(folder / "vidéo finale.mp4")).video_codec == "h264"
    assert (folder / "son – 16k.wav").stat().st_size > 16000
    assert image == ImageInfo(width=320, height=240)


# --------------------------------------------------------------------------- failures


async def test_a_run_longer_than_the_timeout_is_killed(
    sample_info: MediaInfo, tmp_path: Path
) -> None:
    """The timeout raises a permanent MediaProcessingError and leaves no ffmpeg or file."""
    transcoder = FfmpegTranscoder(timeout=0.05)
    target = tmp_path / "late.mp4"

    with pytest.raises(MediaProcessingError, match=r"took longer than 0\.05 s") as caught:
        await transcoder.transcode(SAMPLE, target, sample_info)

    assert not caught.value.transient
    assert not target.exists()
    assert ffmpeg_children() == []


async def test_an_ffmpeg_that_makes_no_progress_is_killed_however_long_the_file(
    sample_info: MediaInfo, tmp_path: Path
) -> None:
    """Stuck (no progress) is not the same as slow: a stuck ffmpeg is stopped after the
    stall timeout with a transient error, whatever the file's length."""
    stuck = tmp_path / "stuck-ffmpeg"
    stuck.write_text("#!/bin/sh\nexec sleep 60\n")
    stuck.chmod(0o755)
    transcoder = FfmpegTranscoder(str(stuck), stall_timeout=0.5)
    target = tmp_path / "never.mp4"
    long_media = attrs.evolve(sample_info, duration=4 * 3600.0)

    with pytest.raises(MediaProcessingError, match=r"made no progress for 0\.5 s") as caught:
        await transcoder.transcode(SAMPLE, target, long_media)

    assert caught.value.transient
    assert not target.exists()
    assert ffmpeg_children() == [] and not _children_named("sleep")


async def test_extracting_audio_reports_rising_progress(
    transcoder: FfmpegTranscoder, sample_info: MediaInfo, tmp_path: Path
) -> None:
    seen: list[float] = []

    async def on_progress(value: float) -> None:
        seen.append(value)

    await transcoder.extract_audio(SAMPLE, tmp_path / "a.wav", sample_info, on_progress)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def _children_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().split()
            except OSError:
                continue
            if stat[1] == f"({name})" and int(stat[3]) == os.getpid() and stat[2] != "Z":
                found.append(int(entry.name))
    return found


async def test_cancelling_an_operation_kills_ffmpeg(
    transcoder: FfmpegTranscoder, sample_info: MediaInfo, tmp_path: Path
) -> None:
    """Cancellation propagates, and the ffmpeg process is gone afterwards."""
    target = tmp_path / "cancelled.mp4"
    task = asyncio.create_task(transcoder.transcode(SAMPLE, target, sample_info))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if ffmpeg_children():
            break
    assert ffmpeg_children()
    assert not task.done()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert ffmpeg_children() == []
    assert not target.exists()


async def test_a_missing_ffmpeg_binary_names_the_path_and_the_setting(tmp_path: Path) -> None:
    """Every operation raises a permanent MediaProcessingError naming the path and FFMPEG_PATH."""
    transcoder = FfmpegTranscoder(str(tmp_path / "no-ffmpeg"))

    with pytest.raises(MediaProcessingError, match="FFMPEG_PATH") as caught:
        await transcoder.probe(SAMPLE)

    assert str(tmp_path / "no-ffmpeg") in str(caught.value)
    assert not caught.value.transient


async def test_ffmpeg_failing_on_a_probed_file_is_transient_with_its_reason(
    transcoder: FfmpegTranscoder, tmp_path: Path
) -> None:
    """A non-zero exit raises a transient MediaProcessingError with ffmpeg's own reason."""
    source = make_video_only_webm(tmp_path, seconds=1)
    media = await transcoder.probe(source)
    wrong = attrs.evolve(media, has_audio=True, audio_codec="opus")
    target = tmp_path / "out.mp4"

    with pytest.raises(MediaProcessingError, match="matches no streams") as caught:
        await transcoder.transcode(source, target, wrong)

    assert caught.value.transient
    assert str(caught.value).startswith("ffmpeg could not convert the file to MP4: ")
    assert not target.exists()
    with_audio = make_webm(tmp_path, seconds=1)
    media = await transcoder.probe(with_audio)
    with pytest.raises(MediaProcessingError, match="No such file or directory") as caught:
        await transcoder.extract_audio(with_audio, tmp_path / "gone" / "a.wav", media)
    assert caught.value.transient


def test_default_ffmpeg_path_is_the_bundled_binary() -> None:
    """Without a path, the transcoder runs imageio-ffmpeg's binary."""
    assert Path(default_ffmpeg_path()).is_file()
    assert FfmpegTranscoder().ffmpeg_path == default_ffmpeg_path()
    assert shutil.which(default_ffmpeg_path())


def test_copy_sample_keeps_the_bytes(tmp_path: Path) -> None:
    """The support helper copies the committed sample under another name."""
    copy = copy_sample(tmp_path, name=UNICODE_NAME)
    assert copy.read_bytes() == SAMPLE.read_bytes()


def test_ffmpeg_dies_with_a_killed_worker(tmp_path):
    """A worker killed with SIGKILL leaves no ffmpeg behind (parent-death signal)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "worker.py"
    script.write_text(
        "import asyncio\n"
        "from elyune_adapters.media.ffmpeg import FfmpegTranscoder\n"
        "args = ['-re', '-f', 'lavfi', '-i', 'sine=d=60', '-f', 'null', '-']\n"
        "asyncio.run(FfmpegTranscoder()._run(args, on_stdout=None, loglevel='error'))\n"
    )
    worker = subprocess.Popen([sys.executable, str(script)])
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    ffmpeg = None
    for _ in range(100):
        text = children.read_text().split() if children.exists() else []
        if text:
            ffmpeg = int(text[0])
            break
        time.sleep(0.1)
    assert ffmpeg is not None, "ffmpeg did not start"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    for _ in range(50):
        status = Path(f"/proc/{ffmpeg}/status")
        if not status.exists() or "zombie" in status.read_text():
            break
        time.sleep(0.1)
    else:
        os.kill(ffmpeg, signal.SIGKILL)
        raise AssertionError("ffmpeg outlived the killed worker")
