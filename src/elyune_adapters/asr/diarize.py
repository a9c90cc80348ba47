"""Speaker diarization with neural speaker embeddings (Resemblyzer's voice encoder).

:func:`diarize` takes the 16 kHz mono WAV file a transcript was made from, the
transcript's segments and words, and optional ``num_speakers``/``max_speakers`` hints,
and returns the segments and words with speakers ``"0"``, ``"1"``... plus each speaker's
voice (centroid embedding and the seconds of speech behind it). It works in steps:

1. **Speech.** Stretches of speech are found with the Silero voice activity detector of
   faster-whisper, run over the file block by block (``VAD_BLOCK`` seconds at a time, so
   memory stays flat in the recording's length); words Whisper heard outside them are
   added as speech too.
2. **Embeddings.** Each stretch is read from the file on its own (``wave``, seek), its
   volume is brought to -30 dBFS, and it is cut into windows of 1.6 s side by side (a
   stretch shorter than a window is one window of its own length; the last window is
   flush with the stretch's end). Each window gets a 256-dim d-vector
   (:mod:`elyune_adapters.asr.voice_encoder`, windows batched per onnxruntime call), its
   median pitch (YIN, :func:`frame_pitch`) and its loudness envelope.
3. **Speakers.** Whole stretches are clustered (:mod:`elyune_adapters.asr.clustering`:
   Ward-like merges with a threshold that grows with the meeting's length); stretches
   too short to judge a voice (back-channel turns such as "Agreed.") take the speaker
   whose centroid explains them best. A stretch holding two voices (a pause too short
   for the voice activity detector) is split where its windows change voice
   (:func:`split_units`), and the pieces are clustered again.
4. **Labels.** Each window owns the time up to the middle of its overlap with the next;
   a change of voice inside a stretch is put at its quietest moment near the window edge
   (:func:`place_cuts`); consecutive stretches of one speaker make a turn. Each word
   takes the speaker of the turn it overlaps most, and a segment whose words change
   speaker is split there (its text cut at the first word of each run).

Speakers are numbered in order of first appearance. Short, silent or noisy input gives
one speaker or none, never an error: :func:`diarize` raises only ``VoiceEncoderError``
(the model or the file cannot be read), which callers treat as "no speakers".
"""

from __future__ import annotations

import base64
import binascii
import itertools
import wave
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from elyune_adapters.asr.clustering import ClusterParams, Space, centroids, cluster
from elyune_adapters.asr.voice_encoder import (
    HOP,
    PARTIAL_FRAMES,
    SAMPLE_RATE,
    VoiceEncoder,
    mel_spectrogram,
    normalize_volume,
    open_wav,
    read_span,
)
from elyune_core.entities import Segment, SpeakerVoice, Word

Span = tuple[float, float]
FloatArray = npt.NDArray[np.float64]

WINDOW = PARTIAL_FRAMES * HOP / SAMPLE_RATE  # 1.6 s
STEP = WINDOW  # seconds between windows of a long stretch: side by side, no overlap (a
# stretch is clustered as a whole, so overlapping windows only cost encoder time)
MIN_WINDOW = 0.25  # stretches shorter than this carry no usable voice
RELIABLE = 1.0  # seconds of speech a window needs to take part in the clustering
MAX_STRETCH = 30.0  # longer stretches of speech are read in pieces
VAD_BLOCK = 60.0  # seconds of audio the voice activity detector sees at once
MERGE_GAP = 0.6  # seconds between two turns of one speaker that still make one turn
MIN_PITCH, MAX_PITCH = 60, 400  # Hz
VOICING = 0.15  # YIN dip under which a frame is voiced


@attrs.frozen
class Window:
    """One embedded stretch of audio, and the time it speaks for."""

    start: float
    end: float
    owned: Span
    stretch: int

    @property
    def seconds(self) -> float:
        return self.end - self.start


@attrs.frozen
class Turn:
    """Who spoke from ``start`` to ``end``."""

    start: float
    end: float
    speaker: int


@attrs.frozen
class Diarization:
    """The labelled transcript, the turns and each speaker's voice."""

    segments: tuple[Segment, ...]
    words: tuple[Word, ...]
    voices: tuple[SpeakerVoice, ...]
    turns: tuple[Turn, ...]


