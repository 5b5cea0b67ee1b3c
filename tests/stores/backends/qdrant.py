"""The Qdrant provider in qdrant-client's local mode joins the shared contract suite."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mnemoplug import MemoryStore


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[MemoryStore]:
    from mnemoplug.providers.qdrant import QdrantMemoryStore

    p = QdrantMemoryStore(path=tmp_path / "qdrant", collection="contract", **options)
    await p.open()  # creating a local-mode store on disk takes ~0.1 s of fsyncs
    try:
        yield p
    finally:
        await p.close()
