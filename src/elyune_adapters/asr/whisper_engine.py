"""The embedded speech engine's child process: faster-whisper, window by window.

Run as ``python -m elyune_adapters.asr.whisper_engine`` by :class:`WhisperTranscriber`
(see :mod:`elyune_adapters.asr.engine` for the protocol). Memory stays flat in the
recording's length: the 16 kHz WAV is read ``WINDOW`` seconds at a time (cut in a pause
near the window's end), each window is transcribed with the language found in the first
and the end of the previous window's text as its prompt, and only the words found so far
are kept. The speakers are then told apart by :mod:`elyune_adapters.asr.diarize`, which reads
the WAV by windows too.

A live recording comes stretch by stretch instead (requests of type ``"stretch"``): each
is transcribed up to a pause near its end (all of it when it is the last), and its
speech windows' voice embeddings are sent back as plain JSON; at the end one request of
type ``"label"`` gives all the stretches back, and the speakers are clustered over their
stored embeddings as over a whole file (:func:`elyune_adapters.asr.diarize.label_speakers`).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import math
import string
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from elyune_adapters.asr.engine import ChildChannel

SAMPLE_RATE = 16_000
#: Seconds of audio transcribed at a time. faster-whisper computes the log-mel features
#: of a whole window at once (float64 frames and spectra: about 1 MB per second of audio,
#: measured 294 MB at 300 s, 117 MB at 120 s), so the window bounds the engine's peak.
WINDOW = 120.0
#: How far before a window's end a pause is looked for to cut it in.
CUT_SEARCH = 30.0
#: How far before a live stretch's end (seconds) its pause is looked for, and the least
#: of the stretch that is always transcribed (a share of its length).
STRETCH_SEARCH, STRETCH_KEEP = 8.0, 0.5
#: Characters of a live stretch's prompt (the text before it) given to the model. None:
#: measured on a 212 s three-voice espeak-ng meeting in stretches of 20-25 s, a prompt of
#: 100-800 characters raised the word error rate from 8.6 % to 15-33 % (repeated and
#: dropped phrases; the whole file: 6.3 %), while it fixed one name in the sample.
STRETCH_PROMPT_CHARS = 0
#: Characters of the previous window's text given to the next as its prompt.
PROMPT_CHARS = 200
#: Seconds the diarizer may take: this plus so much per second of audio.
DIARIZE_BASE, DIARIZE_PER_SECOND = 60.0, 0.25
#: Seconds loading the model may take before a silent engine counts as stuck.
LOAD_SECONDS = 120.0
#: Seconds between two progress reports of a pulse.
PULSE_SECONDS = 2.0

_WORD_PUNCTUATION = string.punctuation.replace("'", "") + "¿¡«»“”‘’…。、，！？"


class EngineFailedError(Exception):
    """A request failed; ``transient`` when a retry may succeed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@attrs.frozen
class Config:
    """The engine's configuration (the first line the parent sends)."""

    model: str = "base"
    models_dir: str = ".elyune/models"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    allow_download: bool = False
    diarize: bool = True
    max_speakers: int = 8
    window: float = WINDOW


# --------------------------------------------------------------------------- audio


