"""The in-process provider: dicts and numpy in this process, nothing persisted.

Good for tests, notebooks and short-lived agents. Thread-safe for one event loop.
``Memory.from_url("memory://")``.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np

from ...core.errors import ConfigurationError
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex
from ...core.stores import MemoryStore
from .._changes import MemoryChanges

__all__ = ["InProcessMemoryStore"]


def memory_url(url: Any) -> str:
    """``url`` checked to be a URL string (None: ``memory://``). Nothing is kept at it, so any
    scheme will do: subclasses registered for their own scheme name themselves with it."""
    if url is None:
        return "memory://"
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"expected a URL such as memory://, got {url!r}")
    return url


class InProcessMemoryStore(MemoryStore):
    """Memories in dicts and numpy arrays of this process (``memory://``); takes no options."""

    name = "memory"

    def __init__(self, url: str | None = None, **options: Any) -> None:
        if options:
            raise ConfigurationError(
                f"the in-process store takes no options, got {', '.join(sorted(options))}"
            )
        self.url = memory_url(url)
        self._users: dict[tuple[str, str], UserIndex] = {}
        self._owner: dict[str, tuple[str, str]] = {}

    def _index(self, key: tuple[str, str], create: bool = False) -> UserIndex | None:
        idx = self._users.get(key)
        if idx is None and create:
            idx = self._users[key] = UserIndex(lexical=True)
        return idx

    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        for m in memories:
            if m.id in self._owner:
                raise ValueError(f"memory id {m.id} already exists")
        for m in memories:
            self._store(m.detached())

    def _store(self, m: StoredMemory) -> None:
        key = (m.tenant_id, m.user_id)
        old = self._owner.get(m.id)
        if old is not None and old != key:
            idx = self._users.get(old)
            if idx is not None:
                idx.remove(m.id)
        self._index(key, create=True).upsert(m)  # type: ignore[union-attr]
        self._owner[m.id] = key

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        for m in memories:
            self._store(m.detached())

    def _get(self, scope: Scope, memory_id: str) -> tuple[UserIndex, StoredMemory] | None:
        idx = self._users.get(scope.user_key)
        m = idx.get(memory_id) if idx is not None else None
        if idx is None or m is None or not scope.owns(m):
            return None
        return idx, m

    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        found = self._get(scope, memory_id)
        if found is None or found[1].is_expired(now):
            return None
        return found[1]

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> builtins.list[StoredMemory]:
        idx = self._users.get(scope.user_key)
        return [] if idx is None else idx.newest(scope, filters, now, limit, offset)

    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        idx = self._users.get(scope.user_key)
        return [] if idx is None else idx.search(scope, request)

    async def update(
        self,
        scope: Scope,
        memory_id: str,
        *,
        content: str | None,
        metadata: dict[str, Any] | None,
        embedding: np.ndarray | None,
        updated_at: float,
        expires_at: Any = ...,
    ) -> StoredMemory | None:
        found = self._get(scope, memory_id)
        if found is None or found[1].is_expired(updated_at):
            return None
        idx, m = found
        changes = MemoryChanges.of(
            content=content,
            metadata=metadata,
            embedding=embedding,
            updated_at=updated_at,
            expires_at=expires_at,
        )
        new = changes.apply(m)
        idx.upsert(new)
        return new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        found = self._get(scope, memory_id)
        if found is None:
            return False
        found[0].remove(memory_id)
        self._owner.pop(memory_id, None)
        return True

    async def delete_all(self, scope: Scope) -> int:
        idx = self._users.get(scope.user_key)
        if idx is None:
            return 0
        doomed = [m.id for m in idx.records if scope.owns(m)]
        for mid in doomed:
            idx.remove(mid)
            self._owner.pop(mid, None)
        if not len(idx):
            del self._users[scope.user_key]
        return len(doomed)

    async def purge_expired(self, now: float) -> int:
        n = 0
        for idx in list(self._users.values()):
            for mid in idx.expired_ids(now):
                idx.remove(mid)
                self._owner.pop(mid, None)
                n += 1
        return n

    async def list_users(self) -> builtins.list[tuple[str, str]]:
        return sorted(k for k, v in self._users.items() if len(v))

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        idx = self._users.get((tenant_id, user_id))
        records = sorted(idx.records, key=lambda m: (m.created_at, m.id)) if idx else []
        for i in range(0, len(records), batch_size):
            yield records[i : i + batch_size]

    async def count(self, scope: Scope, now: float) -> int:
        idx = self._users.get(scope.user_key)
        return 0 if idx is None else int(idx.mask(scope, Filter(None), now).sum())
