"""The SQLite store's quick reads: a small synchronous read-only connection used in the
event-loop thread for the per-search freshness check (the user's generation), so a search of
a cached user makes no thread hop and never waits (``busy_timeout`` 0; WAL readers never wait
for writers). When it cannot answer now, the caller takes the async path.

Each row also carries a per-user ``scope_token`` (digits only, so no tokenizer or stemmer
changes it) in the FTS5 index.
"""

from __future__ import annotations

import builtins
import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["QuickReader", "scope_token"]


def scope_token(tenant_id: str, user_id: str) -> str:
    """The FTS5 token that marks one user's rows: digits only, so no tokenizer or stemmer
    changes it, and a MATCH restricted to it only walks that user's documents."""
    digest = hashlib.sha256(f"{tenant_id}\x00{user_id}".encode()).digest()
    return str(int.from_bytes(digest[:12], "big"))


class QuickReader:
    """The quick read connection of one SQLite file.

    Inactive until :meth:`start` (the store opened the file and created the schema) and after
    :meth:`close`: reads then answer None and the caller takes the async path."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._active = False
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._active = True

    def close(self) -> None:
        self._active = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._lock:
                conn.close()

    def rows(self, sql: str, params: Sequence[Any]) -> builtins.list[Any] | None:
        """Run a small read on the synchronous connection in this thread (no thread hop, never
        waits: busy_timeout 0); None when it could not run now (the caller falls back)."""
        if not self._active:
            return None
        try:
            with self._lock:
                conn = self._conn
                if conn is None:
                    conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                    conn.execute("PRAGMA busy_timeout = 0")
                    conn.execute("PRAGMA query_only = 1")
                    self._conn = conn
                return conn.execute(sql, params).fetchall()
        except sqlite3.Error:
            return None

    def generation(self, key: tuple[str, str]) -> int | bool | None:
        """The user's generation: an int, None when the user has no row, or False when it
        could not be read now."""
        rows = self.rows(
            "SELECT generation FROM mnemoplug_users WHERE tenant_id = ? AND user_id = ?", key
        )
        if rows is None:
            return False
        return int(rows[0][0]) if rows else None
