"""Redis backend: memories, sessions and checkpoints in a Redis database."""

from .checkpoint_store import RedisCheckpointStore
from .memory_store import RedisMemoryStore
from .provider import RedisProvider
from .session_store import RedisSessionMemory

__all__ = ["RedisCheckpointStore", "RedisMemoryStore", "RedisProvider", "RedisSessionMemory"]
