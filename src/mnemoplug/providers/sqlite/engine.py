"""The aiosqlite engines of the SQLite session and checkpoint stores.

A writer engine holds one connection that puts the file in WAL mode and starts every
transaction with ``BEGIN IMMEDIATE`` (SQLite has one writer; waiting happens up front, within
``busy_timeout_ms``, instead of failing at the first write). Reader engines hold a small pool;
in WAL mode readers never wait for the writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["sqlite_engine"]


def sqlite_engine(
    path: Path, busy_timeout_ms: int = 10_000, *, writer: bool = True, pool_size: int = 1
) -> AsyncEngine:
    """An aiosqlite engine on ``path``: the writer (one connection) or a reader pool
    (SQLAlchemy is imported here, at the first engine)."""
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine

    eng = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        pool_size=1 if writer else pool_size,
        max_overflow=0 if writer else pool_size,
        pool_pre_ping=False,
    )
    timeout = int(busy_timeout_ms)

    @event.listens_for(eng.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {timeout}")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA temp_store = MEMORY")
        cur.execute("PRAGMA secure_delete = ON")  # deleted text is zeroed, not left in the file
        if writer:
            # outside any transaction: SQLAlchemy's autobegin would wrap a later PRAGMA in our
            # BEGIN IMMEDIATE, and SQLite refuses to switch to WAL inside a transaction (which
            # broke re-opening an existing file)
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    if writer:

        @event.listens_for(eng.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return eng