class Audio:
    """A 16 kHz mono 16-bit WAV read by windows, or any other audio decoded whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._whole: npt.NDArray[np.float32] | None = None
        self._frames = 0
        try:
            with wave.open(str(path), "rb") as wav:
                pcm = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
                self._frames = wav.getnframes()
        except (wave.Error, EOFError, OSError):
            pcm = None
        if pcm != (SAMPLE_RATE, 1, 2):
            self._whole = _decode(path)
            self._frames = int(self._whole.shape[0])

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self._frames / SAMPLE_RATE

    @contextlib.contextmanager
    def as_wav(self) -> Iterator[Path]:
        """The audio as a 16 kHz mono 16-bit WAV file (itself, or a temporary copy)."""
        if self._whole is None:
            yield self.path
            return
        with tempfile.TemporaryDirectory(prefix="elyune-audio-") as folder:
            target = Path(folder) / "audio.wav"
            with wave.open(str(target), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                pcm = np.clip(self._whole, -1.0, 1.0) * 32767.0
                out.writeframes(pcm.astype("<i2").tobytes())
            yield target

    def read(self, start: float, end: float) -> npt.NDArray[np.float32]:
        """The samples from *start* to *end* seconds, as float32 in [-1, 1]."""
        first = max(0, int(start * SAMPLE_RATE))
        last = min(self._frames, math.ceil(end * SAMPLE_RATE))
        if last <= first:
            return np.zeros(0, dtype=np.float32)
        if self._whole is not None:
            return self._whole[first:last]
        with wave.open(str(self.path), "rb") as wav:
            wav.setpos(first)
            raw = wav.readframes(last - first)
        return (np.frombuffer(raw, dtype="<i2").astype(np.float32)) / 32768.0


def _decode(path: Path) -> npt.NDArray[np.float32]:
    import av
    import faster_whisper

    try:
        audio: npt.NDArray[np.float32] = faster_whisper.decode_audio(
            str(path), sampling_rate=SAMPLE_RATE
        )
    except MemoryError as exc:
        raise EngineFailedError("not enough memory to read the audio", transient=True) from exc
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise EngineFailedError(f"the audio file {path.name} cannot be read: {exc}") from exc
    return audio


def windows(audio: Audio, window: float) -> Iterator[tuple[float, float]]:
    """Spans of at most about *window* seconds covering *audio*, each cut in the longest
    pause near its end (so that no word is cut in two)."""
    start, total = 0.0, audio.duration
    while start < total:
        end = start + window
        if end >= total - CUT_SEARCH / 3:
            yield start, total
            return
        cut = _pause_near(audio, end - CUT_SEARCH, end) or end
        yield start, cut
        start = cut


def _pause_near(audio: Audio, start: float, end: float) -> float | None:
    """The middle of the quietest 0.4 s between *start* and *end* seconds."""
    samples = audio.read(start, end)
    hop = int(0.05 * SAMPLE_RATE)
    if samples.size < hop * 8:
        return None
    frames = samples[: samples.size // hop * hop].reshape(-1, hop)
    energy = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    run = 8  # 8 x 50 ms
    smooth = np.convolve(energy, np.ones(run) / run, mode="valid")
    best = int(np.argmin(smooth))
    return start + (best + run / 2) * hop / SAMPLE_RATE


# --------------------------------------------------------------------------- recognition


class Engine:
    """The model, loaded once, and what it does with one request."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._model: Any = None
        self._encoder: Any = None

    def voice_encoder(self) -> Any:
        """The speaker-embedding model (ONNX), loaded once."""
        if self._encoder is None:
            from elyune_adapters.asr.voice_encoder import VoiceEncoder

            self._encoder = VoiceEncoder(threads=self.config.cpu_threads)
        return self._encoder

    def load(self) -> Any:
        if self._model is None:
            import faster_whisper

            from elyune_adapters.asr.whisper import resolve_model
            from elyune_core.errors import TranscriptionFailedError

            try:
                path = resolve_model(
                    self.config.model,
                    Path(self.config.models_dir),
                    allow_download=self.config.allow_download,
                )
            except TranscriptionFailedError as exc:
                raise EngineFailedError(str(exc), transient=exc.transient) from exc
            try:
                self._model = faster_whisper.WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type=self.config.compute_type,
                    cpu_threads=self.config.cpu_threads,
                    num_workers=1,
                    local_files_only=True,
                )
            except MemoryError as exc:
                raise EngineFailedError(
                    f"not enough memory to load the Whisper model {self.config.model}",
                    transient=True,
                ) from exc
            except (RuntimeError, ValueError, OSError) as exc:
                raise EngineFailedError(
                    f"could not load the Whisper model {self.config.model} from {path}: {exc}"
                ) from exc
        return self._model

    def transcribe(self, request: dict[str, Any], channel: ChildChannel | None) -> dict[str, Any]:
        """Transcribe ``request["audio"]``; return the result message."""
        audio = Audio(Path(str(request["audio"])))
        duration = audio.duration
        # loading the model reports no progress of its own: pulse, for a bounded time
        with _pulse(channel if self._model is None else None, 0.0, 0.01, LOAD_SECONDS):
            model = self.load()
        language: str | None = request.get("language")
        forced = language is not None
        confidence: float | None = None
        segments: list[list[Any]] = []
        words: list[list[Any]] = []
        prompt: str | None = None
        for start, end in windows(audio, self.config.window):
            samples = audio.read(start, end)
            pieces, info = self._run(model, samples, language, prompt)
            if language is None:
                language = info.language
                confidence = _clamp(float(info.language_probability))
            texts: list[str] = []
            for piece in pieces:
                _add(piece, start, duration, segments, words)
                if piece.text.strip():
                    texts.append(piece.text.strip())
                if channel is not None and duration > 0:
                    channel.progress(min(0.99, (start + float(piece.end)) * 0.9 / duration))
            if channel is not None and duration > 0:
                channel.progress(min(0.99, end * 0.9 / duration))
            prompt = " ".join(texts)[-PROMPT_CHARS:] or None
            del pieces, samples
            _give_back_memory()
        if not segments:
            return _result("", request.get("language"), None, duration, [], [])
        voices: list[list[Any]] = []
        if self.config.diarize:
            # the diarizer reports no progress of its own: pulse for as long as it may
            # take on this much audio, then fall silent so that a stuck one is stopped
            with _pulse(channel, 0.9, 0.99, DIARIZE_BASE + DIARIZE_PER_SECOND * duration):
                segments, words, voices = _diarize(self, audio, segments, words, request)
        text = " ".join(s[3] for s in segments)
        confident = None if forced else confidence
        return _result(text, language, confident, duration, segments, words, voices)

    def stretch(self, request: dict[str, Any], channel: ChildChannel | None) -> dict[str, Any]:
        """Transcribe one stretch of a live recording (``request["audio"]``, a WAV whose
        first sample is at ``request["offset"]`` seconds of the recording) up to a pause
        near its end (all of it when ``final``), and embed its speech for the labelling
        that comes at the end (:meth:`label`). Times in the answer are recording times."""
        audio = Audio(Path(str(request["audio"])))
        offset = max(0.0, float(request.get("offset") or 0.0))
        length = audio.duration
        final = bool(request.get("final"))
        context = min(max(0.0, float(request.get("context") or 0.0)), length)
        # all of the audio is transcribed; unless final, what follows the last pause
        # between two sentences is dropped and comes again at the start of the next
        # stretch (a cut there never splits a word, and each sentence is heard whole)
        cut = length
        with _pulse(channel if self._model is None else None, 0.0, 0.01, LOAD_SECONDS):
            model = self.load()
        language: str | None = request.get("language")
        forced = language is not None
        confidence: float | None = None
        segments: list[list[Any]] = []
        words: list[list[Any]] = []
        if cut > 0:
            samples = audio.read(0.0, cut)
            given = str(request.get("prompt") or "")
            prompt = given[-STRETCH_PROMPT_CHARS:].strip() if STRETCH_PROMPT_CHARS else ""
            pieces, info = self._run(model, samples, language, prompt or None)
            if language is None:
                language = info.language
                confidence = _clamp(float(info.language_probability))
            kept = [
                piece
                for piece in pieces
                if not _hallucinated(piece) and _piece_end(piece) > context + CONTEXT_SLACK
            ]
            if not final:
                cut, kept = sentence_cut(kept, length, audio)
            for piece in kept:
                _add(piece, offset, offset + cut, segments, words)
                if channel is not None and cut > 0:
                    channel.progress(min(0.9, float(piece.end) * 0.9 / cut))
            if context > 0:  # what was said in the context belongs to the stretch before
                segments, words = _after(segments, words, offset + context - CONTEXT_SLACK)
            del pieces, samples, kept
            _give_back_memory()
        voice_data: dict[str, Any] = {}
        if self.config.diarize and cut > 0:
            with _pulse(channel, 0.9, 0.99, DIARIZE_BASE + DIARIZE_PER_SECOND * cut):
                voice_data = _embed_stretch(self, audio, offset, cut, words, begin=context)
        text = " ".join(s[3] for s in segments)
        return {
            "type": "result",
            "start": round(offset + context, 6),
            "until": round(offset + cut, 6),
            "text": text,
            "language": language if segments or forced else None,
            "language_confidence": None if forced or not segments else confidence,
            "segments": segments,
            "words": words,
            "voice_data": voice_data,
        }

    def label(self, request: dict[str, Any], channel: ChildChannel | None) -> dict[str, Any]:
        """Join the stretches of a live recording (``request["stretches"]``, each with
        its segments, words and ``voice_data``) into one result, with the speakers
        clustered over all of them as :meth:`transcribe` does over a whole file."""
        segments: list[list[Any]] = []
        words: list[list[Any]] = []
        records: list[dict[str, Any]] = []
        language: str | None = request.get("language")
        confidence: float | None = None
        detected = False
        for stretch in request.get("stretches") or ():
            for segment in stretch.get("segments") or ():
                segments.append([len(segments), *list(segment)[1:]])
            words += [list(word) for word in stretch.get("words") or ()]
            records.append(stretch.get("voice_data") or {})
            if language is None and not detected and stretch.get("language"):
                detected = True
                language = stretch.get("language")
                confidence = stretch.get("language_confidence")
        duration = float(request.get("duration") or 0.0)
        if not segments:
            return _result("", request.get("language"), None, duration, [], [])
        voices: list[list[Any]] = []
        if self.config.diarize:
            # no audio is read, but clustering an hour's windows is not instant: pulse
            with _pulse(channel, 0.0, 0.99, DIARIZE_BASE + DIARIZE_PER_SECOND * duration):
                segments, words, voices = _label(self, records, segments, words, request)
        text = " ".join(s[3] for s in segments)
        return _result(text, language, confidence, duration, segments, words, voices)

    def _run(
        self, model: Any, samples: npt.NDArray[np.float32], language: str | None, prompt: str | None
    ) -> tuple[list[Any], Any]:
        try:
            pieces, info = model.transcribe(
                samples,
                language=language,
                beam_size=self.config.beam_size,
                vad_filter=True,
                word_timestamps=True,
                initial_prompt=prompt,
            )
            return list(pieces), info
        except MemoryError as exc:
            raise EngineFailedError(
                "the speech model ran out of memory; try again later", transient=True
            ) from exc
        except ValueError as exc:  # an unknown language code, mostly
            if language:
                raise EngineFailedError(
                    f"cannot transcribe in the language {language!r}: {exc}"
                ) from exc
            raise EngineFailedError(f"the speech model refused the audio: {exc}") from exc
        except RuntimeError as exc:
            raise EngineFailedError(f"the speech model failed: {exc}", transient=True) from exc


