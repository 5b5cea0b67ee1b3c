"""Built-in backends, one folder per storage technology, registered through the
``register_providers`` hook exactly like third-party ones.

Each factory is a ``"module:Class"`` string, so nothing (and no optional client library) is
imported until a store is used.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.hookspecs import hookimpl

SQLITE = ("sqlite", "sqlite+aiosqlite")
REDIS = ("redis", "rediss", "unix")
POSTGRES = ("postgresql", "postgresql+asyncpg", "postgres")


@hookimpl
def register_providers(register: Callable[..., None]) -> None:
    p = "mnemoplug.providers"
    register("memory", f"{p}.inprocess:InProcessMemoryStore", schemes=("memory",))
    register("sqlite", f"{p}.sqlite:SQLiteMemoryStore", schemes=SQLITE)
    register("redis", f"{p}.redis:RedisMemoryStore", schemes=REDIS, extra="redis")
    register("postgres", f"{p}.postgres:PostgresMemoryStore", schemes=POSTGRES, extra="postgres")
    register("qdrant", f"{p}.qdrant:QdrantMemoryStore", schemes=("qdrant",), extra="qdrant")
    register("mem0", f"{p}.mem0:Mem0MemoryStore", schemes=("mem0",), extra="mem0")

    for kind, suffix in (("session", "SessionMemory"), ("checkpoint", "CheckpointStore")):
        register("memory", f"{p}.inprocess:InMemory{suffix}", schemes=("memory",), kind=kind)
        register("sqlite", f"{p}.sqlite:SQLite{suffix}", schemes=SQLITE, kind=kind)
        register("redis", f"{p}.redis:Redis{suffix}", schemes=REDIS, extra="redis", kind=kind)
        register(
            "postgres",
            f"{p}.postgres:Postgres{suffix}",
            schemes=POSTGRES,
            extra="postgres",
            kind=kind,
        )
