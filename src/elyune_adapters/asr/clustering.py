"""Clustering of speaker embeddings: how many voices, and which stretch is whose.

Agglomerative clustering of the stretches of speech (numpy only) on the cosine distance of
their embeddings plus a quadratic pitch term. Without a hint, :func:`ward` merges while the
cost of a merge (centroid distance less a floor, times the harmonic half of the two
clusters' seconds) stays under a threshold that grows with the meeting's length; a
``num_speakers`` hint merges down to exactly that many clusters (it wins over
``max_speakers``), a ``max_speakers`` hint caps the count. The settings were calibrated on
the development sets (``bench/speakers.py --calibrate``), never on the test set.
Clusters holding too little speech to be a speaker are folded into their nearest
neighbour, every embedding is reassigned to its nearest centroid (a few k-means steps,
which repair greedy merges), and clusters whose centroids ended closer than ``threshold``
are one voice. Memory is bounded: at most ``MAX_UNITS`` pieces are clustered (evenly
spaced over the recording), the others take the nearest centroid.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_UNITS = 900


@attrs.frozen
class ClusterParams:
    """Clustering settings; the defaults were chosen on the development sets ``dev`` and
    ``dev2`` of ``bench/speaker_sets.py`` and the committed sample (``bench/speakers.py
    --calibrate``), never on the test set."""

    #: how the number of speakers is chosen without a hint: Ward-like costs (:func:`ward`,
    #: "ward"), the cut of the centroid-linkage tree with the best silhouette
    #: ("silhouette", the earlier rule), or a centroid distance threshold ("threshold")
    count_by: str = "ward"
    #: the cost (see :func:`ward`) above which two clusters stay apart
    ward_threshold: float = 0.7
    #: the distance two long clusters of one voice keep (see :func:`ward`)
    ward_floor: float = 0.015
    #: beyond ``ward_length`` seconds of speech the threshold grows like
    #: ``(seconds / ward_length) ** ward_growth`` (see :func:`ward`)
    ward_length: float = 120.0
    ward_growth: float = 1.0
    #: merge clusters whose centroids ended closer than ``threshold`` after refinement
    merge_close: bool = True
    #: ("silhouette" only) below this best silhouette the recording is one speaker
    min_silhouette: float = 0.1
    #: the most speakers considered without a hint
    most_speakers: int = 8
    #: centroid distance under which two clusters are one voice (whatever the count rule)
    threshold: float = 0.06
    #: a cluster with less speech than this (seconds), or than this share of all the
    #: speech, is not a speaker of its own
    min_speaker_seconds: float = 1.5
    min_speaker_share: float = 0.015
    #: k-means refinement steps after the agglomerative pass
    refine_steps: int = 3
    #: the pitch term added to the cosine distance of the embeddings:
    #: ``pitch_weight * min(|difference of median log F0|, pitch_cap) ** 2``; quadratic, so
    #: the small pitch differences of one voice's intonation hardly count while two voices
    #: a few semitones apart (which the d-vectors of similar voices barely separate) do
    pitch_weight: float = 5.0
    pitch_cap: float = 0.3
    #: embeddings are centred on the recording's mean before cosine distances
    centre: bool = False
    #: consecutive windows of one stretch of speech clustered as one unit
    unit_windows: int = 1000
    #: a stretch is split where its windows change speaker if that lowers the sum of
    #: their distances to the centroids (x seconds) by more than this
    #: (``elyune_adapters.asr.diarize.split_units``); 0 turns splitting off
    split_gain: float = 0.15
    #: how many cuts deep a stretch is split
    split_depth: int = 2


def _normalise(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: FloatArray = vectors / np.maximum(norms, 1e-9)
    return result


@attrs.frozen
class Space:
    """Embeddings made ready for distances: L2-normed, centred if asked, with pitch."""

    vectors: FloatArray
    pitch: FloatArray  # median log F0 per row, NaN when unvoiced
    params: ClusterParams

    @classmethod
    def of(cls, embeddings: FloatArray, pitch: FloatArray | None, params: ClusterParams) -> Space:
        unit = _normalise(np.asarray(embeddings, dtype=np.float64))
        if params.centre and unit.shape[0] > 2:
            unit = _normalise(unit - unit.mean(axis=0))
        values = np.full(unit.shape[0], np.nan) if pitch is None else np.asarray(pitch, dtype=float)
        return cls(unit, values, params)

    def take(self, rows: IntArray) -> Space:
        return Space(self.vectors[rows], self.pitch[rows], self.params)

    def _pitch_distance(self, left: FloatArray, right: FloatArray) -> FloatArray:
        if self.params.pitch_weight <= 0:
            return np.zeros((left.size, right.size))
        gap = np.minimum(np.abs(left[:, None] - right[None, :]), self.params.pitch_cap)
        return self.params.pitch_weight * np.nan_to_num(gap, nan=0.0) ** 2

    def distances(self) -> FloatArray:
        """Pairwise distances of the rows: cosine distance plus the pitch term."""
        cosine = 1.0 - self.vectors @ self.vectors.T
        return cosine + self._pitch_distance(self.pitch, self.pitch)

    def centroids(self, labels: IntArray, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Each label's mean direction and weighted median-ish (mean) pitch."""
        count = int(labels.max()) + 1 if labels.size else 0
        means = np.zeros((count, self.vectors.shape[1]))
        pitch = np.full(count, np.nan)
        for label in range(count):
            mask = labels == label
            if not mask.any():
                continue
            means[label] = (self.vectors[mask] * weights[mask, None]).sum(axis=0)
            voiced = mask & np.isfinite(self.pitch)
            if voiced.any():
                pitch[label] = float(np.average(self.pitch[voiced], weights=weights[voiced]))
        return _normalise(means), pitch

    def to_centroids(self, means: FloatArray, pitch: FloatArray) -> FloatArray:
        """Distances ``[rows, labels]`` of every row to each centroid."""
        return 1.0 - self.vectors @ means.T + self._pitch_distance(self.pitch, pitch)


