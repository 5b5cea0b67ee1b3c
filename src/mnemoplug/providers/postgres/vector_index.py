"""pgvector in the PostgreSQL memory store: the extension, the ``embedding_vec`` column and its
HNSW index, and vector literals.

``vector="auto"`` uses pgvector when ``CREATE EXTENSION IF NOT EXISTS vector`` succeeds,
``"pgvector"`` requires it (a ConfigurationError otherwise), ``"none"`` never searches by it but
keeps an existing column up to date for stores that do. The column is created untyped and fixed
to ``vector(dim)`` (with an HNSW cosine index, filled for rows stored before) when the first
vectors arrive. Iterative index scans are used on pgvector >= 0.8.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.errors import ConfigurationError
from ...core.records import StoredMemory
from ...core.retrieval import SearchRequest
from .._codec import vector_from_bytes
from ..sql.rows import COLUMNS
from .errors import first_line
from .rows import VALUES
from .schema import Tables, lock

__all__ = ["MODES", "PgVector", "vector_literal"]

MODES = ("auto", "pgvector", "none")
_DIM_SQL = (
    "SELECT atttypmod FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
    "AND attname = 'embedding_vec' AND NOT attisdropped"
)
_VERSION_SQL = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"


def vector_literal(v: np.ndarray | None, dim: int | None) -> str | None:
    """A pgvector literal (exact for float32 values), None when there is no fitting vector."""
    if v is None or dim is None or int(v.shape[-1]) != dim:
        return None
    return "[" + ",".join(repr(x) for x in np.asarray(v, dtype=np.float32).tolist()) + "]"


class PgVector:
    """What the store knows about pgvector on its table (set up by :meth:`setup` at open).

    Attributes:
        mode: the ``vector`` option.
        ef_search: ``hnsw.ef_search`` of the searches (the ``hnsw_ef_search`` option).
        enabled: the extension is in use (searches may take the HNSW path).
        column: the table has an ``embedding_vec`` column: writes fill it.
        dim: the column's dimension (None until vectors arrived).
        iterative_scan: pgvector >= 0.8 (``hnsw.iterative_scan``).
    """

    def __init__(self, mode: Any, *, ef_search: int = 100) -> None:
        if mode not in MODES:
            raise ConfigurationError(
                f"vector={mode!r}: use 'auto' (pgvector when the server has it), 'pgvector' "
                f"(require it) or 'none' (rank vectors in process)"
            )
        self.mode: str = mode
        self.ef_search = ef_search
        self.enabled = False
        self.column = False
        self.dim: int | None = None
        self.iterative_scan = False

    #: SQL of 1 when the table ``:vt`` has an ``embedding_vec`` column (else 0): a store that
    #: has none asks in its write statements, so it fills one another store added meanwhile
    column_check = (
        "(SELECT count(*) FROM pg_attribute WHERE attrelid = CAST(:vt AS regclass) "
        "AND attname = 'embedding_vec' AND NOT attisdropped)"
    )

    def literal(self, v: np.ndarray | None) -> str | None:
        return vector_literal(v, self.dim)

    def serves(self, request: SearchRequest) -> bool:
        """True when the HNSW path can rank ``request`` (filtered searches never take it)."""
        return (
            self.enabled
            and request.vector is not None
            and self.dim == int(request.vector.shape[-1])
            and request.config.dense_weight > 0
            and not request.filters
        )

    async def setup(self, conn: Any, tables: Tables, url: str) -> None:
        """Use the ``vector`` extension when asked for and available (creating it if allowed);
        remember the dimension of an existing ``embedding_vec`` column."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        self.enabled, self.column, self.dim = False, False, None
        if self.mode == "none":  # still keep a column others search by up to date
            dim = (await conn.execute(text(_DIM_SQL), {"t": tables.memories})).scalar()
            if dim is not None:
                self.column = True
                self.dim = int(dim) if int(dim) > 0 else None
            return
        version = (await conn.execute(text(_VERSION_SQL))).scalar()
        if version is None:
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext('mnemoplug:create-vector'))")
                    )
                    await conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
                version = (await conn.execute(text(_VERSION_SQL))).scalar()
            except DBAPIError as exc:
                if self.mode == "pgvector":
                    raise ConfigurationError(
                        f"vector='pgvector' but PostgreSQL at {url} cannot provide the "
                        f"'vector' extension ({first_line(exc.orig or exc)}). Install pgvector "
                        f"on the server (or run CREATE EXTENSION vector as a superuser), or use "
                        f"vector='auto'."
                    ) from exc
                return
        self.enabled = self.column = True
        parts = tuple(int(x) for x in re.findall(r"\d+", str(version))[:2])
        self.iterative_scan = parts >= (0, 8)
        await conn.exec_driver_sql(
            f"ALTER TABLE {tables.memories} ADD COLUMN IF NOT EXISTS embedding_vec vector"
        )
        dim = (await conn.execute(text(_DIM_SQL), {"t": tables.memories})).scalar()
        self.dim = int(dim) if dim is not None and int(dim) > 0 else None

    async def ensure_dim(self, conn: Any, tables: Tables, dim: int) -> None:
        """Fix the ``embedding_vec`` column to ``vector(dim)`` with an HNSW index (cosine) the
        first time vectors arrive, filling it for rows stored before."""
        from sqlalchemy import text

        if not self.column or self.dim is not None:
            return
        t = tables.memories
        await lock(conn, tables)
        dim_now = (await conn.execute(text(_DIM_SQL), {"t": t})).scalar()
        if dim_now is None or int(dim_now) <= 0:
            await conn.exec_driver_sql(
                f"ALTER TABLE {t} ALTER COLUMN embedding_vec TYPE vector({int(dim)})"
            )
            await conn.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS {tables.index('hnsw_idx')} ON {t} "
                "USING hnsw (embedding_vec vector_cosine_ops)"
            )
            rows = (
                await conn.execute(
                    text(f"SELECT id, embedding FROM {t} WHERE embedding IS NOT NULL")
                )
            ).all()
            fill = [{"id": r[0], "ev": vector_literal(vector_from_bytes(r[1]), dim)} for r in rows]
            if fill:
                fill_sql = f"UPDATE {t} SET embedding_vec = CAST(:ev AS vector) WHERE id = :id"
                await conn.execute(text(fill_sql), fill)
            dim_now = dim
        self.dim = int(dim_now)

    async def adopt(self, conn: Any, tables: Tables, written: Sequence[StoredMemory]) -> None:
        """Another store added the ``embedding_vec`` column after this one opened: fill it from
        now on, starting with the memories ``written`` without it in this transaction."""
        from sqlalchemy import text

        self.column = True
        dim = (await conn.execute(text(_DIM_SQL), {"t": tables.memories})).scalar()
        self.dim = int(dim) if dim is not None and int(dim) > 0 else None
        vectors = [(m.id, m.embedding) for m in written if m.embedding is not None]
        if not vectors:
            return
        if self.dim is None:  # untyped still: fixing the dimension fills every row
            await self.ensure_dim(conn, tables, int(vectors[0][1].shape[-1]))
            return
        sql = f"UPDATE {tables.memories} SET embedding_vec = CAST(:ev AS vector) WHERE id = :id"
        await conn.execute(text(sql), [{"id": i, "ev": self.literal(v)} for i, v in vectors])

    async def insert_columns(
        self,
        conn: Any,
        tables: Tables,
        memories: Sequence[StoredMemory],
        params: list[dict[str, Any]],
    ) -> tuple[str, str]:
        """Columns and VALUES of an insert of ``memories``; with an ``embedding_vec`` column,
        fills ``ev`` in ``params`` (fixing the column's dimension on the first vectors)."""
        from sqlalchemy import text

        if not self.column:
            found = (
                await conn.execute(text(f"SELECT {self.column_check}"), {"vt": tables.memories})
            ).scalar()
            if not found:
                return COLUMNS, VALUES
            await self.adopt(conn, tables, [])
        dim = next((int(m.embedding.shape[-1]) for m in memories if m.embedding is not None), None)
        if dim is not None and self.dim is None:
            await self.ensure_dim(conn, tables, dim)
        for m, p in zip(memories, params, strict=True):
            p["ev"] = self.literal(m.embedding)
        return f"{COLUMNS}, embedding_vec", VALUES[:-1] + ", CAST(:ev AS vector))"

    async def configure_search(self, conn: Any) -> None:
        """Set the search options on the connection, once per database connection (at session
        level: the store's engine is its own), so each search statement runs on its own
        (autocommit) instead of inside BEGIN, ``SET LOCAL``s and ROLLBACK (4 fewer round trips):

        * ``plan_cache_mode = force_custom_plan`` (PostgreSQL 12+): every search is planned
          for its own user and words. After five runs of a prepared statement PostgreSQL may
          switch to a generic plan made for an average user, e.g. an HNSW scan filtered down
          to a 100-memory user (measured 65 ms p50 instead of 11 ms), or a ranking of every
          full-text match where a word is common;
        * with pgvector, ``hnsw.ef_search`` and (0.8+) ``hnsw.iterative_scan = relaxed_order``.
        """
        await self.configure_pooled(await conn.get_raw_connection())

    async def configure_pooled(self, pooled: Any) -> None:
        """:meth:`configure_search` of a pooled driver connection (SQLAlchemy's
        ``PoolProxiedConnection``), in one round trip, none when it is done already."""
        info = pooled.info
        wanted = (self.enabled, self.ef_search, self.iterative_scan)
        if info.get("mnemoplug_search") == wanted:
            return
        driver = pooled.driver_connection
        sets = []
        if driver.get_server_version() >= (12,):
            sets.append("SET plan_cache_mode = force_custom_plan")
        if self.enabled:
            sets.append(f"SET hnsw.ef_search = {int(self.ef_search)}")
            if self.iterative_scan:
                sets.append("SET hnsw.iterative_scan = relaxed_order")
        if sets:
            await driver.execute("; ".join(sets))
        info["mnemoplug_search"] = wanted
