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


def tfidf_matrix(texts: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
    """Rows of L2-normalised TF-IDF weights of the term lists *texts*."""
    vocabulary: dict[str, int] = {}
    for terms in texts:
        for term in terms:
            vocabulary.setdefault(term, len(vocabulary))
    matrix = np.zeros((len(texts), max(1, len(vocabulary))))
    for row, terms in enumerate(texts):
        for term, count in Counter(terms).items():
            matrix[row, vocabulary[term]] = count
    frequency = (matrix > 0).sum(axis=0)
    idf = np.log((1 + len(texts)) / (1 + frequency)) + 1.0
    matrix *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1.0, norms))


def textrank(similarity: npt.NDArray[np.float64], damping: float = 0.85) -> np.ndarray:
    """PageRank scores of the sentences of a *similarity* matrix."""
    count = similarity.shape[0]
    if count == 0:
        return np.zeros(0)
    weights = similarity.copy()
    np.fill_diagonal(weights, 0.0)
    sums = weights.sum(axis=1, keepdims=True)
    transition = np.where(sums > 0, weights / np.where(sums == 0, 1.0, sums), 1.0 / count)
    flow = np.ascontiguousarray(damping * transition.T)
    scores = np.full(count, 1.0 / count)
    for _ in range(100):
        updated = (1 - damping) / count + flow @ scores
        converged = np.abs(updated - scores).sum() < 1e-9
        scores = updated
        if converged:
            break
    return np.asarray(scores)


@attrs.frozen
class _Ranked:
    """Sentences worth ranking, with their vectors and scores."""

    sentences: tuple[Sentence, ...]
    vectors: npt.NDArray[np.float64]
    centrality: npt.NDArray[np.float64]
    information: npt.NDArray[np.float64]


def _substantive(sentence: Sentence) -> bool:
    terms = [t for t in content_terms(sentence.text) if t not in NOT_TOPICS]
    return len(tokens(sentence.text)) >= 4 and len(terms) >= 2


def _rank(sentences: Sequence[Sentence]) -> _Ranked:
    chosen = [s for s in sentences if _substantive(s)] or list(sentences)
    terms = [content_terms(s.text) for s in chosen]
    vectors = tfidf_matrix(terms)
    centrality = textrank(vectors @ vectors.T) if chosen else np.zeros(0)
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
    similarity = ranked.vectors @ ranked.vectors.T
    while candidates and len(picked) < count:
        best, best_score = candidates[0], -math.inf
        for candidate in candidates:
            redundancy = max((similarity[candidate, p] for p in picked), default=0.0)
            if redundancy > 0.8:
                continue
            score = trade_off * relevance[candidate] - (1 - trade_off) * redundancy
            if score > best_score:
                best, best_score = candidate, score
        if best_score == -math.inf:
            break
        picked.append(best)
        candidates.remove(best)
    return picked
