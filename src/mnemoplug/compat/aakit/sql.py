"""AA Kit's SQLite and PostgreSQL backends."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...core.errors import ConfigurationError, MemoryValidationError
from ...core.session import Message, check_session_id
from .base import _check_query, _positive, _StoreBackend

_SELECT = re.compile(r"\A\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(select|with)\b", re.I | re.S)
_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def _read_only_authorizer(action: int, *_args: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


class SQLiteBackend(_StoreBackend):
    """Sessions in a SQLite file (WAL; several processes may share it).

    Args:
        db_path: the database file (created with its directory when missing).
        table_name: the session table; messages live in ``<table_name>_messages``.
        auto_vacuum: create a new file with ``PRAGMA auto_vacuum = FULL`` (no effect on an
            existing file).
        journal_mode: must be ``"WAL"``, the only mode mnemoplug's SQLite store runs in.

    :meth:`query` runs one read-only SELECT in which ``<table_name>`` is a view of the
    messages (``seq, session_id, message_id, role, content, timestamp, metadata``) and
    ``<table_name>_sessions`` a view of the sessions; the raw tables are ``main.<table_name>``
    and ``main.<table_name>_messages``.
    """

    backend_name = "sqlite"

    def __init__(
        self,
        db_path: str | Path = "agent_memory.db",
        table_name: str = "conversations",
        auto_vacuum: bool = True,
        journal_mode: str = "WAL",
    ) -> None:
        from ...providers.sqlite import SQLiteSessionMemory

        if not isinstance(journal_mode, str) or journal_mode.upper() != "WAL":
            raise ConfigurationError(
                f"journal_mode={journal_mode!r} is not supported: mnemoplug's SQLite store "
                f"always runs in WAL mode (pass journal_mode='WAL' or leave it out)"
            )
        if not isinstance(db_path, str | Path) or not str(db_path).strip():
            raise ConfigurationError(f"db_path must be a file path, got {db_path!r}")
        store = SQLiteSessionMemory(path=db_path, table=table_name)
        self.db_path = store.path
        self.table_name = store.table
        self.auto_vacuum = bool(auto_vacuum)
        self._prepared = False
        super().__init__(
            store,
            {
                "db_path": str(self.db_path),
                "table_name": table_name,
                "auto_vacuum": self.auto_vacuum,
                "journal_mode": "WAL",
            },
        )

    def _prepare_file(self) -> None:
        if self.auto_vacuum and not self.db_path.exists():
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.db_path)
            try:
                conn.execute("PRAGMA auto_vacuum = FULL")
                conn.execute("PRAGMA journal_mode = WAL")  # writes the header: setting kept
            finally:
                conn.close()

    async def _ready(self) -> None:
        if not self._prepared:
            await asyncio.to_thread(self._prepare_file)
            self._prepared = True
        await self.store.open()  # type: ignore[attr-defined]

    async def save(
        self,
        session_id: str,
        messages: list[Message],
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        """See :meth:`_StoreBackend.save`."""
        await self._ready()
        await super().save(session_id, messages, user_id=user_id, tenant_id=tenant_id)

    async def query(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        """Run one read-only ``SELECT`` (or ``WITH ... SELECT``) with ``?`` (or ``:name``)
        parameters; return the rows as dicts.

        Anything else — a second statement, UPDATE/DELETE/INSERT, DDL, ATTACH, PRAGMA —
        raises MemoryValidationError and changes nothing: the statement runs on its own
        connection with ``PRAGMA query_only`` and an authorizer that allows only reads.
        """
        if not isinstance(sql, str):
            raise MemoryValidationError(f"sql must be a string, got {type(sql).__name__}")
        if not _SELECT.match(sql):
            raise MemoryValidationError(
                f"query() runs a single read-only SELECT statement; refused {sql[:60]!r}"
            )
        if not isinstance(params, Sequence | dict) or isinstance(params, str | bytes):
            raise MemoryValidationError(
                f"params must be a tuple/list (for ?) or a dict (for :name), got "
                f"{type(params).__name__}"
            )
        await self._ready()
        return await asyncio.to_thread(self._query, sql, params)

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[dict[str, Any]]:
        t = self.table_name
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            conn.execute(
                f'CREATE TEMP VIEW "{t}" AS SELECT m.seq AS seq, m.session_id AS session_id, '
                f"json_extract(m.data, '$.id') AS message_id, "
                f"json_extract(m.data, '$.role') AS role, "
                f"json_extract(m.data, '$.content') AS content, "
                f"json_extract(m.data, '$.timestamp') AS timestamp, "
                f"json_extract(m.data, '$.metadata') AS metadata "
                f'FROM main."{t}_messages" AS m'
            )
            conn.execute(f'CREATE TEMP VIEW "{t}_sessions" AS SELECT * FROM main."{t}"')
            conn.execute("PRAGMA query_only = ON")
            conn.set_authorizer(_read_only_authorizer)
            try:
                cur = conn.execute(sql, params)
                cols = [d[0] for d in cur.description or ()]
                return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
            except (sqlite3.DatabaseError, sqlite3.ProgrammingError, sqlite3.Warning) as exc:
                raise MemoryValidationError(
                    f"query() refused or failed: {exc} (only a single read-only SELECT runs)"
                ) from None
        finally:
            conn.close()


class PostgreSQLBackend(_StoreBackend):
    """Sessions in PostgreSQL.

    Args:
        connection_string: ``postgresql://user:pass@host/db`` (``postgresql+asyncpg://`` too).
        pool_size: connection pool size.
        table_name: the session table; messages live in ``<table_name>_messages``.
        schema: must be ``"public"`` (the store uses the connection's search_path).
        enable_search: allow :meth:`search_fulltext`.
    """

    backend_name = "postgres"

    def __init__(
        self,
        connection_string: str | None = None,
        pool_size: int = 10,
        table_name: str = "agent_conversations",
        schema: str = "public",
        enable_search: bool = True,
    ) -> None:
        from ...providers.postgres import PostgresSessionMemory

        if schema != "public":
            raise ConfigurationError(
                f"schema={schema!r} is not supported: mnemoplug's PostgreSQL store creates its "
                f"tables in the connection's search_path; use schema='public' (the default)"
            )
        if connection_string is None:
            raise ConfigurationError(
                "PostgreSQLBackend needs connection_string='postgresql://user:pass@host/db'"
            )
        store = PostgresSessionMemory(connection_string, table=table_name, pool_size=pool_size)
        self.table_name = store.table
        self.enable_search = bool(enable_search)
        super().__init__(
            store,
            {
                "connection_string": store.url,
                "pool_size": pool_size,
                "table_name": table_name,
                "schema": schema,
                "enable_search": self.enable_search,
            },
        )

    async def search_fulltext(
        self, query: str, session_ids: Sequence[str] | None = None, limit: int = 10
    ) -> list[Message]:
        """PostgreSQL full-text search (``english`` configuration: stemmed, stop words
        dropped) over message content, best match first (newest first on ties); in the given
        sessions only when ``session_ids`` is a list."""
        from sqlalchemy import bindparam, text

        from ...core.session import decode_message

        if not self.enable_search:
            raise ConfigurationError(
                "full-text search is off for this backend; create it with enable_search=True"
            )
        _check_query(query)
        n = _positive("limit", limit)
        t = self.table_name
        where = ""
        params: dict[str, Any] = {"q": query, "n": n}
        if session_ids is not None:
            if isinstance(session_ids, str) or not isinstance(session_ids, Sequence):
                raise ConfigurationError("session_ids must be a list of session ids or None")
            params["ids"] = [check_session_id(s) for s in session_ids]
            if not params["ids"]:
                return []
            where = " AND m.session_id IN :ids"
        stmt = text(
            f"SELECT m.data FROM {t}_messages AS m, plainto_tsquery('english', :q) AS q "
            f"WHERE to_tsvector('english', (m.data::json)->>'content') @@ q{where} "
            f"ORDER BY ts_rank(to_tsvector('english', (m.data::json)->>'content'), q) DESC, "
            f"m.seq DESC LIMIT :n"
        )
        if session_ids is not None:
            stmt = stmt.bindparams(bindparam("ids", expanding=True))
        engine = await self.store.open()  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt, params)).all()
        return [decode_message(r[0]) for r in rows]
