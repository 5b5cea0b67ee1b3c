"""qdrant-client's local mode on disk, tuned for the development use it is meant for.

Local mode commits one SQLite transaction (with an fsync) per point: ~35 ms a point. Its storage
files are put in WAL mode with ``synchronous=NORMAL`` (no fsync per commit; a power cut may
lose the last writes). The mem0 backend applies the same to mem0's own local qdrant and history
database.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["fast_sqlite", "tune_local_storage"]


def fast_sqlite(conn: Any) -> None:
    """WAL and ``synchronous=NORMAL`` on a sqlite3 connection (nothing when it refuses)."""
    with contextlib.suppress(Exception):
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")


def tune_local_storage(client: Any) -> None:
    """:func:`fast_sqlite` on every storage file of a local-mode client (sync or async); does
    nothing when the client's internals look different."""
    inner = getattr(client, "_client", None)
    for coll in getattr(inner, "collections", {}).values():
        conn = getattr(getattr(coll, "storage", None), "storage", None)
        if conn is not None:
            fast_sqlite(conn)
