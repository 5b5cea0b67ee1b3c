"""The Qdrant provider in qdrant-client's local mode joins the shared contract suite."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mnemoplug.core.contracts import MemoryProvider


@contextlib.asynccontextmanager
async def FACTORY(tmp_path: Any) -> AsyncIterator[MemoryProvider]:
    from mnemoplug.providers.qdrant import QdrantProvider

    p = QdrantProvider(path=tmp_path / "qdrant", collection="contract")
    await p.open()  # creating a local-mode store on disk takes ~0.1 s of fsyncs
    try:
        yield p
    finally:
        await p.close()
