"""``PostgresProvider``: long-term memory in PostgreSQL (pgvector when available)."""

from __future__ import annotations

from typing import Any

from ...core.errors import ConfigurationError
from ...core.factory import construct
from ...core.memory import Memory, split_options
from .memory_store import PostgresMemoryStore

__all__ = ["PostgresProvider"]


class PostgresProvider(Memory):
    """Long-term memory in a PostgreSQL table, with mnemoplug's hooks, embedder and search.

    >>> memory = PostgresProvider(url="postgres://user:pass@localhost/db",
    ...                           table="agent_memories", vector_enabled=True,
    ...                           embedding_model="all-MiniLM-L6-v2")

    Args:
        url: ``postgresql+asyncpg://…`` (``postgresql://`` and ``postgres://`` work too).
        table: the memories table (created on first use).
        vector_enabled: True requires pgvector (vector search in the database), False never
            uses it, None (default) uses it when the server has the extension.
        embedding_model: a sentence-transformers model name for the embedder (default: the
            bundled all-MiniLM-L6-v2); ``embedder=`` takes any embedder instead.
        **options: ``Memory`` options and store options (``schema``, ``pool_size``, …).
    """

    name = "postgres"

    def __init__(
        self,
        url: str | None = None,
        *,
        table: str = "mnemoplug_memories",
        vector_enabled: bool | None = None,
        embedding_model: str | None = None,
        **options: Any,
    ) -> None:
        memory_options, store_options = split_options(options)
        if embedding_model is not None:
            if "embedder" in memory_options:
                raise ConfigurationError("pass embedding_model= or embedder=, not both")
            memory_options["embedder"] = embedding_model
        if vector_enabled is not None:
            if "vector" in store_options:
                raise ConfigurationError("pass vector_enabled= or vector=, not both")
            store_options["vector"] = "pgvector" if vector_enabled else "none"
        store = construct(PostgresMemoryStore, url, table=table, **store_options)
        super().__init__(store, **memory_options)
