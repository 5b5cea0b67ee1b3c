"""HNSW indexes of one user's vectors: partial pgvector indexes over the rows of one
(tenant, user), for the users with many memories.

The table's HNSW index holds every user's vectors, and a search of one user filters its
nearest neighbours down to that user's rows: pgvector's iterative scan walks the graph until
enough of them turned up, so the walk grows as the user's share of the table shrinks. A user
with 9% of 220,000 rows: ~1,100 tuples visited, 24–47 ms, where the user's own graph took under
4 ms; in ``benchmarks/pgvector_scale.py`` (100,000 of 1,100,000 rows) the user's own index
answers in ~11 ms under load. Users with a few hundred memories need neither: PostgreSQL ranks
their rows exactly through the B-tree on (tenant, user).

``PostgresMemoryStore.create_user_vector_index(user_id)`` builds such an index
(``CREATE INDEX CONCURRENTLY``: writes go on meanwhile) named ``<table>_uv<13 hex digits of
sha256(tenant NUL user)>``; the planner picks it by itself for that user's searches (every
search is planned for its parameters). Erasing the user (``delete_all`` of the whole user,
``forget``) drops it, so the user id does not outlive the user in the index's definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from .schema import Tables

__all__ = ["UserVectorIndex"]


class UserVectorIndex:
    """Names, creation and removal of the per-user HNSW indexes of ``tables``."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def name(self, tenant_id: str, user_id: str) -> str:
        """The index's name, unqualified (indexes live in the table's schema)."""
        digest = hashlib.sha256(f"{tenant_id}\0{user_id}".encode()).hexdigest()[:13]
        return f"{self.tables.table}_uv{digest}"

    def qualified(self, tenant_id: str, user_id: str) -> str:
        name = self.name(tenant_id, user_id)
        return f'"{self.tables.schema}"."{name}"' if self.tables.schema else f'"{name}"'

    async def _state(self, conn: Any, tenant_id: str, user_id: str) -> bool | None:
        """None when the index does not exist, else whether it is valid (a concurrent build
        that failed leaves an invalid one behind)."""
        from sqlalchemy import text

        sql = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"
        row = (await conn.execute(text(sql), {"n": self.qualified(tenant_id, user_id)})).first()
        return None if row is None else bool(row[0])

    async def create(
        self,
        conn: Any,
        tenant_id: str,
        user_id: str,
        run: Callable[[str], Awaitable[Any]],
    ) -> bool:
        """Build the user's index on ``conn`` (autocommit: ``CONCURRENTLY`` needs it), the
        long statements through ``run`` (the driver's connection, with a longer timeout);
        False when a valid one exists already."""
        from sqlalchemy import text

        state = await self._state(conn, tenant_id, user_id)
        if state:
            return False
        if state is False:
            await run(f"DROP INDEX CONCURRENTLY IF EXISTS {self.qualified(tenant_id, user_id)}")
        # the user's names as SQL literals, quoted by the server (DDL takes no parameters)
        ddl_sql = (
            "SELECT format('CREATE INDEX CONCURRENTLY %I ON %s USING hnsw "
            "(embedding_vec vector_cosine_ops) WHERE tenant_id = %L AND user_id = %L', "
            "CAST(:n AS text), CAST(:tbl AS text), CAST(:t AS text), CAST(:u AS text))"
        )
        params = {
            "n": self.name(tenant_id, user_id),
            "tbl": self.tables.memories,
            "t": tenant_id,
            "u": user_id,
        }
        ddl = (await conn.execute(text(ddl_sql), params)).scalar()
        await run(ddl)
        return True

    async def drop(self, conn: Any, tenant_id: str, user_id: str) -> bool:
        """Drop the user's index (in the caller's transaction); False when there is none."""
        if await self._state(conn, tenant_id, user_id) is None:
            return False
        await conn.exec_driver_sql(f"DROP INDEX IF EXISTS {self.qualified(tenant_id, user_id)}")
        return True
