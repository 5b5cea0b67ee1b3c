"""Mem0 backend (self-hosted ``mem0ai``)."""

from .memory_store import Mem0MemoryStore
from .provider import Mem0Provider

__all__ = ["Mem0MemoryStore", "Mem0Provider"]
