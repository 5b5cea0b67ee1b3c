"""Retrieval: a per-user vector/record index and the fusion of dense, lexical and recency
scores that every provider shares (tokenisation and the in-process BM25 live in :mod:`.bm25`,
the exact fused scores with the int8 first pass in :mod:`.fusion`).

Fusion (tuned on LoCoMo, see ``benchmarks/locomo_retrieval.py``)::

    score = dense_weight * cosine
          + lexical_weight * bm25 / max(bm25 of this query's lexical hits)   (0 without a match)
          + recency_weight * 0.5 ** (age_hours / recency_half_life_hours)
    score /= dense_weight + lexical_weight + recency_weight

so it is at most 1 and at least ``-dense_weight / (sum of the weights)``, since a cosine can be
negative: [-2/3, 1] with the default weights, [0, 1] without an embedder.

A memory with no lexical match gets no lexical credit: dense order is kept among them.
Without an embedder, only memories with a lexical match are candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import repeat
from typing import TYPE_CHECKING

from ._lazy import lazy_module
from .bm25 import BM25Index, fts5_query, query_terms, tokenize
from .conversation import Threads, thread_key
from .dense_scan import SKETCH_MIN_ROWS, Int8Sketch, sketch_available
from .errors import ConfigurationError
from .filters import Filter
from .index_cache import UserIndexCache
from .ranking import rank_rows
from .records import Scope, StoredMemory

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads at first use, not with ``import mnemoplug``
    np = lazy_module("numpy", globals(), "np")

__all__ = [
    "BM25Index",
    "LexicalHits",
    "RetrievalConfig",
    "ScoredMemory",
    "SearchRequest",
    "UserIndex",
    "UserIndexCache",
    "fts5_query",
    "query_terms",
    "tokenize",
]


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """How search ranks. The defaults were tuned on LoCoMo with all-MiniLM-L6-v2."""

    dense_weight: float = 1.0
    lexical_weight: float = 0.5
    recency_weight: float = 0.0
    recency_half_life_hours: float = 24.0 * 7
    lexical_candidates: int = 200
    #: with a dense score present and 1,000+ documents, query terms found in more than this
    #: share of the documents are left out of BM25 (the rarest is always kept): their IDF is
    #: near zero, they cost the most to score, and dropping them raised LoCoMo hit@10 from
    #: 0.726 to 0.737 (0.05 was the best of 0.02/0.05/0.1/0.25). None keeps every term.
    common_term_ratio: float | None = 0.05
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    #: conversation structure (see :mod:`mnemoplug.core.conversation`; 0 turns one off),
    #: tuned on LoCoMo dev with the settings moved one at a time (round values, each within
    #: about 0.005 hit@10 of its neighbours): each turn gains this share of its best
    #: neighbour's (previous/next turn in its session) margin over its own score
    neighbour_weight: float = 0.3
    #: each turn moves this share of the way to its session's best score
    session_weight: float = 0.4
    #: turns by a speaker the question names gain this much score
    speaker_weight: float = 0.15
    #: turns that occurred on a date the question names gain this much score
    date_weight: float = 0.15
    #: how many of the best fused candidates the adjustments re-score (fewer, 30 or 100,
    #: lost 0.16 and 0.03 hit@10 on LoCoMo)
    structure_candidates: int = 300

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name == "common_term_ratio":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ConfigurationError(
                    f"RetrievalConfig.{f.name} must be a number, got {value!r}"
                )
        for name in (
            "dense_weight",
            "lexical_weight",
            "recency_weight",
            "neighbour_weight",
            "session_weight",
            "speaker_weight",
            "date_weight",
        ):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"RetrievalConfig.{name} must be >= 0")
        if not isinstance(self.structure_candidates, int) or self.structure_candidates < 1:
            raise ConfigurationError(
                "RetrievalConfig.structure_candidates must be an integer >= 1, got "
                f"{self.structure_candidates!r}"
            )
        if self.dense_weight + self.lexical_weight + self.recency_weight <= 0:
            raise ConfigurationError("RetrievalConfig needs at least one positive weight")
        if self.recency_half_life_hours <= 0:
            raise ConfigurationError("RetrievalConfig.recency_half_life_hours must be > 0")

    @property
    def uses_structure(self) -> bool:
        """Whether any conversation-structure adjustment is on."""
        return (
            self.neighbour_weight + self.session_weight + self.speaker_weight + self.date_weight > 0
        )


@dataclass(slots=True)
class SearchRequest:
    query: str
    vector: np.ndarray | None
    limit: int
    filters: Filter
    now: float
    min_relevance: float | None = None
    config: RetrievalConfig = field(default_factory=RetrievalConfig)


#: lexical scores of a search: memory id -> BM25 score, or the same as (ids, scores array)
LexicalHits = Mapping[str, float] | tuple[Sequence[str], "np.ndarray"]


@dataclass(slots=True)
class ScoredMemory:
    memory: StoredMemory
    score: float
    similarity: float | None


class UserIndex:
    """One user's memories in process: records, a contiguous float32 matrix of their vectors,
    creation/expiry arrays and (optionally) a BM25 index. Providers keep one per (tenant, user)
    as their store (in-process) or as a cache (SQLite, Redis)."""

    def __init__(self, *, lexical: bool = True) -> None:
        self.records: list[StoredMemory] = []
        self.pos: dict[str, int] = {}
        self._matrix: np.ndarray | None = None
        self._created = np.zeros(16, dtype=np.float64)
        self._expires = np.full(16, np.inf, dtype=np.float64)
        self.bm25: BM25Index | None = BM25Index() if lexical else None
        self._threads: Threads | None = None  # built on the first structured search
        self._sketch: Int8Sketch | None = None  # built on the first search of a large index
        self._term_rows: dict[str, tuple[list[str], np.ndarray]] = {}  # see _rows_of_term

    @property
    def threads(self) -> Threads:
        """The memories' thread structure (rebuilt after a change)."""
        if self._threads is None:
            self._threads = Threads(self.records)
        return self._threads

    def __len__(self) -> int:
        return len(self.records)

    def get(self, memory_id: str) -> StoredMemory | None:
        i = self.pos.get(memory_id)
        return None if i is None else self.records[i]

    def _grow(self, need: int, dim: int | None) -> None:
        cap = len(self._created)
        if need > cap:
            new_cap = max(need, cap * 2)
            self._created = np.resize(self._created, new_cap)
            exp = np.full(new_cap, np.inf)
            exp[:cap] = self._expires
            self._expires = exp
        if dim is not None:
            if self._matrix is None:
                self._matrix = np.zeros((max(len(self._created), 16), dim), dtype=np.float32)
            elif self._matrix.shape[0] < len(self._created):
                m = np.zeros((len(self._created), self._matrix.shape[1]), dtype=np.float32)
                m[: self._matrix.shape[0]] = self._matrix
                self._matrix = m
            if self._sketch is not None:
                self._sketch.grow(len(self._matrix))

    def _set_row(self, i: int, m: StoredMemory) -> None:
        self._created[i] = m.created_at
        self._expires[i] = np.inf if m.expires_at is None else m.expires_at
        if m.embedding is not None:
            dim = int(m.embedding.shape[-1])
            self._grow(i + 1, dim)
            assert self._matrix is not None
            if self._matrix.shape[1] != dim:
                raise ValueError(
                    f"vector dimension {dim} != index dimension {self._matrix.shape[1]}"
                )
            self._matrix[i] = m.embedding
        elif self._matrix is not None:
            self._matrix[i] = 0.0
        if self._sketch is not None and self._matrix is not None:
            self._sketch.set_rows(i, self._matrix[i : i + 1])

    def upsert(self, m: StoredMemory) -> None:
        i = self.pos.get(m.id)
        if i is None:
            i = len(self.records)
            self._grow(i + 1, None if m.embedding is None else int(m.embedding.shape[-1]))
            self.records.append(m)
            self.pos[m.id] = i
            if self._threads is not None and not self._threads.append(i, m):
                self._threads = None
        else:
            old = self.records[i]
            if (thread_key(old), old.when, old.seq, old.speaker) != (
                thread_key(m),
                m.when,
                m.seq,
                m.speaker,
            ):
                self._threads = None
            self.records[i] = m
        self._set_row(i, m)
        if self.bm25 is not None:
            self.bm25.add(m.id, m.indexed_text)

    def extend(self, items: Iterable[StoredMemory]) -> None:
        items = list(items)
        if self.bm25 is None and self._bulk_append(items):
            return
        for m in items:
            self.upsert(m)

    def _bulk_append(self, items: list[StoredMemory]) -> bool:
        """Append new memories that all carry vectors of one dimension at once (the same
        state as upserting them one by one, ~5x faster for the few hundred candidates of a
        pgvector search); False, changing nothing, when that does not apply."""
        if not items or any(m.embedding is None for m in items):
            return False
        dim = int(items[0].embedding.shape[-1])  # type: ignore[union-attr]
        ids = {m.id for m in items}
        if (
            len(ids) != len(items)
            or not ids.isdisjoint(self.pos)
            or any(m.embedding.shape[-1] != dim for m in items)  # type: ignore[union-attr]
            or (self._matrix is not None and self._matrix.shape[1] != dim)
        ):
            return False
        start = len(self.records)
        end = start + len(items)
        self._grow(end, dim)
        assert self._matrix is not None
        self._matrix[start:end] = np.stack([m.embedding for m in items])  # type: ignore[misc]
        if self._sketch is not None:
            self._sketch.set_rows(start, self._matrix[start:end])
        self._created[start:end] = [m.created_at for m in items]
        self._expires[start:end] = [np.inf if m.expires_at is None else m.expires_at for m in items]
        self.records.extend(items)
        self.pos.update((m.id, start + i) for i, m in enumerate(items))
        self._threads = None  # rebuilt on the next structured search
        return True

    def remove(self, memory_id: str) -> StoredMemory | None:
        i = self.pos.pop(memory_id, None)
        if i is None:
            return None
        self._threads = None
        self._term_rows.clear()  # a row moves
        gone = self.records[i]
        last = len(self.records) - 1
        if i != last:
            moved = self.records[last]
            self.records[i] = moved
            self.pos[moved.id] = i
            self._created[i] = self._created[last]
            self._expires[i] = self._expires[last]
            if self._matrix is not None:
                self._matrix[i] = self._matrix[last]
            if self._sketch is not None:
                self._sketch.move(last, i)
        self.records.pop()
        self._expires[last] = np.inf
        if self.bm25 is not None:
            self.bm25.remove(memory_id)
        return gone

    def _sketch_for(self, n: int) -> Int8Sketch | None:
        """The int8 sketch of the first ``n`` rows, built now if the index is large enough
        (then kept up to date by every change); None for a small index."""
        if self._sketch is None:
            if n < SKETCH_MIN_ROWS or self._matrix is None or not sketch_available():
                return None
            self._sketch = Int8Sketch.of(self._matrix[:n], len(self._matrix))
        return self._sketch

    # -- selection ---------------------------------------------------------------------------
    def mask(self, scope: Scope, filters: Filter, now: float) -> np.ndarray:
        n = len(self.records)
        mask = self._expires[:n] > now
        if scope.agent_id is not None or scope.session_id is not None or filters:
            recs = self.records
            extra = np.fromiter(
                (
                    (scope.agent_id is None or r.agent_id == scope.agent_id)
                    and (scope.session_id is None or r.session_id == scope.session_id)
                    and filters.matches(r)
                    for r in recs
                ),
                dtype=bool,
                count=n,
            )
            mask &= extra
        return mask

    def newest(
        self, scope: Scope, filters: Filter, now: float, limit: int, offset: int = 0
    ) -> list[StoredMemory]:
        n = len(self.records)
        if not n:
            return []
        idx = np.flatnonzero(self.mask(scope, filters, now))
        if not len(idx):
            return []
        # newest first by when it happened, then was added; within one add call the later
        # message first (ids are time-ordered, which breaks the remaining ties)
        recs = self.records
        order = sorted(
            idx.tolist(),
            key=lambda i: (recs[i].when, self._created[i], recs[i].seq, recs[i].id),
            reverse=True,
        )
        return [self.records[i] for i in order[offset : offset + limit]]

    def expired_ids(self, now: float) -> list[str]:
        n = len(self.records)
        return [self.records[i].id for i in np.flatnonzero(self._expires[:n] <= now)]

    def _rows_of(self, lexical: LexicalHits) -> tuple[np.ndarray, np.ndarray]:
        """The rows and scores of the lexical hits that are in this index."""
        if isinstance(lexical, Mapping):
            ids: Sequence[str] = list(lexical)
            scores = np.fromiter(lexical.values(), dtype=np.float64, count=len(ids))
        else:
            ids, scores = lexical[0], np.asarray(lexical[1], dtype=np.float64)
        rows = np.fromiter(map(self.pos.get, ids, repeat(-1)), dtype=np.int64, count=len(ids))
        known = rows >= 0
        if not known.all():
            rows, scores = rows[known], scores[known]
        return rows, scores

    def _own_lexical_rows(
        self, query: str, common_term_ratio: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rows and BM25 scores of the in-process index's matches (ascending rows)."""
        terms = self.bm25.term_scores(query, common_term_ratio) if self.bm25 is not None else []
        if not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows = [self._rows_of_term(term, docs) for term, docs, _ in terms]
        # adds each row's scores in term order, from 0.0: the sums of BM25Index.scores
        total = np.bincount(
            np.concatenate(rows), weights=np.concatenate([t[2] for t in terms]), minlength=len(self)
        )
        found = np.flatnonzero(total)
        return found, total[found]

    def _rows_of_term(self, term: str, docs: list[str]) -> np.ndarray:
        """The rows of a term's documents (kept while the same list stands for them and no
        row moved)."""
        got = self._term_rows.get(term)
        if got is not None and got[0] is docs:
            return got[1]
        rows = np.fromiter(map(self.pos.__getitem__, docs), dtype=np.int64, count=len(docs))
        if len(docs) >= BM25Index.CACHE_MIN_DOCS:
            self._term_rows[term] = (docs, rows)
        return rows

    def search(
        self,
        scope: Scope,
        req: SearchRequest,
        lexical: LexicalHits | None = None,
    ) -> list[ScoredMemory]:
        """Rank this user's memories. ``lexical`` maps memory id -> BM25 score (positive,
        higher is better), or is the same as ``(ids, scores)``; when None, the in-process BM25
        index is used."""
        n = len(self.records)
        if not n or req.limit <= 0:
            return []
        cfg = req.config
        mask = self.mask(scope, req.filters, req.now)
        if not mask.any():
            return []
        use_dense = req.vector is not None and self._matrix is not None and cfg.dense_weight > 0
        lex: tuple[np.ndarray, np.ndarray] | None = None
        if cfg.lexical_weight > 0:
            if lexical is None:
                lex = self._own_lexical_rows(
                    req.query, cfg.common_term_ratio if use_dense else None
                )
            else:
                lex = self._rows_of(lexical)
        ranked = rank_rows(
            req,
            mask,
            self._created,
            lex,
            self._matrix if use_dense else None,
            lambda: self.threads,
            self._sketch_for(n) if use_dense else None,
        )
        return [
            ScoredMemory(memory=self.records[i], score=score, similarity=sim)
            for i, score, sim in ranked
        ]
