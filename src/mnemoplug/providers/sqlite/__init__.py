"""SQLite backend (the embedded default): memories, sessions and checkpoints in a file.

Each name is imported on first use: the memory store runs on plain :mod:`sqlite3`, while the
session and checkpoint stores (shared with PostgreSQL) load SQLAlchemy and aiosqlite, which
a process that only adds and searches memories never pays for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .checkpoint_store import SQLiteCheckpointStore
    from .memory_store import SQLiteMemoryStore
    from .paths import default_sqlite_path
    from .provider import SQLiteProvider
    from .session_store import SQLiteSessionMemory

#: exported name -> the submodule defining it
_MODULES = {
    "SQLiteCheckpointStore": "checkpoint_store",
    "SQLiteMemoryStore": "memory_store",
    "SQLiteProvider": "provider",
    "SQLiteSessionMemory": "session_store",
    "default_sqlite_path": "paths",
}

__all__ = [
    "SQLiteCheckpointStore",
    "SQLiteMemoryStore",
    "SQLiteProvider",
    "SQLiteSessionMemory",
    "default_sqlite_path",
]


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
