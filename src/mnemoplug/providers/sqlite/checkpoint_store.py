"""SQLite checkpoint store: ``checkpoint_store_from_url("sqlite:///checkpoints.db")``.

Default path: ``checkpoints.db`` beside the long-term memory database. Table: see
:mod:`mnemoplug.providers.sql.stores`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._options import non_negative_int
from ..sql.stores import SQLITE, SQLCheckpointStore
from .engine import sqlite_engine
from .paths import default_checkpoint_path, resolve_path

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SQLiteCheckpointStore", "default_checkpoint_path"]


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
        timeout = non_negative_int("busy_timeout_ms", busy_timeout_ms)

        def make() -> AsyncEngine:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite_engine(self.path, timeout)

        super().__init__(
            dialect=SQLITE, make_engine=make, url=f"sqlite:///{self.path}", table=table
        )
