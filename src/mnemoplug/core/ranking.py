"""The ranking of one user's rows, from arrays: what every search computes once it has the
rows in scope (``mask``), their lexical matches, their vectors and their conversation threads.

``UserIndex.search`` (the in-process index of every provider) and the PostgreSQL provider's
candidate rows (``providers/postgres/candidates.py``) both rank through :func:`rank_rows`, so
a memory scores the same whichever of them ranks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._lazy import lazy_module
from .conversation import Threads, rerank
from .fusion import DenseQuery, best_rows, dense_scores

if TYPE_CHECKING:
    import numpy as np

    from .dense_scan import Int8Sketch
    from .retrieval import SearchRequest
else:
    np = lazy_module("numpy", globals(), "np")

__all__ = ["RankedRow", "rank_rows"]

#: a hit: its row, fused score (at most 1) and cosine similarity (None without vectors)
RankedRow = tuple[int, float, float | None]


def rank_rows(
    req: SearchRequest,
    mask: np.ndarray,
    created: np.ndarray,
    lexical: tuple[np.ndarray, np.ndarray] | None,
    matrix: np.ndarray | None,
    threads: Callable[[], Threads],
    sketch: Int8Sketch | None = None,
) -> list[RankedRow]:
    """The best ``req.limit`` of ``n = len(mask)`` rows, best first.

    ``mask``: the rows in scope, matching the filters, not expired. ``created``: each row's
    ``created_at`` (for recency). ``lexical``: the rows with a lexical match and their BM25
    scores (positive), or None. ``matrix``: the rows' vectors (its first ``n`` rows), or None
    to rank without the dense part. ``threads``: the rows' conversation threads, asked for
    only when the structure adjustments run. ``sketch``: ``matrix``'s int8 sketch, if any."""
    n = len(mask)
    cfg = req.config
    lex_rows: np.ndarray | None = None
    lex_part: np.ndarray | None = None
    if cfg.lexical_weight > 0 and lexical is not None and len(lexical[0]):
        p, s = lexical
        s_masked = s[mask[p]]
        top = float(s_masked.max()) if len(s_masked) else 0.0
        if top > 0:
            lex_rows, lex_part = p, cfg.lexical_weight * (s / top)
    recency: np.ndarray | None = None
    if cfg.recency_weight > 0:
        age_h = np.maximum(req.now - created[:n], 0.0) / 3600.0
        # 0.5 ** x as exp2(-x): the same to the last bit or two, 40x faster than np.power
        recency = cfg.recency_weight * np.exp2(-(age_h / cfg.recency_half_life_hours))
    weight = cfg.lexical_weight + cfg.recency_weight  # lexical: also without a match
    sim: np.ndarray | None = None
    structured = cfg.uses_structure and n > 1
    if matrix is not None and req.vector is not None:
        lex_full: np.ndarray | None = None
        if lex_rows is not None:
            lex_full = np.zeros(n, dtype=np.float64)
            lex_full[lex_rows] = lex_part
        dq = DenseQuery(
            vector=req.vector,
            dense_weight=cfg.dense_weight,
            mask=mask,
            lexical=lex_full,
            recency=recency,
            min_relevance=req.min_relevance,
            pool=max(cfg.structure_candidates, req.limit) if structured else req.limit,
        )
        score, sim = dense_scores(matrix, n, dq, sketch)
        weight += cfg.dense_weight
    else:
        score = np.full(n, -np.inf, dtype=np.float64)
        if lex_rows is not None:
            score[lex_rows] = lex_part
        if recency is not None:
            finite = np.isfinite(score)
            score = np.where(finite, score + recency, score)
        score = np.where(mask, score, -np.inf)
        if req.min_relevance is not None:  # the threshold applies to the normalised score
            score = np.where(score / max(weight, 1e-9) >= req.min_relevance, score, -np.inf)
    norm = max(weight, 1e-9)
    if structured:
        order, final = rerank(score, threads(), req.query, cfg, req.limit, norm)
        scores = [min(float(f / norm), 1.0) for f in final.tolist()]
    else:
        top_idx = best_rows(score, req.limit)
        top_idx = top_idx[np.isfinite(score[top_idx])]
        order = top_idx[np.argsort(-score[top_idx], kind="stable")]
        scores = [float(score[i] / norm) for i in order]
    rows = order.tolist()
    sims = [None] * len(rows) if sim is None else sim[order].tolist()
    return list(zip(rows, scores, sims, strict=True))
