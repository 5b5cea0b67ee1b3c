"""PostgreSQL long-term store through SQLAlchemy 2 async + asyncpg
(``pip install "mnemoplug[postgres]"``).

``Memory.from_url("postgresql+asyncpg://user:pw@host:5432/db")`` (``postgresql://`` and
``postgres://`` work too), ``create_memory("postgres", url=...)`` or
``PostgresMemoryStore(url, table="mnemoplug_memories", schema=None, pool_size=5, ...)``.

Tables (``T`` is the ``table`` option, all in ``schema`` when given)::

    T          one row a memory: scope columns, content, JSONB metadata, float32 embedding
               bytes, epoch-second times, ``fts`` (a generated ``tsvector``, GIN-indexed) and,
               with pgvector, ``embedding_vec vector(dim)`` (HNSW index, cosine)
    T_users    (tenant_id, user_id) -> generation, bumped by every write to the user in the
               same transaction as the write
    T_meta     key/value: ``schema_version`` (1) and the embedder name and dimension

The schema is created on first use (under an advisory lock) and a newer ``schema_version`` is
refused. Lexical scores are PostgreSQL full text (``ts_rank_cd`` of the query's non-stop-words
OR-ed through ``websearch_to_tsquery``), computed in SQL for the one user only. Dense, lexical
and recency scores are always fused by the shared ``UserIndex.search``, so rankings agree with
the other providers:

* without pgvector (``vector="none"``, or ``"auto"`` on a server without the extension), and
  for filtered searches, each recently used user's memories sit in process in a
  :class:`~mnemoplug.core.retrieval.UserIndex` (one contiguous float32 matrix), valid while the
  user's generation is unchanged, so writes by other processes and provider instances are seen
  on the next call;
* with pgvector (``vector="auto"`` when ``CREATE EXTENSION IF NOT EXISTS vector`` succeeds, or
  ``"pgvector"`` to require it), unfiltered searches take the HNSW index's nearest neighbours in
  the user's scope (iterative index scans on pgvector >= 0.8) plus the best full-text matches
  as candidates and rank those by exact cosine similarity.

Connection failures and timeouts become :class:`~mnemoplug.core.errors.ProviderUnavailableError`
naming PostgreSQL and the URL (password hidden), within ``connect_timeout`` /
``command_timeout`` (5 s / 30 s by default). Every write is one transaction: what was committed
stays, a failed call commits nothing. The pool pings connections before use, so it reconnects by
itself once the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ...core.errors import (
    ConfigurationError,
    EmbedderMismatchError,
    InvalidContentError,
    InvalidMetadataError,
    MissingDependencyError,
    MnemoplugError,
    ProviderError,
    ProviderUnavailableError,
)
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex, UserIndexCache, query_terms
from ...core.stores import MemoryStore
from ...core.urls import redact_url

__all__ = ["PostgresMemoryStore"]

SCHEMA_VERSION = 1
DEFAULT_URL = "postgresql+asyncpg://postgres@localhost:5432/postgres"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLS = (
    "id, tenant_id, user_id, agent_id, session_id, role, content, metadata, embedding, "
    "created_at, updated_at, expires_at"
)
_VALUES = (
    "(:id, :tenant_id, :user_id, :agent_id, :session_id, :role, :content, "
    "CAST(:metadata AS jsonb), :embedding, :created_at, :updated_at, :expires_at)"
)
_ARRAY_TYPES = {
    "id": "text",
    "tenant_id": "text",
    "user_id": "text",
    "agent_id": "text",
    "session_id": "text",
    "role": "text",
    "content": "text",
    "metadata": "jsonb",
    "embedding": "bytea",
    "created_at": "float8",
    "updated_at": "float8",
    "expires_at": "float8",
}
_LIVE = "(expires_at IS NULL OR expires_at > :now)"
_Key = tuple[str, str]
# (the provider's ``list`` method shadows the builtin inside the class body)
_Hits = list[ScoredMemory]
_Rows = list[StoredMemory]
_Users = list[tuple[str, str]]
_NUL_CONTENT = "PostgreSQL text cannot hold NUL characters ('\\x00'); remove them from the content"
_NUL_METADATA = (
    "PostgreSQL JSONB cannot hold NUL characters ('\\x00'); remove them from the metadata"
)


def _import_asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError as exc:
        raise MissingDependencyError("the 'postgres' provider", "postgres", "asyncpg") from exc
    return asyncpg


def _driver_url(url: str) -> Any:
    """A SQLAlchemy URL object using the asyncpg driver, from postgres(ql)[+asyncpg]:// URLs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ConfigurationError(
            f"not a PostgreSQL URL: {redact_url(url)!r}; use postgresql+asyncpg://user:password@host:5432/db "
            f"(postgresql:// and postgres:// are accepted too; mnemoplug uses the asyncpg driver)"
        )
    try:
        parsed = make_url("postgresql+asyncpg://" + url.split("://", 1)[1])
    except ArgumentError as exc:
        raise ConfigurationError(f"malformed PostgreSQL URL {redact_url(url)!r}: {exc}") from exc
    if "sslmode" in parsed.query:  # libpq spelling; asyncpg takes the same values as ``ssl``
        mode = parsed.query["sslmode"]
        parsed = parsed.difference_update_query(["sslmode"]).update_query_dict({"ssl": mode})
    return parsed


