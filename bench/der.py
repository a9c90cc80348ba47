"""Diarization error rate (DER), NIST md-eval style, in plain Python/numpy.

``der(reference, hypothesis, collar=0.25)`` scores time on a 10 ms grid: frames within
*collar* seconds either side of a reference turn boundary are not scored (the md-eval
``-c 0.25`` convention), reference speakers are mapped one-to-one to hypothesis speakers
so as to maximise their overlap (exhaustively), and

    DER = (missed speech + false alarm + speaker confusion) / scored reference speech

where on each frame the error is ``max(n_ref, n_hyp) - n_correct``. Turns are
``(speaker, start, end)`` in seconds; overlapping speech is allowed in both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Turn = tuple[str, float, float]
STEP = 0.01


def _grid(turns: Sequence[Turn], speakers: list[str], frames: int) -> np.ndarray:
    grid = np.zeros((len(speakers), frames), dtype=bool)
    for speaker, start, end in turns:
        grid[speakers.index(speaker), round(start / STEP) : round(end / STEP)] = True
    return grid


def _best_mapping(overlap: np.ndarray) -> float:
    """Largest total overlap of a one-to-one mapping of rows to columns.

    Exact, by dynamic programming over the subsets of the smaller side (at most a few
    dozen speakers on that side are practical).
    """
    if overlap.shape[0] > overlap.shape[1]:
        overlap = overlap.T
    rows, cols = overlap.shape
    if rows == 0:
        return 0.0
    best = {0: 0.0}  # mask of rows used -> best total so far
    for col in range(cols):
        updated = dict(best)
        for mask, total in best.items():
            for row in range(rows):
                if not mask & (1 << row):
                    key = mask | (1 << row)
                    value = total + float(overlap[row, col])
                    if value > updated.get(key, -1.0):
                        updated[key] = value
        best = updated
    return max(best.values())


def der(reference: Sequence[Turn], hypothesis: Sequence[Turn], *, collar: float = 0.25) -> float:
    """The DER of *hypothesis* against *reference* (0 is perfect; it can exceed 1)."""
    end = max([t[2] for t in reference] + [t[2] for t in hypothesis] + [0.0])
    frames = round(end / STEP) + 1
    ref_speakers = sorted({t[0] for t in reference})
    hyp_speakers = sorted({t[0] for t in hypothesis})
    ref = _grid(reference, ref_speakers, frames)
    hyp = _grid(hypothesis, hyp_speakers, frames)
    scored = np.ones(frames, dtype=bool)
    width = round(collar / STEP)
    for _, start, stop in reference:
        for moment in (start, stop):
            at = round(moment / STEP)
            scored[max(0, at - width) : at + width] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    total = float(ref.sum())
    if total == 0:
        return 0.0 if not hyp.any() else float("inf")
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    overlap = ref.astype(np.int64) @ hyp.T.astype(np.int64)
    correct = _best_mapping(overlap.astype(np.float64))
    error = float(np.maximum(n_ref, n_hyp).sum()) - correct
    return error / total


__all__ = ["der"]