@attrs.frozen
class Embedded:
    """The windows of a recording and their embeddings (``[windows, 256]``)."""

    windows: tuple[Window, ...]
    embeddings: FloatArray
    #: median log pitch (Hz) of each window's voiced frames, NaN when too few are voiced
    pitch: FloatArray = attrs.field(factory=lambda: np.zeros(0))
    #: ``[windows, 160]`` log energy of each window's 10 ms frames (NaN past its end), to
    #: put a change of speaker inside a stretch at its quietest moment
    loudness: FloatArray = attrs.field(factory=lambda: np.zeros((0, PARTIAL_FRAMES)))

    @property
    def weights(self) -> FloatArray:
        return np.array([w.owned[1] - w.owned[0] for w in self.windows], dtype=np.float64)


# --------------------------------------------------------------------------- speech


def speech_stretches(path: Path, *, words: Sequence[Word] = ()) -> list[Span]:
    """Stretches of speech in the WAV file *path*, in seconds, in time order.

    Silero VAD over blocks of ``VAD_BLOCK`` seconds; the words of *words* that fall in no
    stretch become stretches of their own (Whisper heard speech there).
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=100, speech_pad_ms=30)
    spans: list[Span] = []
    with open_wav(path) as reader:
        total = reader.getnframes() / SAMPLE_RATE
        offset = 0.0
        while offset < total:
            block = read_span(reader, offset, min(total, offset + VAD_BLOCK))
            if block.size >= 512:
                for chunk in get_speech_timestamps(block, options, sampling_rate=SAMPLE_RATE):
                    start = offset + chunk["start"] / SAMPLE_RATE
                    end = offset + chunk["end"] / SAMPLE_RATE
                    if spans and start - spans[-1][1] < 0.05:  # cut by the block boundary
                        spans[-1] = (spans[-1][0], end)
                    else:
                        spans.append((start, end))
            offset += VAD_BLOCK
    for word in words:
        if word.end - word.start <= 0:
            continue
        if not any(a < word.end and word.start < b for a, b in spans):
            spans.append((word.start, word.end))
    spans.sort()
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return [(a, b) for a, b in merged if b - a >= MIN_WINDOW]


def _windows_of(start: float, end: float, stretch: int) -> list[Window]:
    """Windows of 1.6 s every ``STEP`` seconds over [start, end], the last flush with end."""
    length = end - start
    if length <= WINDOW:
        return [Window(start, end, (start, end), stretch)]
    count = int(np.ceil((length - WINDOW) / STEP)) + 1
    starts = [start + i * STEP for i in range(count - 1)] + [end - WINDOW]
    windows: list[Window] = []
    for index, first in enumerate(starts):
        low = start if index == 0 else (first + starts[index - 1] + WINDOW) / 2
        high = end if index == count - 1 else (first + WINDOW + starts[index + 1]) / 2
        windows.append(Window(first, first + WINDOW, (low, high), stretch))
    return windows


def _pieces(spans: Sequence[Span]) -> Iterator[Span]:
    for start, end in spans:
        count = max(1, int(np.ceil((end - start) / MAX_STRETCH)))
        step = (end - start) / count
        for index in range(count):
            yield start + index * step, start + (index + 1) * step


PITCH_RATE = SAMPLE_RATE // 2  # pitch is tracked at 8 kHz
PITCH_FRAME, PITCH_HOP = 320, 160  # 40 ms frames every 20 ms (at 8 kHz)
PITCH_SEARCH = 1.25  # the dip: lowest point up to a quarter past where it first goes under


def frame_pitch(audio: npt.NDArray[np.float32]) -> FloatArray:
    """Log F0 of each 40 ms frame of *audio* (16 kHz) every 20 ms; NaN if unvoiced.

    YIN (de Cheveigné and Kawahara, 2002): the cumulative-mean-normalised difference
    function of each frame, and its first dip under ``VOICING`` between the lags of
    ``MAX_PITCH`` and ``MIN_PITCH``. Taking the *first* dip, not the highest
    autocorrelation peak, avoids most octave errors (a voice at 90 Hz read as 250 Hz),
    which would split one voice into two. The signal is halved to 8 kHz first (pairs of
    samples averaged), which is plenty for F0 up to 400 Hz and halves the work.
    """
    usable = audio.size // 2 * 2
    signal = np.asarray(audio[:usable], dtype=np.float64).reshape(-1, 2).mean(axis=1)
    count = 1 + (signal.size - PITCH_FRAME) // PITCH_HOP
    if count <= 0:
        return np.zeros(0)
    frames = np.lib.stride_tricks.as_strided(
        signal,
        (count, PITCH_FRAME),
        (signal.strides[0] * PITCH_HOP, signal.strides[0]),
        writeable=False,
    )
    frames = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(frames, 2 * PITCH_FRAME, axis=1)
    correlation = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :PITCH_FRAME]
    energy = np.concatenate([np.zeros((count, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(PITCH_FRAME)
    head = energy[:, PITCH_FRAME - lags]  # sum of x[j]^2 for j < N - lag
    tail = energy[:, -1:] - energy[:, lags]  # sum of x[j]^2 for j >= lag
    difference = np.maximum(head + tail - 2.0 * correlation, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = difference * lags / np.cumsum(difference, axis=1)
    normalised[:, 0] = 1.0
    normalised = np.nan_to_num(normalised, nan=1.0, posinf=1.0)
    low, high = PITCH_RATE // MAX_PITCH, PITCH_RATE // MIN_PITCH
    band = normalised[:, low : high + 1]
    below = band < VOICING
    voiced = below.any(axis=1) & (energy[:, -1] > 1e-6)
    first = np.argmax(below, axis=1)
    reach = int(np.ceil(high * (PITCH_SEARCH - 1))) + 1
    look = np.minimum(first[:, None] + np.arange(reach)[None, :], band.shape[1] - 1)
    within = look <= (first * PITCH_SEARCH)[:, None]
    values = np.where(within, np.take_along_axis(band, look, axis=1), np.inf)
    lag = low + np.take_along_axis(look, np.argmin(values, axis=1)[:, None], axis=1)[:, 0]
    return np.where(voiced, np.log(PITCH_RATE / lag), np.nan)


def _median_pitch(pitch: FloatArray, start: float, end: float) -> float:
    """Median of the frame pitches between *start* and *end* seconds (of the stretch)."""
    rate = PITCH_RATE / PITCH_HOP
    values = pitch[int(start * rate) : max(int(start * rate) + 1, int(end * rate))]
    voiced = values[np.isfinite(values)]
    return float(np.median(voiced)) if voiced.size >= 5 else float("nan")


def embed_speech(path: Path, spans: Sequence[Span], encoder: VoiceEncoder) -> Embedded:
    """Embed the windows of every stretch in *spans*, reading the file stretch by stretch."""
    windows: list[Window] = []
    vectors: list[FloatArray] = []
    pitches: dict[Window, float] = {}
    loudness: dict[Window, FloatArray] = {}
    full: list[tuple[Window, npt.NDArray[np.float32]]] = []
    with open_wav(path) as reader:
        for number, (start, end) in enumerate(_pieces(spans)):
            audio = normalize_volume(read_span(reader, start, end), lower=True)
            if audio.size < MIN_WINDOW * SAMPLE_RATE:
                continue
            mel = mel_spectrogram(audio)
            energy = np.log10(mel.sum(axis=1, dtype=np.float64) + 1e-10)
            pitch = frame_pitch(audio)
            for window in _windows_of(start, start + audio.size / SAMPLE_RATE, number):
                first = round((window.start - start) * SAMPLE_RATE / HOP)
                frames = mel[first : first + PARTIAL_FRAMES]
                pitches[window] = _median_pitch(pitch, window.start - start, window.end - start)
                envelope = np.full(PARTIAL_FRAMES, np.nan)
                own = energy[first : first + PARTIAL_FRAMES]
                envelope[: own.size] = own
                loudness[window] = envelope
                if frames.shape[0] >= PARTIAL_FRAMES:
                    full.append((window, frames))
                else:
                    windows.append(window)
                    vectors.append(encoder.embed_mels(frames[None])[0].astype(np.float64))
            if len(full) >= 64:
                _flush(full, encoder, windows, vectors)
    _flush(full, encoder, windows, vectors)
    order = sorted(range(len(windows)), key=lambda i: windows[i].start)
    if not order:
        return Embedded((), np.zeros((0, 256)), np.zeros(0))
    return Embedded(
        tuple(windows[i] for i in order),
        np.stack([vectors[i] for i in order]),
        np.array([pitches[windows[i]] for i in order]),
        np.stack([loudness[windows[i]] for i in order]),
    )


def _flush(
    full: list[tuple[Window, npt.NDArray[np.float32]]],
    encoder: VoiceEncoder,
    windows: list[Window],
    vectors: list[FloatArray],
) -> None:
    if not full:
        return
    embedded = encoder.embed_mels(np.stack([frames for _, frames in full]))
    for (window, _), vector in zip(full, embedded, strict=True):
        windows.append(window)
        vectors.append(vector.astype(np.float64))
    full.clear()


# --------------------------------------------------------------------------- speakers


def group_windows(embedded: Embedded, most: int) -> tuple[Embedded, list[list[int]]]:
    """Join runs of at most *most* consecutive windows of one stretch into one unit.

    A unit's embedding is the mean of its windows' (L2-normed) embeddings and its pitch
    their median: a few seconds of one voice are judged far more reliably than 1.6 s.
    """
    groups: list[list[int]] = []
    for index, window in enumerate(embedded.windows):
        last = groups[-1] if groups else None
        if last and embedded.windows[last[-1]].stretch == window.stretch and len(last) < most:
            last.append(index)
        else:
            groups.append([index])
    return units_of(embedded, groups), groups


def units_of(embedded: Embedded, groups: Sequence[Sequence[int]]) -> Embedded:
    """One unit per group of consecutive windows (see :func:`group_windows`)."""
    windows, vectors, pitch = [], [], []
    unit = embedded.embeddings / np.maximum(
        np.linalg.norm(embedded.embeddings, axis=1, keepdims=True), 1e-9
    )
    for group in groups:
        first, last_window = embedded.windows[group[0]], embedded.windows[group[-1]]
        windows.append(
            Window(
                first.start,
                last_window.end,
                (first.owned[0], last_window.owned[1]),
                first.stretch,
            )
        )
        vectors.append(unit[group].mean(axis=0))
        values = embedded.pitch[group] if embedded.pitch.size else np.array([np.nan])
        finite = values[np.isfinite(values)]
        pitch.append(float(np.median(finite)) if finite.size else float("nan"))
    return Embedded(tuple(windows), np.array(vectors), np.array(pitch))


def assign_speakers(
    embedded: Embedded,
    *,
    params: ClusterParams,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
) -> npt.NDArray[np.int64]:
    """A speaker number per window.

    The units of :func:`group_windows` (whole stretches of speech) are clustered
    (:func:`elyune_adapters.asr.clustering.cluster`) and each window takes its unit's;
    stretches that hold two voices are then split where the voice changes
    (:func:`split_units`), and the pieces, purer than the stretches they came from, are
    clustered again and split again: a stretch holding two voices no longer pulls a
    cluster of its own.
    """
    units, groups = group_windows(embedded, params.unit_windows)
    labels = _cluster_units(embedded, units, groups, params, num_speakers, max_speakers)
    if num_speakers != 1 and params.split_gain > 0:
        labels = split_units(embedded, labels, groups, params=params)
        pieces = [
            list(run)
            for group in groups
            for _, run in itertools.groupby(group, key=lambda index: int(labels[index]))
        ]
        if len(pieces) > len(groups):
            whole = {tuple(group) for group in groups}
            # a one-window piece cut off a stretch likely holds the change of voice itself
            # (half of each): it takes the nearest speaker, it does not make one
            judged = [len(piece) >= 2 or tuple(piece) in whole for piece in pieces]
            units = units_of(embedded, pieces)
            labels = _cluster_units(
                embedded, units, pieces, params, num_speakers, max_speakers, judged=judged
            )
            labels = split_units(embedded, labels, pieces, params=params)
    return _by_first_appearance(labels)


def _cluster_units(
    embedded: Embedded,
    units: Embedded,
    groups: Sequence[Sequence[int]],
    params: ClusterParams,
    num_speakers: int | None,
    max_speakers: int | None,
    *,
    judged: Sequence[bool] | None = None,
) -> npt.NDArray[np.int64]:
    """Cluster *units* (one per group of windows); only units of at least ``RELIABLE``
    seconds (and *judged*, if given) take part, the others take the nearest speaker."""
    usable = np.linalg.norm(units.embeddings, axis=1) > 0
    unit_labels = np.zeros(len(units.windows), dtype=np.int64)
    if usable.any():
        reliable = np.array([w.seconds >= RELIABLE for w in units.windows])
        if judged is not None:
            reliable &= np.array(judged, dtype=bool)
        reliable = reliable[usable]
        unit_labels[usable] = cluster(
            units.embeddings[usable],
            units.weights[usable],
            params=params,
            reliable=reliable,
            pitch=units.pitch[usable],
            num_speakers=num_speakers,
            max_speakers=max_speakers,
        )
        if not usable.all():  # silent units take their neighbour's speaker
            near = np.flatnonzero(usable)
            for index in np.flatnonzero(~usable):
                unit_labels[index] = unit_labels[near[np.argmin(np.abs(near - index))]]
    labels = np.zeros(len(embedded.windows), dtype=np.int64)
    for group, label in zip(groups, unit_labels.tolist(), strict=True):
        labels[list(group)] = label
    return labels


def split_units(
    embedded: Embedded,
    labels: npt.NDArray[np.int64],
    groups: Sequence[Sequence[int]],
    *,
    params: ClusterParams,
) -> npt.NDArray[np.int64]:
    """Split a stretch of speech where its windows change speaker.

    A stretch is clustered as one unit, but a short pause between two speakers can go
    unnoticed by the voice activity detector and leave both in one stretch. Each stretch
    of two windows or more is cut where the sum of its windows' distances to the
    speakers' centroids (each side taking its best speaker, a different one each side)
    falls most below that of the whole stretch on one speaker, if it falls by more than
    ``params.split_gain`` (distance x seconds); each side is looked at again, up to
    ``params.split_depth`` cuts deep.
    """
    usable = np.linalg.norm(embedded.embeddings, axis=1) > 0
    if int(labels.max(initial=0)) < 1 or not usable.any():
        return labels
    space = Space.of(embedded.embeddings, embedded.pitch, params)
    weights = embedded.weights
    means, pitch = space.take(np.flatnonzero(usable)).centroids(labels[usable], weights[usable])
    distance = space.to_centroids(means, pitch) * weights[:, None]
    distance[~usable] = 0.0
    labels = _by_first_appearance(labels)  # numbered 0..k-1 with no gaps
    pending = [(list(group), 0) for group in groups if len(group) >= 2]
    while pending:
        group, depth = pending.pop()
        rows = distance[group]
        whole = rows.sum(axis=0)
        before = np.cumsum(rows, axis=0)[:-1]  # [cut - 1, speakers]: windows before the cut
        after = whole[None, :] - before
        left, right = np.argmin(before, axis=1), np.argmin(after, axis=1)
        cost = before.min(axis=1) + after.min(axis=1)
        cost[left == right] = np.inf
        cut = int(np.argmin(cost))
        if whole.min() - cost[cut] <= params.split_gain:
            continue
        head, tail = group[: cut + 1], group[cut + 1 :]
        labels[head] = int(left[cut])
        labels[tail] = int(right[cut])
        if depth + 1 < params.split_depth:
            pending += [(part, depth + 1) for part in (head, tail) if len(part) >= 2]
    return labels


CUT_REACH = 0.8  # seconds either side of a window edge where a cut inside a stretch may go
QUIET_FRAMES = 5  # the quietest moment is the quietest 50 ms


def place_cuts(embedded: Embedded, labels: Sequence[int]) -> tuple[Window, ...]:
    """The windows, with each change of speaker inside a stretch moved to its quietest
    moment within ``CUT_REACH`` seconds of the window edge it was found at.

    :func:`split_units` finds a change of voice to the nearest window edge (1.6 s); the
    pause between two speakers, too short for the voice activity detector, is still the
    quietest moment near it, and putting the cut there gives the words on either side to
    the right speaker.
    """
    windows = list(embedded.windows)
    if embedded.loudness.shape[0] != len(windows):
        return tuple(windows)
    for index in range(1, len(windows)):
        before, after = windows[index - 1], windows[index]
        if before.stretch != after.stretch or labels[index - 1] == labels[index]:
            continue
        times = np.concatenate(
            [
                before.start + np.arange(PARTIAL_FRAMES) * HOP / SAMPLE_RATE,
                after.start + np.arange(PARTIAL_FRAMES) * HOP / SAMPLE_RATE,
            ]
        )
        energy = np.concatenate([embedded.loudness[index - 1], embedded.loudness[index]])
        edge = after.owned[0]
        low = max(edge - CUT_REACH, before.owned[0] + MIN_WINDOW)
        high = min(edge + CUT_REACH, after.owned[1] - MIN_WINDOW)
        inside = np.isfinite(energy) & (times >= low) & (times <= high)
        if inside.sum() < QUIET_FRAMES:
            continue
        smooth = np.convolve(
            np.where(inside, energy, np.inf), np.ones(QUIET_FRAMES) / QUIET_FRAMES, "same"
        )
        cut = float(times[int(np.argmin(smooth))])
        windows[index - 1] = attrs.evolve(before, owned=(before.owned[0], cut))
        windows[index] = attrs.evolve(after, owned=(cut, after.owned[1]))
    return tuple(windows)


def _by_first_appearance(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(label, len(order))
    return np.array([order[label] for label in labels.tolist()], dtype=np.int64)


def turns_of(windows: Sequence[Window], labels: Sequence[int]) -> list[Turn]:
    """The windows' owned time as turns, joining neighbours of one speaker."""
    turns: list[Turn] = []
    for window, label in zip(windows, labels, strict=True):
        start, end = window.owned
        if turns and turns[-1].speaker == label and start - turns[-1].end <= MERGE_GAP:
            turns[-1] = Turn(turns[-1].start, max(turns[-1].end, end), int(label))
        else:
            turns.append(Turn(start, end, int(label)))
    return turns


