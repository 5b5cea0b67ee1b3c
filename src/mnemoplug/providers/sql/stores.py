"""SQL session and checkpoint stores shared by the SQLite and PostgreSQL backends
(SQLAlchemy 2 async, imported at first use; aiosqlite / asyncpg). Only the DDL types and the engine differ: each
backend's ``session_store.py``/``checkpoint_store.py`` passes its :class:`Dialect` and an engine
factory.

Session tables (``T`` = the table option)::

    T            one row a session: session_id (key), tenant_id, user_id, created_at,
                 updated_at, message_count, metadata
    T_messages   one row a message: seq (autoincrement: the order), session_id, data (JSON)

With ``ttl_seconds``, a session whose ``updated_at`` is that old reads as absent; its rows are
deleted by the next write to its id, by ``clear``, and by ``clear_all``/``clear_old_sessions``
(which delete every expired session first, without counting them).

Checkpoint table::

    T            seq (autoincrement: save order), tenant_id, user_id, run_id, checkpoint_id,
                 parent_id, state_type ('json'|'bytes'), state (blob), metadata, created_at;
                 unique (tenant_id, user_id, run_id, checkpoint_id); indexed by owner+run+seq
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core._time import now_ts
from ...core.checkpoints import Checkpoint, build_checkpoint
from ...core.session import (
    Message,
    SessionInfo,
    Summarizer,
    decode_message,
    encode_message,
    make_info,
)
from ...core.stores import CheckpointStore, SessionStore
from .._codec import compact_json
from .._sessions import max_messages_option, ownership_error
from .base import MAX_TABLE_CHARS, POSTGRES, RETRY_WINDOW, SQLITE, Dialect, SQLBase, text
from .names import check_identifier

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class SQLSessionMemory(SQLBase, SessionStore):
    """Session memory in SQL tables (see the module docstring). ``ttl`` is in seconds (None:
    sessions never expire), already checked by the backend's constructor."""

    def __init__(
        self,
        *,
        dialect: Dialect,
        make_engine: Callable[[], AsyncEngine],
        url: str,
        table: str = "mnemoplug_sessions",
        max_messages: int | None = None,
        ttl: float | None = None,
        summarizer: Summarizer | None = None,
    ) -> None:
        SessionStore.__init__(self, summarizer=summarizer)
        self._init_sql(dialect, make_engine)
        self.url = url
        self.table = check_identifier(table, "table", max_len=MAX_TABLE_CHARS)
        self.max_messages = max_messages_option(max_messages)
        self.ttl = ttl

    def _live_after(self) -> float:
        """Sessions last written after this time (epoch seconds) are live."""
        return -1.0 if self.ttl is None else now_ts() - self.ttl

    async def _drop_expired(self, conn: AsyncConnection, session_id: str | None = None) -> None:
        """Delete expired sessions (one, or all) with their messages; no-op without a TTL.
        The session rows are locked first (PostgreSQL), so no writer refreshes one meanwhile."""
        if self.ttl is None:
            return
        t = self.table
        p: dict[str, Any] = {"c": self._live_after()}
        cond = "updated_at <= :c"
        if session_id is not None:
            p["s"] = session_id
            cond += " AND session_id = :s"
        if self.dialect.for_update:
            await conn.execute(text(f"SELECT session_id FROM {t} WHERE {cond} FOR UPDATE"), p)
        await conn.execute(
            text(
                f"DELETE FROM {t}_messages WHERE session_id IN "
                f"(SELECT session_id FROM {t} WHERE {cond})"
            ),
            p,
        )
        await conn.execute(text(f"DELETE FROM {t} WHERE {cond}"), p)

    def _schema(self) -> list[str]:
        t, d = self.table, self.dialect
        return [
            f"""CREATE TABLE IF NOT EXISTS {t} (
                session_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
                created_at {d.real} NOT NULL, updated_at {d.real} NOT NULL,
                message_count INTEGER NOT NULL DEFAULT 0, metadata TEXT NOT NULL DEFAULT '{{}}')""",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_owner ON {t} (tenant_id, user_id, updated_at)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_updated ON {t} (updated_at)",
            f"""CREATE TABLE IF NOT EXISTS {t}_messages (
                {d.seq}, session_id TEXT NOT NULL, data TEXT NOT NULL)""",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_msg ON {t}_messages (session_id, seq)",
        ]

    async def _append(
        self, session_id: str, messages: list[Message], owner: tuple[str, str], now: float
    ) -> None:
        t = self.table
        p = {"s": session_id, "t": owner[0], "u": owner[1], "now": now}
        async with self._write() as conn:
            row = None
            while row is None:  # a concurrent clear may delete the row between the statements
                await conn.execute(
                    text(
                        f"INSERT INTO {t} (session_id, tenant_id, user_id, created_at,"
                        f" updated_at, message_count) VALUES (:s, :t, :u, :now, :now, 0)"
                        f" ON CONFLICT (session_id) DO NOTHING"
                    ),
                    p,
                )
                row = (
                    await conn.execute(
                        text(
                            f"SELECT tenant_id, user_id, updated_at FROM {t} WHERE session_id = :s"
                            f"{self.dialect.for_update}"
                        ),
                        p,
                    )
                ).first()
                if row is not None and self.ttl is not None and row[2] <= now - self.ttl:
                    await self._drop_expired(conn, session_id)  # expired: start it afresh
                    row = None
            if (row[0], row[1]) != owner:
                raise ownership_error(session_id)
            messages = await self._not_yet_stored(conn, session_id, messages)
            if not messages:
                return
            await conn.execute(
                text(f"INSERT INTO {t}_messages (session_id, data) VALUES (:s, :d)"),
                [{"s": session_id, "d": encode_message(m)} for m in messages],
            )
            trimmed = 0
            if self.max_messages is not None:
                res = await conn.execute(
                    text(
                        f"DELETE FROM {t}_messages WHERE session_id = :s AND seq <= ("
                        f"SELECT seq FROM {t}_messages WHERE session_id = :s "
                        f"ORDER BY seq DESC LIMIT 1 OFFSET :n)"
                    ),
                    {"s": session_id, "n": self.max_messages},
                )
                trimmed = max(res.rowcount or 0, 0)
            await conn.execute(
                text(
                    f"UPDATE {t} SET message_count = message_count + :k,"
                    f" updated_at = CASE WHEN updated_at > :now THEN updated_at ELSE :now END"
                    f" WHERE session_id = :s"
                ),
                {"s": session_id, "now": now, "k": len(messages) - trimmed},
            )

    async def _not_yet_stored(
        self, conn: AsyncConnection, session_id: str, messages: list[Message]
    ) -> list[Message]:
        """``messages`` without those already among the session's last ones (same id): a
        retry after an error that said the append may have been applied stores nothing
        twice."""
        sql = (
            f"SELECT {self.dialect.message_id} FROM {self.table}_messages WHERE session_id = :s"
            f" ORDER BY seq DESC LIMIT :k"
        )
        k = len(messages) + RETRY_WINDOW
        seen = {r[0] for r in await conn.execute(text(sql), {"s": session_id, "k": k})}
        return [m for m in messages if m.id not in seen] if seen else messages

    def _info_row(self, r: Any) -> SessionInfo:
        return make_info(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))

    _INFO_COLS = "session_id, tenant_id, user_id, created_at, updated_at, message_count, metadata"

    async def _info(self, session_id: str) -> SessionInfo | None:
        async with self._read() as conn:
            r = (
                await conn.execute(
                    text(
                        f"SELECT {self._INFO_COLS} FROM {self.table} WHERE session_id = :s"
                        f" AND updated_at > :c"
                    ),
                    {"s": session_id, "c": self._live_after()},
                )
            ).first()
        return None if r is None else self._info_row(r)

    async def _get(self, session_id: str, limit: int | None) -> list[Message]:
        t = self.table
        where = "session_id = :s"
        if self.ttl is not None:
            where += (
                f" AND session_id IN (SELECT session_id FROM {t} WHERE session_id = :s"
                f" AND updated_at > :c)"
            )
        if limit is None:
            sql = f"SELECT data FROM {t}_messages WHERE {where} ORDER BY seq"
        else:
            sql = (
                f"SELECT data FROM (SELECT seq, data FROM {t}_messages WHERE {where}"
                f" ORDER BY seq DESC LIMIT :n) AS x ORDER BY seq"
            )
        p = {"s": session_id, "n": limit, "c": self._live_after()}
        async with self._read() as conn:
            rows = (await conn.execute(text(sql), p)).all()
        return [decode_message(r[0]) for r in rows]

    async def _clear(self, session_id: str) -> int:
        t = self.table
        async with self._write() as conn:
            await self._drop_expired(conn, session_id)  # an expired session held nothing
            res = await conn.execute(
                text(f"DELETE FROM {t}_messages WHERE session_id = :s"), {"s": session_id}
            )
            await conn.execute(text(f"DELETE FROM {t} WHERE session_id = :s"), {"s": session_id})
        return max(res.rowcount or 0, 0)

    def _owner_where(self, tenant: str | None, user: str | None, p: dict[str, Any]) -> str:
        """Live sessions of the owner filter (None = any); parameters into ``p``."""
        p["c"] = self._live_after()
        clauses = ["updated_at > :c"]
        if tenant is not None:
            p["t"] = tenant
            clauses.append("tenant_id = :t")
        if user is not None:
            p["u"] = user
            clauses.append("user_id = :u")
        return " AND ".join(clauses)

    async def _list(
        self, tenant: str | None, user: str | None, limit: int | None
    ) -> list[SessionInfo]:
        p: dict[str, Any] = {}
        where = self._owner_where(tenant, user, p)
        sql = (
            f"SELECT {self._INFO_COLS} FROM {self.table} WHERE {where}"
            f" ORDER BY updated_at DESC, session_id"
        )
        if limit is not None:
            sql += " LIMIT :n"
            p["n"] = limit
        async with self._read() as conn:
            rows = (await conn.execute(text(sql), p)).all()
        return [self._info_row(r) for r in rows]

    async def _delete_where(self, where: str, p: dict[str, Any]) -> int:
        t = self.table
        async with self._write() as conn:
            await self._drop_expired(conn)  # gone already: not counted
            await conn.execute(
                text(
                    f"DELETE FROM {t}_messages WHERE session_id IN "
                    f"(SELECT session_id FROM {t} WHERE {where})"
                ),
                p,
            )
            res = await conn.execute(text(f"DELETE FROM {t} WHERE {where}"), p)
        return max(res.rowcount or 0, 0)

    async def _clear_owned(self, tenant: str | None, user: str | None) -> int:
        p: dict[str, Any] = {}
        n = await self._delete_where(self._owner_where(tenant, user, p), p)
        await self._erase_traces()
        return n

    async def _clear_older(self, cutoff: float) -> int:
        return await self._delete_where("updated_at < :c", {"c": cutoff})

    async def _rewrite(
        self, session_id: str, transform: Callable[[Message], Message | None]
    ) -> int:
        t = self.table
        async with self._write() as conn:
            # lock the session row (PostgreSQL) so no append or trim interleaves
            await conn.execute(
                text(f"SELECT session_id FROM {t} WHERE session_id = :s{self.dialect.for_update}"),
                {"s": session_id},
            )
            rows = (
                await conn.execute(
                    text(f"SELECT seq, data FROM {t}_messages WHERE session_id = :s ORDER BY seq"),
                    {"s": session_id},
                )
            ).all()
            changes = []
            for seq, data in rows:
                new = transform(decode_message(data))
                if new is not None:
                    changes.append({"q": seq, "d": encode_message(new)})
            if changes:
                await conn.execute(
                    text(f"UPDATE {t}_messages SET data = :d WHERE seq = :q"), changes
                )
        return len(changes)


