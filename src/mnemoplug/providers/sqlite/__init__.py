"""SQLite backend (the embedded default): memories, sessions and checkpoints in a file."""

from .checkpoint_store import SQLiteCheckpointStore
from .memory_store import SQLiteMemoryStore
from .paths import default_sqlite_path
from .provider import SQLiteProvider
from .session_store import SQLiteSessionMemory

__all__ = [
    "SQLiteCheckpointStore",
    "SQLiteMemoryStore",
    "SQLiteProvider",
    "SQLiteSessionMemory",
    "default_sqlite_path",
]
