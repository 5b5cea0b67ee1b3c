"""PostgreSQL backend (asyncpg; pgvector when the server has it)."""

from .checkpoint_store import PostgresCheckpointStore
from .memory_store import PostgresMemoryStore
from .provider import PostgresProvider
from .session_store import PostgresSessionMemory

__all__ = [
    "PostgresCheckpointStore",
    "PostgresMemoryStore",
    "PostgresProvider",
    "PostgresSessionMemory",
]
