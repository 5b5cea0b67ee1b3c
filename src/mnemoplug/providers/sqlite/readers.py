"""The SQLite memory store's read connections: a small pool of plain :mod:`sqlite3`
connections, each used by one worker thread at a time (``asyncio.to_thread``).

In WAL mode readers never wait for the writer. Each statement runs on its own (no ``BEGIN``),
so a read job that runs several statements sees each one's latest committed state. Plain
``sqlite3`` (no SQLAlchemy, no aiosqlite) keeps a fresh process's first search cheap.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["ReadPool", "connect"]

T = TypeVar("T")


def connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection to ``path`` with the settings every SQLite memory-store connection uses
    (usable from any one thread at a time; transactions are begun explicitly)."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA secure_delete = ON")  # deleted text is zeroed, not left behind
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


class ReadPool:
    """Read jobs (plain functions of a :class:`sqlite3.Connection`) run in worker threads on
    up to ``size`` kept connections (more are opened, then closed, under load)."""

    def __init__(self, path: Path, busy_timeout_ms: int, size: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.size = size
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """``job(conn)`` in a worker thread, on a pooled connection."""
        return await asyncio.to_thread(self._run, job)

    def _run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = connect(self.path, self.busy_timeout_ms)
        try:
            result = job(conn)
        except BaseException:
            conn.close()  # its state is unknown: the next job gets a fresh one
            raise
        self._give_back(conn)
        return result

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed and self._idle.qsize() < self.size:
                self._idle.put(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections; a connection still in use closes when its job ends."""
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
