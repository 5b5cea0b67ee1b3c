"""Mem0 backend: self-hosted ``mem0ai`` or the hosted Mem0 platform."""

from .hosted import HostedMem0Provider
from .memory_store import Mem0MemoryStore
from .provider import Mem0Provider

__all__ = ["HostedMem0Provider", "Mem0MemoryStore", "Mem0Provider"]
