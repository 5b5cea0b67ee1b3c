"""The SQLite memory store's write queue: one thread owns the file's write connection and runs
write jobs in transactions (group commit).

A job is a plain function of a :class:`sqlite3.Connection`. :meth:`WriteQueue.run` queues it
and returns once the transaction holding it has committed, so an acknowledged write is a
committed one (WAL, ``synchronous = NORMAL``: it survives the process being killed). Jobs that
arrive while a transaction runs go into the next one together (up to ``max_group``), each in
its own savepoint, so one failing job rolls back only itself. One write costs one thread hop
(instead of one per statement through an async driver), and concurrent writers share commits.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .readers import connect

__all__ = ["WriteQueue"]

T = TypeVar("T")

_Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


def _hand_back(job: _Job, result: Any, error: BaseException | None) -> None:
    """Settle the job's future from the writer thread (its loop may be gone by now)."""
    try:
        job[2].call_soon_threadsafe(_settle, job[1], result, error)
    except RuntimeError:  # the caller's loop was closed: nobody waits any more
        pass


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # the caller was cancelled; the write itself was committed or rolled back
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class WriteQueue:
    """Write jobs on one connection in one thread, committed in groups (see the module)."""

    def __init__(self, path: Path, busy_timeout_ms: int, max_group: int = 64) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.max_group = max_group
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="mnemoplug-sqlite-writer", daemon=True
                )
                self._thread.start()

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(conn)`` inside a write transaction; return its result once committed."""
        if self._thread is None:
            self._start()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, fut, loop))
        return await fut

    def close(self) -> None:
        """Finish the queued jobs, then stop the thread and close the connection."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join()

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self.path, self.busy_timeout_ms)
        conn.execute("PRAGMA journal_mode = WAL")
        return conn

    def _serve(self) -> None:
        conn: sqlite3.Connection | None = None
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                break
            group = [first]
            while len(group) < self.max_group:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                group.append(nxt)
            try:
                if conn is None:
                    conn = self._connect()
                self._commit(conn, group)
            except sqlite3.Error as exc:
                for job in group:
                    _hand_back(job, None, exc)
                if conn is not None and conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        conn.close()
                        conn = None
        if conn is not None:
            conn.close()

    @staticmethod
    def _commit(conn: sqlite3.Connection, group: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        conn.execute("BEGIN IMMEDIATE")
        for fn, _fut, _loop in group:
            conn.execute("SAVEPOINT job")
            try:
                result = fn(conn)
            except BaseException as exc:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((None, exc))
            else:
                conn.execute("RELEASE job")
                outcomes.append((result, None))
        conn.execute("COMMIT")
        for queued, (result, error) in zip(group, outcomes, strict=True):
            _hand_back(queued, result, error)