def _give_back_memory() -> None:
    """Return the heap's free pages to the system after a window (glibc's
    ``malloc_trim``): what one window allocated and freed would otherwise stay in the
    process, and its RSS would grow with the recording's length. A no-op elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def _pulse(
    channel: ChildChannel | None, start: float, end: float, seconds: float
) -> Iterator[None]:
    """Report progress rising from *start* to *end* over *seconds* while the block runs
    (from a thread: the block is native code), then nothing more."""
    if channel is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        began = time.monotonic()
        while not done.wait(PULSE_SECONDS):
            elapsed = time.monotonic() - began
            if elapsed > seconds:
                return
            channel.progress(start + (end - start) * elapsed / seconds)

    thread = threading.Thread(target=beat, name="pulse", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _diarize(
    engine: Engine,
    audio: Audio,
    segments: list[list[Any]],
    words: list[list[Any]],
    request: dict[str, Any],
) -> tuple[list[list[Any]], list[list[Any]], list[list[Any]]]:
    """Label speakers from the WAV file (read by windows, so memory stays flat) and
    return each speaker's voice; a failure leaves the transcript without speakers."""
    import logging

    from elyune_adapters.asr.diarize import diarize
    from elyune_adapters.asr.voice_encoder import VoiceEncoderError
    from elyune_core.entities import Segment, Word

    typed_segments = tuple(
        Segment(id=s[0], start=s[1], end=s[2], text=s[3], speaker=None, confidence=s[5])
        for s in segments
    )
    typed_words = tuple(
        Word(text=w[0], start=w[1], end=w[2], confidence=w[3], speaker=None, punctuated=w[5])
        for w in words
    )
    try:
        with audio.as_wav() as path:
            result = diarize(
                path,
                typed_segments,
                typed_words,
                encoder=engine.voice_encoder(),
                num_speakers=request.get("num_speakers"),
                max_speakers=request.get("max_speakers") or engine.config.max_speakers,
            )
    except (VoiceEncoderError, ArithmeticError, ValueError, RuntimeError) as exc:
        logging.getLogger(__name__).warning(
            "speaker diarization failed, transcript has no speakers: %s", exc
        )
        return segments, words, []
    return (
        [[s.id, s.start, s.end, s.text, s.speaker, s.confidence] for s in result.segments],
        [[w.text, w.start, w.end, w.confidence, w.speaker, w.punctuated] for w in result.words],
        [[v.label, list(v.embedding), v.seconds] for v in result.voices],
    )


