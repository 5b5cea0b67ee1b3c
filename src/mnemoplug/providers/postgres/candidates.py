"""The candidates of a pgvector search, read straight through asyncpg.

A search of a user with 100,000 memories spent ~7.5 ms of its 20.6 ms in the client, most of it
turning ~300 candidate rows into memories of which 10 are returned. Here the two candidate
statements (:func:`~.search.dense_candidates_sql`, :func:`~.search.lexical_candidates_sql`) run
on the connection's asyncpg driver (its C row decoding instead of SQLAlchemy's result
processing), the query vector is bound as a binary ``real[]`` (not a 384-number text literal),
and the metadata comes as JSON text: :func:`memory_of` leaves it empty, :func:`with_metadata`
decodes it for the hits only (metadata plays no part in ranking; filtered searches never take
this path). :meth:`Candidates.rank` ranks the rows as they come, without making a memory of
each or a ``UserIndex`` of them (~2 ms of a 100,000-memory user's search before, ~0.6 ms now).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ...core.conversation import Threads, rerank
from ...core.fusion import DenseQuery, best_rows, dense_scores
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex
from .rows import EXACT_KEY

__all__ = ["Candidates", "memory_of", "positional", "threads_of", "with_metadata"]

#: ``:name`` bind parameters (not the ``::`` of a cast)
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return _PARAM.sub(number, sql), tuple(names)


def positional(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """``sql`` with its ``:name`` parameters as asyncpg's ``$1``, ``$2``… and their values in
    that order (only for this package's own statements: no ``:`` inside string literals)."""
    numbered, names = _numbered(sql)
    return numbered, [params[n] for n in names]


def memory_of(r: Sequence[Any]) -> StoredMemory:
    """A memory from a row of :data:`~.search.SEARCH_COLUMNS` as asyncpg returns it (floats
    and ints already), with empty metadata: :func:`with_metadata` fills in the hits'."""
    raw = r[8]
    return StoredMemory(
        r[0],  # id
        r[2],  # user_id
        r[6],  # content
        {},  # metadata: decoded for the hits only
        r[1],  # tenant_id
        r[3],  # agent_id
        r[4],  # session_id
        r[5],  # role
        r[9],  # created_at
        r[10],  # updated_at
        r[11],  # expires_at
        np.frombuffer(raw, dtype=np.float32) if raw else None,  # embedding
        r[12],  # occurred_at
        r[13],  # speaker
        r[14] or 0,  # seq
    )


def _metadata(text: str | None) -> dict[str, Any]:
    """Metadata from its JSONB text (exact JSON unwrapped, see :func:`.rows.metadata_json`)."""
    if text is None:
        return {}
    md = json.loads(text)
    if len(md) == 1 and isinstance(md.get(EXACT_KEY), str):
        md = json.loads(md[EXACT_KEY])
    assert isinstance(md, dict)
    return md


class Candidates:
    """The candidate rows of one search, each memory once (the dense statement's row where
    both statements returned it), in id order, and the lexical scores by id.

    :meth:`rank` ranks them as a :class:`~mnemoplug.core.retrieval.UserIndex` of these rows
    would (``UserIndex.search``, the same scores and order), straight from arrays of the rows:
    no memory is made for a candidate that is not a hit, and the conversation threads are
    built with numpy (a search of a 100,000-memory user has ~300 candidates)."""

    __slots__ = ("lexical", "rows")

    def __init__(self, dense: Iterable[Sequence[Any]], lexical: Iterable[Sequence[Any]]) -> None:
        rows: dict[str, Sequence[Any]] = {}
        self.lexical: dict[str, float] = {}
        for r in lexical:
            rows[r[0]] = r
            if r[15] is not None:
                self.lexical[r[0]] = float(r[15])
        for r in dense:
            rows[r[0]] = r
        self.rows = [rows[i] for i in sorted(rows)]

    @property
    def memories(self) -> list[StoredMemory]:
        """The candidates as memories (metadata left empty, see :func:`memory_of`)."""
        return [memory_of(r) for r in self.rows]

    @property
    def metadata(self) -> dict[str, str | None]:
        """Each candidate's metadata JSON text by id."""
        return {r[0]: r[7] for r in self.rows}

    def rank(self, scope: Scope, req: SearchRequest) -> list[ScoredMemory]:
        """The hits, metadata decoded: exactly ``UserIndex.search`` of the candidates (see
        the class docstring; ``tests/providers/test_pgvector.py`` compares the two)."""
        rows, cfg = self.rows, req.config
        n = len(rows)
        vector = req.vector
        if not n or vector is None or req.limit <= 0 or cfg.dense_weight <= 0 or req.filters:
            return self._rank_by_index(scope, req)
        dim = int(vector.shape[-1])
        cols = tuple(zip(*rows, strict=False))  # a column a tuple (lexical rows: one more)
        raw = cols[8]
        if None in raw or set(map(len, raw)) != {4 * dim}:  # a row without its vector
            return self._rank_by_index(scope, req)
        matrix = np.frombuffer(b"".join(raw), dtype=np.float32).reshape(n, dim)
        created = np.array(cols[9], dtype=np.float64)
        expires = np.array(cols[11], dtype=np.float64)  # None -> NaN: never expires
        expires[np.isnan(expires)] = np.inf
        mask = expires > req.now  # the statements read the scope's rows only
        if not mask.any():
            return []
        lex_full: np.ndarray | None = None
        if cfg.lexical_weight > 0 and self.lexical:
            pos = {m: i for i, m in enumerate(cols[0])}
            p = np.fromiter(map(pos.__getitem__, self.lexical), dtype=np.int64)
            s = np.fromiter(self.lexical.values(), dtype=np.float64, count=len(p))
            s_masked = s[mask[p]]
            top = float(s_masked.max()) if len(s_masked) else 0.0
            if top > 0:
                lex_full = np.zeros(n, dtype=np.float64)
                lex_full[p] = cfg.lexical_weight * (s / top)
        recency: np.ndarray | None = None
        if cfg.recency_weight > 0:
            age_h = np.maximum(req.now - created, 0.0) / 3600.0
            recency = cfg.recency_weight * np.exp2(-(age_h / cfg.recency_half_life_hours))
        structured = cfg.uses_structure and n > 1
        dq = DenseQuery(
            vector=vector,
            dense_weight=cfg.dense_weight,
            mask=mask,
            lexical=lex_full,
            recency=recency,
            min_relevance=req.min_relevance,
            pool=max(cfg.structure_candidates, req.limit) if structured else req.limit,
        )
        score, sim = dense_scores(matrix, n, dq)
        norm = max(cfg.lexical_weight + cfg.recency_weight + cfg.dense_weight, 1e-9)
        if structured:
            order, final = rerank(score, threads_of(cols, created), req.query, cfg, req.limit, norm)
            scores = [min(float(f / norm), 1.0) for f in final.tolist()]
        else:
            top_idx = best_rows(score, req.limit)
            top_idx = top_idx[np.isfinite(score[top_idx])]
            order = top_idx[np.argsort(-score[top_idx], kind="stable")]
            scores = [float(score[i] / norm) for i in order]
        hits = []
        for i, f in zip(order.tolist(), scores, strict=True):
            m = memory_of(rows[i])
            m.metadata = _metadata(rows[i][7])
            hits.append(ScoredMemory(m, f, float(sim[i])))
        return hits

    def _rank_by_index(self, scope: Scope, req: SearchRequest) -> list[ScoredMemory]:
        """:meth:`rank` through a ``UserIndex`` of the candidates (rows without vectors)."""
        idx = UserIndex(lexical=False)
        idx.extend(self.memories)
        return with_metadata(idx.search(scope, req, lexical=self.lexical), self.metadata)


def threads_of(cols: Sequence[Sequence[Any]], created: np.ndarray) -> Threads:
    """The :class:`~mnemoplug.core.conversation.Threads` of candidate rows (``cols``: their
    columns, ``created``: their ``created_at``), as ``Threads(memories)`` builds it, with
    numpy: a row's thread is its session, or without one its ``add`` call; rows in a thread
    are ordered by when they happened, then were added, then position in the call, then row."""
    n = len(created)
    keys: dict[tuple[object, ...], int] = {}
    speakers: dict[str, int] = {}
    thread = np.array(
        [
            keys.setdefault((a, s) if s is not None else (a, None, c), len(keys))
            for a, s, c in zip(cols[3], cols[4], cols[9], strict=True)
        ],
        dtype=np.int64,
    )
    speaker = np.array(
        [-1 if x is None else speakers.setdefault(x, len(speakers)) for x in cols[13]],
        dtype=np.int64,
    )
    occurred = np.array(cols[12], dtype=np.float64)  # None -> NaN: when is created_at
    when = np.where(np.isnan(occurred), created, occurred)
    seq = np.array([x or 0 for x in cols[14]], dtype=np.int64)
    t = Threads([])
    t.thread, t.speaker, t.when, t.speakers = thread, speaker, when, list(speakers)
    t.prev, t.next = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    order = np.lexsort((np.arange(n), seq, created, when, thread))
    a, b = order[:-1], order[1:]
    same = thread[a] == thread[b]
    t.prev[b[same]] = a[same]
    t.next[a[same]] = b[same]
    return t


def with_metadata(
    hits: list[ScoredMemory], metadata: Mapping[str, str | None]
) -> list[ScoredMemory]:
    """``hits`` with their memories' metadata decoded from ``metadata`` (id -> JSON text)."""
    for h in hits:
        h.memory.metadata = _metadata(metadata[h.memory.id])
    return hits
