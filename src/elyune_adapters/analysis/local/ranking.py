"""TF-IDF vectors, TextRank centrality and maximal marginal relevance over sentences."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from elyune_adapters.analysis.local.sentences import Sentence, content_terms, tokens
from elyune_adapters.analysis.local.vocabulary import NOT_TOPICS


@attrs.frozen
class SparseRows:
    """Rows of a sparse matrix as coordinate arrays (``rows``, ``cols``, ``values``).

    The sentence vectors are sparse (a sentence has a dozen terms of a vocabulary of
    thousands): kept dense, a two-hour meeting's TF-IDF matrix and the sentence-by-
    sentence similarities built from it grow with the square of its length. These hold
    only the non-zero weights, and the products below never build an n x n matrix.
    """

    shape: tuple[int, int]
    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def times(self, vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``M @ vector`` (a vector of the columns' length)."""
        products = self.values * vector[self.cols]
        return np.bincount(self.rows, weights=products, minlength=self.shape[0]).astype(np.float64)

    def transposed_times(self, vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``M.T @ vector`` (a vector of the rows' length)."""
        products = self.values * vector[self.rows]
        return np.bincount(self.cols, weights=products, minlength=self.shape[1]).astype(np.float64)

    def similarity_times(self, vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``(M @ M.T) @ vector``: the rows' dot products, applied without being built."""
        return self.times(self.transposed_times(vector))

    def row(self, index: int) -> npt.NDArray[np.float64]:
        """Row *index*, dense."""
        dense = np.zeros(self.shape[1])
        mask = self.rows == index
        dense[self.cols[mask]] = self.values[mask]
        return dense

    def squared_norms(self) -> npt.NDArray[np.float64]:
        """Each row's squared length."""
        squares = self.values**2
        return np.bincount(self.rows, weights=squares, minlength=self.shape[0]).astype(np.float64)


def tfidf_matrix(texts: Sequence[Sequence[str]]) -> SparseRows:
    """Rows of L2-normalised TF-IDF weights of the term lists *texts* (sparse)."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    counts: list[float] = []
    for row, terms in enumerate(texts):
        for term, count in Counter(terms).items():
            rows.append(row)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
            counts.append(float(count))
    shape = (len(texts), max(1, len(vocabulary)))
    row_index = np.array(rows, dtype=np.int64)
    col_index = np.array(cols, dtype=np.int64)
    values = np.array(counts, dtype=np.float64)
    frequency = np.bincount(col_index, minlength=shape[1])
    values *= (np.log((1 + len(texts)) / (1 + frequency)) + 1.0)[col_index]
    norms = np.sqrt(np.bincount(row_index, weights=values**2, minlength=shape[0]))
    values /= np.where(norms == 0, 1.0, norms)[row_index]
    return SparseRows(shape, row_index, col_index, values)


def textrank(vectors: SparseRows, damping: float = 0.85) -> npt.NDArray[np.float64]:
    """PageRank scores of sentences linked by the cosine similarity of their *vectors*.

    The same iteration as on the similarity matrix ``S = V V^T`` with its diagonal left
    out and rows normalised to sum to one (a sentence like no other links to all), but
    computed as products with ``V``: memory and time grow with the number of words, not
    with the square of the number of sentences.
    """
    count = vectors.shape[0]
    if count == 0:
        return np.zeros(0)
    own = vectors.squared_norms()  # S's diagonal
    sums = vectors.similarity_times(np.ones(count)) - own
    linked = sums > 1e-12
    scale = np.where(linked, 1.0 / np.where(linked, sums, 1.0), 0.0)
    scores = np.full(count, 1.0 / count)
    for _ in range(100):
        share = scores * scale  # what each linked sentence gives per unit of similarity
        received = vectors.similarity_times(share) - own * share
        received += scores[~linked].sum() / count  # the unlinked give to everyone
        updated = (1 - damping) / count + damping * received
        converged = np.abs(updated - scores).sum() < 1e-9
        scores = updated
        if converged:
            break
    return np.asarray(scores)


@attrs.frozen
class _Ranked:
    """Sentences worth ranking, with their vectors and scores."""

    sentences: tuple[Sentence, ...]
    vectors: SparseRows
    centrality: npt.NDArray[np.float64]
    information: npt.NDArray[np.float64]


def _substantive(sentence: Sentence) -> bool:
    terms = [t for t in content_terms(sentence.text) if t not in NOT_TOPICS]
    return len(tokens(sentence.text)) >= 4 and len(terms) >= 2


def _rank(sentences: Sequence[Sentence]) -> _Ranked:
    chosen = [s for s in sentences if _substantive(s)] or list(sentences)
    terms = [content_terms(s.text) for s in chosen]
    vectors = tfidf_matrix(terms)
    centrality = textrank(vectors) if chosen else np.zeros(0)
    frequency = Counter(t for ts in terms for t in set(ts))
    information = np.array(
        [
            sum(math.log(1 + len(chosen) / frequency[t]) for t in set(ts) if t not in NOT_TOPICS)
            for ts in terms
        ],
        dtype=np.float64,
    )
    return _Ranked(tuple(chosen), vectors, centrality, information)


def _normalised(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    return np.zeros_like(values) if high - low < 1e-12 else (values - low) / (high - low)


def _pick_diverse(
    ranked: _Ranked, relevance: npt.NDArray[np.float64], count: int, trade_off: float = 0.7
) -> list[int]:
    """Maximal marginal relevance: relevant sentences that do not repeat each other."""
    picked: list[int] = []
    candidates = list(range(len(ranked.sentences)))
    alike: list[npt.NDArray[np.float64]] = []  # each picked sentence's similarity to all
    while candidates and len(picked) < count:
        best, best_score = candidates[0], -math.inf
        for candidate in candidates:
            redundancy = max((float(row[candidate]) for row in alike), default=0.0)
            if redundancy > 0.8:
                continue
            score = trade_off * relevance[candidate] - (1 - trade_off) * redundancy
            if score > best_score:
                best, best_score = candidate, score
        if best_score == -math.inf:
            break
        picked.append(best)
        candidates.remove(best)
        alike.append(ranked.vectors.times(ranked.vectors.row(best)))
    return picked
