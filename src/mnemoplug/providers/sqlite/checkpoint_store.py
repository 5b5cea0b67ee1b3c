"""SQLite checkpoint store: ``checkpoint_store_from_url("sqlite:///checkpoints.db")``.

Default path: ``checkpoints.db`` beside the long-term memory database. Table: see
:mod:`mnemoplug.providers._sql_stores`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..sql.stores import SQLITE, SQLCheckpointStore, sqlite_engine
from .memory_store import default_sqlite_path
from .session_store import resolve_path

__all__ = ["SQLiteCheckpointStore", "default_checkpoint_path"]


def default_checkpoint_path() -> Path:
    """``checkpoints.db`` beside the default long-term memory database."""
    return default_sqlite_path().with_name("checkpoints.db")


class SQLiteCheckpointStore(SQLCheckpointStore):
    """Checkpoints in a SQLite file (``url`` or ``path=``; ``table`` option)."""

    name = "sqlite"

    def __init__(
        self,
        url: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        table: str = "mnemoplug_checkpoints",
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self.path = resolve_path(url, path, default_checkpoint_path())

        def make() -> object:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite_engine(self.path, busy_timeout_ms)

        super().__init__(dialect=SQLITE, make_engine=make, url=f"sqlite:///{self.path}",
                         table=table)
