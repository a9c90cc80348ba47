"""Speaker embeddings (d-vectors) with Resemblyzer's voice encoder, on onnxruntime.

The network is Resemblyzer's GE2E voice encoder (a 3-layer LSTM over 40 mel channels,
256-dim L2-normed output, Apache-2.0; see ``models/NOTICE``), converted once to
``models/voice_encoder.onnx`` by ``scripts/convert_voice_encoder.py``. Its sha256 is
checked when it is loaded. Torch is not needed: the mel front end is computed here in
numpy the way Resemblyzer computes it with librosa (16 kHz, 25 ms Hann window, 10 ms hop,
40 Slaney mel channels of the power spectrum, no logarithm), and the embedding of an
utterance is, as in Resemblyzer's ``embed_utterance``, the L2-normed mean of the
embeddings of its partial utterances of 160 frames (1.6 s) taken 1.3 times per second.

Audio is read from a 16 kHz mono 16-bit WAV file window by window (:func:`read_span`), so
memory does not grow with the length of the recording.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import threading
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIAL_RATE = 1.3  # partial utterances per second in embed_utterance
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0
EMBEDDING_SIZE = 256
MODEL_FILE = "voice_encoder.onnx"
MODEL_SHA256 = "afd0d4b3c08695c5ad367ae66bfea68d5e853d07c87f4fa55e2ff7ac72d34ca5"
BATCH = 32  # partial utterances per onnxruntime call

Float32Array = npt.NDArray[np.float32]


class VoiceEncoderError(RuntimeError):
    """The voice encoder model is missing, damaged, or the audio cannot be read."""


def model_path() -> Path:
    """The packaged ONNX model file."""
    return Path(str(importlib.resources.files("elyune_adapters.asr") / "models" / MODEL_FILE))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- mel front end


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    mels = hz / f_sp
    log_step = np.log(6.4) / 27.0
    above = hz >= 1000.0
    mels[above] = 15.0 + np.log(hz[above] / 1000.0) / log_step
    return mels


def _mel_to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp = 200.0 / 3
    hz = f_sp * mels
    log_step = np.log(6.4) / 27.0
    above = mels >= 15.0
    hz[above] = 1000.0 * np.exp(log_step * (mels[above] - 15.0))
    return hz


@functools.cache
def mel_filterbank() -> npt.NDArray[np.float64]:
    """The ``[40, 201]`` Slaney-normalised triangular filters of librosa's ``filters.mel``."""
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(
        np.linspace(
            _hz_to_mel(np.array([0.0]))[0],
            _hz_to_mel(np.array([SAMPLE_RATE / 2]))[0],
            MELS + 2,
        )
    )
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    weights = np.zeros((MELS, fft_freqs.size))
    for band in range(MELS):
        lower = -ramps[band] / widths[band]
        upper = ramps[band + 2] / widths[band + 1]
        weights[band] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : MELS + 2] - edges[:MELS]))[:, None]
    return weights


@functools.cache
def _window() -> npt.NDArray[np.float64]:
    n = np.arange(N_FFT)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)  # periodic Hann


