"""PostgreSQL long-term store through SQLAlchemy 2 async + asyncpg
(``pip install "mnemoplug[postgres]"``): ``Memory.from_url("postgresql+asyncpg://u:pw@host/db")``
(``postgresql://``, ``postgres://`` too), ``create_memory("postgres", url=...)`` or
``PostgresMemoryStore(url, table="mnemoplug_memories", schema=None, pool_size=5, ...)``.

The class composes :mod:`.url` (URLs, driver, pool), :mod:`.schema` (tables, DDL, schema version),
:mod:`.generations` (per-user generations and cache), :mod:`.vector_index` (pgvector),
:mod:`.user_vector_index` (one user's own HNSW index), :mod:`.search` (search SQL), :mod:`.rows`
with :mod:`mnemoplug.providers.sql.rows` (row <-> memory) and :mod:`.errors` (driver exceptions as
mnemoplug errors). Each recently used user's memories sit in process in a
:class:`~mnemoplug.core.retrieval.UserIndex`, valid while the user's generation is unchanged, so
other processes' writes are seen on the next call; with pgvector, unfiltered searches rank SQL
candidates instead.

Connection failures and timeouts become :class:`~mnemoplug.core.errors.ProviderUnavailableError`
within ``connect_timeout`` / ``command_timeout`` (5 s / 30 s). Every write is one transaction:
what was committed stays, a failed call commits nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text

from ...core.errors import ConfigurationError, EmbedderMismatchError
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndexCache
from ...core.stores import MemoryStore
from .._changes import MemoryChanges, add_inserted
from .._options import non_negative_int, positive_int, positive_seconds
from ..sql.names import check_identifier
from ..sql.rows import COLUMNS, LIVE, N_COLUMNS, scope_where, update_assignments
from .candidates import Candidates, positional
from .errors import PostgresErrors, is_lost_connection
from .generations import Generations
from .rows import ARRAY_TYPES, check_changes, memory_from_row, metadata_json, row_params
from .schema import Tables, create_schema
from .search import dense_candidates_sql, lexical_candidates_sql, lexical_sql, search_words
from .url import (
    FreshCheckout,
    answered,
    driver_url,
    fresh_checkout,
    import_asyncpg,
    pooled_engine,
    shown_url,
)
from .user_vector_index import UserVectorIndex
from .vector_index import PgVector

__all__ = ["PostgresMemoryStore"]

# (the provider's ``list`` method shadows the builtin inside the class body)
_Hits = list[ScoredMemory]
_Rows = list[StoredMemory]
_Users = list[tuple[str, str]]
_Statements = list[tuple[str, dict[str, Any]]]
_Records = list[Any]


class PostgresMemoryStore(MemoryStore):
    """PostgreSQL store. ``PostgresMemoryStore("postgresql+asyncpg://user@host/db")``.

    Args:
        url: ``postgresql+asyncpg://``, ``postgresql://`` or ``postgres://`` URL; default
            ``$MNEMOPLUG_POSTGRES_URL``, else ``postgresql+asyncpg://postgres@localhost:5432/postgres``.
        table: name of the memories table (``<table>_users`` and ``<table>_meta`` sit beside it).
        schema: PostgreSQL schema holding the tables (created if missing); None = search_path.
        pool_size, max_overflow: connection pool bounds (5 and 10).
        connect_timeout: seconds to open a connection (5.0).
        command_timeout: seconds one statement may take (30.0).
        text_search_config: full-text configuration (``"english"``).
        cache_max_records: memories kept in the in-process search cache (500,000).
        vector: ``"auto"``, ``"pgvector"`` or ``"none"`` (see :mod:`.vector_index`);
            ``vector_candidates`` (100) and ``hnsw_ef_search`` (100) tune its searches.
        application_name: shown in ``pg_stat_activity`` (``"mnemoplug"``).
    """

    name = "postgres"

    def __init__(
        self,
        url: str | None = None,
        *,
        table: str = "mnemoplug_memories",
        schema: str | None = None,
        pool_size: int = 5,
        max_overflow: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        text_search_config: str = "english",
        cache_max_records: int = 500_000,
        vector: str = "auto",
        vector_candidates: int = 100,
        hnsw_ef_search: int = 100,
        application_name: str = "mnemoplug",
    ) -> None:
        import_asyncpg()
        self._sa_url = driver_url(url)
        self.url = shown_url(self._sa_url)
        self.tables = Tables.of(table, schema)
        self.table, self.schema = self.tables.table, self.tables.schema
        self.text_search_config = check_identifier(text_search_config, "text_search_config")
        self.pool_size = positive_int("pool_size", pool_size)
        self.max_overflow = non_negative_int("max_overflow", max_overflow)
        self.connect_timeout = positive_seconds("connect_timeout", connect_timeout)
        self.command_timeout = positive_seconds("command_timeout", command_timeout)
        self.cache_max_records = positive_int("cache_max_records", cache_max_records)
        self.vector = vector
        self.vector_candidates = positive_int("vector_candidates", vector_candidates)
        self.hnsw_ef_search = positive_int("hnsw_ef_search", hnsw_ef_search)
        if not isinstance(application_name, str):
            raise ConfigurationError(
                f"application_name must be a string, got {type(application_name).__name__}"
            )
        self.application_name = application_name[:63]
        self._vec = PgVector(vector, ef_search=self.hnsw_ef_search)
        self._errors = PostgresErrors(
            name=self.name,
            url=self.url,
            connect_timeout=self.connect_timeout,
            command_timeout=self.command_timeout,
        )
        self._engine: Any = None
        self._open_lock = asyncio.Lock()
        self._cache = UserIndexCache(cache_max_records)
        self._users = Generations(self.tables, self._cache)
        self._user_vectors = UserVectorIndex(self.tables)
        self._embedder_checked: tuple[str, int] | None = None

    @property
    def pgvector(self) -> bool:
        """True when the ``vector`` extension is in use (known after open())."""
        return self._vec.enabled

    @property
    def _vec_dim(self) -> int | None:
        return self._vec.dim

    def __repr__(self) -> str:
        return f"PostgresMemoryStore({self.url!r}, table={self.table!r}, schema={self.schema!r})"

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._engine is not None:
            return
        async with self._open_lock:
            if self._engine is not None:
                return
            engine = pooled_engine(
                self._sa_url,
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
                connect_timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                application_name=self.application_name,
            )
            try:
                with self._errors.guard("create the schema"):
                    async with asyncio.timeout(self.connect_timeout + 2 * self.command_timeout):
                        async with engine.begin() as conn:
                            await create_schema(
                                conn,
                                self.tables,
                                text_search_config=self.text_search_config,
                                url=self.url,
                                name=self.name,
                            )
                            await self._vec.setup(conn, self.tables, self.url)
            except BaseException:
                await engine.dispose()
                raise
            self._engine = engine

    async def close(self) -> None:
        eng, self._engine = self._engine, None
        self._cache.clear()
        if eng is not None:
            await eng.dispose()

    async def _eng(self) -> Any:
        if self._engine is None:
            await self.open()
        return self._engine

    @contextlib.asynccontextmanager
    async def _tx(self, what: str) -> AsyncIterator[Any]:
        """A connection in a transaction, committed on success; errors typed."""
        eng = await self._eng()
        with self._errors.guard(what):
            async with eng.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _conn(self, what: str, *, autocommit: bool = True) -> AsyncIterator[Any]:
        """A connection whose statements each run on their own (no BEGIN/ROLLBACK round
        trips; each read here is one statement, so one snapshot, except a pgvector search,
        which runs two: see :meth:`_search_pgvector`); errors typed."""
        eng = await self._eng()
        with self._errors.guard(what):
            async with eng.connect() as conn:
                if autocommit:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn

    async def check_embedder(self, name: str, dimension: int) -> None:
        if self._embedder_checked == (name, dimension):
            return
        async with self._tx("record the embedder") as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {self.tables.meta} (key, value) VALUES ('embedder', :v) "
                    "ON CONFLICT (key) DO NOTHING"
                ),
                {"v": json.dumps({"name": name, "dimension": dimension})},
            )
            embedder_sql = f"SELECT value FROM {self.tables.meta} WHERE key = 'embedder'"
            row = (await conn.execute(text(embedder_sql))).first()
        stored = json.loads(row[0]) if row is not None else {}
        if stored.get("dimension") != dimension or stored.get("name") != name:
            raise EmbedderMismatchError(
                f"PostgreSQL table {self.tables.memories} at {self.url} holds vectors from embedder "
                f"{stored.get('name')!r} (dimension {stored.get('dimension')}), but this Memory "
                f"uses {name!r} (dimension {dimension}). Use the same embedder, another table "
                f"(table=...), or migrate the memories with migrate_memory() into a store opened "
                f"with the new embedder."
            )
        if self._vec.column and self._vec.dim is None:
            async with self._tx("create the vector index") as conn:
                await self._vec.ensure_dim(conn, self.tables, dimension)
        self._embedder_checked = (name, dimension)

    async def create_user_vector_index(
        self, user_id: str, *, tenant_id: str = "", build_timeout: float = 3600.0
    ) -> bool:
        """Give one user's vectors an HNSW index of their own, for users with tens of
        thousands of memories (see :mod:`.user_vector_index`; measured: under 4 ms instead of
        24–47 ms for the vector part of a search of a user with 9% of 220,000 rows). Built with
        ``CREATE INDEX CONCURRENTLY`` (writes go on; minutes for 100,000 memories, at most
        ``build_timeout`` seconds); later writes keep it up to date, erasing the user drops it.
        Returns False when the index exists already. ConfigurationError without pgvector or
        before the first vectors were stored."""
        await self._eng()
        if not self._vec.enabled or self._vec.dim is None:
            raise ConfigurationError(
                f"create_user_vector_index needs pgvector and stored vectors: table "
                f"{self.tables.memories} at {self.url} has "
                + ("no vectors yet (add memories first)" if self._vec.enabled else "no pgvector")
            )
        async with self._conn("create a user's vector index") as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            return await self._user_vectors.create(
                conn, tenant_id, user_id, run=lambda ddl: raw.execute(ddl, timeout=build_timeout)
            )

    # -- writes ------------------------------------------------------------------------------
    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        params = [row_params(m) for m in memories]
        if not self._vec.column:
            # rows and generations in one statement (in a transaction all the same, so that a
            # connection lost before COMMIT leaves nothing half-known behind)
            arrays = {c: [p[c] for p in params] for c in ARRAY_TYPES}
            unnest = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in ARRAY_TYPES.items())
            sql = (
                f"WITH ins AS (INSERT INTO {self.tables.memories} ({COLUMNS}) "
                f"SELECT * FROM unnest({unnest}) RETURNING tenant_id, user_id) "
                f"{self._users.bump_sql('ins', also=self._vec.column_check)}"
            )
            async with self._tx("insert memories") as conn:
                rows = (await conn.execute(text(sql), {**arrays, "vt": self.tables.memories})).all()
                if rows and rows[0][3]:  # another store added the vector column meanwhile
                    await self._vec.adopt(conn, self.tables, memories)
            gens = {(r[0], r[1]): int(r[2]) for r in rows}
        else:
            async with self._tx("insert memories") as conn:
                cols_sql, values = await self._vec.insert_columns(
                    conn, self.tables, memories, params
                )
                insert_sql = f"INSERT INTO {self.tables.memories} ({cols_sql}) VALUES {values}"
                await conn.execute(text(insert_sql), params)
                gens = await self._users.bump(conn, ((m.tenant_id, m.user_id) for m in memories))
        self._cache.after_write(gens, add_inserted(memories))

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        params = [row_params(m) for m in memories]
        async with self._tx("upsert memories") as conn:
            cols, values = await self._vec.insert_columns(conn, self.tables, memories, params)
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols.split(", ") if c != "id")
            rows = (
                await conn.execute(
                    text(
                        f"SELECT tenant_id, user_id FROM {self.tables.memories} "
                        "WHERE id IN :ids FOR UPDATE"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": [m.id for m in memories]},
                )
            ).all()
            await conn.execute(
                text(
                    f"INSERT INTO {self.tables.memories} ({cols}) VALUES {values} "
                    f"ON CONFLICT (id) DO UPDATE SET {sets}"
                ),
                params,
            )
            gens = await self._users.bump(
                conn, [*((r[0], r[1]) for r in rows), *((m.tenant_id, m.user_id) for m in memories)]
            )
        for key in gens:
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
        check_changes(changes)
        p: dict[str, Any] = {"id": memory_id, "now": changes.updated_at}
        where = f"id = :id AND {scope_where(scope, p)} AND {LIVE}"
        sets = update_assignments(changes, p, metadata_value=lambda v: f"CAST({v} AS jsonb)")
        if "metadata" in p:
            p["metadata"] = metadata_json(changes.metadata or {})
        if changes.sets_content and self._vec.column:
            sets.append("embedding_vec = CAST(:ev AS vector)")
            p["ev"] = self._vec.literal(changes.embedding)
        check = changes.sets_content and not self._vec.column
        p["vt"] = self.tables.memories
        sql = (
            f"WITH up AS (UPDATE {self.tables.memories} SET {', '.join(sets)} WHERE {where} "
            f"RETURNING {COLUMNS}), g AS ({self._users.bump_sql('up')}) "
            f"SELECT up.*, g.generation, {self._vec.column_check if check else '0'} FROM up, g"
        )
        async with self._tx("update a memory") as conn:
            row = (await conn.execute(text(sql), p)).first()
            if row is not None and row[N_COLUMNS + 1]:  # another store added the vector column
                await self._vec.adopt(conn, self.tables, [memory_from_row(row[:N_COLUMNS])])
        if row is None:
            return None
        new = memory_from_row(row[:N_COLUMNS])
        gens = {scope.user_key: int(row[N_COLUMNS])}
        self._cache.after_write(gens, lambda key, idx: idx.upsert(new))
        return new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        p: dict[str, Any] = {"id": memory_id}
        sql = (
            f"WITH d AS (DELETE FROM {self.tables.memories} WHERE id = :id AND {scope_where(scope, p)} "
            f"RETURNING tenant_id, user_id) {self._users.bump_sql('d')}"
        )
        async with self._tx("delete a memory") as conn:
            row = (await conn.execute(text(sql), p)).first()
        if row is None:
            return False
        gens = {scope.user_key: int(row[2])}
        self._cache.after_write(gens, lambda key, idx: idx.remove(memory_id))
        return True

    async def delete_all(self, scope: Scope) -> int:
        p: dict[str, Any] = {}
        async with self._tx("delete memories") as conn:
            res = await conn.execute(
                text(f"DELETE FROM {self.tables.memories} WHERE {scope_where(scope, p)}"), p
            )
            n = int(res.rowcount or 0)
            if scope.agent_id is None and scope.session_id is None:
                await self._users.forget(conn, scope.user_key)  # erasure: the counter too
                await self._user_vectors.drop(conn, scope.tenant, scope.user_id)  # and its index
            elif n:
                await self._users.bump(conn, [scope.user_key])
        self._cache.drop(scope.user_key)
        return n

    async def purge_expired(self, now: float) -> int:
        async with self._tx("purge expired memories") as conn:
            rows = (
                await conn.execute(
                    text(
                        f"DELETE FROM {self.tables.memories} WHERE expires_at IS NOT NULL "
                        "AND expires_at <= :now RETURNING tenant_id, user_id"
                    ),
                    {"now": float(now)},
                )
            ).all()
            users = {(r[0], r[1]) for r in rows}
            if users:
                await self._users.bump(conn, users)
        for key in users:
            self._cache.drop(key)
        return len(rows)

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        p: dict[str, Any] = {"id": memory_id, "now": float(now)}
        async with self._conn("read a memory") as conn:
            where = f"id = :id AND {scope_where(scope, p)} AND {LIVE}"
            sql = f"SELECT {COLUMNS} FROM {self.tables.memories} WHERE {where}"
            row = (await conn.execute(text(sql), p)).first()
        return None if row is None else memory_from_row(row)

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> list[StoredMemory]:
        async with self._conn("list memories") as conn:
            idx = await self._users.index(conn, scope.user_key)
        return [] if idx is None else idx.newest(scope, filters, now, limit, offset)

    async def count(self, scope: Scope, now: float) -> int:
        p: dict[str, Any] = {"now": float(now)}
        async with self._conn("count memories") as conn:
            where = f"{scope_where(scope, p)} AND {LIVE}"
            sql = f"SELECT count(*) FROM {self.tables.memories} WHERE {where}"
            row = (await conn.execute(text(sql), p)).first()
        return int(row[0]) if row else 0

    async def search(self, scope: Scope, request: SearchRequest) -> _Hits:
        key = scope.user_key
        words = search_words(request.query) if request.config.lexical_weight > 0 else {}
        if self._vec.serves(request):
            return await self._search_pgvector(scope, request, words)
        async with self._conn("search memories") as conn:
            if not words:
                idx = await self._users.index(conn, key)
                return [] if idx is None else idx.search(scope, request, lexical={})
            await self._vec.configure_search(conn)
            # generation and lexical candidates in one round trip (one snapshot)
            p: dict[str, Any] = {
                **words,
                "now": float(request.now),
                "k": request.config.lexical_candidates,
            }
            where = scope_where(scope, p)
            stmt = text(lexical_sql(self.tables, self.text_search_config, where, len(words) - 1))
            for attempt in range(3):
                rows = (await conn.execute(stmt, p)).all()
                gen = next((int(r[1]) for r in rows if r[0] is None), None)
                if gen is None:
                    return []
                lexical = {r[0]: float(r[1]) for r in rows if r[0] is not None}
                idx = self._cache.get(key, gen)
                if idx is not None:
                    break
                loaded = await self._users.load(conn, key)
                if loaded is None:
                    return []
                idx = loaded[1]
                # same snapshot generation: scores and vectors agree. Otherwise someone wrote
                # in between: read the scores again (and rank the last load if writes go on)
                if loaded[0] == gen or attempt == 2:
                    break
            assert idx is not None
        return idx.search(scope, request, lexical=lexical)

    def pgvector_statements(
        self, scope: Scope, request: SearchRequest, words: dict[str, str]
    ) -> _Statements:
        """The SQL and parameters of a pgvector search's candidate statements (``words`` from
        :func:`~.search.search_words`): the nearest neighbours, then (with words) the best
        full-text matches. What :meth:`search` runs (at the same time), for EXPLAIN; run them
        with :func:`~.candidates.positional` on the asyncpg connection."""
        p: dict[str, Any] = {
            "qv": np.asarray(request.vector, dtype=np.float32).tolist(),
            "now": float(request.now),
            "n": max(self.vector_candidates, 4 * request.limit),
        }
        where = scope_where(scope, p)
        out = [(dense_candidates_sql(self.tables, where), p)]
        if words:
            lp: dict[str, Any] = {**words, "now": p["now"], "k": request.config.lexical_candidates}
            lexical = lexical_candidates_sql(
                self.tables, self.text_search_config, scope_where(scope, lp), len(words) - 1
            )
            out.append((lexical, lp))
        return out

    async def _fetch(self, sql: str, params: dict[str, Any]) -> _Records:
        """The rows of one search statement, on a pooled connection of its own, through its
        asyncpg driver (no SQLAlchemy result processing). A connection that answered a moment
        ago is taken without a ping (:class:`~.url.FreshCheckout`); should it be dead after
        all, the statement runs again on a pinged one."""
        query, args = positional(sql, params)
        rows = await self._fetch_once(query, args, FreshCheckout())
        if rows is None:
            rows = await self._fetch_once(query, args, None)
        assert rows is not None
        return rows

    async def _fetch_once(
        self, query: str, args: Sequence[Any], fresh: FreshCheckout | None
    ) -> _Records | None:
        """:meth:`_fetch` on one pooled connection, taken as it is (no SQLAlchemy connection
        around it: ~0.3 ms less CPU a statement); None when its ping was skipped (``fresh``)
        and the connection turned out dead (it is discarded)."""
        from sqlalchemy.util import greenlet_spawn

        eng = await self._eng()
        with self._errors.guard("search memories"):
            token = fresh_checkout.set(fresh)  # read by the pool's ping
            try:
                pooled = await eng.raw_connection()
            finally:
                fresh_checkout.reset(token)
            try:
                await self._vec.configure_pooled(pooled)
                raw = pooled.driver_connection
                try:
                    rows = list(await raw.fetch(query, *args))
                except Exception as exc:
                    lost = is_lost_connection(exc) or raw.is_closed()
                    if fresh is None or not fresh.skipped or not lost:
                        raise
                    await greenlet_spawn(pooled.invalidate)
                    return None
                answered(raw)
                return rows
            finally:
                await greenlet_spawn(pooled.close)

    async def _search_pgvector(
        self, scope: Scope, request: SearchRequest, words: dict[str, str]
    ) -> _Hits:
        """Candidates from SQL (the HNSW index's nearest neighbours in the user's scope, plus
        the best full-text matches), ranked by the shared fusion on exact cosine similarity.
        The two candidate statements run at the same time, each on its own connection taken
        from the pool and given back when it is done (none waits for a second connection while
        holding one). Two statements are two snapshots: a memory written in between may be a
        candidate in its old or its new version, never both (one row an id). Filtered searches
        take the exact in-process path instead."""
        assert request.vector is not None
        statements = self.pgvector_statements(scope, request, words)
        found = await asyncio.gather(
            *(self._fetch(sql, p) for sql, p in statements), return_exceptions=True
        )
        for result in found:
            if isinstance(result, BaseException):
                raise result
        rows: tuple[_Records, ...] = tuple(found)  # type: ignore[arg-type]
        return Candidates(rows[0], rows[1] if len(rows) > 1 else ()).rank(scope, request)

    async def list_users(self) -> _Users:
        async with self._conn("list users") as conn:
            sql = (
                f"SELECT DISTINCT tenant_id, user_id FROM {self.tables.memories} "
                "ORDER BY tenant_id, user_id"
            )
            rows = (await conn.execute(text(sql))).all()
        return [(r[0], r[1]) for r in rows]

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[_Rows]:
        last = ""  # ids sort after the empty string
        while True:
            async with self._conn("export memories") as conn:
                rows = (
                    await conn.execute(
                        text(
                            f"SELECT {COLUMNS} FROM {self.tables.memories} WHERE tenant_id = :t "
                            "AND user_id = :u AND id > :last ORDER BY id LIMIT :k"
                        ),
                        {"t": tenant_id, "u": user_id, "last": last, "k": batch_size},
                    )
                ).all()
            if not rows:
                return
            last = rows[-1][0]
            yield [memory_from_row(r) for r in rows]
