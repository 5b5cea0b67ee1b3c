"""``SQLiteProvider``: the embedded default, used directly as the seeds use a provider."""

from __future__ import annotations

import os
from typing import Any

from ...core.factory import construct
from ...core.memory import Memory, split_options
from .memory_store import SQLiteMemoryStore

__all__ = ["SQLiteProvider"]


class SQLiteProvider(Memory):
    """Long-term memory in one SQLite file, with mnemoplug's hooks, embedder and strategies.

    >>> memory = SQLiteProvider("memory.db")          # or "sqlite:///memory.db", or None
    >>> await memory.add(user_id="u1", content="User prefers dark mode")

    Args:
        path_or_url: a file path, a ``sqlite:///…`` URL, or None for the default file
            (``$MNEMOPLUG_SQLITE_PATH`` or the user data directory).
        **options: ``Memory`` options (``embedder``, ``plugins``, ``retrieval``, …) and store
            options (``read_pool_size``, ``busy_timeout_ms``, ``cache_max_records``).
    """

    name = "sqlite"

    def __init__(self, path_or_url: str | os.PathLike[str] | None = None, **options: Any) -> None:
        memory_options, store_options = split_options(options)
        if isinstance(path_or_url, str) and "://" in path_or_url:
            store = construct(SQLiteMemoryStore, path_or_url, **store_options)
        elif path_or_url is not None:
            store = construct(SQLiteMemoryStore, path=path_or_url, **store_options)
        else:
            store = construct(SQLiteMemoryStore, **store_options)
        super().__init__(store, **memory_options)