class SQLCheckpointStore(SQLBase, CheckpointStore):
    """Checkpoints in one SQL table (see the module docstring)."""

    def __init__(
        self,
        *,
        dialect: Dialect,
        make_engine: Callable[[], AsyncEngine],
        url: str,
        table: str = "mnemoplug_checkpoints",
    ) -> None:
        self._init_sql(dialect, make_engine)
        self.url = url
        self.table = check_identifier(table, "table", max_len=MAX_TABLE_CHARS)

    def _schema(self) -> list[str]:
        t, d = self.table, self.dialect
        return [
            f"""CREATE TABLE IF NOT EXISTS {t} (
                {d.seq}, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, run_id TEXT NOT NULL,
                checkpoint_id TEXT NOT NULL, parent_id TEXT, state_type TEXT NOT NULL,
                state {d.blob} NOT NULL, metadata TEXT NOT NULL, created_at {d.real} NOT NULL,
                UNIQUE (tenant_id, user_id, run_id, checkpoint_id))""",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_run ON {t} (tenant_id, user_id, run_id, seq)",
            f"CREATE INDEX IF NOT EXISTS ix_{t}_user ON {t} (tenant_id, user_id, seq)",
        ]

    _COLS = (
        "run_id, checkpoint_id, tenant_id, user_id, state_type, state, metadata,"
        " parent_id, created_at"
    )

    @staticmethod
    def _row(r: Any) -> Checkpoint:
        return build_checkpoint(
            run_id=r[0],
            checkpoint_id=r[1],
            tenant=r[2],
            user=r[3],
            state_type=r[4],
            raw=bytes(r[5]),
            metadata=r[6],
            parent_id=r[7],
            created_at=r[8],
        )

    async def _save(
        self,
        owner: tuple[str, str],
        run_id: str,
        checkpoint_id: str,
        parent_id: str | None,
        state_type: str,
        raw: bytes,
        metadata: dict[str, Any],
        created_at: float,
    ) -> None:
        t = self.table
        async with self._write() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {t} (tenant_id, user_id, run_id, checkpoint_id, parent_id,"
                    f" state_type, state, metadata, created_at)"
                    f" VALUES (:t, :u, :r, :c, :p, :st, :s, :m, :at)"
                    f" ON CONFLICT (tenant_id, user_id, run_id, checkpoint_id) DO UPDATE SET"
                    f" parent_id = excluded.parent_id, state_type = excluded.state_type,"
                    f" state = excluded.state, metadata = excluded.metadata,"
                    f" created_at = excluded.created_at"
                ),
                {
                    "t": owner[0],
                    "u": owner[1],
                    "r": run_id,
                    "c": checkpoint_id,
                    "p": parent_id,
                    "st": state_type,
                    "s": raw,
                    "m": compact_json(metadata),
                    "at": created_at,
                },
            )

    async def _load(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> Checkpoint | None:
        p: dict[str, Any] = {"t": owner[0], "u": owner[1], "r": run_id}
        sql = (
            f"SELECT {self._COLS} FROM {self.table} WHERE tenant_id = :t AND user_id = :u"
            f" AND run_id = :r"
        )
        if checkpoint_id is not None:
            sql += " AND checkpoint_id = :c"
            p["c"] = checkpoint_id
        sql += " ORDER BY seq DESC LIMIT 1"
        async with self._read() as conn:
            r = (await conn.execute(text(sql), p)).first()
        return None if r is None else self._row(r)

    async def _list(
        self, owner: tuple[str, str], run_id: str | None, limit: int, before: str | None
    ) -> list[Checkpoint]:
        t = self.table
        p: dict[str, Any] = {"t": owner[0], "u": owner[1], "n": limit}
        where = "tenant_id = :t AND user_id = :u"
        if run_id is not None:
            where += " AND run_id = :r"
            p["r"] = run_id
        sql = f"SELECT {self._COLS} FROM {t} WHERE {where}"
        if before is not None:
            p["b"] = before
            sql += f" AND seq < (SELECT MAX(seq) FROM {t} WHERE {where} AND checkpoint_id = :b)"
        sql += " ORDER BY seq DESC LIMIT :n"
        async with self._read() as conn:
            rows = (await conn.execute(text(sql), p)).all()
        return [self._row(r) for r in rows]

    async def _delete(self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None) -> int:
        p: dict[str, Any] = {"t": owner[0], "u": owner[1], "r": run_id}
        sql = f"DELETE FROM {self.table} WHERE tenant_id = :t AND user_id = :u AND run_id = :r"
        if checkpoint_id is not None:
            sql += " AND checkpoint_id = :c"
            p["c"] = checkpoint_id
        return await self._exec_count(sql, p)

    async def _delete_user(self, owner: tuple[str, str]) -> int:
        n = await self._exec_count(
            f"DELETE FROM {self.table} WHERE tenant_id = :t AND user_id = :u",
            {"t": owner[0], "u": owner[1]},
        )
        await self._erase_traces()
        return n

    async def _owners(self) -> list[tuple[str, str]]:
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    text(
                        f"SELECT DISTINCT tenant_id, user_id FROM {self.table}"
                        f" ORDER BY tenant_id, user_id"
                    )
                )
            ).all()
        return [(r[0], r[1]) for r in rows]

    async def _exec_count(self, sql: str, p: dict[str, Any]) -> int:
        async with self._write() as conn:
            res = await conn.execute(text(sql), p)
        return max(res.rowcount or 0, 0)


__all__ = [
    "MAX_TABLE_CHARS",
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "SQLCheckpointStore",
    "SQLSessionMemory",
]
