"""The fused score of dense similarity, lexical and recency for a user's rows, exact, with the
int8 sketch (:mod:`.dense_scan`) narrowing the rows that need the float32 vectors.

A row's fused score is ``dense_weight * cosine + lexical + recency`` (the lexical and recency
parts already weighted); rows outside the search's scope, filters or ``min_relevance`` score
-inf. Scores are computed as the exact scan computes them (float32 cosine, float32 after the
lexical part), so the sketch changes which rows are computed, never a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._lazy import lazy_module
from .dense_scan import exact_dots

if TYPE_CHECKING:
    import numpy as np

    from .dense_scan import Int8Sketch
else:
    np = lazy_module("numpy", globals(), "np")

__all__ = ["DenseQuery", "best_rows", "dense_scores", "kth_largest"]


def best_rows(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``values`` (all of them when there are fewer), ties at
    the cut going to the lower position, so the choice never depends on how a partial sort
    happens to arrange equal values. Not ordered by value."""
    n = len(values)
    if k >= n:
        return np.arange(n)
    if k <= 0:
        return np.arange(0)
    finite = np.flatnonzero(values > -np.inf)
    if len(finite) < n:  # many equal -inf values make a partition slow: leave them out
        if len(finite) >= k:
            chosen: np.ndarray = finite[best_rows(values[finite], k)]
            return chosen
        rest = np.flatnonzero(values == -np.inf)[: k - len(finite)]
        return np.concatenate((finite, rest))
    kth = kth_largest(values, k)
    above = np.flatnonzero(values > kth)
    tied = np.flatnonzero(values == kth)[: k - len(above)]
    return np.concatenate((above, tied))


@dataclass
class DenseQuery:
    """One search's inputs to the dense fusion (arrays cover the user's ``n`` rows)."""

    vector: np.ndarray
    dense_weight: float
    mask: np.ndarray  # rows in scope, matching the filters, not expired
    lexical: np.ndarray | None  # weighted lexical part per row (float64), None without matches
    recency: np.ndarray | None  # weighted recency part per row (float64), None when unweighted
    min_relevance: float | None
    pool: int  # how many of the best rows the ranking looks at


def _fuse(sim: np.ndarray, rows: np.ndarray | slice, dq: DenseQuery) -> np.ndarray:
    score = sim * dq.dense_weight  # float32, as the exact scan has always computed it
    if dq.lexical is not None:
        score = (score + dq.lexical[rows]).astype(np.float32)
    if dq.recency is not None:
        score = score + dq.recency[rows]
    score = np.where(dq.mask[rows], score, -np.inf)
    if dq.min_relevance is not None:
        score = np.where(sim >= dq.min_relevance, score, -np.inf)
    return score


def dense_scores(
    matrix: np.ndarray, n: int, dq: DenseQuery, sketch: Int8Sketch | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's fused score (-inf where excluded) and cosine similarity, from the first
    ``n`` rows of ``matrix``. With a ``sketch``, only the rows that can be among the best
    ``dq.pool`` are computed; every other row scores -inf and its similarity is NaN.

    That leaves the conversation rerank (:func:`.conversation.rerank`) unchanged: it looks at
    the best ``pool`` rows, and at their neighbours only where a neighbour scores higher than
    the row. A row left out scores below every row of the pool, so it never does."""
    q = dq.vector
    if sketch is None:
        sim = exact_dots(matrix[:n], q)
        return _fuse(sim, slice(None), dq), sim
    rows = _candidates(sketch, n, dq)
    sim = np.full(n, np.nan, dtype=np.float32)
    sim[rows] = exact_dots(np.take(matrix, rows, axis=0), q)
    part = _fuse(sim[rows], rows, dq)
    score = np.full(n, -np.inf, dtype=part.dtype)
    score[rows] = part
    return score, sim


def _candidates(sketch: Int8Sketch, n: int, dq: DenseQuery) -> np.ndarray:
    """The rows whose exact fused score can reach the ``dq.pool``-th best: a row is ruled out
    when even its upper bound is below the ``pool``-th best lower bound."""
    approx, bound = sketch.scan(dq.vector, n)
    weight = np.float32(dq.dense_weight)
    fused = approx * weight if weight != 1 else approx
    for part in (dq.lexical, dq.recency):
        if part is not None:
            np.add(fused, part, out=fused, casting="unsafe")
    if weight != 1:
        with np.errstate(over="ignore"):  # a broken row's bound (see Int8Sketch) stays inf
            bound *= weight
    # float32 rounding, here and in the exact score: far below 1e-6 of the largest score
    bound += np.float32(1e-6 * (max(float(fused.max()), -float(fused.min())) + 1.0))
    valid = dq.mask[:n]
    if dq.min_relevance is not None:
        valid = valid & (approx + bound >= dq.min_relevance)
    everything = bool(valid.all())
    if not everything and int(np.count_nonzero(valid)) <= dq.pool:
        return np.flatnonzero(valid)
    low = fused - bound
    if not everything:
        low[~valid] = -np.inf
    high = np.add(fused, bound, out=fused)
    reach = high >= kth_largest(low, dq.pool)
    return np.flatnonzero(reach if everything else reach & valid)


def kth_largest(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of ``values`` (1-based; the smallest when ``k`` >= their number).
    A sample of every 8th value proposes a cut that at least ``k`` values reach (checked), so
    only the values above it are partitioned: a fifth of a full partition for 10,000 values."""
    n = len(values)
    if k >= n:
        return float(values.min())
    if n >= 16 * k:
        sample = values[::8]
        take = min(len(sample), k // 8 + k // 16 + 8)
        cut = np.partition(sample, len(sample) - take)[len(sample) - take]
        above = values[values >= cut]
        if len(above) >= k:
            return float(np.partition(above, len(above) - k)[len(above) - k])
    return float(np.partition(values, n - k)[n - k])