def agglomerate(
    space: Space,
    weights: FloatArray,
    *,
    threshold: float,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
) -> IntArray:
    """Centroid-linkage labels ``0..k-1`` of the rows of *space*.

    Two clusters are as far apart as their weighted mean embeddings (cosine distance, plus
    the pitch term between their mean pitches): averaging makes that distance shrink for
    one voice as the clusters grow, whatever the length of the pieces, while two voices
    stay apart. The closest pair is merged until it is further than *threshold* (or, with
    a hint, until ``num_speakers`` remain / at most ``max_speakers``).
    """
    count = space.vectors.shape[0]
    if count <= 1:
        return np.zeros(count, dtype=np.int64)
    sums = space.vectors * weights[:, None]
    voiced = np.isfinite(space.pitch)
    pitch_sum = np.where(voiced, space.pitch, 0.0) * weights
    pitch_weight = np.where(voiced, weights, 0.0)
    alive = np.ones(count, dtype=bool)
    owner = np.arange(count)

    def row(index: int) -> FloatArray:
        direction = sums[index] / max(float(np.linalg.norm(sums[index])), 1e-9)
        norms = np.maximum(np.linalg.norm(sums, axis=1), 1e-9)
        cosine = 1.0 - (sums @ direction) / norms
        mine = pitch_sum[index] / pitch_weight[index] if pitch_weight[index] > 0 else np.nan
        theirs = np.where(pitch_weight > 0, pitch_sum / np.maximum(pitch_weight, 1e-12), np.nan)
        extra = space._pitch_distance(np.array([mine]), theirs)[0]
        result: FloatArray = cosine + extra
        result[~alive] = np.inf
        result[index] = np.inf
        return result

    distance = np.stack([row(i) for i in range(count)])
    clusters = count
    ceiling = max_speakers if max_speakers is not None else count
    while clusters > 1:
        flat = int(np.argmin(distance))
        i, j = divmod(flat, count)
        if num_speakers is not None:
            if clusters <= num_speakers:
                break
        elif distance[i, j] > threshold and clusters <= ceiling:
            break
        sums[i] += sums[j]
        pitch_sum[i] += pitch_sum[j]
        pitch_weight[i] += pitch_weight[j]
        alive[j] = False
        owner[owner == j] = i
        distance[j, :] = np.inf
        distance[:, j] = np.inf
        updated = row(i)
        distance[i, :] = updated
        distance[:, i] = updated
        clusters -= 1
    return _relabel(owner)


