"""Erasure on SQLite: after a user's rows are deleted, leave no readable trace in the files.

Every connection runs with ``PRAGMA secure_delete = ON`` (see :mod:`.engine`), so deleted
cells and freed pages are overwritten with zeros. What remains is cleaned here, after a whole
user is deleted (``forget``):

* an FTS5 index keeps deleted text in its segments until they merge: ``optimize`` merges them
  (when the file has such an index);
* the write-ahead log still holds the frames that wrote the text: a ``TRUNCATE`` checkpoint
  copies the log into the file and empties it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["merge_fts", "truncate_wal"]


async def merge_fts(conn: AsyncConnection) -> None:
    """Merge the FTS5 index's segments (dropping deleted entries), if the file has one; in the
    caller's write transaction."""
    found = (
        await conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mnemoplug_fts'")
        )
    ).first()
    if found is not None:
        await conn.execute(text("INSERT INTO mnemoplug_fts(mnemoplug_fts) VALUES ('optimize')"))


async def truncate_wal(engine: AsyncEngine) -> None:
    """Checkpoint the WAL into the file and truncate it (best effort: a reader still holding
    an old snapshot leaves the log for the next checkpoint)."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        cur = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await cur.close()
