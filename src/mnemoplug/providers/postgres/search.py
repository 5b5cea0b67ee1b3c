"""The SQL of the PostgreSQL memory store's searches.

Lexical scores are PostgreSQL full text: ``ts_rank_cd`` of the query's non-stop-words OR-ed
through ``websearch_to_tsquery``, computed in SQL for the one user only. Dense, lexical and
recency scores are always fused by the shared ``UserIndex.search``, so rankings agree with the
other providers:

* in process (no pgvector, or a filtered search): one statement reads the user's generation
  and its best full-text matches (:func:`lexical_sql`); the user's memories come from the
  per-user cache, valid while the generation is unchanged;
* with pgvector: the HNSW index's nearest neighbours in the user's scope plus the best
  full-text matches are the candidates (:func:`pgvector_sql`), ranked on exact cosine
  similarity.
"""

from __future__ import annotations

from ...core.retrieval import query_terms
from ..sql.rows import LIVE, columns_of
from .schema import Tables

__all__ = ["lexical_sql", "pgvector_sql", "websearch_or"]


def websearch_or(query: str) -> str | None:
    """The query's non-stop-words OR-ed, for ``websearch_to_tsquery`` (None when none left)."""
    words = query_terms(query)
    return " or ".join(words) if words else None


def lexical_sql(tables: Tables, config: str, where: str) -> str:
    """Rows ``(NULL, generation)`` and ``(id, ts_rank_cd)`` of the best ``:k`` matches of
    ``:q`` in the scope ``where`` (one statement: one snapshot)."""
    return (
        f"SELECT NULL::text, generation::float8 FROM {tables.users} WHERE tenant_id = :t AND "
        f"user_id = :u UNION ALL (SELECT id, ts_rank_cd(fts, q) FROM {tables.memories}, "
        f"websearch_to_tsquery('{config}'::regconfig, :q) q WHERE {where} "
        f"AND {LIVE} AND fts @@ q ORDER BY 2 DESC LIMIT :k)"
    )


def pgvector_sql(tables: Tables, config: str, where: str, *, lexical: bool) -> str:
    """The candidates' :data:`~mnemoplug.providers.sql.rows.COLUMNS` and lexical score: the
    ``:n`` nearest to ``:qv`` and (with ``lexical``) the ``:k`` best full-text matches of ``:q``
    among the live rows of ``where``."""
    t = tables.memories
    where = f"{where} AND {LIVE}"
    lexical_part = (
        f"SELECT id, ts_rank_cd(fts, q) AS s FROM {t}, "
        f"websearch_to_tsquery('{config}'::regconfig, :q) q "
        f"WHERE {where} AND fts @@ q ORDER BY s DESC LIMIT :k"
        if lexical
        else "SELECT NULL::text AS id, NULL::real AS s WHERE false"
    )
    return (
        f"WITH d AS (SELECT id FROM {t} WHERE {where} AND embedding_vec IS NOT NULL "
        f"ORDER BY embedding_vec <=> CAST(:qv AS vector) LIMIT :n), l AS ({lexical_part}) "
        f"SELECT {columns_of('m')}, l.s FROM {t} m "
        f"JOIN (SELECT id FROM d UNION SELECT id FROM l) c ON c.id = m.id "
        f"LEFT JOIN l ON l.id = m.id"
    )
