"""The SQLite backend joins the three store contracts: one file per test (``tmp_path``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    from mnemoplug.providers.sqlite import SQLiteMemoryStore

    s = SQLiteMemoryStore(path=options.pop("path", tmp_path / "memories.db"), **options)
    try:
        yield s
    finally:
        await s.close()


@contextlib.asynccontextmanager
async def session_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    from mnemoplug.providers.sqlite import SQLiteSessionMemory

    s = SQLiteSessionMemory(path=options.pop("path", tmp_path / "sessions.db"), **options)
    try:
        yield s
    finally:
        await s.close()


@contextlib.asynccontextmanager
async def checkpoint_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    from mnemoplug.providers.sqlite import SQLiteCheckpointStore

    s = SQLiteCheckpointStore(path=options.pop("path", tmp_path / "ckpt.db"), **options)
    try:
        yield s
    finally:
        await s.close()
