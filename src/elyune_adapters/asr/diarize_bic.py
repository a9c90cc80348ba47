"""A light speaker diarization for the embedded engine, in numpy only.

It is a small version of the classic BIC diarization (Chen & Gopalakrishnan, 1998):

1. The speech is cut into *turns*: the stretches of speech between pauses (given by the
   caller's voice activity detector, or found here from the signal's energy), cut again
   into pieces of at most ``MAX_TURN`` seconds.
2. Each turn becomes a cloud of voiced 10 ms frames, each described by 12 mel-cepstral
   coefficients and its log pitch (autocorrelation): the shape of the voice and how high
   it is.
3. Turns are merged bottom-up, always the pair whose merge costs least, as long as the
   Bayesian information criterion prefers one full-covariance Gaussian for both over one
   Gaussian each (ΔBIC < 0). That is the criterion that chooses the number of speakers.
   Because the BIC's gain grows with the amount of speech while its penalty grows with
   its logarithm, on long recordings it would split one voice by what it says; so pairs
   that differ by less than ``SAME_VOICE`` nats of log-likelihood per frame are merged
   too (one voice stays below about 0.4 on long recordings, a man and a woman are above
   2). At most ``max_speakers`` clusters are kept (the cheapest merges continue).
4. Turns too short to judge go to the speaker whose Gaussian explains them best.
5. Each word takes the speaker of the turn it was said in; a segment in which the
   speaker changes is split there.

Speakers are labelled ``"0"``, ``"1"``... in order of first appearance. This tells
clearly different voices apart (a low and a high voice, say); it is not a neural
diarizer, and two similar voices will be taken for one.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from elyune_core.entities import Segment, Word

FloatArray = npt.NDArray[np.float64]
Span = tuple[float, float]

FRAME = 512  # samples per analysis frame at 16 kHz (32 ms)
HOP = 160  # 10 ms
MEL_BANDS = 26
CEPSTRA = 12
MIN_PITCH, MAX_PITCH = 60.0, 400.0
VOICING = 0.45  # normalised autocorrelation peak above which a frame is voiced
MIN_FRAMES = 40  # feature rows a turn needs to take part in the clustering
SUBSAMPLE = 2  # use every other frame: neighbouring frames are not independent
PENALTY = 1.0  # the BIC's lambda
SAME_VOICE = 0.55  # nats per frame below which two clusters are one voice whatever the BIC
MAX_TURN = 6.0  # seconds; longer stretches of speech are cut
MIN_PAUSE = 0.25  # seconds of quiet that end a stretch of speech (energy detector)


def label_speakers(
    audio: npt.NDArray[np.floating],
    sample_rate: int,
    segments: Sequence[Segment],
    words: Sequence[Word],
    *,
    speech: Sequence[Span] | None = None,
    max_speakers: int = 4,
    penalty: float = PENALTY,
    same_voice: float = SAME_VOICE,
) -> tuple[tuple[Segment, ...], tuple[Word, ...]]:
    """Return *segments* and *words* with speakers ``"0"``, ``"1"``... set.

    *audio* is the mono signal the transcript was made from, at *sample_rate*; *speech*
    lists its stretches of speech in seconds (found from the energy when not given). A
    segment in which the speaker changes is split at the change and segment ids are
    renumbered from 0. One voice gives every segment and word the speaker ``"0"``.
    """
    if not segments:
        return tuple(segments), tuple(words)
    signal = np.asarray(audio, dtype=np.float64)
    spans = speech if speech is not None else speech_spans(signal, sample_rate)
    turns = cut_turns(spans) or [(segments[0].start, segments[-1].end)]
    features = [turn_features(signal, sample_rate, start, end) for start, end in turns]
    labels = cluster_turns(
        features, max_speakers=max_speakers, penalty=penalty, same_voice=same_voice
    )
    return apply_labels(turns, labels, segments, words)


# --------------------------------------------------------------------------- turns


def speech_spans(signal: FloatArray, sample_rate: int) -> list[Span]:
    """Stretches of *signal* louder than its noise floor, split at pauses."""
    hop = sample_rate // 100
    count = signal.size // hop
    if count == 0:
        return []
    energy = (signal[: count * hop].reshape(count, hop) ** 2).mean(axis=1)
    level = 10 * np.log10(energy + 1e-12)
    floor = np.percentile(level, 10)
    loud = level > max(level.max() - 40.0, floor + 10.0)
    spans: list[Span] = []
    start: int | None = None
    quiet = 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            if start is None:
                start = index
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet * 0.01 >= MIN_PAUSE:
                spans.append((start / 100, (index - quiet + 1) / 100))
                start, quiet = None, 0
    if start is not None:
        spans.append((start / 100, (count - quiet) / 100))
    return [(a, b) for a, b in spans if b - a >= 0.1]


def cut_turns(spans: Sequence[Span], longest: float = MAX_TURN) -> list[Span]:
    """*spans* in time order, each cut into equal pieces of at most *longest* seconds."""
    turns: list[Span] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        pieces = max(1, int(np.ceil((end - start) / longest)))
        step = (end - start) / pieces
        turns.extend((start + i * step, start + (i + 1) * step) for i in range(pieces))
    return turns


def _anchor(word: Word) -> float:
    """A moment inside *word* (its middle)."""
    return (word.start + word.end) / 2


def _turn_at(turns: Sequence[Span], moment: float) -> int:
    best, distance = 0, float("inf")
    for index, (start, end) in enumerate(turns):
        gap = 0.0 if start <= moment <= end else min(abs(moment - start), abs(moment - end))
        if gap < distance:
            best, distance = index, gap
    return best


def _turn_overlapping(turns: Sequence[Span], start: float, end: float) -> int:
    overlaps = [max(0.0, min(end, b) - max(start, a)) for a, b in turns]
    if max(overlaps) > 0:
        return int(np.argmax(overlaps))
    return _turn_at(turns, (start + end) / 2)


def _segment_of_words(segments: Sequence[Segment], words: Sequence[Word]) -> list[int]:
    """The index of the segment each word belongs to (by its anchor)."""
    owners: list[int] = []
    current = 0
    for word in words:
        moment = _anchor(word)
        while current + 1 < len(segments) and segments[current + 1].start <= moment + 1e-6:
            current += 1
        owners.append(current)
    return owners


def apply_labels(
    turns: Sequence[Span],
    labels: Sequence[int],
    segments: Sequence[Segment],
    words: Sequence[Word],
) -> tuple[tuple[Segment, ...], tuple[Word, ...]]:
    """Give words the speaker of their turn and split segments where it changes."""
    # Whisper stretches a word next to a pause over the pause, so a word goes to the turn
    # it overlaps most rather than the one its middle falls in.
    speakers = [str(labels[_turn_overlapping(turns, w.start, w.end)]) for w in words]
    members: list[list[int]] = [[] for _ in segments]
    for index, owner in enumerate(_segment_of_words(segments, words)):
        members[owner].append(index)
    result: list[Segment] = []
    for segment, indexes in zip(segments, members, strict=True):
        if not indexes:
            label = labels[_turn_overlapping(turns, segment.start, segment.end)]
            result.append(attrs.evolve(segment, id=len(result), speaker=str(label)))
            continue
        runs = _runs(indexes, speakers)
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


def _runs(indexes: Sequence[int], speakers: list[str]) -> list[list[int]]:
    """Split a segment's word *indexes* into runs of one speaker.

    A lone word of another speaker inside a segment is more likely a timing error than a
    one-word turn, so it joins its neighbour's run (and *speakers* is updated).
    """
    runs: list[list[int]] = []
    for index in indexes:
        if runs and speakers[index] == speakers[runs[-1][-1]]:
            runs[-1].append(index)
        else:
            runs.append([index])
    while len(runs) > 1 and any(len(run) == 1 for run in runs):
        position = next(i for i, run in enumerate(runs) if len(run) == 1)
        neighbour = position - 1 if position > 0 else 1
        speakers[runs[position][0]] = speakers[runs[neighbour][0]]
        merged = sorted(runs[position] + runs[neighbour])
        low = min(position, neighbour)
        runs[low : low + 2] = [merged]
        if low > 0 and speakers[runs[low - 1][0]] == speakers[merged[0]]:
            runs[low - 1 : low + 1] = [runs[low - 1] + merged]
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


# --------------------------------------------------------------------------- features


def _mel_filterbank(sample_rate: int) -> FloatArray:
    def to_mel(hz: FloatArray | float) -> FloatArray:
        return np.asarray(2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0))

    def to_hz(mel: FloatArray) -> FloatArray:
        return np.asarray(700.0 * (10.0 ** (mel / 2595.0) - 1.0))

    edges = to_hz(np.linspace(to_mel(80.0), to_mel(min(7600.0, sample_rate / 2)), MEL_BANDS + 2))
    bins = np.fft.rfftfreq(FRAME, 1.0 / sample_rate)
    bank = np.zeros((MEL_BANDS, bins.size))
    for band in range(MEL_BANDS):
        low, centre, high = edges[band], edges[band + 1], edges[band + 2]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        bank[band] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


def _dct_matrix() -> FloatArray:
    n = np.arange(MEL_BANDS)
    k = np.arange(1, CEPSTRA + 1)[:, None]
    return np.asarray(np.cos(np.pi * k * (2 * n + 1) / (2 * MEL_BANDS)))


def turn_features(signal: FloatArray, sample_rate: int, start: float, end: float) -> FloatArray:
    """Voiced frames of ``signal[start:end]`` as rows of 12 cepstra and the log pitch."""
    first = max(0, int(start * sample_rate))
    last = min(signal.size, int(end * sample_rate))
    piece = signal[first:last]
    if piece.size < FRAME + HOP:
        return np.empty((0, CEPSTRA + 1))
    count = 1 + (piece.size - FRAME) // HOP
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    frames = piece[index]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames**2).mean(axis=1)
    loud = energy > max(energy.max() * 10 ** (-35 / 10), 1e-10)

    # pitch: the strongest normalised autocorrelation peak between 60 and 400 Hz
    spectrum = np.fft.rfft(frames, n=2 * FRAME, axis=1)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :FRAME]
    zero_lag = np.maximum(autocorrelation[:, :1], 1e-12)
    lags = slice(int(sample_rate / MAX_PITCH), int(sample_rate / MIN_PITCH) + 1)
    window = autocorrelation[:, lags] / zero_lag
    peak = window.argmax(axis=1)
    strength = window[np.arange(count), peak]
    pitch = sample_rate / (peak + lags.start)
    voiced = loud & (strength > VOICING)

    windowed = frames * np.hamming(FRAME)
    power = np.abs(np.fft.rfft(windowed, axis=1)) ** 2
    log_mel = np.log(power @ _mel_filterbank(sample_rate).T + 1e-10)
    cepstra = log_mel @ _dct_matrix().T
    features = np.hstack([cepstra, np.log(pitch)[:, None]])
    return np.asarray(features[voiced][::SUBSAMPLE])


# --------------------------------------------------------------------------- clustering


class _Clusters:
    """Gaussian statistics of the clusters, and the cost of merging each pair.

    ``bic[i, j]`` is the ΔBIC of keeping clusters *i* and *j* apart (below 0, one Gaussian
    explains both better); ``divergence[i, j]`` is the same likelihood gain per frame,
    which does not grow with the amount of speech.
    """

    def __init__(self, features: Sequence[FloatArray], penalty: float) -> None:
        dims = features[0].shape[1]
        self.penalty = penalty
        self.parameters = dims + dims * (dims + 1) / 2
        self.counts = np.array([rows.shape[0] for rows in features], dtype=np.float64)
        self.totals = np.stack([rows.sum(axis=0) for rows in features])
        self.outers = np.stack([rows.T @ rows for rows in features])
        self.members: list[list[int]] = [[i] for i in range(len(features))]
        self.active = np.ones(len(features), dtype=bool)
        self.log_dets = self._log_dets(self.counts, self.totals, self.outers)
        size = len(features)
        self.bic = np.full((size, size), np.inf)
        self.divergence = np.full((size, size), np.inf)
        for i in range(size):
            self._score_row(i)

    @staticmethod
    def _log_dets(
        counts: FloatArray, totals: FloatArray, outers: npt.NDArray[np.float64]
    ) -> FloatArray:
        means = totals / counts[:, None]
        covariances = outers / counts[:, None, None] - means[:, :, None] * means[:, None, :]
        covariances += np.eye(totals.shape[1]) * 1e-6
        signs, values = np.linalg.slogdet(covariances)
        return np.asarray(np.where(signs > 0, values, np.inf))

    def _score_row(self, i: int) -> None:
        others = np.flatnonzero(self.active)
        others = others[others != i]
        if others.size == 0:
            return
        counts = self.counts[i] + self.counts[others]
        merged = self._log_dets(
            counts, self.totals[i] + self.totals[others], self.outers[i] + self.outers[others]
        )
        gain = 0.5 * (
            counts * merged
            - self.counts[i] * self.log_dets[i]
            - self.counts[others] * self.log_dets[others]
        )
        gain = np.nan_to_num(gain, nan=np.inf)  # a degenerate cluster never attracts
        bic = gain - self.penalty * 0.5 * self.parameters * np.log(counts)
        self.bic[i, others] = self.bic[others, i] = bic
        self.divergence[i, others] = self.divergence[others, i] = gain / counts

    @property
    def size(self) -> int:
        return int(self.active.sum())

    def merge(self, i: int, j: int) -> None:
        """Make *j* part of *i*."""
        self.counts[i] += self.counts[j]
        self.totals[i] += self.totals[j]
        self.outers[i] += self.outers[j]
        self.members[i] += self.members[j]
        self.log_dets[i] = self._log_dets(
            self.counts[i : i + 1], self.totals[i : i + 1], self.outers[i : i + 1]
        )[0]
        self.active[j] = False
        self.bic[j, :] = self.bic[:, j] = np.inf
        self.divergence[j, :] = self.divergence[:, j] = np.inf
        self._score_row(i)

    def model(self, i: int) -> tuple[FloatArray, FloatArray, float]:
        """Mean, precision and log-determinant of cluster *i*'s Gaussian."""
        mean = self.totals[i] / self.counts[i]
        covariance = self.outers[i] / self.counts[i] - np.outer(mean, mean)
        covariance += np.eye(mean.size) * 1e-6
        return mean, np.linalg.inv(covariance), float(self.log_dets[i])