def voices_of(
    embedded: Embedded, labels: npt.NDArray[np.int64], names: Sequence[str] | None = None
) -> tuple[SpeakerVoice, ...]:
    """Each speaker's centroid embedding and the seconds of speech behind it."""
    if not embedded.windows:
        return ()
    weights = embedded.weights
    means = centroids(embedded.embeddings, labels, weights)
    voices = []
    for label in range(means.shape[0]):
        seconds = float(weights[labels == label].sum())
        if seconds <= 0 or not np.isfinite(means[label]).all():
            continue
        voices.append(
            SpeakerVoice(
                label=names[label] if names is not None else str(label),
                embedding=tuple(round(float(v), 6) for v in means[label]),
                seconds=round(seconds, 2),
            )
        )
    return tuple(voices)


# --------------------------------------------------------------------------- entry points


def diarize(
    path: Path,
    segments: Sequence[Segment],
    words: Sequence[Word],
    *,
    encoder: VoiceEncoder,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
    params: ClusterParams | None = None,
) -> Diarization:
    """Label *segments* and *words* of the WAV file *path* with speakers (module docstring).

    A segment in which the speaker changes is split there and segment ids are renumbered
    from 0. Without speech the transcript comes back unlabelled.
    """
    if not segments:
        return Diarization(tuple(segments), tuple(words), (), ())
    spans = speech_stretches(path, words=words)
    embedded = embed_speech(path, spans, encoder)
    return label_speakers(
        embedded,
        segments,
        words,
        num_speakers=num_speakers,
        max_speakers=max_speakers,
        params=params,
    )


