"""The mem0 provider (mem0 AsyncMemory, infer=False, local qdrant) joins the contract suite."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mnemoplug import MemoryStore


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[MemoryStore]:
    from mnemoplug.providers.mem0 import Mem0MemoryStore

    p = Mem0MemoryStore(path=tmp_path / "mem0", collection="contract", **options)
    await p.open()  # builds mem0's AsyncMemory (the model is shared after the first one)
    try:
        yield p
    finally:
        await p.close()