def _next_merge(
    clusters: _Clusters, max_speakers: int, same_voice: float
) -> tuple[int, int] | None:
    """The pair to merge next, or None when every remaining pair is two voices."""
    flat = int(np.argmin(clusters.bic))
    i, j = divmod(flat, clusters.bic.shape[0])
    if clusters.bic[i, j] < 0 or clusters.size > max_speakers:
        return i, j
    flat = int(np.argmin(clusters.divergence))
    i, j = divmod(flat, clusters.divergence.shape[0])
    if clusters.divergence[i, j] < same_voice:
        return i, j
    return None


def cluster_turns(
    features: Sequence[FloatArray],
    *,
    max_speakers: int = 4,
    penalty: float = PENALTY,
    same_voice: float = SAME_VOICE,
) -> list[int]:
    """Give each turn (its voiced frames in *features*) a speaker number, 0 first.

    Clusters merge while ΔBIC < 0 (with *penalty* as its lambda), or while they differ by
    less than *same_voice* nats per frame: on long recordings the BIC alone splits one
    voice by what it says. At most *max_speakers* clusters remain.
    """
    long_turns = [i for i, rows in enumerate(features) if rows.shape[0] >= MIN_FRAMES]
    if not long_turns or max_speakers <= 1:
        return [0] * len(features)
    clusters = _Clusters([features[i] for i in long_turns], penalty)
    while clusters.size > 1:
        pair = _next_merge(clusters, max_speakers, same_voice)
        if pair is None:
            break
        clusters.merge(*pair)

    labels = [-1] * len(features)
    remaining = [int(i) for i in np.flatnonzero(clusters.active)]
    for number, cluster in enumerate(remaining):
        for member in clusters.members[cluster]:
            labels[long_turns[member]] = number
    models = [clusters.model(cluster) for cluster in remaining]
    for turn, rows in enumerate(features):
        if labels[turn] >= 0:
            continue
        if rows.shape[0] == 0:
            labels[turn] = _neighbour_label(labels, turn)
            continue
        scores = []
        for mean, precision, log_det in models:
            centred = rows - mean
            mahalanobis = np.einsum("ij,jk,ik->i", centred, precision, centred)
            scores.append(float(-0.5 * (mahalanobis.mean() + log_det)))
        labels[turn] = int(np.argmax(scores))
    return _by_first_appearance(labels)


def _neighbour_label(labels: Sequence[int], turn: int) -> int:
    for distance in range(1, len(labels)):
        for candidate in (turn - distance, turn + distance):
            if 0 <= candidate < len(labels) and labels[candidate] >= 0:
                return labels[candidate]
    return 0


def _by_first_appearance(labels: Sequence[int]) -> list[int]:
    order: dict[int, int] = {}
    for label in labels:
        order.setdefault(label, len(order))
    return [order[label] for label in labels]


__all__ = [
    "apply_labels",
    "cluster_turns",
    "cut_turns",
    "label_speakers",
    "speech_spans",
    "turn_features",
]
