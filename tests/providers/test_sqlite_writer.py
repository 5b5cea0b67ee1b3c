"""The SQLite store's write queue: a write is acknowledged once committed, concurrent writes
share transactions (group commit), and a failing write in a group rolls back only itself."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from mnemoplug import ProviderError
from mnemoplug.core.records import Scope, StoredMemory
from mnemoplug.providers.sqlite import SQLiteMemoryStore


def _memory(i: int, user: str = "u") -> StoredMemory:
    now = time.time()
    vec = np.zeros(4, dtype=np.float32)
    vec[i % 4] = 1.0
    return StoredMemory(
        id=f"m{i}", user_id=user, content=f"fact {i}", created_at=now, updated_at=now, embedding=vec
    )


async def test_acknowledged_writes_are_committed(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    store = SQLiteMemoryStore(path=db)
    try:
        for i in range(5):
            await store.insert([_memory(i)])
            with sqlite3.connect(db) as other:  # another connection sees it at once
                assert other.execute("SELECT count(*) FROM mnemoplug_memories").fetchone() == (
                    i + 1,
                )
    finally:
        await store.close()


async def test_a_failing_write_in_a_group_rolls_back_only_itself(tmp_path: Path) -> None:
    store = SQLiteMemoryStore(path=tmp_path / "m.db")
    try:
        await store.insert([_memory(0)])
        writes = [store.insert([_memory(i, user=f"u{i % 3}")]) for i in range(1, 60)]
        writes.insert(30, store.insert([_memory(0)]))  # the same id again: refused
        results = await asyncio.gather(*writes, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1 and isinstance(errors[0], ProviderError)
        assert "UNIQUE" in str(errors[0])
        counts = [await store.count(Scope(f"u{k}"), time.time()) for k in range(3)]
        assert sum(counts) == 59 and await store.count(Scope("u"), time.time()) == 1
        with sqlite3.connect(tmp_path / "m.db") as other:
            gens = dict(other.execute("SELECT user_id, generation FROM mnemoplug_users"))
        # a counter starts at a clock value (providers/_generations.py): count writes modulo 1024
        writes_seen = {u: g % 1024 for u, g in gens.items()}
        assert writes_seen == {
            "u": 0,
            "u0": 18,
            "u1": 19,
            "u2": 19,
        }  # first write: 0; refused: none
    finally:
        await store.close()


async def test_closed_store_reopens_for_writes(tmp_path: Path) -> None:
    store = SQLiteMemoryStore(path=tmp_path / "m.db")
    await store.insert([_memory(1)])
    await store.close()
    await store.insert([_memory(2)])
    assert await store.count(Scope("u"), time.time()) == 2
    await store.close()
    with pytest.raises(ProviderError):  # and a broken file is a typed error
        (tmp_path / "bad").mkdir()
        await SQLiteMemoryStore(path=tmp_path / "bad").insert([_memory(3)])