def label_speakers(
    embedded: Embedded,
    segments: Sequence[Segment],
    words: Sequence[Word],
    *,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
    params: ClusterParams | None = None,
) -> Diarization:
    """Steps 3 and 4 of :func:`diarize` on windows already embedded (no audio needed):
    cluster them, place the cuts, and label *segments* and *words* with the turns."""
    if not segments or not embedded.windows:
        return Diarization(tuple(segments), tuple(words), (), ())
    labels = assign_speakers(
        embedded,
        params=params or ClusterParams(),
        num_speakers=num_speakers,
        max_speakers=max_speakers,
    )
    turns = turns_of(place_cuts(embedded, labels.tolist()), labels.tolist())
    labelled, labelled_words = apply_turns(turns, segments, words)
    return Diarization(labelled, labelled_words, voices_of(embedded, labels), tuple(turns))


# --------------------------------------------------------------------------- stored windows

#: The version of :func:`embedded_to_json`'s record: 2 packs the arrays as base64 of
#: little-endian float32 (a window's 256 floats as 1.4 kB of text instead of about 13 kB
#: of Python floats, so an hour of stretches stays small in memory); 1 (lists of floats)
#: is still read.
VOICE_DATA_VERSION = 2
_READABLE_VERSIONS = (1, 2)


