"""The SQL of the PostgreSQL memory store's searches.

Lexical scores are PostgreSQL full text: ``ts_rank_cd`` of the query's non-stop-words OR-ed
through ``websearch_to_tsquery``, computed in SQL for the one user only. Dense, lexical and
recency scores are always fused by the shared ``UserIndex.search``, so rankings agree with the
other providers:

* in process (no pgvector, or a filtered search): one statement reads the user's generation
  and its best full-text matches (:func:`lexical_sql`); the user's memories come from the
  per-user cache, valid while the generation is unchanged;
* with pgvector: the HNSW index's nearest neighbours in the user's scope
  (:func:`dense_candidates_sql`) plus the best full-text matches
  (:func:`lexical_candidates_sql`) are the candidates, ranked on exact cosine similarity. The
  two are separate statements, so the store runs them at the same time on two connections
  (each reads its candidates' rows itself, metadata as JSON text: see
  :mod:`.candidates`).

The full-text candidates are the ``:k`` best by ``ts_rank_cd`` among the rows each query word
matches, each word contributing at most its ``:k`` newest matches (:func:`lexical_part`; ``:k``
is ``RetrievalConfig.lexical_candidates``, 200). While no word matches more than ``:k`` of the
user's memories that is every match, ranked as one ``OR`` query. A word found in more of them
(a common word of a big user: ranking every match of three common words cost ~1 s for the
54,000 matches among 100,000 memories) adds only its newest ``:k``, so the cost is bounded by
``:k`` rows a word, and a rare word's matches still all take part: each word gets its own plan,
the GIN index for a rare word, the user's rows newest first for a common one (the store plans
every statement for its parameters: ``plan_cache_mode = force_custom_plan``). A row two words
match is ranked once (the words' matches meet by id first: ``ts_rank_cd`` was ~2 µs a row, a
third of the statement); the candidates statement reads the best rows back by ``ctid`` (one
heap read a row instead of a primary-key descent). Ties at the ``:k``-th score are cut in id
order.
"""

from __future__ import annotations

import functools

from ...core.retrieval import query_terms
from ..sql.rows import COLUMNS, LIVE
from .schema import Tables

__all__ = [
    "SEARCH_COLUMNS",
    "dense_candidates_sql",
    "lexical_candidates_sql",
    "lexical_part",
    "lexical_sql",
    "search_words",
]

#: :data:`~mnemoplug.providers.sql.rows.COLUMNS` with the metadata as its JSON text (decoded
#: for the few hits only, not for every candidate)
SEARCH_COLUMNS = COLUMNS.replace("metadata", "metadata::text")

#: at most this many query words take part in the full-text candidates (one subquery each)
MAX_WORDS = 16


def search_words(query: str) -> dict[str, str]:
    """Bind parameters of a full-text search: ``q`` (the query's non-stop-words OR-ed, for
    ``websearch_to_tsquery``) and ``w0``, ``w1``, … (each word); empty when no word is left."""
    words = query_terms(query)[:MAX_WORDS]
    if not words:
        return {}
    return {"q": " or ".join(words), **{f"w{i}": w for i, w in enumerate(words)}}


def _matches(tables: Tables, config: str, where: str, n_words: int) -> str:
    """Rows ``(c, fts, created_at, id)`` (``c`` the row's ``ctid``), each once: the live rows
    of ``where`` matching a word, each of the ``n_words`` words ``:w0``… contributing at most
    its ``:k`` newest matches."""
    t = tables.memories
    per_word = " UNION ALL ".join(
        f"(SELECT ctid AS c, fts, created_at, id FROM {t} WHERE {where} AND {LIVE} "
        f"AND fts @@ websearch_to_tsquery('{config}'::regconfig, :w{i}) "
        f"ORDER BY created_at DESC LIMIT :k)"
        for i in range(n_words)
    )
    return f"SELECT DISTINCT ON (id) * FROM ({per_word}) w ORDER BY id"


def _ranked(tables: Tables, config: str, where: str, n_words: int) -> str:
    """Rows ``(c, id, s)``: the ``:k`` best of :func:`_matches` by ``ts_rank_cd`` of ``:q``,
    computed once a row however many words it matches."""
    matches = _matches(tables, config, where, n_words)
    return (
        f"SELECT c, id, ts_rank_cd(fts, websearch_to_tsquery('{config}'::regconfig, :q)) AS s "
        f"FROM ({matches}) d ORDER BY s DESC LIMIT :k"
    )


def lexical_part(tables: Tables, config: str, where: str, n_words: int) -> str:
    """Rows ``(id, s)``: the ``:k`` best full-text matches of ``:q`` among the live rows of
    ``where`` by ``ts_rank_cd``, each of the ``n_words`` words ``:w0``… contributing at most
    its ``:k`` newest matches (see the module docstring)."""
    return f"SELECT id, s FROM ({_ranked(tables, config, where, n_words)}) r"


def lexical_sql(tables: Tables, config: str, where: str, n_words: int) -> str:
    """Rows ``(NULL, generation)`` and ``(id, ts_rank_cd)`` of the best full-text matches
    (:func:`lexical_part`) in the scope ``where`` (one statement: one snapshot)."""
    return (
        f"SELECT NULL::text, generation::float8 FROM {tables.users} WHERE tenant_id = :t AND "
        f"user_id = :u UNION ALL ({lexical_part(tables, config, where, n_words)})"
    )


@functools.lru_cache(maxsize=256)  # built for every search: the same few statements
def dense_candidates_sql(tables: Tables, where: str) -> str:
    """Rows of :data:`SEARCH_COLUMNS`: the ``:n`` nearest to ``:qv`` (a ``real[]``) among the
    live rows of ``where`` that have a vector, by the HNSW index (a user's own where it has
    one) or, for a user with few memories, exactly through the B-tree on (tenant, user)."""
    return (
        f"SELECT {SEARCH_COLUMNS} FROM {tables.memories} WHERE {where} AND {LIVE} "
        "AND embedding_vec IS NOT NULL "
        "ORDER BY embedding_vec <=> CAST(CAST(:qv AS real[]) AS vector) LIMIT :n"
    )


@functools.lru_cache(maxsize=256)
def lexical_candidates_sql(tables: Tables, config: str, where: str, n_words: int) -> str:
    """Rows of :data:`SEARCH_COLUMNS` and the ``ts_rank_cd`` score of the best full-text
    matches (:func:`lexical_part`) among the live rows of ``where``, read by ``ctid`` (one
    statement, one snapshot)."""
    cols = ", ".join(f"m.{c}" for c in SEARCH_COLUMNS.split(", "))
    return (
        f"SELECT {cols}, l.s FROM ({_ranked(tables, config, where, n_words)}) l "
        f"JOIN {tables.memories} m ON m.ctid = l.c"
    )