#: a segment starting this little before a stretch's context ends is the stretch's own
CONTEXT_SLACK = 0.15
#: the shortest silence between two segments a stretch may be cut in
SENTENCE_GAP = 0.3


def sentence_cut(pieces: list[Any], length: float, audio: Audio) -> tuple[float, list[Any]]:
    """Where a stretch that is not the last ends, and the segments it keeps: the middle of
    the latest silence of at least ``SENTENCE_GAP`` seconds between two segments in its
    second half (segments end at sentences); without one, the quietest moment near its
    end (``stretch_cut``), keeping the segments that end before it."""
    best: float | None = None
    for before, after in itertools.pairwise(pieces):
        gap_start, gap_end = _piece_end(before), _piece_start(after)
        middle = (gap_start + gap_end) / 2
        if gap_end - gap_start >= SENTENCE_GAP and middle >= length * STRETCH_KEEP:
            best = middle
    if best is None and pieces and length - _piece_end(pieces[-1]) >= SENTENCE_GAP:
        # the stretch ends in silence after its last segment
        best = min(length, _piece_end(pieces[-1]) + SENTENCE_GAP / 2)
    if best is None:
        best = stretch_cut(audio)
    cut = round(best, 6)
    return cut, [piece for piece in pieces if _piece_end(piece) <= cut]