def _pack(values: FloatArray) -> str:
    """*values* as base64 of little-endian float32 (NaN kept)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode()


def _unpack(text: str, columns: int) -> FloatArray:
    """The float32 rows :func:`_pack` wrote (``ValueError`` if they do not fit)."""
    try:
        flat = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4")
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"voice data that is not base64: {exc}") from exc
    if columns <= 0 or flat.size % columns:
        raise ValueError("voice data of the wrong size")
    return flat.astype(np.float64).reshape(-1, columns)


def embedded_to_json(embedded: Embedded, offset: float = 0.0) -> dict[str, object]:
    """*embedded* as plain JSON (the arrays packed, see :data:`VOICE_DATA_VERSION`), its
    window times moved by *offset* seconds (a stretch's place in its recording)."""

    def clock(seconds: float) -> float:
        return round(offset + seconds, 6)

    count = len(embedded.windows)
    pitch = embedded.pitch if embedded.pitch.shape[0] == count else np.full(count, np.nan)
    loudness = embedded.loudness
    if loudness.shape[0] != count:
        loudness = np.full((count, PARTIAL_FRAMES), np.nan)
    return {
        "version": VOICE_DATA_VERSION,
        "windows": [
            [clock(w.start), clock(w.end), clock(w.owned[0]), clock(w.owned[1]), w.stretch]
            for w in embedded.windows
        ],
        "dim": int(embedded.embeddings.shape[1]) if count else 256,
        "embeddings": _pack(embedded.embeddings),
        "pitch": _pack(pitch),
        "loudness": _pack(loudness),
        "loudness_dim": int(loudness.shape[1]) if loudness.ndim == 2 else PARTIAL_FRAMES,
    }


def embedded_from_json(records: Sequence[Mapping[str, Any]]) -> Embedded:
    """The windows of several :func:`embedded_to_json` records (one per stretch of a
    recording, in time order) as one :class:`Embedded`, their stretches numbered anew so
    that no two records share one. Raises ``ValueError`` for a record that is not one."""
    windows: list[Window] = []
    vectors: list[FloatArray] = []
    pitch: list[FloatArray] = []
    loudness: list[FloatArray] = []
    base = 0
    for record in records:
        if not record or not record.get("windows"):
            continue
        version = record.get("version")
        if version not in _READABLE_VERSIONS:
            raise ValueError(f"unknown voice data version {version!r}")
        rows = record["windows"]
        if version == 1:
            embeddings = np.array(record["embeddings"], dtype=np.float64)
            pitches = np.array(
                [np.nan if v is None else v for v in record["pitch"]], dtype=np.float64
            )
            envelopes = np.array(
                [[np.nan if v is None else v for v in row] for row in record["loudness"]],
                dtype=np.float64,
            )
        else:
            embeddings = _unpack(record["embeddings"], int(record.get("dim") or 256))
            pitches = _unpack(record["pitch"], 1)[:, 0]
            envelopes = _unpack(record["loudness"], int(record.get("loudness_dim") or 1))
        if not len(rows) == len(embeddings) == len(pitches) == len(envelopes):
            raise ValueError("voice data lists of different lengths")
        highest = base
        for row in rows:
            start, end, low, high, stretch = row
            number = base + int(stretch)
            highest = max(highest, number + 1)
            windows.append(Window(float(start), float(end), (float(low), float(high)), number))
        base = highest
        vectors.append(embeddings.reshape(len(rows), -1))
        pitch.append(pitches.reshape(-1))
        loudness.append(envelopes.reshape(len(rows), -1))
    if not windows:
        return Embedded((), np.zeros((0, 256)), np.zeros(0))
    order = np.array(sorted(range(len(windows)), key=lambda i: windows[i].start))
    return Embedded(
        tuple(windows[i] for i in order),
        np.concatenate(vectors)[order],
        np.concatenate(pitch)[order],
        np.concatenate(loudness)[order],
    )


def voices_for_transcript(
    path: Path, segments: Sequence[Segment], encoder: VoiceEncoder
) -> tuple[SpeakerVoice, ...]:
    """The voice of each speaker an engine (Deepgram) labelled, computed from the WAV file.

    Each labelled segment is embedded like a stretch of speech; a speaker's voice is the
    mean over its segments' windows.
    """
    labelled = [s for s in segments if s.speaker is not None and s.end - s.start >= MIN_WINDOW]
    if not labelled:
        return ()
    names = list(dict.fromkeys(s.speaker for s in labelled if s.speaker is not None))
    vectors: list[FloatArray] = []
    owners: list[int] = []
    windows: list[Window] = []
    for segment in labelled:
        embedded = embed_speech(path, [(segment.start, segment.end)], encoder)
        for window, vector in zip(embedded.windows, embedded.embeddings, strict=True):
            windows.append(window)
            vectors.append(vector)
            owners.append(names.index(str(segment.speaker)))
    if not vectors:
        return ()
    embedded = Embedded(tuple(windows), np.stack(vectors))
    labels = np.array(owners, dtype=np.int64)
    present = sorted(set(owners))
    # centroids() numbers labels 0..max; speakers without windows are skipped there
    return tuple(v for v in voices_of(embedded, labels, names) if names.index(v.label) in present)


# --------------------------------------------------------------------------- labels


class _Turns:
    """The bounds of a recording's turns as arrays, to find a word's turn at numpy speed
    (a Python loop over every turn for every word took 6 s for an hour's transcript)."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.starts = np.array([t.start for t in turns], dtype=np.float64)
        self.ends = np.array([t.end for t in turns], dtype=np.float64)

    def best(self, start: float, end: float) -> tuple[int, float]:
        """The turn that overlaps [start, end] most (the first of equals; else the
        nearest), and the overlap share."""
        overlaps = np.maximum(0.0, np.minimum(end, self.ends) - np.maximum(start, self.starts))
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0:
            return best, float(overlaps[best]) / max(end - start, 1e-6)
        middle = (start + end) / 2
        inside = (self.starts <= middle) & (middle <= self.ends)
        gaps = np.where(
            inside, 0.0, np.minimum(np.abs(middle - self.starts), np.abs(middle - self.ends))
        )
        return int(np.argmin(gaps)), 0.0


def _segment_of_words(segments: Sequence[Segment], words: Sequence[Word]) -> list[int]:
    """The index of the segment each word belongs to (by its middle)."""
    owners: list[int] = []
    current = 0
    for word in words:
        moment = (word.start + word.end) / 2
        while current + 1 < len(segments) and segments[current + 1].start <= moment + 1e-6:
            current += 1
        owners.append(current)
    return owners


def apply_turns(
    turns: Sequence[Turn], segments: Sequence[Segment], words: Sequence[Word]
) -> tuple[tuple[Segment, ...], tuple[Word, ...]]:
    """Give words the speaker of the turn they overlap most; split segments at changes."""
    if not turns:
        return tuple(segments), tuple(words)
    bounds = _Turns(turns)
    found = [bounds.best(w.start, w.end) for w in words]
    speakers = [str(turns[index].speaker) for index, _ in found]
    sure = [share >= 0.5 for _, share in found]
    members: list[list[int]] = [[] for _ in segments]
    for index, owner in enumerate(_segment_of_words(segments, words)):
        members[owner].append(index)
    result: list[Segment] = []
    for segment, indexes in zip(segments, members, strict=True):
        if not indexes:
            best, _ = bounds.best(segment.start, segment.end)
            result.append(attrs.evolve(segment, id=len(result), speaker=str(turns[best].speaker)))
            continue
        runs = _runs(indexes, speakers, sure)
        texts = _split_text(segment.text, [[words[i] for i in run] for run in runs])
        for number, (run, text) in enumerate(zip(runs, texts, strict=True)):
            start = segment.start if number == 0 else words[run[0]].start
            end = segment.end if number == len(runs) - 1 else words[run[-1]].end
            result.append(
                attrs.evolve(
                    segment,
                    id=len(result),
                    start=start,
                    end=max(start, end),
                    text=text,
                    speaker=speakers[run[0]],
                )
            )
    labelled = tuple(
        attrs.evolve(word, speaker=speaker) for word, speaker in zip(words, speakers, strict=True)
    )
    return tuple(result), labelled


def _runs(indexes: Sequence[int], speakers: list[str], sure: Sequence[bool]) -> list[list[int]]:
    """Split a segment's word *indexes* into runs of one speaker.

    A lone word whose speaker is unsure (it lies mostly outside every turn: a timing
    error of the word, not a turn) joins its neighbour's run; a one-word turn that the
    voice encoder heard ("Agreed.") stays a run of its own.
    """
    runs: list[list[int]] = []
    for index in indexes:
        if runs and speakers[index] == speakers[runs[-1][-1]]:
            runs[-1].append(index)
        else:
            runs.append([index])
    while len(runs) > 1:
        loose = [i for i, run in enumerate(runs) if len(run) == 1 and not sure[run[0]]]
        if not loose:
            break
        position = loose[0]
        neighbour = position - 1 if position > 0 else 1
        speakers[runs[position][0]] = speakers[runs[neighbour][0]]
        merged = sorted(runs[position] + runs[neighbour])
        low = min(position, neighbour)
        runs[low : low + 2] = [merged]
        if low > 0 and speakers[runs[low - 1][0]] == speakers[merged[0]]:
            runs[low - 1 : low + 1] = [runs[low - 1] + merged]
            low -= 1
        if low + 1 < len(runs) and speakers[runs[low + 1][0]] == speakers[runs[low][0]]:
            runs[low : low + 2] = [runs[low] + runs[low + 1]]
    return runs


def _split_text(text: str, runs: Sequence[Sequence[Word]]) -> list[str]:
    """Cut *text* where each run of words begins, keeping its own spacing."""
    if len(runs) == 1:
        return [text]
    cuts: list[int] = []
    cursor = 0
    for run in runs:
        found = -1
        for position, word in enumerate(run):
            spelled = word.punctuated or word.text
            at = text.find(spelled, cursor)
            if at < 0:
                break
            if position == 0:
                found = at
            cursor = at + len(spelled)
        if found < 0:
            return [" ".join(w.punctuated or w.text for w in run) for run in runs]
        cuts.append(found)
    cuts[0] = 0
    bounds = [*cuts, len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(bounds)]


__all__ = [
    "Diarization",
    "Embedded",
    "Turn",
    "Window",
    "apply_turns",
    "assign_speakers",
    "diarize",
    "embed_speech",
    "embedded_from_json",
    "embedded_to_json",
    "label_speakers",
    "place_cuts",
    "speech_stretches",
    "split_units",
    "turns_of",
    "voices_for_transcript",
    "voices_of",
    "wave",
]