def _ident(name: str, what: str, room: int = 0) -> str:
    if not isinstance(name, str) or not _IDENT.match(name) or len(name) + room > 63:
        raise ConfigurationError(
            f"{what} {name!r} is not a plain SQL identifier: use letters, digits and _, start "
            f"with a letter or _, at most {63 - room} characters"
        )
    return name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _check_storable(m: StoredMemory) -> None:
    if "\x00" in m.content:
        raise InvalidContentError(_NUL_CONTENT)
    if _has_nul(m.metadata):
        raise InvalidMetadataError(_NUL_METADATA)


def _pack(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.asarray(v, dtype=np.float32).tobytes()


def _vec_text(v: np.ndarray | None, dim: int | None) -> str | None:
    """A pgvector literal (exact for float32 values), None when there is no fitting vector."""
    if v is None or dim is None or int(v.shape[-1]) != dim:
        return None
    return "[" + ",".join(repr(x) for x in np.asarray(v, dtype=np.float32).tolist()) + "]"


def _meta_json(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, separators=(",", ":"))


def _row(r: Any) -> StoredMemory:
    md = r[7]
    if isinstance(md, str | bytes):
        md = json.loads(md)
    emb = None if r[8] is None else np.frombuffer(bytes(r[8]), dtype=np.float32)
    return StoredMemory(
        id=r[0],
        tenant_id=r[1],
        user_id=r[2],
        agent_id=r[3],
        session_id=r[4],
        role=r[5],
        content=r[6],
        metadata=md,
        embedding=emb,
        created_at=float(r[9]),
        updated_at=float(r[10]),
        expires_at=None if r[11] is None else float(r[11]),
    )


def _params(m: StoredMemory) -> dict[str, Any]:
    _check_storable(m)
    return {
        "id": m.id,
        "tenant_id": m.tenant_id,
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "session_id": m.session_id,
        "role": m.role,
        "content": m.content,
        "metadata": _meta_json(m.metadata),
        "embedding": _pack(m.embedding),
        "created_at": float(m.created_at),
        "updated_at": float(m.updated_at),
        "expires_at": None if m.expires_at is None else float(m.expires_at),
    }


def _scope_sql(scope: Scope, p: dict[str, Any]) -> str:
    p["t"], p["u"] = scope.tenant, scope.user_id
    sql = "tenant_id = :t AND user_id = :u"
    if scope.agent_id is not None:
        p["a"] = scope.agent_id
        sql += " AND agent_id = :a"
    if scope.session_id is not None:
        p["s"] = scope.session_id
        sql += " AND session_id = :s"
    return sql


def _websearch_or(query: str) -> str | None:
    """The query's non-stop-words OR-ed, for ``websearch_to_tsquery`` (None when none left)."""
    words = query_terms(query)
    return " or ".join(words) if words else None


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
        _import_asyncpg()
        raw = url or os.environ.get("MNEMOPLUG_POSTGRES_URL") or DEFAULT_URL
        self._sa_url = _driver_url(raw)
        self.url = self._sa_url.render_as_string(hide_password=True)
        self.table = _ident(table, "table name", room=len("_users_scope_idx"))
        self.schema = None if schema is None else _ident(schema, "schema name")
        self.text_search_config = _ident(text_search_config, "text_search_config")
        if pool_size < 1 or max_overflow < 0:
            raise ConfigurationError("pool_size must be >= 1 and max_overflow >= 0")
        if connect_timeout <= 0 or command_timeout <= 0:
            raise ConfigurationError("connect_timeout and command_timeout must be > 0 seconds")
        self.pool_size, self.max_overflow = pool_size, max_overflow
        self.connect_timeout, self.command_timeout = float(connect_timeout), float(command_timeout)
        self.cache_max_records = cache_max_records
        if vector not in ("auto", "pgvector", "none"):
            raise ConfigurationError(
                f"vector={vector!r}: use 'auto' (pgvector when the server has it), 'pgvector' "
                f"(require it) or 'none' (rank vectors in process)"
            )
        self.vector = vector
        self.vector_candidates = max(1, int(vector_candidates))
        self.hnsw_ef_search = max(1, int(hnsw_ef_search))
        self.application_name = str(application_name)[:63]
        #: True when the ``vector`` extension is in use (known after open())
        self.pgvector: bool = False
        self._vec_col = False  # the table has an embedding_vec column: writes fill it
        self._vec_dim: int | None = None
        self._iterative_scan = False
        q = f'"{self.schema}".' if self.schema else ""
        self._t = f'{q}"{self.table}"'
        self._tu = f'{q}"{self.table}_users"'
        self._tm = f'{q}"{self.table}_meta"'
        self._engine: Any = None
        self._open_lock = asyncio.Lock()
        self._cache = UserIndexCache(cache_max_records)
        self._embedder_checked: tuple[str, int] | None = None

    def __repr__(self) -> str:
        return f"PostgresMemoryStore({self.url!r}, table={self.table!r}, schema={self.schema!r})"

    # -- errors ------------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> ProviderUnavailableError:
        detail = _first_line(exc)
        return ProviderUnavailableError(
            f"PostgreSQL at {self.url} is unavailable: {detail}. Check that the PostgreSQL server "
            f"is running and reachable at that URL (connect_timeout={self.connect_timeout:g}s, "
            f"command_timeout={self.command_timeout:g}s). The failed call was not committed; "
            f"memories stored before are kept.",
            provider=self.name,
            url=self.url,
        )

    def _is_connection_error(self, exc: BaseException) -> bool:
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        asyncpg = _import_asyncpg()
        kinds = (
            OSError,
            TimeoutError,
            asyncpg.PostgresConnectionError,  # SQLSTATE class 08
            asyncpg.ConnectionDoesNotExistError,
            asyncpg.CannotConnectNowError,
            asyncpg.QueryCanceledError,  # command_timeout
        )
        if isinstance(exc, (PoolTimeout, *kinds)):
            return True
        if isinstance(exc, DBAPIError):
            if exc.connection_invalidated:
                return True
            orig: BaseException | None = exc.orig
            while orig is not None:
                if isinstance(orig, kinds):
                    return True
                orig = orig.__cause__ or orig.__context__
        return False

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except MnemoplugError:
            raise
        except Exception as exc:
            if self._is_connection_error(exc):
                raise self._unavailable(exc) from exc
            if not isinstance(exc, SQLAlchemyError):
                if not (type(exc).__module__ or "").startswith("asyncpg"):
                    raise  # a bug, not a database error: keep it as it is
            detail = _first_line(getattr(exc, "orig", None) or exc)
            raise ProviderError(
                f"PostgreSQL at {self.url} failed to {what}: {detail}",
                provider=self.name,
                url=self.url,
            ) from exc

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._engine is not None:
            return
        async with self._open_lock:
            if self._engine is not None:
                return
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(
                self._sa_url,
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
                pool_timeout=self.connect_timeout + self.command_timeout,
                pool_pre_ping=True,
                connect_args={
                    "timeout": self.connect_timeout,
                    "command_timeout": self.command_timeout,
                    "server_settings": {"application_name": self.application_name},
                },
            )
            try:
                with self._guard("create the schema"):
                    async with asyncio.timeout(self.connect_timeout + 2 * self.command_timeout):
                        await self._create_schema(engine)
            except BaseException:
                await engine.dispose()
                raise
            self._engine = engine

    async def _create_schema(self, engine: Any) -> None:
        from sqlalchemy import text

        t, cfg = self.table, self.text_search_config
        async with engine.begin() as conn:
            # one opener at a time creates tables (CREATE ... IF NOT EXISTS races otherwise)
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"mnemoplug:{self._t}"}
            )
            if self.schema:
                await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {self._tm} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            version_sql = f"SELECT value FROM {self._tm} WHERE key = 'schema_version'"
            row = (await conn.execute(text(version_sql))).first()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise ProviderError(
                    f"table {self._t} at {self.url} was written by a newer mnemoplug (schema "
                    f"version {row[0]} > {SCHEMA_VERSION}); upgrade mnemoplug to use it",
                    provider=self.name,
                    url=self.url,
                )
            for stmt in (
                f"""CREATE TABLE IF NOT EXISTS {self._t} (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL DEFAULT '',
                    user_id TEXT NOT NULL,
                    agent_id TEXT,
                    session_id TEXT,
                    role TEXT,
                    content TEXT NOT NULL,
                    metadata JSONB NOT NULL DEFAULT '{{}}'::jsonb,
                    embedding BYTEA,
                    created_at DOUBLE PRECISION NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL,
                    expires_at DOUBLE PRECISION,
                    fts TSVECTOR GENERATED ALWAYS AS
                        (to_tsvector('{cfg}'::regconfig, content)) STORED
                )""",
                f'CREATE INDEX IF NOT EXISTS "{t}_scope_idx" ON {self._t} '
                "(tenant_id, user_id, created_at)",
                f'CREATE INDEX IF NOT EXISTS "{t}_agent_idx" ON {self._t} '
                "(tenant_id, user_id, agent_id, session_id)",
                f'CREATE INDEX IF NOT EXISTS "{t}_expires_idx" ON {self._t} (expires_at) '
                "WHERE expires_at IS NOT NULL",
                f'CREATE INDEX IF NOT EXISTS "{t}_fts_idx" ON {self._t} USING GIN (fts)',
                f"""CREATE TABLE IF NOT EXISTS {self._tu} (
                    tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
                    generation BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, user_id)
                )""",
            ):
                await conn.exec_driver_sql(stmt)
            await self._setup_pgvector(conn)
            if row is None:
                await conn.execute(
                    text(
                        f"INSERT INTO {self._tm} (key, value) VALUES ('schema_version', :v) "
                        "ON CONFLICT (key) DO NOTHING"
                    ),
                    {"v": str(SCHEMA_VERSION)},
                )

    async def _setup_pgvector(self, conn: Any) -> None:
        """Use the ``vector`` extension when asked for and available (creating it if allowed);
        remember the dimension of an existing ``embedding_vec`` column."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        self.pgvector, self._vec_col, self._vec_dim = False, False, None
        dim_sql = text(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
            "AND attname = 'embedding_vec' AND NOT attisdropped"
        )
        if self.vector == "none":  # still keep a column others search by up to date
            dim = (await conn.execute(dim_sql, {"t": self._t})).scalar()
            if dim is not None:
                self._vec_col = True
                self._vec_dim = int(dim) if int(dim) > 0 else None
            return
        version = (
            await conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
        ).scalar()
        if version is None:
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext('mnemoplug:create-vector'))")
                    )
                    await conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
                version = (
                    await conn.execute(
                        text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                    )
                ).scalar()
            except DBAPIError as exc:
                if self.vector == "pgvector":
                    detail = _first_line(exc.orig or exc)
                    raise ConfigurationError(
                        f"vector='pgvector' but PostgreSQL at {self.url} cannot provide the "
                        f"'vector' extension ({detail}). Install pgvector on the server (or run "
                        f"CREATE EXTENSION vector as a superuser), or use vector='auto'."
                    ) from exc
                return
        self.pgvector = self._vec_col = True
        parts = tuple(int(x) for x in re.findall(r"\d+", str(version))[:2])
        self._iterative_scan = parts >= (0, 8)
        await conn.exec_driver_sql(
            f"ALTER TABLE {self._t} ADD COLUMN IF NOT EXISTS embedding_vec vector"
        )
        dim = (await conn.execute(dim_sql, {"t": self._t})).scalar()
        self._vec_dim = int(dim) if dim is not None and int(dim) > 0 else None

    async def _ensure_vec_dim(self, conn: Any, dim: int) -> None:
        """Fix the ``embedding_vec`` column to ``vector(dim)`` with an HNSW index (cosine) the
        first time vectors arrive, filling it for rows stored before."""
        from sqlalchemy import text

        if not self._vec_col or self._vec_dim is not None:
            return
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"mnemoplug:{self._t}"}
        )
        dim_now = (
            await conn.execute(
                text(
                    "SELECT atttypmod FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                    "AND attname = 'embedding_vec'"
                ),
                {"t": self._t},
            )
        ).scalar()
        if dim_now is None or int(dim_now) <= 0:
            await conn.exec_driver_sql(
                f"ALTER TABLE {self._t} ALTER COLUMN embedding_vec TYPE vector({int(dim)})"
            )
            await conn.exec_driver_sql(
                f'CREATE INDEX IF NOT EXISTS "{self.table}_hnsw_idx" ON {self._t} '
                "USING hnsw (embedding_vec vector_cosine_ops)"
            )
            rows = (
                await conn.execute(
                    text(f"SELECT id, embedding FROM {self._t} WHERE embedding IS NOT NULL")
                )
            ).all()
            fill = [
                {"id": r[0], "ev": _vec_text(np.frombuffer(bytes(r[1]), dtype=np.float32), dim)}
                for r in rows
            ]
            if fill:
                fill_sql = f"UPDATE {self._t} SET embedding_vec = CAST(:ev AS vector) "
                await conn.execute(text(fill_sql + "WHERE id = :id"), fill)
            dim_now = dim
        self._vec_dim = int(dim_now)

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
        with self._guard(what):
            async with eng.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _conn(self, what: str, *, autocommit: bool = True) -> AsyncIterator[Any]:
        """A connection whose statements each run on their own (no BEGIN/ROLLBACK round
        trips; every read here is one statement, so one snapshot); errors typed."""
        eng = await self._eng()
        with self._guard(what):
            async with eng.connect() as conn:
                if autocommit:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn

    async def check_embedder(self, name: str, dimension: int) -> None:
        from sqlalchemy import text

        if self._embedder_checked == (name, dimension):
            return
        async with self._tx("record the embedder") as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {self._tm} (key, value) VALUES ('embedder', :v) "
                    "ON CONFLICT (key) DO NOTHING"
                ),
                {"v": json.dumps({"name": name, "dimension": dimension})},
            )
            embedder_sql = f"SELECT value FROM {self._tm} WHERE key = 'embedder'"
            row = (await conn.execute(text(embedder_sql))).first()
        stored = json.loads(row[0]) if row is not None else {}
        if stored.get("dimension") != dimension or stored.get("name") != name:
            raise EmbedderMismatchError(
                f"PostgreSQL table {self._t} at {self.url} holds vectors from embedder "
                f"{stored.get('name')!r} (dimension {stored.get('dimension')}), but this Memory "
                f"uses {name!r} (dimension {dimension}). Use the same embedder, another table "
                f"(table=...), or migrate the memories with migrate_memory() into a store opened "
                f"with the new embedder."
            )
        if self._vec_col and self._vec_dim is None:
            async with self._tx("create the vector index") as conn:
                await self._ensure_vec_dim(conn, dimension)
        self._embedder_checked = (name, dimension)

    # -- cache -------------------------------------------------------------------------------
    async def _bump(self, conn: Any, users: Iterable[_Key]) -> dict[_Key, int]:
        """Advance each user's generation (in sorted order, so concurrent writers never
        deadlock on these rows)."""
        from sqlalchemy import text

        gens: dict[_Key, int] = {}
        for t, u in sorted(set(users)):
            row = (
                await conn.execute(
                    text(
                        f"INSERT INTO {self._tu} (tenant_id, user_id, generation) "
                        f"VALUES (:t, :u, 1) ON CONFLICT (tenant_id, user_id) "
                        f"DO UPDATE SET generation = {self._tu}.generation + 1 RETURNING generation"
                    ),
                    {"t": t, "u": u},
                )
            ).first()
            gens[(t, u)] = int(row[0])
        return gens

    def _bump_sql(self, source: str) -> str:
        """``INSERT`` advancing the generation of every (tenant_id, user_id) in ``source`` (a
        CTE name), in sorted order so that concurrent writers never deadlock on these rows."""
        tu = self._tu
        return (
            f"INSERT INTO {tu} (tenant_id, user_id, generation) SELECT tenant_id, user_id, 1 "
            f"FROM {source} GROUP BY tenant_id, user_id ORDER BY tenant_id, user_id "
            f"ON CONFLICT (tenant_id, user_id) DO UPDATE SET generation = {tu}.generation + 1 "
            f"RETURNING tenant_id, user_id, generation"
        )

    async def _load(self, conn: Any, key: _Key) -> tuple[int, UserIndex] | None:
        """The user's generation and memories, read in one statement (one snapshot)."""
        from sqlalchemy import text

        rows = (
            await conn.execute(
                text(
                    f"SELECT g.generation, m.id, m.tenant_id, m.user_id, m.agent_id, m.session_id, "
                    f"m.role, m.content, m.metadata, m.embedding, m.created_at, m.updated_at, "
                    f"m.expires_at FROM (SELECT generation FROM {self._tu} WHERE tenant_id = :t "
                    f"AND user_id = :u) g LEFT JOIN {self._t} m "
                    f"ON m.tenant_id = :t AND m.user_id = :u"
                ),
                {"t": key[0], "u": key[1]},
            )
        ).all()
        if not rows:
            return None
        gen = int(rows[0][0])
        idx = UserIndex(lexical=False)
        idx.extend(_row(r[1:]) for r in rows if r[1] is not None)
        cached = self._cache.version(key)
        if cached is None or cached < gen:  # never replace a newer entry by an older snapshot
            self._cache.put(key, gen, idx)
        return gen, idx

    async def _generation(self, conn: Any, key: _Key) -> int | None:
        from sqlalchemy import text

        row = (
            await conn.execute(
                text(f"SELECT generation FROM {self._tu} WHERE tenant_id = :t AND user_id = :u"),
                {"t": key[0], "u": key[1]},
            )
        ).first()
        return None if row is None else int(row[0])

    def _cached(self, key: _Key, gen: int | None) -> UserIndex | None:
        return None if gen is None else self._cache.get(key, gen)

    async def _index(self, conn: Any, key: _Key) -> UserIndex | None:
        gen = await self._generation(conn, key)
        if gen is None:
            return None
        idx = self._cached(key, gen)
        if idx is not None:
            return idx
        loaded = await self._load(conn, key)
        return None if loaded is None else loaded[1]

    # -- writes ------------------------------------------------------------------------------
    async def _vec_params(
        self, conn: Any, memories: Sequence[StoredMemory], params: list[dict[str, Any]]
    ) -> tuple[str, str]:
        """Columns and VALUES of an insert; with pgvector, fills ``ev`` in ``params``."""
        if not self._vec_col:
            return _COLS, _VALUES
        dim = next((int(m.embedding.shape[-1]) for m in memories if m.embedding is not None), None)
        if dim is not None and self._vec_dim is None:
            await self._ensure_vec_dim(conn, dim)
        for m, p in zip(memories, params, strict=True):
            p["ev"] = _vec_text(m.embedding, self._vec_dim)
        return f"{_COLS}, embedding_vec", _VALUES[:-1] + ", CAST(:ev AS vector))"

    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        from sqlalchemy import text

        if not memories:
            return
        params = [_params(m) for m in memories]
        if not self._vec_col:
            # rows and generations in one statement (in a transaction all the same, so that a
            # connection lost before COMMIT leaves nothing half-known behind)
            cols = _COLS.split(", ")
            arrays = {c: [p[c] for p in params] for c in cols}
            unnest = ", ".join(f"CAST(:{c} AS {_ARRAY_TYPES[c]}[])" for c in cols)
            sql = (
                f"WITH ins AS (INSERT INTO {self._t} ({_COLS}) SELECT * FROM unnest({unnest}) "
                f"RETURNING tenant_id, user_id) {self._bump_sql('ins')}"
            )
            async with self._tx("insert memories") as conn:
                rows = (await conn.execute(text(sql), arrays)).all()
            gens = {(r[0], r[1]): int(r[2]) for r in rows}
        else:
            async with self._tx("insert memories") as conn:
                cols_sql, values = await self._vec_params(conn, memories, params)
                await conn.execute(
                    text(f"INSERT INTO {self._t} ({cols_sql}) VALUES {values}"), params
                )
                gens = await self._bump(conn, ((m.tenant_id, m.user_id) for m in memories))

        def apply(key: _Key, idx: UserIndex) -> None:
            idx.extend(m for m in memories if (m.tenant_id, m.user_id) == key)

        self._cache.after_write(gens, apply)

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        from sqlalchemy import bindparam, text

        if not memories:
            return
        params = [_params(m) for m in memories]
        async with self._tx("upsert memories") as conn:
            cols, values = await self._vec_params(conn, memories, params)
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols.split(", ") if c != "id")
            rows = (
                await conn.execute(
                    text(
                        f"SELECT tenant_id, user_id FROM {self._t} WHERE id IN :ids FOR UPDATE"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": [m.id for m in memories]},
                )
            ).all()
            await conn.execute(
                text(
                    f"INSERT INTO {self._t} ({cols}) VALUES {values} "
                    f"ON CONFLICT (id) DO UPDATE SET {sets}"
                ),
                params,
            )
            gens = await self._bump(
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
        from sqlalchemy import text

        p: dict[str, Any] = {"id": memory_id, "now": float(updated_at)}
        where = f"id = :id AND {_scope_sql(scope, p)} AND {_LIVE}"
        sets = ["updated_at = :now"]
        if content is not None:
            if "\x00" in content:
                raise InvalidContentError(_NUL_CONTENT)
            sets += ["content = :content", "embedding = :embedding"]
            p["content"], p["embedding"] = content, _pack(embedding)
            if self._vec_col:
                sets.append("embedding_vec = CAST(:ev AS vector)")
                p["ev"] = _vec_text(embedding, self._vec_dim)
        if metadata is not None:
            if _has_nul(metadata):
                raise InvalidMetadataError(_NUL_METADATA)
            sets.append("metadata = CAST(:metadata AS jsonb)")
            p["metadata"] = _meta_json(metadata)
        if expires_at is not ...:
            sets.append("expires_at = :exp")
            p["exp"] = None if expires_at is None else float(expires_at)
        sql = (
            f"WITH up AS (UPDATE {self._t} SET {', '.join(sets)} WHERE {where} "
            f"RETURNING {_COLS}), g AS ({self._bump_sql('up')}) "
            f"SELECT up.*, g.generation FROM up, g"
        )
        async with self._tx("update a memory") as conn:
            row = (await conn.execute(text(sql), p)).first()
        if row is None:
            return None
        new = _row(row[:12])
        gens = {scope.user_key: int(row[12])}
        self._cache.after_write(gens, lambda key, idx: idx.upsert(new))
        return new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        from sqlalchemy import text

        p: dict[str, Any] = {"id": memory_id}
        sql = (
            f"WITH d AS (DELETE FROM {self._t} WHERE id = :id AND {_scope_sql(scope, p)} "
            f"RETURNING tenant_id, user_id) {self._bump_sql('d')}"
        )
        async with self._tx("delete a memory") as conn:
            row = (await conn.execute(text(sql), p)).first()
        if row is None:
            return False
        gens = {scope.user_key: int(row[2])}
        self._cache.after_write(gens, lambda key, idx: idx.remove(memory_id))
        return True

    async def delete_all(self, scope: Scope) -> int:
        from sqlalchemy import text

        p: dict[str, Any] = {}
        async with self._tx("delete memories") as conn:
            res = await conn.execute(text(f"DELETE FROM {self._t} WHERE {_scope_sql(scope, p)}"), p)
            n = int(res.rowcount or 0)
            if n:
                await self._bump(conn, [scope.user_key])
        self._cache.drop(scope.user_key)
        return n

    async def purge_expired(self, now: float) -> int:
        from sqlalchemy import text

        async with self._tx("purge expired memories") as conn:
            rows = (
                await conn.execute(
                    text(
                        f"DELETE FROM {self._t} WHERE expires_at IS NOT NULL "
                        "AND expires_at <= :now RETURNING tenant_id, user_id"
                    ),
                    {"now": float(now)},
                )
            ).all()
            users = {(r[0], r[1]) for r in rows}
            if users:
                await self._bump(conn, users)
        for key in users:
            self._cache.drop(key)
        return len(rows)

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        from sqlalchemy import text

        p: dict[str, Any] = {"id": memory_id, "now": float(now)}
        async with self._conn("read a memory") as conn:
            where = f"id = :id AND {_scope_sql(scope, p)} AND {_LIVE}"
            sql = f"SELECT {_COLS} FROM {self._t} WHERE {where}"
            row = (await conn.execute(text(sql), p)).first()
        return None if row is None else _row(row)

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> list[StoredMemory]:
        async with self._conn("list memories") as conn:
            idx = await self._index(conn, scope.user_key)
        return [] if idx is None else idx.newest(scope, filters, now, limit, offset)

    async def count(self, scope: Scope, now: float) -> int:
        from sqlalchemy import text

        p: dict[str, Any] = {"now": float(now)}
        async with self._conn("count memories") as conn:
            sql = f"SELECT count(*) FROM {self._t} WHERE {_scope_sql(scope, p)} AND {_LIVE}"
            row = (await conn.execute(text(sql), p)).first()
        return int(row[0]) if row else 0

    async def search(self, scope: Scope, request: SearchRequest) -> _Hits:
        from sqlalchemy import text

        key = scope.user_key
        words = _websearch_or(request.query) if request.config.lexical_weight > 0 else None
        if (
            self.pgvector
            and request.vector is not None
            and self._vec_dim == int(request.vector.shape[-1])
            and request.config.dense_weight > 0
            and not request.filters
        ):
            return await self._search_pgvector(scope, request, words)
        async with self._conn("search memories") as conn:
            if words is None:
                idx = await self._index(conn, key)
                return [] if idx is None else idx.search(scope, request, lexical={})
            # generation and lexical candidates in one round trip (one snapshot)
            p: dict[str, Any] = {
                "q": words,
                "now": float(request.now),
                "k": request.config.lexical_candidates,
            }
            where = _scope_sql(scope, p)
            stmt = text(
                f"SELECT NULL::text, generation::float8 FROM {self._tu} WHERE tenant_id = :t AND "
                f"user_id = :u UNION ALL (SELECT id, ts_rank_cd(fts, q) FROM {self._t}, "
                f"websearch_to_tsquery('{self.text_search_config}'::regconfig, :q) q WHERE {where} "
                f"AND {_LIVE} AND fts @@ q ORDER BY 2 DESC LIMIT :k)"
            )
            for attempt in range(3):
                rows = (await conn.execute(stmt, p)).all()
                gen = next((int(r[1]) for r in rows if r[0] is None), None)
                if gen is None:
                    return []
                lexical = {r[0]: float(r[1]) for r in rows if r[0] is not None}
                idx = self._cached(key, gen)
                if idx is not None:
                    break
                loaded = await self._load(conn, key)
                if loaded is None:
                    return []
                idx = loaded[1]
                # same snapshot generation: scores and vectors agree. Otherwise someone wrote
                # in between: read the scores again (and rank the last load if writes go on)
                if loaded[0] == gen or attempt == 2:
                    break
            assert idx is not None
        return idx.search(scope, request, lexical=lexical)

    async def _search_pgvector(
        self, scope: Scope, request: SearchRequest, words: str | None
    ) -> _Hits:
        """Candidates from SQL (the HNSW index's nearest neighbours in the user's scope, plus
        the best full-text matches), ranked by the shared fusion on exact cosine similarity.
        Filtered searches take the exact in-process path instead."""
        from sqlalchemy import text

        assert request.vector is not None
        p: dict[str, Any] = {
            "qv": _vec_text(request.vector, self._vec_dim),
            "now": float(request.now),
            "n": max(self.vector_candidates, 4 * request.limit),
            "k": request.config.lexical_candidates,
            "q": words or "",
        }
        where = f"{_scope_sql(scope, p)} AND {_LIVE}"
        lexical_sql = (
            f"SELECT id, ts_rank_cd(fts, q) AS s FROM {self._t}, "
            f"websearch_to_tsquery('{self.text_search_config}'::regconfig, :q) q "
            f"WHERE {where} AND fts @@ q ORDER BY s DESC LIMIT :k"
            if words
            else "SELECT NULL::text AS id, NULL::real AS s WHERE false"
        )
        sql = (
            f"WITH d AS (SELECT id FROM {self._t} WHERE {where} AND embedding_vec IS NOT NULL "
            f"ORDER BY embedding_vec <=> CAST(:qv AS vector) LIMIT :n), l AS ({lexical_sql}) "
            f"SELECT {', '.join('m.' + c for c in _COLS.split(', '))}, l.s FROM {self._t} m "
            f"JOIN (SELECT id FROM d UNION SELECT id FROM l) c ON c.id = m.id "
            f"LEFT JOIN l ON l.id = m.id"
        )
        async with self._conn("search memories", autocommit=False) as conn:  # for SET LOCAL
            await conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {self.hnsw_ef_search}")
            if self._iterative_scan:
                await conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = (await conn.execute(text(sql), p)).all()
        idx = UserIndex(lexical=False)
        idx.extend(_row(r[:12]) for r in rows)
        lexical = {r[0]: float(r[12]) for r in rows if r[12] is not None}
        return idx.search(scope, request, lexical=lexical)

    async def list_users(self) -> _Users:
        from sqlalchemy import text

        async with self._conn("list users") as conn:
            sql = f"SELECT DISTINCT tenant_id, user_id FROM {self._t} ORDER BY tenant_id, user_id"
            rows = (await conn.execute(text(sql))).all()
        return [(r[0], r[1]) for r in rows]

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[_Rows]:
        from sqlalchemy import text

        last = ""  # ids sort after the empty string
        while True:
            async with self._conn("export memories") as conn:
                rows = (
                    await conn.execute(
                        text(
                            f"SELECT {_COLS} FROM {self._t} WHERE tenant_id = :t AND user_id = :u "
                            "AND id > :last ORDER BY id LIMIT :k"
                        ),
                        {"t": tenant_id, "u": user_id, "last": last, "k": batch_size},
                    )
                ).all()
            if not rows:
                return
            last = rows[-1][0]
            yield [_row(r) for r in rows]
