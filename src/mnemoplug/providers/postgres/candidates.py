"""The candidates of a pgvector search, read straight through asyncpg.

A search of a user with 100,000 memories spent ~7.5 ms of its 20.6 ms in the client, most of it
turning ~300 candidate rows into memories of which 10 are returned. Here the two candidate
statements (:func:`~.search.dense_candidates_sql`, :func:`~.search.lexical_candidates_sql`) run
on the connection's asyncpg driver (its C row decoding instead of SQLAlchemy's result
processing), the query vector is bound as a binary ``real[]`` (not a 384-number text literal),
and the metadata comes as JSON text: :func:`memory_of` leaves it empty, :func:`with_metadata`
decodes it for the hits only (metadata plays no part in ranking; filtered searches never take
this path).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ...core.records import StoredMemory
from ...core.retrieval import ScoredMemory
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
    both statements returned it), in id order; the lexical scores by id."""

    __slots__ = ("lexical", "memories", "metadata")

    def __init__(self, dense: Iterable[Sequence[Any]], lexical: Iterable[Sequence[Any]]) -> None:
        rows: dict[str, Sequence[Any]] = {}
        self.lexical: dict[str, float] = {}
        for r in lexical:
            rows[r[0]] = r
            if r[15] is not None:
                self.lexical[r[0]] = float(r[15])
        for r in dense:
            rows[r[0]] = r
        order = sorted(rows)
        self.memories = [memory_of(rows[i]) for i in order]
        self.metadata = {i: rows[i][7] for i in order}


def with_metadata(
    hits: list[ScoredMemory], metadata: Mapping[str, str | None]
) -> list[ScoredMemory]:
    """``hits`` with their memories' metadata decoded from ``metadata`` (id -> JSON text)."""
    for h in hits:
        h.memory.metadata = _metadata(metadata[h.memory.id])
    return hits
