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

from ...core.conversation import ThreadColumns, Threads
from ...core.ranking import rank_rows
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex
from .rows import EXACT_KEY

__all__ = ["Candidates", "memory_of", "positional", "with_metadata"]

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
        lexical: tuple[np.ndarray, np.ndarray] | None = None
        if cfg.lexical_weight > 0 and self.lexical:
            pos = {m: i for i, m in enumerate(cols[0])}
            p = np.fromiter(map(pos.__getitem__, self.lexical), dtype=np.int64)
            lexical = p, np.fromiter(self.lexical.values(), dtype=np.float64, count=len(p))

        def threads() -> Threads:
            when = [c if o is None else o for o, c in zip(cols[12], cols[9], strict=True)]
            seq = [x or 0 for x in cols[14]]
            return Threads.of_columns(ThreadColumns(cols[3], cols[4], cols[9], cols[13], when, seq))

        hits = []
        for i, score, sim in rank_rows(req, mask, created, lexical, matrix, threads):
            m = memory_of(rows[i])
            m.metadata = _metadata(rows[i][7])
            hits.append(ScoredMemory(m, score, sim))
        return hits

    def _rank_by_index(self, scope: Scope, req: SearchRequest) -> list[ScoredMemory]:
        """:meth:`rank` through a ``UserIndex`` of the candidates (rows without vectors)."""
        idx = UserIndex(lexical=False)
        idx.extend(self.memories)
        return with_metadata(idx.search(scope, req, lexical=self.lexical), self.metadata)


def with_metadata(
    hits: list[ScoredMemory], metadata: Mapping[str, str | None]
) -> list[ScoredMemory]:
    """``hits`` with their memories' metadata decoded from ``metadata`` (id -> JSON text)."""
    for h in hits:
        h.memory.metadata = _metadata(metadata[h.memory.id])
    return hits
