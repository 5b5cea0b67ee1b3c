"""The embedded default: one SQLite file through SQLAlchemy 2 async + aiosqlite, in WAL mode.

* Table ``mnemoplug_memories`` (one row a memory, JSON metadata, float32 embedding blob),
  an external-content FTS5 index (``porter unicode61`` tokenizer) kept in sync by triggers,
  ``mnemoplug_users`` with a per-user generation counter bumped by every write, and
  ``mnemoplug_meta`` (schema version, embedder name and dimension).
* Search keeps each recently used user's vectors in one contiguous float32 matrix in process
  (a :class:`~mnemoplug.core.retrieval.UserIndex`), refreshed when the user's generation
  changes, so other processes' writes are seen. BM25 comes from FTS5: each row also carries a
  per-user ``scope_token`` column, so the MATCH walks only that user's documents, and query
  terms found in more than 5 % of all documents (``RetrievalConfig.common_term_ratio``) are
  left out —
  their IDF is near zero, but they would make FTS5 score every row (7.7 ms instead of 0.8 ms
  at 10,000 memories of one user).
* The per-search freshness check and the FTS5 query run on a small synchronous read-only
  connection in the event-loop thread (no thread hop; WAL readers never wait for writers, and
  it never waits: busy_timeout 0, with a fallback to a worker thread); the async pool is used
  when a user's index has to be (re)loaded.
* Writes go through one connection with ``BEGIN IMMEDIATE`` (SQLite has one writer);
  reads use a small pool of their own and never wait for a writer (WAL).

Default path: ``$MNEMOPLUG_DB_PATH``, else ``$XDG_DATA_HOME/mnemoplug/memory.db``
(``~/.local/share/mnemoplug/memory.db``).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ...core.errors import ConfigurationError, EmbedderMismatchError, ProviderError
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import (
    ScoredMemory,
    SearchRequest,
    UserIndex,
    UserIndexCache,
    _stem,
    query_terms,
)
from ...core.stores import MemoryStore

__all__ = ["SQLiteMemoryStore", "default_sqlite_path"]

SCHEMA_VERSION = 1
_COLS = "id, tenant_id, user_id, agent_id, session_id, role, content, metadata, embedding, created_at, updated_at, expires_at"

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS mnemoplug_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS mnemoplug_memories (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL DEFAULT '',
        user_id TEXT NOT NULL,
        agent_id TEXT,
        session_id TEXT,
        role TEXT,
        content TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        embedding BLOB,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        expires_at REAL,
        scope_token TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE INDEX IF NOT EXISTS ix_mnemoplug_memories_scope
        ON mnemoplug_memories (tenant_id, user_id, created_at)""",
    """CREATE INDEX IF NOT EXISTS ix_mnemoplug_memories_expires
        ON mnemoplug_memories (expires_at) WHERE expires_at IS NOT NULL""",
    """CREATE TABLE IF NOT EXISTS mnemoplug_users (
        tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, user_id)
    )""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS mnemoplug_fts USING fts5(
        content, scope_token, content='mnemoplug_memories', content_rowid='rowid',
        tokenize='porter unicode61'
    )""",
    """CREATE TRIGGER IF NOT EXISTS mnemoplug_memories_ai AFTER INSERT ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(rowid, content, scope_token)
            VALUES (new.rowid, new.content, new.scope_token);
    END""",
    """CREATE TRIGGER IF NOT EXISTS mnemoplug_memories_ad AFTER DELETE ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(mnemoplug_fts, rowid, content, scope_token)
            VALUES ('delete', old.rowid, old.content, old.scope_token);
    END""",
    """CREATE TRIGGER IF NOT EXISTS mnemoplug_memories_au AFTER UPDATE OF content ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(mnemoplug_fts, rowid, content, scope_token)
            VALUES ('delete', old.rowid, old.content, old.scope_token);
        INSERT INTO mnemoplug_fts(rowid, content, scope_token)
            VALUES (new.rowid, new.content, new.scope_token);
    END""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS mnemoplug_fts_vocab USING fts5vocab(mnemoplug_fts, 'row')""",
]


def default_sqlite_path() -> Path:
    env = os.environ.get("MNEMOPLUG_DB_PATH")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "mnemoplug" / "memory.db"


