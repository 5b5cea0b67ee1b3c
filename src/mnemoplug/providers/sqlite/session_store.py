"""SQLite session memory (WAL, SQLAlchemy 2 async + aiosqlite):
``session_memory_from_url("sqlite:///sessions.db")`` or ``SQLiteSessionMemory(path=...)``.

Default path: ``sessions.db`` beside the long-term memory database
(``$MNEMOPLUG_DB_PATH``'s directory, else ``~/.local/share/mnemoplug/``). Tables: see
:mod:`mnemoplug.providers.sql.stores`. Writes are serialised (one writer, ``BEGIN
IMMEDIATE``); several processes may share the file.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING

from ...core.session import Summarizer
from .._options import non_negative_int
from .._sessions import session_ttl
from ..sql.stores import SQLITE, SQLSessionMemory
from .engine import sqlite_engine
from .paths import default_session_path, resolve_path

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SQLiteSessionMemory", "default_session_path"]


class SQLiteSessionMemory(SQLSessionMemory):
    """Session memory in a SQLite file.

    Args:
        url: ``sqlite:///path.db`` (or pass ``path=``).
        table: table name prefix (``mnemoplug_sessions``).
        ttl_seconds: a session not written for this long (seconds or a timedelta) reads as
            absent and is deleted lazily; None = never. ``ttl`` is the older name.
        max_messages: keep the last N messages per session; None = all.
        busy_timeout_ms: how long a write waits for another process's (10,000).
        summarizer: see :class:`~mnemoplug.core.session.SessionMemory`.
    """

    name = "sqlite"

    def __init__(
        self,
        url: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        table: str = "mnemoplug_sessions",
        ttl_seconds: float | timedelta | None = None,
        ttl: float | timedelta | None = None,
        max_messages: int | None = None,
        busy_timeout_ms: int = 10_000,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.path = resolve_path(url, path, default_session_path())
        timeout = non_negative_int("busy_timeout_ms", busy_timeout_ms)

        def make() -> AsyncEngine:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite_engine(self.path, timeout)

        super().__init__(
            dialect=SQLITE,
            make_engine=make,
            url=f"sqlite:///{self.path}",
            table=table,
            max_messages=max_messages,
            ttl=session_ttl(ttl, ttl_seconds),
            summarizer=summarizer,
        )