def ward(
    space: Space,
    weights: FloatArray,
    *,
    threshold: float,
    floor: float = 0.0,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
    costs: list[float] | None = None,
) -> IntArray:
    """Ward-like agglomerative labels ``0..k-1`` of the rows of *space*.

    Merging clusters *a* and *b* costs ``(d(a, b) - floor) * Wa * Wb / (Wa + Wb)``: the
    distance of their (weighted mean) centroids, less *floor*, times the harmonic half of
    their seconds of speech. Small clusters have noisy centroids, so two of them must be
    far apart to stay apart; large ones have steady centroids, and a small distance
    between them is a real difference of voice (more than *floor*, what two far-apart
    moments of one voice keep). Merging goes on while the cheapest merge costs less than
    *threshold* (or, with a hint, until ``num_speakers`` remain / at most
    ``max_speakers``; an exact count wins). :func:`cluster` raises the threshold in
    proportion to the speech beyond ``ward_length`` seconds: cutting one voice's cloud
    of pieces in two gains in proportion to the number of pieces, so without that a long
    meeting would be split into too many speakers.
    """
    count = space.vectors.shape[0]
    if count <= 1:
        return np.zeros(count, dtype=np.int64)
    sums = space.vectors * weights[:, None]
    mass = weights.astype(np.float64).copy()
    voiced = np.isfinite(space.pitch)
    pitch_sum = np.where(voiced, space.pitch, 0.0) * weights
    pitch_weight = np.where(voiced, weights, 0.0)
    alive = np.ones(count, dtype=bool)
    owner = np.arange(count)

    def row(index: int) -> FloatArray:
        direction = sums[index] / max(float(np.linalg.norm(sums[index])), 1e-9)
        norms = np.maximum(np.linalg.norm(sums, axis=1), 1e-9)
        cosine = 1.0 - (sums @ direction) / norms
        mine = pitch_sum[index] / pitch_weight[index] if pitch_weight[index] > 0 else np.nan
        theirs = np.where(pitch_weight > 0, pitch_sum / np.maximum(pitch_weight, 1e-12), np.nan)
        distance = cosine + space._pitch_distance(np.array([mine]), theirs)[0] - floor
        result: FloatArray = distance * mass[index] * mass / np.maximum(mass[index] + mass, 1e-9)
        result[~alive] = np.inf
        result[index] = np.inf
        return result

    cost = np.stack([row(i) for i in range(count)])
    nearest = np.argmin(cost, axis=1)
    best = cost[np.arange(count), nearest]
    clusters = count
    ceiling = max_speakers if max_speakers is not None else count
    while clusters > 1:
        i = int(np.argmin(best))
        j = int(nearest[i])
        if num_speakers is not None:
            if clusters <= num_speakers:
                break
        elif best[i] > threshold and clusters <= ceiling:
            break
        if costs is not None:
            costs.append(float(best[i]))
        sums[i] += sums[j]
        mass[i] += mass[j]
        pitch_sum[i] += pitch_sum[j]
        pitch_weight[i] += pitch_weight[j]
        alive[j] = False
        owner[owner == j] = i
        best[j] = np.inf
        cost[j, :] = np.inf
        cost[:, j] = np.inf
        updated = row(i)
        cost[i, :] = updated
        cost[:, i] = updated
        clusters -= 1
        # rows whose nearest was i or j look again; the others may now be nearest to i
        for k in np.flatnonzero(alive & ((nearest == i) | (nearest == j))).tolist():
            nearest[k] = int(np.argmin(cost[k]))
            best[k] = cost[k, nearest[k]]
        closer = alive & (updated < best)
        nearest[closer] = i
        best[closer] = updated[closer]
    return _relabel(owner)


def _cut(count: int, merges: list[tuple[int, int]], clusters: int) -> IntArray:
    """Labels after the first ``count - clusters`` *merges* of a centroid-linkage run."""
    owner = np.arange(count)
    for i, j in merges[: max(0, count - clusters)]:
        owner[owner == j] = i
    return _relabel(owner)


def silhouette(distance: FloatArray, labels: IntArray, weights: FloatArray) -> float:
    """Weighted mean silhouette of *labels* under the pairwise *distance* (0 for k = 1)."""
    count = int(labels.max()) + 1 if labels.size else 0
    if count <= 1:
        return 0.0
    member = np.stack([(labels == k).astype(float) * weights for k in range(count)])
    totals = member.sum(axis=1)
    mean_to = (distance @ member.T) / np.maximum(totals, 1e-9)  # [rows, clusters]
    own = labels
    own_total = totals[own] - weights
    inside = (mean_to[np.arange(labels.size), own] * totals[own]) / np.maximum(own_total, 1e-9)
    others = mean_to.copy()
    others[np.arange(labels.size), own] = np.inf
    nearest = others.min(axis=1)
    score = np.where(
        own_total > 0, (nearest - inside) / np.maximum(np.maximum(nearest, inside), 1e-9), 0.0
    )
    return float(np.average(score, weights=weights))


