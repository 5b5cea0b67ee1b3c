"""``RedisProvider``: long-term memory in Redis, used as the seeds show."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ...core.memory import Memory, split_options
from .memory_store import RedisMemoryStore

__all__ = ["RedisProvider"]


class RedisProvider(Memory):
    """Long-term memory in Redis, with mnemoplug's hooks, embedder and ranked search.

    >>> memory = RedisProvider(url="redis://localhost:6379", prefix="memory:", ttl_seconds=None)
    >>> memory = RedisProvider(url="redis://node-1:7000", cluster=True)  # a Redis Cluster
    >>> await memory.add(user_id="user_123", content="User prefers dark mode",
    ...                  metadata={"category": "preferences"})

    Unlike a plain key-value store, ``search`` ranks (dense + lexical fusion, per-user BM25).

    Args:
        url: ``redis://host:6379/0`` (``rediss://`` for TLS, ``unix://`` for a socket).
        prefix: key prefix, so several apps can share one database (a trailing ``:`` is
            dropped: ``"memory:"`` gives keys ``memory:{<tenant>:<user>}:m:<id>``).
        ttl_seconds: expiry for each memory added without its own ``ttl``/``expires_at``
            (None: no expiration).
        **options: ``Memory`` options (``embedder``, ``plugins``, …) and store options
            (``cluster=True`` for a Redis Cluster, ``max_connections``, ``socket_timeout``, …).
    """

    name = "redis"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "mnemoplug",
        ttl_seconds: float | timedelta | None = None,
        **options: Any,
    ) -> None:
        memory_options, store_options = split_options(options)
        memory_options.setdefault("default_ttl", ttl_seconds)
        if isinstance(prefix, str):
            prefix = prefix.rstrip(":") or prefix
        store = RedisMemoryStore(url, prefix=prefix, **store_options)
        super().__init__(store, **memory_options)
