"""Durability under ``kill -9`` (issue 11): writer processes (several on one SQLite file) are
killed mid-stream; every memory, session message and checkpoint a writer saw acknowledged is
there afterwards, and the stores open and read normally. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mnemoplug import Memory
from tests.budget import examples
from tests.conftest import POSTGRES_URL, require_server

ROOT = Path(__file__).resolve().parents[2]


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "tests.trust.durable_writer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _run_and_kill(argsets: list[list[str]], acks: int) -> dict[str, set[str]]:
    """Start the writers, let each acknowledge about ``acks`` writes, kill -9 them all; the
    acknowledged ids by kind (``m``, ``s``, ``c``)."""
    procs = [_spawn(a) for a in argsets]
    seen: dict[str, set[str]] = {"m": set(), "s": set(), "c": set()}
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == "ready", (line, p.stderr.read() if p.stderr else "")
        deadline = time.monotonic() + 30
        counts = [0] * len(procs)
        while min(counts) < acks and time.monotonic() < deadline:
            for i, p in enumerate(procs):
                assert p.stdout is not None
                line = p.stdout.readline()
                if not line:
                    raise AssertionError(f"writer died: {p.stderr.read() if p.stderr else ''}")
                kind, _, ident = line.strip().partition(" ")
                seen[kind].add(ident)
                counts[i] += 1
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)  # mid-write, no cleanup
        for p in procs:
            p.wait()
            # lines written before the kill count as acknowledged too
            assert p.stdout is not None
            for line in p.stdout.read().splitlines():
                kind, _, ident = line.strip().partition(" ")
                if kind in seen and ident:
                    seen[kind].add(ident)
            for stream in (p.stdout, p.stderr):
                if stream is not None:
                    stream.close()
    return seen


async def _check(memory: Memory, seen: dict[str, set[str]], writers: list[str]) -> None:
    assert seen["m"], "no write was acknowledged"
    stored = {r.id for r in await memory.get_all("u", limit=10_000)}
    assert seen["m"] <= stored
    assert await memory.count("u") == len(stored)
    assert memory.session is not None and memory.checkpoints is not None
    messages = set()
    for w in writers:
        messages |= {m.id for m in await memory.session.get_messages(f"sess-{w}")}
    assert seen["s"] <= messages
    checkpoints = {
        c.checkpoint_id for c in await memory.checkpoints.list(user_id="u", limit=10_000)
    }
    assert seen["c"] <= checkpoints
    await memory.add("u", "written after the crash")  # and the stores take writes again


async def test_sqlite_keeps_every_acknowledged_write_through_kill_9(tmp_path: Path) -> None:
    from mnemoplug.providers.sqlite import (
        SQLiteCheckpointStore,
        SQLiteMemoryStore,
        SQLiteSessionMemory,
    )

    writers = ["w1", "w2", "w3"]  # three processes on the same files
    for _ in range(examples(2)):
        seen = await asyncio.to_thread(
            _run_and_kill, [["sqlite", str(tmp_path), "-", w] for w in writers], 15
        )
        memory = Memory(
            SQLiteMemoryStore(path=tmp_path / "memories.db"),
            embedder=None,
            session=SQLiteSessionMemory(path=tmp_path / "sessions.db"),
            checkpoints=SQLiteCheckpointStore(path=tmp_path / "checkpoints.db"),
            load_entry_points=False,
        )
        try:
            await _check(memory, seen, writers)
        finally:
            await memory.close()


async def test_postgres_keeps_every_acknowledged_write_through_kill_9() -> None:
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug.providers.postgres import (
        PostgresCheckpointStore,
        PostgresMemoryStore,
        PostgresSessionMemory,
    )
    from tests.stores.backends.postgres import drop_plain_tables, drop_tables

    base = f"t_kill_{uuid.uuid4().hex[:10]}"
    writers = ["w1", "w2"]
    try:
        for _ in range(examples(2)):
            seen = await asyncio.to_thread(
                _run_and_kill, [["postgres", base, POSTGRES_URL, w] for w in writers], 15
            )
            memory = Memory(
                PostgresMemoryStore(POSTGRES_URL, table=f"{base}_mem"),
                embedder=None,
                session=PostgresSessionMemory(POSTGRES_URL, table=f"{base}_sess"),
                checkpoints=PostgresCheckpointStore(POSTGRES_URL, table=f"{base}_ckpt"),
                load_entry_points=False,
            )
            try:
                await _check(memory, seen, writers)
            finally:
                await memory.close()
    finally:
        await drop_tables(f"{base}_mem")
        await drop_plain_tables(f"{base}_sess", f"{base}_sess_messages", f"{base}_ckpt")
