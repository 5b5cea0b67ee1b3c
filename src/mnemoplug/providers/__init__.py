"""Built-in providers, registered through the ``register_providers`` hook like third-party ones.

Each factory is a ``"module:Class"`` string, so nothing (and no optional client library) is
imported until a provider is used.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.hookspecs import hookimpl


@hookimpl
def register_providers(register: Callable[..., None]) -> None:
    register("memory", "mnemoplug.providers.in_memory:InMemoryProvider", schemes=("memory",))
    register(
        "sqlite",
        "mnemoplug.providers.sqlite:SQLiteProvider",
        schemes=("sqlite", "sqlite+aiosqlite"),
    )
    register(
        "redis",
        "mnemoplug.providers.redis:RedisProvider",
        schemes=("redis", "rediss", "unix"),
        extra="redis",
    )
    register(
        "postgres",
        "mnemoplug.providers.postgres:PostgresProvider",
        schemes=("postgresql", "postgresql+asyncpg", "postgres"),
        extra="postgres",
    )
    register(
        "qdrant", "mnemoplug.providers.qdrant:QdrantProvider", schemes=("qdrant",), extra="qdrant"
    )
    register("mem0", "mnemoplug.providers.mem0:Mem0Provider", schemes=("mem0",), extra="mem0")
