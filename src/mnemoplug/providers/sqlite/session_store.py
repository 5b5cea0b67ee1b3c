"""SQLite session memory (WAL, SQLAlchemy 2 async + aiosqlite):
``session_memory_from_url("sqlite:///sessions.db")`` or ``SQLiteSessionMemory(path=...)``.

Default path: ``sessions.db`` beside the long-term memory database
(``$MNEMOPLUG_DB_PATH``'s directory, else ``~/.local/share/mnemoplug/``). Tables: see
:mod:`mnemoplug.providers._sql_stores`. Writes are serialised (one writer, ``BEGIN
IMMEDIATE``); several processes may share the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...core.errors import ConfigurationError
from ...core.session import Summarizer
from ..sql.stores import SQLITE, SQLSessionMemory, sqlite_engine
from .memory_store import _path_from_url, default_sqlite_path

__all__ = ["SQLiteSessionMemory", "default_session_path"]


def default_session_path() -> Path:
    """``sessions.db`` beside the default long-term memory database."""
    return default_sqlite_path().with_name("sessions.db")


def resolve_path(url: str | None, path: str | os.PathLike[str] | None, default: Path) -> Path:
    if url and path:
        raise ConfigurationError("pass either a sqlite:/// URL or path=, not both")
    if path:
        return Path(path).expanduser()
    return _path_from_url(url) if url else default


class SQLiteSessionMemory(SQLSessionMemory):
    """Session memory in a SQLite file.

    Args:
        url: ``sqlite:///path.db`` (or pass ``path=``).
        table: table name prefix (``mnemoplug_sessions``).
        max_messages: keep the last N messages per session; None = all.
        summarizer: see :class:`~mnemoplug.core.session.SessionMemory`.
    """

    name = "sqlite"

    def __init__(
        self,
        url: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        table: str = "mnemoplug_sessions",
        max_messages: int | None = None,
        busy_timeout_ms: int = 10_000,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.path = resolve_path(url, path, default_session_path())

        def make() -> object:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite_engine(self.path, busy_timeout_ms)

        super().__init__(
            dialect=SQLITE, make_engine=make, url=f"sqlite:///{self.path}", table=table,
            max_messages=max_messages, summarizer=summarizer,
        )
