"""Per-user generations of the PostgreSQL memory store and the cache that follows them.

``<table>_users`` holds one counter per (tenant, user), advanced by every write to the user in
the write's own transaction (in sorted order, so concurrent writers never deadlock on these
rows). A user's cached :class:`~mnemoplug.core.retrieval.UserIndex` is valid for one
generation: readers compare it with the table and reload (the generation and the memories in
one statement, so one snapshot) when someone wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...core.retrieval import UserIndex, UserIndexCache
from ..sql.rows import columns_of
from .rows import memory_from_row
from .schema import Tables

__all__ = ["Generations"]

_Key = tuple[str, str]
#: a new counter's first value, as :func:`..._generations.first_generation` computes it (a
#: millisecond clock times 1024): a user forgotten and written again never matches a stale cache
FIRST_GENERATION_SQL = "(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint * 1024)"


class Generations:
    """The generation counters of one store's users and its per-user index cache."""

    def __init__(self, tables: Tables, cache: UserIndexCache) -> None:
        self.tables = tables
        self.cache = cache

    def bump_sql(self, source: str, also: str = "") -> str:
        """``INSERT`` advancing the generation of every (tenant_id, user_id) in ``source`` (a
        CTE name); returns ``tenant_id, user_id, generation`` (and the expression ``also``)."""
        tu = self.tables.users
        return (
            f"INSERT INTO {tu} (tenant_id, user_id, generation) SELECT tenant_id, user_id, "
            f"{FIRST_GENERATION_SQL} "
            f"FROM {source} GROUP BY tenant_id, user_id ORDER BY tenant_id, user_id "
            f"ON CONFLICT (tenant_id, user_id) DO UPDATE SET generation = {tu}.generation + 1 "
            f"RETURNING tenant_id, user_id, generation{', ' + also if also else ''}"
        )

    async def bump(self, conn: Any, users: Iterable[_Key]) -> dict[_Key, int]:
        """Advance each user's generation; return the new ones."""
        from sqlalchemy import text

        tu = self.tables.users
        sql = text(
            f"INSERT INTO {tu} (tenant_id, user_id, generation) "
            f"VALUES (:t, :u, {FIRST_GENERATION_SQL}) "
            f"ON CONFLICT (tenant_id, user_id) DO UPDATE SET generation = {tu}.generation + 1 "
            f"RETURNING generation"
        )
        gens: dict[_Key, int] = {}
        for t, u in sorted(set(users)):
            row = (await conn.execute(sql, {"t": t, "u": u})).first()
            gens[(t, u)] = int(row[0])
        return gens

    async def forget(self, conn: Any, key: _Key) -> None:
        """Delete the user's counter (erasure: no row may keep the user id)."""
        from sqlalchemy import text

        sql = f"DELETE FROM {self.tables.users} WHERE tenant_id = :t AND user_id = :u"
        await conn.execute(text(sql), {"t": key[0], "u": key[1]})

    async def current(self, conn: Any, key: _Key) -> int | None:
        """The user's generation (None: the user never held memories)."""
        from sqlalchemy import text

        sql = f"SELECT generation FROM {self.tables.users} WHERE tenant_id = :t AND user_id = :u"
        row = (await conn.execute(text(sql), {"t": key[0], "u": key[1]})).first()
        return None if row is None else int(row[0])

    async def load(self, conn: Any, key: _Key) -> tuple[int, UserIndex] | None:
        """The user's generation and memories, read in one statement (one snapshot), and
        cached unless the cache already holds a newer generation."""
        from sqlalchemy import text

        sql = (
            f"SELECT g.generation, {columns_of('m')} FROM (SELECT generation FROM "
            f"{self.tables.users} WHERE tenant_id = :t AND user_id = :u) g "
            f"LEFT JOIN {self.tables.memories} m ON m.tenant_id = :t AND m.user_id = :u"
        )
        rows = (await conn.execute(text(sql), {"t": key[0], "u": key[1]})).all()
        if not rows:
            return None
        gen = int(rows[0][0])
        idx = UserIndex(lexical=False)
        idx.extend(memory_from_row(r[1:]) for r in rows if r[1] is not None)
        cached = self.cache.version(key)
        if cached is None or cached < gen:  # never replace a newer entry by an older snapshot
            self.cache.put(key, gen, idx)
        return gen, idx

    async def index(self, conn: Any, key: _Key) -> UserIndex | None:
        """The user's index: cached when still current, else loaded (None: no memories)."""
        gen = await self.current(conn, key)
        if gen is None:
            return None
        idx = self.cache.get(key, gen)
        if idx is not None:
            return idx
        loaded = await self.load(conn, key)
        return None if loaded is None else loaded[1]
