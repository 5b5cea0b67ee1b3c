"""Erasure on SQLite: after a user's rows are deleted, leave no readable trace in the files.

Every connection runs with ``PRAGMA secure_delete = ON`` (see :func:`.readers.connect`, which
:mod:`.writer` uses too, and :mod:`.engine`), so deleted cells and freed pages are overwritten
with zeros. What remains is cleaned here, after a whole user is deleted (``forget``):

* an FTS5 index keeps deleted text in its segments until they merge: ``optimize`` merges them
  (when the file has such an index);
* the write-ahead log still holds the frames that wrote the text: a ``TRUNCATE`` checkpoint
  copies the log into the file and empties it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["merge_fts", "truncate_engine_wal", "truncate_wal"]


def merge_fts(conn: sqlite3.Connection) -> None:
    """Merge the FTS5 index's segments (dropping deleted entries), if the file has one; in the
    caller's write transaction."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mnemoplug_fts'"
    ).fetchone()
    if found is not None:
        conn.execute("INSERT INTO mnemoplug_fts(mnemoplug_fts) VALUES ('optimize')")


def _checkpoint(path: Path, busy_timeout_ms: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def truncate_wal(path: Path, busy_timeout_ms: int = 5000) -> None:
    """Checkpoint the WAL into the file and truncate it, after the erasure committed (best
    effort: a reader still holding an old snapshot leaves the log for the next checkpoint)."""
    await asyncio.to_thread(_checkpoint, path, busy_timeout_ms)


async def truncate_engine_wal(engine: AsyncEngine) -> None:
    """:func:`truncate_wal` through a SQLAlchemy engine (the SQL session and checkpoint
    stores), on one of its connections."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        cur = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await cur.close()