def choose_count(
    space: Space,
    weights: FloatArray,
    *,
    params: ClusterParams,
    max_speakers: int | None = None,
) -> IntArray:
    """Cut the centroid-linkage tree at the number of clusters with the best silhouette.

    The silhouette compares each piece's distance to its own cluster with that to the
    nearest other: it does not depend on how far apart voices are in absolute terms (close
    for similar voices, far for natural speech with much intonation), which a fixed
    threshold does. One speaker is chosen when no cut reaches ``min_silhouette``.
    """
    count = space.vectors.shape[0]
    if count <= 2:
        return np.zeros(count, dtype=np.int64)
    merges = merge_history(space, weights)
    distance = np.maximum(space.distances(), 0.0)
    np.fill_diagonal(distance, 0.0)
    ceiling = min(max_speakers or params.most_speakers, params.most_speakers, count - 1)
    best, best_score = np.zeros(count, dtype=np.int64), params.min_silhouette
    for clusters in range(2, ceiling + 1):
        labels = _cut(count, merges, clusters)
        score = silhouette(distance, labels, weights)
        if score > best_score:
            best, best_score = labels, score
    return best


def merge_history(space: Space, weights: FloatArray) -> list[tuple[int, int]]:
    """The merges of a full centroid-linkage run, closest first."""
    count = space.vectors.shape[0]
    sums = space.vectors * weights[:, None]
    voiced = np.isfinite(space.pitch)
    pitch_sum = np.where(voiced, space.pitch, 0.0) * weights
    pitch_weight = np.where(voiced, weights, 0.0)
    alive = np.ones(count, dtype=bool)

    def row(index: int) -> FloatArray:
        direction = sums[index] / max(float(np.linalg.norm(sums[index])), 1e-9)
        norms = np.maximum(np.linalg.norm(sums, axis=1), 1e-9)
        cosine = 1.0 - (sums @ direction) / norms
        mine = pitch_sum[index] / pitch_weight[index] if pitch_weight[index] > 0 else np.nan
        theirs = np.where(pitch_weight > 0, pitch_sum / np.maximum(pitch_weight, 1e-12), np.nan)
        result: FloatArray = cosine + space._pitch_distance(np.array([mine]), theirs)[0]
        result[~alive] = np.inf
        result[index] = np.inf
        return result

    distance = np.stack([row(i) for i in range(count)])
    merges: list[tuple[int, int]] = []
    for _ in range(count - 1):
        i, j = divmod(int(np.argmin(distance)), count)
        merges.append((i, j))
        sums[i] += sums[j]
        pitch_sum[i] += pitch_sum[j]
        pitch_weight[i] += pitch_weight[j]
        alive[j] = False
        distance[j, :] = np.inf
        distance[:, j] = np.inf
        updated = row(i)
        distance[i, :] = updated
        distance[:, i] = updated
    return merges


def _relabel(labels: IntArray) -> IntArray:
    _, compact = np.unique(labels, return_inverse=True)
    return compact.astype(np.int64)


def fold_small(
    space: Space,
    labels: IntArray,
    weights: FloatArray,
    *,
    min_seconds: float,
    keep: int | None = None,
) -> IntArray:
    """Merge clusters with less than *min_seconds* of speech into their nearest cluster.

    With *keep* (a ``num_speakers`` hint) nothing is folded below that many clusters.
    """
    labels = labels.copy()
    while True:
        count = int(labels.max()) + 1 if labels.size else 0
        if count <= 1 or (keep is not None and count <= keep):
            return labels
        totals = np.array([weights[labels == k].sum() for k in range(count)])
        smallest = int(np.argmin(totals))
        if totals[smallest] >= min_seconds:
            return labels
        means, pitch = space.centroids(labels, weights)
        rows = np.flatnonzero(labels == smallest)
        near = space.take(rows).to_centroids(means, pitch).mean(axis=0)
        near[smallest] = np.inf
        labels[rows] = int(np.argmin(near))
        labels = _relabel(labels)


