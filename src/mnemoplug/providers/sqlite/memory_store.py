"""The embedded default: one SQLite file in WAL mode, through plain :mod:`sqlite3` connections.

``SQLiteMemoryStore("sqlite:///memory.db")``, ``SQLiteMemoryStore(path=...)`` or
``Memory.from_url("sqlite:///memory.db")``. The module composes:

* :mod:`.schema` — the tables (``mnemoplug_memories``, its FTS5 index, ``mnemoplug_users``
  with a per-user generation counter bumped by every write, ``mnemoplug_meta``) and the schema
  version;
* :mod:`.paths` — URLs, ``path=`` and the default file;
* :mod:`.writer` — the write queue (one connection, one thread, group commit);
  :mod:`.readers` — the read connections (worker threads);
* :mod:`.quick` — the per-search freshness check on a quick synchronous connection;
* :mod:`.lexical` — FTS5's BM25 computed in process from the user's own statistics;
* :mod:`mnemoplug.providers.sql.rows` — row <-> memory, shared with PostgreSQL.

Search keeps each recently used user's vectors in one contiguous float32 matrix in process
(a :class:`~mnemoplug.core.retrieval.UserIndex`), refreshed when the user's generation changes,
so other processes' writes are seen, with the user's BM25 index beside it. Writes go through one connection
with ``BEGIN IMMEDIATE`` (SQLite has one writer); reads use a small pool of their own and never
wait for a writer (WAL); the pool is used when a user's index has to be (re)loaded. No
SQLAlchemy: a fresh process's first add and search import only :mod:`sqlite3`.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from ...core.errors import ConfigurationError, EmbedderMismatchError, ProviderError
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import (
    LexicalHits,
    ScoredMemory,
    SearchRequest,
    UserIndex,
    UserIndexCache,
)
from ...core.stores import MemoryStore
from .._changes import MemoryChanges, add_inserted
from .._generations import first_generation
from .._options import non_negative_int, positive_int
from ..sql.rows import (
    COLUMNS,
    LIVE,
    PLACEHOLDERS,
    memory_from_row,
    memory_params,
    scope_where,
    update_assignments,
)
from .erasure import merge_fts, truncate_wal
from .lexical import UserBM25, fts5_tokens
from .paths import default_sqlite_path, resolve_path
from .quick import QuickReader, scope_token
from .readers import ReadPool
from .schema import create_schema
from .writer import WriteQueue

__all__ = ["SQLiteMemoryStore"]

_INSERT = (
    f"INSERT INTO mnemoplug_memories ({COLUMNS}, scope_token) VALUES ({PLACEHOLDERS}, :scope_token)"
)
_T = TypeVar("_T")
_GENERATION = "SELECT generation FROM mnemoplug_users WHERE tenant_id = ? AND user_id = ?"


def _params(m: StoredMemory) -> dict[str, Any]:
    return {**memory_params(m), "scope_token": scope_token(m.tenant_id, m.user_id)}


def _fetch_all(sql: str, params: Sequence[Any]) -> Callable[[sqlite3.Connection], Any]:
    """A read job returning every row of ``sql``."""
    return lambda conn: conn.execute(sql, params).fetchall()


def _load_user(
    conn: sqlite3.Connection, key: tuple[str, str], known: Any
) -> tuple[int, UserIndex | None, bool] | None:
    """``(generation, index, consistent)`` of the user read on ``conn`` (in a worker thread;
    the cache is left to the caller): None when the user has no row, index None when the
    generation is ``known`` (the cached index is current), consistent False when a write
    committed while the rows were read (use the index once, do not cache it)."""
    row = conn.execute(_GENERATION, key).fetchone()
    if row is None:
        return None
    gen = int(row[0])
    if gen == known:
        return gen, None, True
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM mnemoplug_memories WHERE tenant_id = ? AND user_id = ?", key
    ).fetchall()
    idx = UserIndex(lexical=False)
    idx.extend(memory_from_row(r) for r in rows)
    idx.bm25 = UserBM25.of(idx.records)
    row2 = conn.execute(_GENERATION, key).fetchone()
    return gen, idx, row2 is not None and int(row2[0]) == gen


class SQLiteMemoryStore(MemoryStore):
    """SQLite file store. ``SQLiteMemoryStore("sqlite:///memory.db")`` or ``path=...``.

    Options: ``path``, ``read_pool_size`` (4), ``busy_timeout_ms`` (10,000),
    ``cache_max_records`` (500,000 memories kept in the in-process search cache).
    """

    name = "sqlite"

    def __init__(
        self,
        url: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        read_pool_size: int = 4,
        busy_timeout_ms: int = 10_000,
        cache_max_records: int = 500_000,
    ) -> None:
        self.path = resolve_path(url, path, default_sqlite_path())
        self.url = f"sqlite:///{self.path}"
        self.read_pool_size = positive_int("read_pool_size", read_pool_size)
        self.busy_timeout_ms = non_negative_int("busy_timeout_ms", busy_timeout_ms)
        self.cache_max_records = positive_int("cache_max_records", cache_max_records)
        self._reads: ReadPool | None = None  # set once the file is open
        self._open_lock = asyncio.Lock()
        self._cache = UserIndexCache(cache_max_records)
        self._quick = QuickReader(self.path, self.busy_timeout_ms)
        self._queue = WriteQueue(self.path, self.busy_timeout_ms)
        self._embedder_checked: tuple[str, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._reads is not None:
            return
        async with self._open_lock:
            if self._reads is not None:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the directory for the SQLite file {self.path}: {exc}; "
                    f"pass Memory.from_url('sqlite:///a/writable/path.db') or set MNEMOPLUG_DB_PATH"
                ) from exc

            def schema(conn: sqlite3.Connection) -> None:
                create_schema(conn, where=str(self.path), name=self.name, url=self.url)

            try:
                await self._queue.run(schema)
            except sqlite3.Error as exc:
                await asyncio.to_thread(self._queue.close)
                raise ProviderError(
                    f"cannot open SQLite database {self.path}: {exc}",
                    provider=self.name,
                    url=self.url,
                ) from exc
            except BaseException:
                await asyncio.to_thread(self._queue.close)
                raise
            self._reads = ReadPool(self.path, self.busy_timeout_ms, self.read_pool_size)
            self._quick.start()

    async def close(self) -> None:
        reads, self._reads = self._reads, None
        self._cache.clear()
        self._quick.close()
        await asyncio.to_thread(self._queue.close)
        if reads is not None:
            reads.close()

    async def _read(self, job: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run a read job on a pooled connection in a worker thread."""
        if self._reads is None:
            await self.open()
        assert self._reads is not None
        try:
            return await self._reads.run(job)
        except sqlite3.Error as exc:
            raise ProviderError(
                f"cannot read SQLite database {self.path}: {exc}",
                provider=self.name,
                url=self.url,
            ) from exc

    async def check_embedder(self, name: str, dimension: int) -> None:
        if self._embedder_checked == (name, dimension):
            return

        def check(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT value FROM mnemoplug_meta WHERE key='embedder'").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO mnemoplug_meta(key, value) VALUES ('embedder', ?)",
                    (json.dumps({"name": name, "dimension": dimension}),),
                )
                return
            stored = json.loads(row[0])
            if stored.get("dimension") != dimension or stored.get("name") != name:
                raise EmbedderMismatchError(
                    f"{self.path} holds vectors from embedder {stored.get('name')!r} "
                    f"(dimension {stored.get('dimension')}), but this Memory uses {name!r} "
                    f"(dimension {dimension}). Use the same embedder, or migrate the memories "
                    f"with migrate_memory() into a store opened with the new embedder."
                )

        await self._write(check)
        self._embedder_checked = (name, dimension)

    async def _write(self, job: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run a write job in the write queue; its result once committed."""
        if self._reads is None:
            await self.open()
        try:
            return await self._queue.run(job)
        except sqlite3.Error as exc:
            raise ProviderError(
                f"cannot write to SQLite database {self.path}: {exc}",
                provider=self.name,
                url=self.url,
            ) from exc

    # -- cache -------------------------------------------------------------------------------
    @staticmethod
    def _bump(
        conn: sqlite3.Connection, users: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Bump the users' generations; the new ones."""
        gens = {}
        for t, u in set(users):
            row = conn.execute(
                "INSERT INTO mnemoplug_users(tenant_id, user_id, generation) VALUES (?, ?, ?) "
                "ON CONFLICT(tenant_id, user_id) DO UPDATE SET generation = generation + 1 "
                "RETURNING generation",
                # a new row starts at a clock-based generation: a user forgotten and written
                # again never matches a generation another process still caches
                (t, u, first_generation()),
            ).fetchone()
            gens[(t, u)] = int(row[0])
        return gens

    # -- writes ------------------------------------------------------------------------------
    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        params = [_params(m) for m in memories]

        def insert(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
            conn.executemany(_INSERT, params)
            return self._bump(conn, ((m.tenant_id, m.user_id) for m in memories))

        gens = await self._write(insert)
        fts5_tokens.learn(m.indexed_text for m in memories)
        self._cache.after_write(gens, add_inserted(memories))

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        params = [_params(m) for m in memories]

        def upsert(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
            old_owners = []
            for m in memories:
                row = conn.execute(
                    "SELECT tenant_id, user_id FROM mnemoplug_memories WHERE id = ?", (m.id,)
                ).fetchone()
                if row is not None:
                    old_owners.append((row[0], row[1]))
            conn.executemany(
                "DELETE FROM mnemoplug_memories WHERE id = ?", [(m.id,) for m in memories]
            )
            conn.executemany(_INSERT, params)
            return self._bump(conn, [*old_owners, *((m.tenant_id, m.user_id) for m in memories)])

        for key in await self._write(upsert):
            self._cache.drop(key)

    async def update(
        self,
        scope: Scope,
        memory_id: str,
        *,
        content: str | None,
        metadata: dict[str, Any] | None,
        embedding: np.ndarray | None,
        updated_at: float,
        expires_at: Any = ...,
    ) -> StoredMemory | None:
        changes = MemoryChanges.of(
            content=content,
            metadata=metadata,
            embedding=embedding,
            updated_at=updated_at,
            expires_at=expires_at,
        )
        p: dict[str, Any] = {"id": memory_id, "now": changes.updated_at}
        where = f"id = :id AND {scope_where(scope, p)} AND {LIVE}"
        sets = ", ".join(update_assignments(changes, p))
        sql = f"UPDATE mnemoplug_memories SET {sets} WHERE {where} RETURNING {COLUMNS}"

        def update(
            conn: sqlite3.Connection,
        ) -> tuple[StoredMemory, dict[tuple[str, str], int]] | None:
            row = conn.execute(sql, p).fetchone()
            if row is None:
                return None
            return memory_from_row(row), self._bump(conn, [scope.user_key])

        done = await self._write(update)
        if done is None:
            return None
        new, gens = done
        self._cache.after_write(gens, lambda key, idx: idx.upsert(new))
        return new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        p: dict[str, Any] = {"id": memory_id}
        sql = f"DELETE FROM mnemoplug_memories WHERE id = :id AND {scope_where(scope, p)}"

        def delete(conn: sqlite3.Connection) -> dict[tuple[str, str], int] | None:
            if not conn.execute(sql, p).rowcount:
                return None
            return self._bump(conn, [scope.user_key])

        gens = await self._write(delete)
        if gens is None:
            return False
        self._cache.after_write(gens, lambda key, idx: idx.remove(memory_id))
        return True

    async def delete_all(self, scope: Scope) -> int:
        p: dict[str, Any] = {}
        sql = f"DELETE FROM mnemoplug_memories WHERE {scope_where(scope, p)}"
        whole_user = scope.agent_id is None and scope.session_id is None

        def delete_all(conn: sqlite3.Connection) -> int:
            n = int(conn.execute(sql, p).rowcount or 0)
            if whole_user:  # erasure: the user's generation row goes too, and the FTS traces
                conn.execute(
                    "DELETE FROM mnemoplug_users WHERE tenant_id = ? AND user_id = ?",
                    (scope.tenant, scope.user_id),
                )
                merge_fts(conn)
            elif n:
                self._bump(conn, [scope.user_key])
            return n

        n = await self._write(delete_all)
        self._cache.drop(scope.user_key)
        if whole_user:
            await truncate_wal(self.path, self.busy_timeout_ms)
        return n

    async def purge_expired(self, now: float) -> int:
        def purge(conn: sqlite3.Connection) -> tuple[list[Any], int]:
            users = conn.execute(
                "SELECT DISTINCT tenant_id, user_id FROM mnemoplug_memories "
                "WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (now,),
            ).fetchall()
            if not users:
                return [], 0
            n = conn.execute(
                "DELETE FROM mnemoplug_memories WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (now,),
            ).rowcount
            self._bump(conn, [(r[0], r[1]) for r in users])
            return users, int(n or 0)

        users, n = await self._write(purge)
        for r in users:
            self._cache.drop((r[0], r[1]))
        return n

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        p: dict[str, Any] = {"id": memory_id, "now": now}
        sql = (
            f"SELECT {COLUMNS} FROM mnemoplug_memories WHERE id = :id AND "
            f"{scope_where(scope, p)} AND {LIVE}"
        )
        row = await self._read(lambda conn: conn.execute(sql, p).fetchone())
        return None if row is None else memory_from_row(row)

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> list[StoredMemory]:
        idx = await self._search_index(scope.user_key)
        return [] if idx is None else idx.newest(scope, filters, now, limit, offset)

    async def count(self, scope: Scope, now: float) -> int:
        p: dict[str, Any] = {"now": now}
        sql = f"SELECT count(*) FROM mnemoplug_memories WHERE {scope_where(scope, p)} AND {LIVE}"
        row = await self._read(lambda conn: conn.execute(sql, p).fetchone())
        return int(row[0]) if row else 0

    async def _search_index(self, key: tuple[str, str]) -> UserIndex | None:
        gen = self._quick.generation(key)
        if gen is None:
            return None
        if gen is not False:
            cached = self._cache.get(key, gen)
            if cached is not None:
                return cached
        known = self._cache.version(key)
        loaded = await self._read(lambda conn: _load_user(conn, key, known))
        if loaded is None:
            return None
        gen, idx, consistent = loaded
        if idx is None:  # the cached index is still current
            cached = self._cache.get(key, gen)
            if cached is not None:
                return cached
            loaded = await self._read(lambda conn: _load_user(conn, key, None))
            if loaded is None:
                return None
            gen, idx, consistent = loaded
            assert idx is not None
        if consistent:
            self._cache.put(key, gen, idx)
        return idx

    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        idx = await self._search_index(scope.user_key)
        if idx is None:
            return []
        cfg = request.config
        lexical: LexicalHits = {}
        if cfg.lexical_weight > 0 and isinstance(idx.bm25, UserBM25):
            dense = request.vector is not None and cfg.dense_weight > 0
            prune = cfg.common_term_ratio if dense else None
            lexical = idx.bm25.best(request.query, cfg.lexical_candidates, prune)
        return idx.search(scope, request, lexical=lexical)

    async def list_users(self) -> builtins.list[tuple[str, str]]:
        rows = await self._read(
            lambda conn: conn.execute(
                "SELECT DISTINCT tenant_id, user_id FROM mnemoplug_memories "
                "ORDER BY tenant_id, user_id"
            ).fetchall()
        )
        return [(r[0], r[1]) for r in rows]

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        sql = (
            f"SELECT rowid, {COLUMNS} FROM mnemoplug_memories WHERE tenant_id = ? "
            "AND user_id = ? AND rowid > ? ORDER BY rowid LIMIT ?"
        )
        last = -1
        while True:
            rows = await self._read(_fetch_all(sql, (tenant_id, user_id, last, batch_size)))
            if not rows:
                return
            last = rows[-1][0]
            yield [memory_from_row(r[1:]) for r in rows]