def _after(
    segments: list[list[Any]], words: list[list[Any]], start: float
) -> tuple[list[list[Any]], list[list[Any]]]:
    """The segments and words from *start* (recording time) on: a segment that began
    before it keeps only its later words (its text made of them)."""
    kept_words = [w for w in words if w[1] >= start]
    kept_segments: list[list[Any]] = []
    for segment in segments:
        if segment[1] >= start:
            kept_segments.append(segment)
            continue
        inside = [w for w in kept_words if segment[1] <= w[1] <= segment[2]]
        if inside:
            text = " ".join(str(w[5] or w[0]) for w in inside)
            kept_segments.append([segment[0], inside[0][1], segment[2], text, *segment[4:]])
    for number, segment in enumerate(kept_segments):
        segment[0] = number
    return kept_segments, kept_words


def _piece_start(piece: Any) -> float:
    words = [w for w in piece.words or () if w.word.strip()]
    return float(words[0].start) if words else float(piece.start)


def _piece_end(piece: Any) -> float:
    words = [w for w in piece.words or () if w.word.strip()]
    return float(words[-1].end) if words else float(piece.end)


def stretch_cut(audio: Audio) -> float:
    """Where a stretch that is not the last is cut: the middle of the quietest 0.4 s in
    its last ``STRETCH_SEARCH`` seconds (never in its first ``STRETCH_KEEP`` share)."""
    length = audio.duration
    if length <= 0:
        return 0.0
    low = max(length * STRETCH_KEEP, length - STRETCH_SEARCH)
    cut = _pause_near(audio, low, length)
    return round(cut, 6) if cut is not None else length


def _hallucinated(piece: Any) -> bool:
    """Whether a segment's words look made up, by faster-whisper's own measure (words too
    short, too long or too unsure: ``hallucination_silence_threshold``'s anomaly score).

    Whisper invents such segments ("Thank you. Bye. Bye.") in the silence that ends a
    stretch cut in a pause, where the whole file would have gone on speaking.
    """
    found = [w for w in piece.words or () if w.word.strip() and w.word.strip() not in "'\"-"]
    if not found:
        return False
    score = 0.0
    for word in found[:8]:
        duration = float(word.end) - float(word.start)
        score += float(word.probability) < 0.15
        score += max(0.0, 0.133 - duration) * 15 + max(0.0, duration - 2.0)
    return score >= 3 or score + 0.01 >= min(len(found), 8)