def refine(space: Space, labels: IntArray, weights: FloatArray, *, steps: int) -> IntArray:
    """A few k-means steps from *labels* (nearest centroid by the same distance)."""
    for _ in range(steps):
        means, pitch = space.centroids(labels, weights)
        updated = np.argmin(space.to_centroids(means, pitch), axis=1).astype(np.int64)
        if np.array_equal(updated, labels):
            break
        labels = _relabel(updated)
    return labels


def merge_close(
    space: Space,
    labels: IntArray,
    weights: FloatArray,
    *,
    threshold: float,
    keep: int | None = None,
) -> IntArray:
    """Merge clusters whose centroids ended closer than *threshold* after refinement."""
    labels = labels.copy()
    while True:
        count = int(labels.max()) + 1 if labels.size else 0
        if count <= 1 or (keep is not None and count <= keep):
            return labels
        means, pitch = space.centroids(labels, weights)
        between = Space(means, pitch, space.params).to_centroids(means, pitch)
        np.fill_diagonal(between, np.inf)
        flat = int(np.argmin(between))
        i, j = divmod(flat, count)
        if between[i, j] >= threshold:
            return labels
        labels[labels == j] = i
        labels = _relabel(labels)


def centroids(embeddings: FloatArray, labels: IntArray, weights: FloatArray) -> FloatArray:
    """Weighted, L2-normed mean of the (uncentred, L2-normed) embeddings of each label."""
    count = int(labels.max()) + 1 if labels.size else 0
    unit = _normalise(np.asarray(embeddings, dtype=np.float64))
    result = np.zeros((count, unit.shape[1]))
    for label in range(count):
        mask = labels == label
        if mask.any():
            result[label] = (unit[mask] * weights[mask, None]).sum(axis=0)
    return _normalise(result)


def cluster(
    embeddings: FloatArray,
    weights: FloatArray,
    *,
    params: ClusterParams,
    reliable: npt.NDArray[np.bool_] | None = None,
    pitch: FloatArray | None = None,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
) -> IntArray:
    """Speaker labels ``0..k-1`` for the rows of *embeddings*.

    *weights* are the seconds of speech behind each row; only *reliable* rows (long
    enough to judge a voice) are clustered, the others take the nearest centroid.
    """
    count = embeddings.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    space = Space.of(embeddings, pitch, params)
    if reliable is None or not reliable.any():
        reliable = np.ones(count, dtype=bool)
    chosen = np.flatnonzero(reliable)
    if chosen.size > MAX_UNITS:
        chosen = chosen[np.linspace(0, chosen.size - 1, MAX_UNITS).round().astype(np.int64)]
    if num_speakers is not None:
        num_speakers = max(1, min(num_speakers, chosen.size))
    sample = space.take(chosen)
    if params.count_by == "ward":
        labels = ward(
            sample,
            weights[chosen],
            threshold=params.ward_threshold
            * max(1.0, float(weights.sum()) / params.ward_length) ** params.ward_growth,
            floor=params.ward_floor,
            num_speakers=num_speakers,
            max_speakers=max_speakers,
        )
    elif num_speakers is None and params.count_by == "silhouette":
        labels = choose_count(sample, weights[chosen], params=params, max_speakers=max_speakers)
    else:
        labels = agglomerate(
            sample,
            weights[chosen],
            threshold=params.threshold,
            num_speakers=num_speakers,
            max_speakers=max_speakers,
        )
    scale = float(weights.sum() / max(weights[chosen].sum(), 1e-9))  # rows stand for all
    smallest = max(params.min_speaker_seconds, params.min_speaker_share * float(weights.sum()))
    labels = fold_small(
        sample,
        labels,
        weights[chosen] * scale,
        min_seconds=smallest,
        keep=num_speakers,
    )
    means, mean_pitch = sample.centroids(labels, weights[chosen])
    full = _relabel(np.argmin(space.to_centroids(means, mean_pitch), axis=1).astype(np.int64))
    full = refine(space, full, weights, steps=params.refine_steps)
    if num_speakers is None:
        full = fold_small(space, full, weights, min_seconds=smallest)
        if params.merge_close:
            full = merge_close(space, full, weights, threshold=params.threshold)
    return full


__all__ = [
    "ClusterParams",
    "Space",
    "agglomerate",
    "centroids",
    "cluster",
    "fold_small",
    "refine",
    "ward",
]
