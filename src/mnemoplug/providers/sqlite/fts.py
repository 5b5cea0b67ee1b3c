"""Lexical scores of the SQLite store: FTS5 BM25, restricted to one user, with common-term
pruning, run on a small synchronous read-only connection.

* Each row carries a per-user ``scope_token`` column (digits only, so no tokenizer or stemmer
  changes it), so a MATCH can walk only that user's documents.
* Query terms found in more than ``RetrievalConfig.common_term_ratio`` of all documents (5 %)
  are left out when a dense score is present: their IDF is near zero, but they would make FTS5
  score every row (7.7 ms instead of 0.8 ms at 10,000 memories of one user).
* The per-search freshness check (the user's generation) and the FTS5 query run on the quick
  connection in the event-loop thread: no thread hop, and it never waits (``busy_timeout`` 0;
  WAL readers never wait for writers). When it cannot run now, the FTS5 query falls back to a
  worker thread with a waiting connection.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...core.records import Scope
from ...core.retrieval import _stem, query_terms

__all__ = ["QuickReader", "scope_token"]

_Run = Callable[[str, Sequence[Any]], builtins.list[Any]]


def scope_token(tenant_id: str, user_id: str) -> str:
    """The FTS5 token that marks one user's rows: digits only, so no tokenizer or stemmer
    changes it, and a MATCH restricted to it only walks that user's documents."""
    digest = hashlib.sha256(f"{tenant_id}\x00{user_id}".encode()).digest()
    return str(int.from_bytes(digest[:12], "big"))


class _Busy(Exception):
    """The quick connection could not answer now."""


class QuickReader:
    """The quick read connection of one SQLite file and the FTS5 queries run on it.

    Inactive until :meth:`start` (the store opened the file and created the schema) and after
    :meth:`close`: reads then answer None and the caller takes the async path."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._active = False
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._df: dict[str, int] = {}
        self._df_total = 0
        self._df_time = -1e9

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

    async def bm25(
        self, scope: Scope, query: str, k: int, prune: float | None, user_docs: int
    ) -> dict[str, float]:
        """FTS5 BM25 scores (positive, higher is better) of the user's best ``k`` lexical
        matches; ``prune`` and ``user_docs`` as in :meth:`_match`."""

        def quick(sql: str, params: Sequence[Any]) -> builtins.list[Any]:
            rows = self.rows(sql, params)
            if rows is None:
                raise _Busy
            return rows

        try:
            return self._scores(quick, scope, query, k, prune, user_docs)
        except _Busy:
            return await asyncio.to_thread(self._blocking, scope, query, k, prune, user_docs)

    def _blocking(
        self, scope: Scope, query: str, k: int, prune: float | None, user_docs: int
    ) -> dict[str, float]:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
        try:
            return self._scores(
                lambda sql, params: conn.execute(sql, params).fetchall(),
                scope,
                query,
                k,
                prune,
                user_docs,
            )
        finally:
            conn.close()

    def _doc_frequencies(self, run: _Run, stems: builtins.list[str]) -> tuple[dict[str, int], int]:
        """Document frequency of each stem and (an upper bound of) the number of documents,
        cached for a few seconds: they only steer which terms go into the FTS5 query; the
        scores themselves always come from FTS5."""
        now = time.monotonic()
        if now - self._df_time > 10.0:
            self._df.clear()
            self._df_total = int(run("SELECT max(rowid) FROM mnemoplug_memories", ())[0][0] or 0)
            self._df_time = now
        missing = [t for t in stems if t not in self._df]
        if missing:
            found = dict(
                run(
                    f"SELECT term, doc FROM mnemoplug_fts_vocab WHERE term IN "
                    f"({','.join('?' * len(missing))})",
                    missing,
                )
            )
            if len(self._df) > 50_000:
                self._df.clear()
            for t in missing:
                self._df[t] = int(found.get(t, 0))
        return {t: self._df[t] for t in stems}, self._df_total

    def _match(
        self, run: _Run, scope: Scope, query: str, prune: float | None, user_docs: int
    ) -> str | None:
        """The FTS5 MATCH expression for ``query`` in the user's rows, or None (no usable
        term). Terms found in more than ``prune`` (a share) of all documents are dropped:
        their IDF is near zero, so they barely move the ranking, but they would make FTS5
        score every row of a large user. Only with a dense score present (else ``prune`` is
        None) and at 1,000 documents or more; the rarest term is always kept. The user's
        ``scope_token`` narrows the MATCH when the user holds under half of the file (else the
        SQL join does, more cheaply)."""
        words = query_terms(query)
        if not words:
            return None
        stems = {w: _stem(w) for w in words}
        df, total = self._doc_frequencies(run, sorted(set(stems.values())))
        if prune is not None and total >= 1000:
            rarest = min(words, key=lambda w: df[stems[w]])
            words = [w for w in words if w == rarest or df[stems[w]] <= prune * total]
        terms = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        if user_docs * 2 >= total:
            return f"content : ({terms})"
        return f'scope_token : "{scope_token(scope.tenant, scope.user_id)}" AND content : ({terms})'

    def _scores(
        self, run: _Run, scope: Scope, query: str, k: int, prune: float | None, user_docs: int
    ) -> dict[str, float]:
        match = self._match(run, scope, query, prune, user_docs)
        if match is None:
            return {}
        # rank inside FTS5 first, then join only the user's best k rows for their ids
        rows = run(
            "SELECT m.id, -f.s FROM (SELECT rowid, bm25(mnemoplug_fts, 1.0, 0.0) AS s "
            "FROM mnemoplug_fts WHERE mnemoplug_fts MATCH ?) AS f "
            "JOIN mnemoplug_memories m ON m.rowid = f.rowid "
            "WHERE m.tenant_id = ? AND m.user_id = ? ORDER BY f.s LIMIT ?",
            (match, scope.tenant, scope.user_id, k),
        )
        return {r[0]: float(r[1]) for r in rows}
