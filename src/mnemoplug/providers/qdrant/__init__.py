"""Qdrant backend (a server, or qdrant-client's local mode)."""

from .memory_store import QdrantMemoryStore
from .provider import QdrantProvider

__all__ = ["QdrantMemoryStore", "QdrantProvider"]