def mel_spectrogram(wav: Float32Array) -> Float32Array:
    """``[frames, 40]`` mel power spectrogram of *wav* (16 kHz), ``1 + len // 160`` frames.

    Frames are centred (the signal is padded with ``N_FFT // 2`` zeros each side), like
    librosa's ``melspectrogram`` with its defaults.
    """
    signal = np.asarray(wav, dtype=np.float32)  # float32 FFTs: half the work of float64
    padded = np.pad(signal, (N_FFT // 2, N_FFT // 2))
    count = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded,
        shape=(count, N_FFT),
        strides=(padded.strides[0] * HOP, padded.strides[0]),
        writeable=False,
    )
    spectrum = np.fft.rfft(frames * _window_32(), axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    # einsum, not a BLAS matrix product: a threaded BLAS on a busy machine spent 50 times
    # longer waiting for its threads than computing this small product
    result: Float32Array = np.einsum("fb,bm->fm", power, _filterbank_32()).astype(np.float32)
    return result


@functools.cache
def _window_32() -> Float32Array:
    return _window().astype(np.float32)


@functools.cache
def _filterbank_32() -> Float32Array:
    return np.ascontiguousarray(mel_filterbank().T, dtype=np.float32)


def normalize_volume(
    wav: Float32Array, target_dbfs: float = TARGET_DBFS, *, lower: bool = False
) -> Float32Array:
    """Raise *wav* to *target_dbfs*, as Resemblyzer's ``preprocess_wav``; with *lower*, a
    louder *wav* is brought down to it too (the network's input is not logarithmic, so
    its loudness matters)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 1e-9:
        return wav
    change = target_dbfs - 20.0 * np.log10(rms)
    if change <= 0 and not lower:
        return wav
    return (wav * np.float32(10.0 ** (change / 20.0))).astype(np.float32)


def partial_slices(n_samples: int) -> list[slice]:
    """Mel frame ranges of the partial utterances of Resemblyzer's ``embed_utterance``."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = round((SAMPLE_RATE / PARTIAL_RATE) / HOP)
    slices = [
        slice(i, i + PARTIAL_FRAMES)
        for i in range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    ]
    coverage = (n_samples - slices[-1].start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices = slices[:-1]
    return slices


# --------------------------------------------------------------------------- WAV reading


def wav_duration(path: Path) -> float:
    """Length of the WAV file *path* in seconds (checks it is 16 kHz mono 16-bit)."""
    with _open_wav(path) as reader:
        return reader.getnframes() / SAMPLE_RATE


def _open_wav(path: Path) -> wave.Wave_read:
    try:
        reader = wave.open(str(path), "rb")  # noqa: SIM115 - returned to a with block
    except (OSError, EOFError, wave.Error) as exc:
        raise VoiceEncoderError(f"cannot read the audio file {path.name}: {exc}") from exc
    if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) != (
        SAMPLE_RATE,
        1,
        2,
    ):
        reader.close()
        raise VoiceEncoderError(f"{path.name} is not a 16 kHz mono 16-bit WAV file")
    return reader


def read_span(reader: wave.Wave_read, start: float, end: float) -> Float32Array:
    """The samples of [*start*, *end*) seconds of an open WAV file, as float32 in [-1, 1]."""
    total = reader.getnframes()
    first = max(0, min(total, round(start * SAMPLE_RATE)))
    last = max(first, min(total, round(end * SAMPLE_RATE)))
    reader.setpos(first)
    pcm = np.frombuffer(reader.readframes(last - first), dtype="<i2")
    return (pcm.astype(np.float32) / np.float32(32768.0)).astype(np.float32)


def open_wav(path: Path) -> wave.Wave_read:
    """Open a 16 kHz mono 16-bit WAV file for :func:`read_span`."""
    return _open_wav(path)


# --------------------------------------------------------------------------- the model


class VoiceEncoder:
    """Resemblyzer's voice encoder on onnxruntime, loaded lazily and thread-safely.

    *threads* bounds onnxruntime's intra-op threads (one inter-op thread). Raises
    ``VoiceEncoderError`` when the packaged model is missing or its sha256 does not match.
    """

    def __init__(self, *, threads: int = 1, path: Path | None = None) -> None:
        self.threads = max(1, threads)
        self.path = path or model_path()
        self._session: object | None = None
        self._lock = threading.Lock()

    def _load(self) -> object:
        if self._session is not None:
            return self._session
        with self._lock:
            if self._session is None:
                import onnxruntime  # installed with faster-whisper; imported when first used

                try:
                    digest = _sha256(self.path)
                except OSError as exc:
                    raise VoiceEncoderError(
                        f"the voice encoder model {self.path} cannot be read: {exc}"
                    ) from exc
                if digest != MODEL_SHA256:
                    raise VoiceEncoderError(
                        f"the voice encoder model {self.path} is damaged (sha256 {digest})"
                    )
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
                options.log_severity_level = 3
                self._session = onnxruntime.InferenceSession(
                    str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def embed_mels(self, mels: Float32Array) -> Float32Array:
        """Embeddings ``[batch, 256]`` of mel spectrograms ``[batch, frames, 40]``."""
        session = self._load()
        batch = np.ascontiguousarray(mels, dtype=np.float32)
        if batch.ndim != 3 or batch.shape[2] != MELS or batch.shape[1] == 0:
            raise ValueError(f"mels must be [batch, frames, {MELS}], not {batch.shape}")
        outputs: list[Float32Array] = []
        for first in range(0, batch.shape[0], BATCH):
            (result,) = session.run(["embeddings"], {"mels": batch[first : first + BATCH]})  # type: ignore[attr-defined]
            outputs.append(np.asarray(result, dtype=np.float32))
        embeddings = np.concatenate(outputs, axis=0)
        # a frame of pure silence gives a zero vector (ReLU), normalised to NaN: make it 0
        return np.nan_to_num(embeddings, nan=0.0).astype(np.float32)

    def embed_utterance(self, wav: Float32Array) -> Float32Array:
        """The 256-dim embedding of one utterance, as Resemblyzer's ``embed_utterance``.

        *wav* is 16 kHz audio, already volume-normalised (see :func:`normalize_volume`).
        """
        slices = partial_slices(len(wav))
        longest = slices[-1].stop * HOP
        if longest >= len(wav):
            wav = np.pad(wav, (0, longest - len(wav)))
        mel = mel_spectrogram(wav)
        partials = self.embed_mels(np.stack([mel[s] for s in slices]))
        mean = partials.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        result: Float32Array = (mean / norm if norm > 0 else mean).astype(np.float32)
        return result


__all__ = [
    "EMBEDDING_SIZE",
    "MODEL_SHA256",
    "SAMPLE_RATE",
    "VoiceEncoder",
    "VoiceEncoderError",
    "mel_spectrogram",
    "normalize_volume",
    "open_wav",
    "partial_slices",
    "read_span",
    "wav_duration",
]
