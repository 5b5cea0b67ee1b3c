"""In-process backend: memories, sessions and checkpoints in this process's memory."""

from .checkpoint_store import InMemoryCheckpointStore
from .memory_store import InProcessMemoryStore
from .provider import InMemoryProvider
from .session_store import InMemorySessionMemory

__all__ = [
    "InMemoryCheckpointStore",
    "InMemoryProvider",
    "InMemorySessionMemory",
    "InProcessMemoryStore",
]
