"""The memory argument of the sync-hook adapters (Agno): a Memory, a SyncMemory or a user's
own MemoryProvider, as the Memory to call and the portal to call it on."""

from __future__ import annotations

from typing import Any

from ..core.errors import ConfigurationError
from ..core.memory import Memory
from ..core.portal import Portal
from ..core.provider import MemoryProvider
from ..core.strategies import as_memory
from ..core.sync import SyncMemory

__all__ = ["unwrap_memory"]


def unwrap_memory(
    memory: Memory | SyncMemory | MemoryProvider, *reuse: Any
) -> tuple[Memory, Portal | None]:
    """``(Memory, its portal)``: a SyncMemory's own Memory and portal; a Memory with no portal
    (the adapter's shared one is used); your own MemoryProvider wrapped once as
    ``Memory(provider=...)`` (or one of ``reuse`` already wrapping it)."""
    if isinstance(memory, SyncMemory):
        return memory.memory, memory.portal
    if isinstance(memory, Memory):
        return memory, None
    if isinstance(memory, MemoryProvider):  # a user's own seven-method provider
        wrapped: Memory = as_memory(memory, *reuse)
        return wrapped, None
    raise ConfigurationError(
        f"expected a mnemoplug Memory, SyncMemory or MemoryProvider, got {type(memory).__name__}"
    )