def _path_from_url(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme not in ("sqlite", "sqlite+aiosqlite"):
        raise ConfigurationError(f"not a SQLite URL: {url!r}; use sqlite:///path/to/memory.db")
    raw = unquote(parts.path)
    if parts.netloc:
        raise ConfigurationError(
            f"SQLite URL {url!r} has a host part; write sqlite:///relative.db or sqlite:////abs/path.db"
        )
    if raw in ("", "/", "/:memory:"):
        raise ConfigurationError(
            f"SQLite URL {url!r} names no file; use sqlite:///path/to/memory.db "
            f"(or memory:// for a store that lives only in this process)"
        )
    return Path(raw[1:]).expanduser()  # sqlite:///rel.db -> rel.db, sqlite:////abs -> /abs


def _pack(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.asarray(v, dtype=np.float32).tobytes()


def _row(r: Any) -> StoredMemory:
    emb = None if r[8] is None else np.frombuffer(r[8], dtype=np.float32)
    return StoredMemory(
        id=r[0],
        tenant_id=r[1],
        user_id=r[2],
        agent_id=r[3],
        session_id=r[4],
        role=r[5],
        content=r[6],
        metadata=json.loads(r[7]),
        embedding=emb,
        created_at=r[9],
        updated_at=r[10],
        expires_at=r[11],
    )


def scope_token(tenant_id: str, user_id: str) -> str:
    """The FTS5 token that marks one user's rows: digits only, so no tokenizer or stemmer
    changes it, and a MATCH restricted to it only walks that user's documents."""
    digest = hashlib.sha256(f"{tenant_id}\x00{user_id}".encode()).digest()
    return str(int.from_bytes(digest[:12], "big"))


def _params(m: StoredMemory) -> dict[str, Any]:
    return {
        "scope_token": scope_token(m.tenant_id, m.user_id),
        "id": m.id,
        "tenant_id": m.tenant_id,
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "session_id": m.session_id,
        "role": m.role,
        "content": m.content,
        "metadata": json.dumps(m.metadata, separators=(",", ":")),
        "embedding": _pack(m.embedding),
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "expires_at": m.expires_at,
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
        if url and path:
            raise ConfigurationError("pass either a sqlite:/// URL or path=, not both")
        self.path = (
            Path(path).expanduser()
            if path
            else (_path_from_url(url) if url else default_sqlite_path())
        )
        self.url = f"sqlite:///{self.path}"
        self.read_pool_size = read_pool_size
        self.busy_timeout_ms = busy_timeout_ms
        self.cache_max_records = cache_max_records
        self._writer: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._open_lock = asyncio.Lock()
        self._cache = UserIndexCache(cache_max_records)
        self._quick: sqlite3.Connection | None = None
        self._quick_lock = threading.Lock()
        self._df: dict[str, int] = {}
        self._df_total = 0
        self._df_time = -1e9
        self._embedder_checked: tuple[str, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def _engine(self, *, writer: bool) -> AsyncEngine:
        eng = create_async_engine(
            f"sqlite+aiosqlite:///{self.path}",
            pool_size=1 if writer else self.read_pool_size,
            max_overflow=0 if writer else self.read_pool_size,
            pool_pre_ping=False,
        )
        timeout = self.busy_timeout_ms

        @event.listens_for(eng.sync_engine, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(timeout)}")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA temp_store = MEMORY")
            if writer:
                # outside any transaction: SQLAlchemy's autobegin would wrap a later PRAGMA in
                # our BEGIN IMMEDIATE, and SQLite refuses to switch to WAL inside a transaction
                # (which broke re-opening an existing file)
                cur.execute("PRAGMA journal_mode = WAL")
            cur.close()

        if writer:

            @event.listens_for(eng.sync_engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return eng

    async def open(self) -> None:
        if self._writer is not None:
            return
        async with self._open_lock:
            if self._writer is not None:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the directory for the SQLite file {self.path}: {exc}; "
                    f"pass Memory.from_url('sqlite:///a/writable/path.db') or set MNEMOPLUG_DB_PATH"
                ) from exc
            writer = self._engine(writer=True)
            try:
                async with writer.begin() as conn:
                    for stmt in _SCHEMA:
                        await conn.exec_driver_sql(stmt)
                    row = (
                        await conn.execute(
                            text("SELECT value FROM mnemoplug_meta WHERE key='schema_version'")
                        )
                    ).first()
                    if row is None:
                        await conn.execute(
                            text(
                                "INSERT INTO mnemoplug_meta(key, value) VALUES ('schema_version', :v)"
                            ),
                            {"v": str(SCHEMA_VERSION)},
                        )
                    elif int(row[0]) > SCHEMA_VERSION:
                        raise ProviderError(
                            f"{self.path} was written by a newer mnemoplug (schema {row[0]} > "
                            f"{SCHEMA_VERSION}); upgrade mnemoplug",
                            provider=self.name,
                            url=self.url,
                        )
            except (OperationalError, DBAPIError, sqlite3.Error) as exc:
                await writer.dispose()
                raise ProviderError(
                    f"cannot open SQLite database {self.path}: {exc}",
                    provider=self.name,
                    url=self.url,
                ) from exc
            self._reader = self._engine(writer=False)
            self._writer = writer

    async def close(self) -> None:
        w, r = self._writer, self._reader
        self._writer = self._reader = None
        self._cache.clear()
        q, self._quick = self._quick, None
        if q is not None:
            with self._quick_lock:
                q.close()
        if r is not None:
            await r.dispose()
        if w is not None:
            await w.dispose()

    async def _w(self) -> AsyncEngine:
        if self._writer is None:
            await self.open()
        assert self._writer is not None
        return self._writer

    async def _r(self) -> AsyncEngine:
        if self._reader is None:
            await self.open()
        assert self._reader is not None
        return self._reader

    async def check_embedder(self, name: str, dimension: int) -> None:
        if self._embedder_checked == (name, dimension):
            return
        eng = await self._w()
        async with eng.begin() as conn:
            row = (
                await conn.execute(text("SELECT value FROM mnemoplug_meta WHERE key='embedder'"))
            ).first()
            if row is None:
                await conn.execute(
                    text("INSERT INTO mnemoplug_meta(key, value) VALUES ('embedder', :v)"),
                    {"v": json.dumps({"name": name, "dimension": dimension})},
                )
            else:
                stored = json.loads(row[0])
                if stored.get("dimension") != dimension or stored.get("name") != name:
                    raise EmbedderMismatchError(
                        f"{self.path} holds vectors from embedder {stored.get('name')!r} "
                        f"(dimension {stored.get('dimension')}), but this Memory uses {name!r} "
                        f"(dimension {dimension}). Use the same embedder, or migrate the memories "
                        f"with migrate_memory() into a store opened with the new embedder."
                    )
        self._embedder_checked = (name, dimension)

    # -- cache -------------------------------------------------------------------------------
    async def _bump(
        self, conn: AsyncConnection, users: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        gens = {}
        for t, u in set(users):
            row = (
                await conn.execute(
                    text(
                        "INSERT INTO mnemoplug_users(tenant_id, user_id, generation) VALUES (:t, :u, 1) "
                        "ON CONFLICT(tenant_id, user_id) DO UPDATE SET generation = generation + 1 "
                        "RETURNING generation"
                    ),
                    {"t": t, "u": u},
                )
            ).first()
            assert row is not None
            gens[(t, u)] = int(row[0])
        return gens

    async def _index(self, conn: AsyncConnection, key: tuple[str, str]) -> UserIndex | None:
        row = (
            await conn.execute(
                text(
                    "SELECT generation FROM mnemoplug_users WHERE tenant_id = :t AND user_id = :u"
                ),
                {"t": key[0], "u": key[1]},
            )
        ).first()
        if row is None:
            return None
        gen = int(row[0])
        cached = self._cache.get(key, gen)
        if cached is not None:
            return cached
        rows = (
            await conn.execute(
                text(
                    f"SELECT {_COLS} FROM mnemoplug_memories WHERE tenant_id = :t AND user_id = :u"
                ),
                {"t": key[0], "u": key[1]},
            )
        ).all()
        idx = UserIndex(lexical=False)
        idx.extend(_row(r) for r in rows)
        # a write may have committed between the two statements: only cache what is consistent
        row2 = (
            await conn.execute(
                text(
                    "SELECT generation FROM mnemoplug_users WHERE tenant_id = :t AND user_id = :u"
                ),
                {"t": key[0], "u": key[1]},
            )
        ).first()
        if row2 is not None and int(row2[0]) == gen:
            self._cache.put(key, gen, idx)
        return idx

    # -- writes ------------------------------------------------------------------------------
    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        eng = await self._w()
        params = [_params(m) for m in memories]
        async with eng.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO mnemoplug_memories ({_COLS}, scope_token) VALUES (:id, :tenant_id, :user_id, "
                    ":agent_id, :session_id, :role, :content, :metadata, :embedding, :created_at, "
                    ":updated_at, :expires_at, :scope_token)"
                ),
                params,
            )
            gens = await self._bump(conn, ((m.tenant_id, m.user_id) for m in memories))

        def apply(key: tuple[str, str], idx: UserIndex) -> None:
            idx.extend(m for m in memories if (m.tenant_id, m.user_id) == key)

        self._cache.after_write(gens, apply)

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        eng = await self._w()
        params = [_params(m) for m in memories]
        async with eng.begin() as conn:
            old_owners = []
            for m in memories:
                row = (
                    await conn.execute(
                        text("SELECT tenant_id, user_id FROM mnemoplug_memories WHERE id = :id"),
                        {"id": m.id},
                    )
                ).first()
                if row is not None:
                    old_owners.append((row[0], row[1]))
            await conn.execute(
                text("DELETE FROM mnemoplug_memories WHERE id = :id"),
                [{"id": m.id} for m in memories],
            )
            await conn.execute(
                text(
                    f"INSERT INTO mnemoplug_memories ({_COLS}, scope_token) VALUES (:id, :tenant_id, :user_id, "
                    ":agent_id, :session_id, :role, :content, :metadata, :embedding, :created_at, "
                    ":updated_at, :expires_at, :scope_token)"
                ),
                params,
            )
            gens = await self._bump(
                conn, [*old_owners, *((m.tenant_id, m.user_id) for m in memories)]
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
        eng = await self._w()
        p: dict[str, Any] = {"id": memory_id, "now": updated_at}
        where = f"id = :id AND {_scope_sql(scope, p)} AND (expires_at IS NULL OR expires_at > :now)"
        sets = ["updated_at = :now"]
        if content is not None:
            sets += ["content = :content", "embedding = :embedding"]
            p["content"], p["embedding"] = content, _pack(embedding)
        if metadata is not None:
            sets.append("metadata = :metadata")
            p["metadata"] = json.dumps(metadata, separators=(",", ":"))
        if expires_at is not ...:
            sets.append("expires_at = :exp")
            p["exp"] = expires_at
        async with eng.begin() as conn:
            row = (
                await conn.execute(
                    text(
                        f"UPDATE mnemoplug_memories SET {', '.join(sets)} WHERE {where} RETURNING {_COLS}"
                    ),
                    p,
                )
            ).first()
            if row is None:
                return None
            new = _row(row)
            gens = await self._bump(conn, [scope.user_key])
        self._cache.after_write(gens, lambda key, idx: idx.upsert(new))
        return new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        eng = await self._w()
        p: dict[str, Any] = {"id": memory_id}
        async with eng.begin() as conn:
            res = await conn.execute(
                text(f"DELETE FROM mnemoplug_memories WHERE id = :id AND {_scope_sql(scope, p)}"), p
            )
            if not res.rowcount:
                return False
            gens = await self._bump(conn, [scope.user_key])
        self._cache.after_write(gens, lambda key, idx: idx.remove(memory_id))
        return True

    async def delete_all(self, scope: Scope) -> int:
        eng = await self._w()
        p: dict[str, Any] = {}
        async with eng.begin() as conn:
            res = await conn.execute(
                text(f"DELETE FROM mnemoplug_memories WHERE {_scope_sql(scope, p)}"), p
            )
            n = int(res.rowcount or 0)
            if n:
                await self._bump(conn, [scope.user_key])
        self._cache.drop(scope.user_key)
        return n

    async def purge_expired(self, now: float) -> int:
        eng = await self._w()
        async with eng.begin() as conn:
            users = (
                await conn.execute(
                    text(
                        "SELECT DISTINCT tenant_id, user_id FROM mnemoplug_memories "
                        "WHERE expires_at IS NOT NULL AND expires_at <= :now"
                    ),
                    {"now": now},
                )
            ).all()
            if not users:
                return 0
            res = await conn.execute(
                text(
                    "DELETE FROM mnemoplug_memories WHERE expires_at IS NOT NULL AND expires_at <= :now"
                ),
                {"now": now},
            )
            await self._bump(conn, [(r[0], r[1]) for r in users])
        for r in users:
            self._cache.drop((r[0], r[1]))
        return int(res.rowcount or 0)

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        eng = await self._r()
        p: dict[str, Any] = {"id": memory_id, "now": now}
        async with eng.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        f"SELECT {_COLS} FROM mnemoplug_memories WHERE id = :id AND {_scope_sql(scope, p)} "
                        "AND (expires_at IS NULL OR expires_at > :now)"
                    ),
                    p,
                )
            ).first()
        return None if row is None else _row(row)

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> list[StoredMemory]:
        idx = await self._search_index(scope.user_key)
        return [] if idx is None else idx.newest(scope, filters, now, limit, offset)

    async def count(self, scope: Scope, now: float) -> int:
        eng = await self._r()
        p: dict[str, Any] = {"now": now}
        async with eng.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        f"SELECT count(*) FROM mnemoplug_memories WHERE {_scope_sql(scope, p)} "
                        "AND (expires_at IS NULL OR expires_at > :now)"
                    ),
                    p,
                )
            ).first()
        return int(row[0]) if row else 0

    def _quick_rows(self, sql: str, params: Sequence[Any]) -> builtins.list[Any] | None:
        """Run a small read on a synchronous connection in this thread (no thread hop, never
        waits: busy_timeout 0); None when it could not run now (the caller falls back)."""
        if self._writer is None:
            return None
        try:
            with self._quick_lock:
                conn = self._quick
                if conn is None:
                    conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                    conn.execute("PRAGMA busy_timeout = 0")
                    conn.execute("PRAGMA query_only = 1")
                    self._quick = conn
                return conn.execute(sql, params).fetchall()
        except sqlite3.Error:
            return None

    def _quick_generation(self, key: tuple[str, str]) -> int | bool | None:
        """The user's generation: an int, None when the user has no row, or False when it
        could not be read now."""
        rows = self._quick_rows(
            "SELECT generation FROM mnemoplug_users WHERE tenant_id = ? AND user_id = ?", key
        )
        if rows is None:
            return False
        return int(rows[0][0]) if rows else None

    def _doc_frequencies(self, run: Any, stems: builtins.list[str]) -> tuple[dict[str, int], int]:
        """Document frequency of each stem and (an upper bound of) the number of documents,
        cached for a few seconds: they only steer which terms go into the FTS5 query; the
        scores themselves always come from FTS5."""
        now = time.monotonic()
        if now - self._df_time > 10.0:
            self._df.clear()
            self._df_total = int(run("SELECT max(rowid) FROM mnemoplug_memories", ())[0][0] or 0)
            self._df_time = now
        missing = [t for t in stems if t not in self._df]
        if missing:
            found = dict(
                run(
                    f"SELECT term, doc FROM mnemoplug_fts_vocab WHERE term IN "
                    f"({','.join('?' * len(missing))})",
                    missing,
                )
            )
            if len(self._df) > 50_000:
                self._df.clear()
            for t in missing:
                self._df[t] = int(found.get(t, 0))
        return {t: self._df[t] for t in stems}, self._df_total

    def _fts_match(
        self, run: Any, scope: Scope, query: str, prune: float | None, user_docs: int
    ) -> str | None:
        """The FTS5 MATCH expression for ``query`` in the user's rows, or None (no usable
        term). Terms found in more than ``prune`` (a share) of all documents are dropped:
        their IDF is near zero, so they barely move the ranking, but they would make FTS5
        score every row of a large user. Only with a dense score present (else ``prune`` is
        None) and at 1,000 documents or more; the rarest term is always kept. The user's
        ``scope_token`` narrows the MATCH when the user holds under half of the file (else the
        SQL join does, more cheaply)."""
        words = query_terms(query)
        if not words:
            return None
        stems = {w: _stem(w) for w in words}
        df, total = self._doc_frequencies(run, sorted(set(stems.values())))
        if prune is not None and total >= 1000:
            rarest = min(words, key=lambda w: df[stems[w]])
            words = [w for w in words if w == rarest or df[stems[w]] <= prune * total]
        terms = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        if user_docs * 2 >= total:
            return f"content : ({terms})"
        return f'scope_token : "{scope_token(scope.tenant, scope.user_id)}" AND content : ({terms})'

    def _fts_scores(
        self, run: Any, scope: Scope, query: str, k: int, prune: float | None, user_docs: int
    ) -> dict[str, float]:
        match = self._fts_match(run, scope, query, prune, user_docs)
        if match is None:
            return {}
        # rank inside FTS5 first, then join only the user's best k rows for their ids
        rows = run(
            "SELECT m.id, -f.s FROM (SELECT rowid, bm25(mnemoplug_fts, 1.0, 0.0) AS s "
            "FROM mnemoplug_fts WHERE mnemoplug_fts MATCH ?) AS f "
            "JOIN mnemoplug_memories m ON m.rowid = f.rowid "
            "WHERE m.tenant_id = ? AND m.user_id = ? ORDER BY f.s LIMIT ?",
            (match, scope.tenant, scope.user_id, k),
        )
        return {r[0]: float(r[1]) for r in rows}

    def _lexical_blocking(
        self, scope: Scope, query: str, k: int, prune: float | None, user_docs: int
    ) -> dict[str, float]:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
        try:
            return self._fts_scores(
                lambda sql, params: conn.execute(sql, params).fetchall(),
                scope,
                query,
                k,
                prune,
                user_docs,
            )
        finally:
            conn.close()

    async def _lexical(
        self, scope: Scope, query: str, k: int, prune: float | None, user_docs: int
    ) -> dict[str, float]:
        """FTS5 BM25 scores (positive, higher is better) of the user's best lexical matches."""

        class _Busy(Exception):
            pass

        def quick(sql: str, params: Sequence[Any]) -> builtins.list[Any]:
            rows = self._quick_rows(sql, params)
            if rows is None:
                raise _Busy
            return rows

        try:
            return self._fts_scores(quick, scope, query, k, prune, user_docs)
        except _Busy:
            return await asyncio.to_thread(
                self._lexical_blocking, scope, query, k, prune, user_docs
            )

    async def _search_index(self, key: tuple[str, str]) -> UserIndex | None:
        gen = self._quick_generation(key)
        if gen is None:
            return None
        if gen is not False:
            cached = self._cache.get(key, gen)
            if cached is not None:
                return cached
        eng = await self._r()
        async with eng.connect() as conn:
            return await self._index(conn, key)

    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        idx = await self._search_index(scope.user_key)
        if idx is None:
            return []
        cfg = request.config
        lexical: dict[str, float] = {}
        if cfg.lexical_weight > 0:
            dense = request.vector is not None and cfg.dense_weight > 0
            prune = cfg.common_term_ratio if dense else None
            lexical = await self._lexical(
                scope, request.query, cfg.lexical_candidates, prune, len(idx)
            )
        return idx.search(scope, request, lexical=lexical)

    async def list_users(self) -> builtins.list[tuple[str, str]]:
        eng = await self._r()
        async with eng.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT DISTINCT tenant_id, user_id FROM mnemoplug_memories ORDER BY tenant_id, user_id"
                    )
                )
            ).all()
        return [(r[0], r[1]) for r in rows]

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        eng = await self._r()
        last = -1
        while True:
            async with eng.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            f"SELECT rowid, {_COLS} FROM mnemoplug_memories WHERE tenant_id = :t "
                            "AND user_id = :u AND rowid > :last ORDER BY rowid LIMIT :k"
                        ),
                        {"t": tenant_id, "u": user_id, "last": last, "k": batch_size},
                    )
                ).all()
            if not rows:
                return
            last = rows[-1][0]
            yield [_row(r[1:]) for r in rows]
