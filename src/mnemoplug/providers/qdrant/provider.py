"""``QdrantProvider``: long-term memory in Qdrant (a server, or local mode on disk)."""

from __future__ import annotations

import os
from typing import Any

from ...core.factory import construct
from ...core.memory import Memory, split_options
from .memory_store import QdrantMemoryStore

__all__ = ["QdrantProvider"]


class QdrantProvider(Memory):
    """Long-term memory in a Qdrant collection, with mnemoplug's hooks, embedder and search.

    >>> memory = QdrantProvider(url="qdrant://localhost:6333")    # a server
    >>> memory = QdrantProvider(path="./qdrant-data")             # local mode, no server

    Args:
        url: ``qdrant://host:6333`` (a server; ``https=True`` for TLS), ``qdrant:///abs/dir`` or
            ``qdrant://:memory:`` (local mode); None with ``path=``.
        path: a directory for qdrant-client's local mode.
        **options: ``Memory`` options and store options (``collection``, ``api_key``, …).
    """

    name = "qdrant"

    def __init__(
        self,
        url: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        memory_options, store_options = split_options(options)
        store = construct(QdrantMemoryStore, url, path=path, **store_options)
        super().__init__(store, **memory_options)