def _typed(
    segments: list[list[Any]], words: list[list[Any]]
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    from elyune_core.entities import Segment, Word

    return (
        tuple(
            Segment(id=s[0], start=s[1], end=s[2], text=s[3], speaker=None, confidence=s[5])
            for s in segments
        ),
        tuple(
            Word(text=w[0], start=w[1], end=w[2], confidence=w[3], speaker=None, punctuated=w[5])
            for w in words
        ),
    )


def _embed_stretch(
    engine: Engine,
    audio: Audio,
    offset: float,
    cut: float,
    words: list[list[Any]],
    *,
    begin: float = 0.0,
) -> dict[str, Any]:
    """The speech windows of the stretch's first *cut* seconds and their embeddings, as
    plain JSON at recording times; a failure gives none (the stretch has no speakers)."""
    import logging

    from elyune_adapters.asr.diarize import embed_speech, embedded_to_json, speech_stretches
    from elyune_adapters.asr.voice_encoder import VoiceEncoderError
    from elyune_core.entities import Word

    local = tuple(
        Word(
            text=w[0],
            start=max(0.0, w[1] - offset - begin),
            end=max(0.0, w[2] - offset - begin),
            confidence=w[3],
            speaker=None,
            punctuated=w[5],
        )
        for w in words
    )
    try:
        with tempfile.TemporaryDirectory(prefix="elyune-stretch-") as folder:
            path = Path(folder) / "stretch.wav"
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                pcm = np.clip(audio.read(begin, cut), -1.0, 1.0) * 32767.0
                out.writeframes(pcm.astype("<i2").tobytes())
            encoder = engine.voice_encoder()
            embedded = embed_speech(path, speech_stretches(path, words=local), encoder)
    except (VoiceEncoderError, ArithmeticError, ValueError, RuntimeError, OSError) as exc:
        logging.getLogger(__name__).warning(
            "speaker embedding failed, the stretch will have no speakers: %s", exc
        )
        return {}
    return embedded_to_json(embedded, offset + begin)


def _label(
    engine: Engine,
    records: list[dict[str, Any]],
    segments: list[list[Any]],
    words: list[list[Any]],
    request: dict[str, Any],
) -> tuple[list[list[Any]], list[list[Any]], list[list[Any]]]:
    """Label speakers from the stretches' stored windows; a failure leaves the
    transcript without speakers."""
    import logging

    from elyune_adapters.asr.diarize import embedded_from_json, label_speakers

    typed_segments, typed_words = _typed(segments, words)
    try:
        result = label_speakers(
            embedded_from_json(records),
            typed_segments,
            typed_words,
            num_speakers=request.get("num_speakers"),
            max_speakers=request.get("max_speakers") or engine.config.max_speakers,
        )
    except (ArithmeticError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        logging.getLogger(__name__).warning(
            "speaker diarization failed, transcript has no speakers: %s", exc
        )
        return segments, words, []
    return (
        [[s.id, s.start, s.end, s.text, s.speaker, s.confidence] for s in result.segments],
        [[w.text, w.start, w.end, w.confidence, w.speaker, w.punctuated] for w in result.words],
        [[v.label, list(v.embedding), v.seconds] for v in result.voices],
    )


def _add(
    piece: Any,
    offset: float,
    duration: float,
    segments: list[list[Any]],
    words: list[list[Any]],
) -> None:
    """Add one faster-whisper segment (times relative to its window at *offset*)."""

    def clock(seconds: float) -> float:
        return round(_clamp(offset + float(seconds), 0.0, duration), 3)

    text = piece.text.strip()
    if not text:
        return
    start, end = clock(piece.start), clock(piece.end)
    confidence = round(_clamp(math.exp(float(piece.avg_logprob))), 4)
    segments.append([len(segments), start, max(start, end), text, None, confidence])
    for item in piece.words or ():
        written = item.word.strip()
        if not written:
            continue
        w_start, w_end = clock(item.start), clock(item.end)
        words.append(
            [
                _bare(written),
                w_start,
                max(w_start, w_end),
                round(_clamp(float(item.probability)), 4),
                None,
                written,
            ]
        )


def _result(
    text: str,
    language: str | None,
    confidence: float | None,
    duration: float,
    segments: list[list[Any]],
    words: list[list[Any]],
    voices: list[list[Any]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "result",
        "voices": voices or [],
        "text": text,
        "language": language,
        "language_confidence": confidence,
        "duration": duration,
        "segments": segments,
        "words": words,
    }


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    if math.isnan(value):
        return low
    return min(high, max(low, value))


def _bare(word: str) -> str:
    """*word* without the punctuation around it (``"morning,"`` -> ``"morning"``)."""
    return word.strip().strip(_WORD_PUNCTUATION) or word.strip()


# --------------------------------------------------------------------------- main


def main() -> int:
    """Serve requests until the parent closes the input."""
    channel = ChildChannel()
    first = channel.read()
    if first is None:
        return 0
    fields = {f.name for f in attrs.fields(Config)}
    engine = Engine(Config(**{k: v for k, v in first.items() if k in fields}))
    while (request := channel.read()) is not None:
        try:
            if request.get("warm"):  # load the model now, before the first recording
                engine.load()
                channel.send({"type": "result"})
                continue
            kind = request.get("type") or "transcribe"
            if kind == "stretch":
                channel.send(engine.stretch(request, channel))
            elif kind == "label":
                channel.send(engine.label(request, channel))
            elif kind == "transcribe":
                channel.send(engine.transcribe(request, channel))
            else:
                channel.error(f"unknown request type {kind!r}", transient=False)
        except EngineFailedError as exc:
            channel.error(str(exc), transient=exc.transient)
        except MemoryError:
            channel.error("the speech engine ran out of memory", transient=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
