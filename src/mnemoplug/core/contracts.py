"""The provider contract every long-term store implements.

Providers are async and know nothing of frameworks, hooks or embedders: the ``Memory`` facade
validates input, runs hooks, embeds, and hands providers ``StoredMemory`` rows with their
vectors. Isolation is the provider's job: every method takes a :class:`Scope` and must never
read, change or delete a row outside ``(scope.tenant, scope.user_id)`` (narrowed further by
``agent_id``/``session_id`` when set). Expired rows are never returned.

A new provider joins the shared contract suite (``tests/providers/contract.py``) by adding one
fixture.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from types import EllipsisType
from typing import Any, ClassVar

import numpy as np

from .filters import Filter
from .records import Scope, StoredMemory
from .retrieval import ScoredMemory, SearchRequest

__all__ = ["MemoryProvider"]


class MemoryProvider(ABC):
    """Abstract long-term memory store."""

    #: registry name, as used by ``create_memory(name)`` and in error messages
    name: ClassVar[str] = "provider"
    #: URL (or path) this provider talks to, for error messages; no credentials
    url: str = ""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and create the schema if needed. Idempotent; called before first use."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The provider may be opened again afterwards."""

    async def check_embedder(self, name: str, dimension: int) -> None:  # noqa: B027
        """Record the embedder on first use; raise EmbedderMismatchError when the store already
        holds vectors of another name or dimension."""

    @abstractmethod
    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        """Store new memories atomically (all or none). Ids are new and unique."""

    @abstractmethod
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        """The memory if it lies in ``scope`` and has not expired, else None."""

    @abstractmethod
    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> builtins.list[StoredMemory]:
        """Unexpired memories in ``scope`` matching ``filters``, newest first."""

    @abstractmethod
    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        """Rank unexpired memories in ``scope`` matching ``request.filters`` (best first)."""

    @abstractmethod
    async def update(
        self,
        scope: Scope,
        memory_id: str,
        *,
        content: str | None,
        metadata: dict[str, Any] | None,
        embedding: np.ndarray | None,
        updated_at: float,
        expires_at: float | EllipsisType | None = ...,
    ) -> StoredMemory | None:
        """Change a memory in ``scope``; None when it is absent, expired or another user's.
        ``metadata`` replaces the stored dict; ``expires_at=...`` leaves expiry unchanged."""

    @abstractmethod
    async def delete(self, scope: Scope, memory_id: str) -> bool:
        """Delete one memory in ``scope``; False when it was not there."""

    @abstractmethod
    async def delete_all(self, scope: Scope) -> int:
        """Delete every memory in ``scope`` (expired ones too); return how many."""

    @abstractmethod
    async def purge_expired(self, now: float) -> int:
        """Delete expired memories of every user; return how many."""

    # -- migration and GDPR ------------------------------------------------------------------
    @abstractmethod
    async def list_users(self) -> builtins.list[tuple[str, str]]:
        """Every ``(tenant_id, user_id)`` holding at least one memory ('' = default tenant)."""

    @abstractmethod
    def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        """Yield all of one user's memories (expired included, with embeddings), in batches."""

    @abstractmethod
    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        """Write memories keeping their ids and timestamps (insert or replace). Migration uses it."""

    async def count(self, scope: Scope, now: float) -> int:
        """Number of unexpired memories in ``scope``."""
        return len(await self.list(scope, limit=10**9, offset=0, filters=Filter(None), now=now))

    async def __aenter__(self) -> MemoryProvider:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
