"""``EncryptingStore``: a :class:`~mnemoplug.MemoryStore` wrapper that encrypts content and
metadata values before they reach the wrapped store and decrypts what it returns.

The wrapped store's lexical index and filters would only see ciphertext, so ``search`` and
filtered ``list`` run in this process over the user's decrypted rows, ranked by the shared
:class:`~mnemoplug.core.retrieval.UserIndex` fusion (the same ranking as every built-in store).

Caching: each search reads the user's rows from the wrapped store (ciphertext, cheap) and
compares their ``(id, updated_at, ciphertext)`` fingerprint with the cached decrypted index;
only when it changed is the index rebuilt, and only changed rows are decrypted again. Writes by
other processes are therefore always seen; this wrapper's own writes drop the user's entry.
The cost per search is one read of the user's rows (no decryption when nothing changed).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np

from ..core.filters import Filter
from ..core.records import Scope, StoredMemory
from ..core.retrieval import ScoredMemory, SearchRequest, UserIndex
from ..core.stores import MemoryStore
from .cipher import FieldCipher, KeyInput

__all__ = ["EncryptingStore"]

_UserKey = tuple[str, str]
_RowKey = tuple[str, str, tuple[str, ...]]


def _row_key(m: StoredMemory) -> _RowKey:
    """What a decrypted row depends on: its id and ciphertexts."""
    return (m.id, str(m.content), tuple(f"{k}={v}" for k, v in m.metadata.items()))


def _fingerprint(m: StoredMemory) -> tuple[Any, ...]:
    """Everything about a stored row that the ranking depends on."""
    vec = None if m.embedding is None else hash(np.asarray(m.embedding).tobytes())
    return (
        _row_key(m),
        m.created_at,
        m.updated_at,
        m.expires_at,
        m.agent_id,
        m.session_id,
        m.role,
        vec,
    )


class _UserCache:
    __slots__ = ("fingerprint", "index", "rows")

    def __init__(
        self, fingerprint: int, index: UserIndex, rows: dict[_RowKey, StoredMemory]
    ) -> None:
        self.fingerprint = fingerprint
        self.index = index
        self.rows = rows


class EncryptingStore(MemoryStore):
    """Encrypt ``inner``'s content and metadata values with Fernet.

    Args:
        inner: the store that keeps the (encrypted) rows.
        keys: a Fernet key (str/bytes) or a list of them — the first encrypts, all decrypt
            (``MultiFernet``); None reads ``$MNEMOPLUG_ENCRYPTION_KEY``.
        cache_users: how many users' decrypted indexes to keep in process (0 disables).

    Metadata *keys*, ids, scope (tenant/user/agent/session), role, timestamps, expiry and
    vectors are stored as the inner store stores them, unencrypted.
    """

    name = "encrypted"

    def __init__(
        self, inner: MemoryStore, keys: KeyInput | None = None, *, cache_users: int = 64
    ) -> None:
        if not isinstance(inner, MemoryStore):
            raise TypeError(f"inner must be a MemoryStore, got {type(inner).__name__}")
        self.inner = inner
        self.cipher = FieldCipher(keys)
        self.url = inner.url
        self.cache_users = cache_users
        self._cache: dict[_UserKey, _UserCache] = {}

    def __repr__(self) -> str:
        return f"EncryptingStore({self.inner!r})"

    def set_keys(self, keys: KeyInput) -> None:
        """Use other keys from now on (after :func:`~mnemoplug.encryption.rotate`)."""
        self.cipher.set_keys(keys)
        self._cache.clear()

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        self._cache.clear()
        await self.inner.close()

    async def check_embedder(self, name: str, dimension: int) -> None:
        await self.inner.check_embedder(name, dimension)

    # -- cache -------------------------------------------------------------------------------
    def _drop(self, key: _UserKey) -> None:
        self._cache.pop(key, None)

    async def _user_index(self, tenant: str, user: str) -> UserIndex:
        """The user's decrypted rows as a UserIndex, rebuilt when the stored rows changed."""
        key = (tenant, user)
        raw: list[StoredMemory] = []
        async for batch in self.inner.export(tenant, user):
            raw.extend(batch)
        fp = hash(tuple(_fingerprint(m) for m in raw))
        cached = self._cache.get(key)
        if cached is not None and cached.fingerprint == fp:
            return cached.index
        old = cached.rows if cached is not None else {}
        rows: dict[_RowKey, StoredMemory] = {}
        index = UserIndex(lexical=True)
        for m in raw:
            rk = _row_key(m)
            dec = old.get(rk)
            dec = (
                self.cipher.decrypt_row(m)
                if dec is None
                else m.copy(content=dec.content, metadata=dec.metadata)
            )
            rows[rk] = dec
            index.upsert(dec)
        if self.cache_users > 0:
            self._cache.pop(key, None)
            self._cache[key] = _UserCache(fp, index, rows)
            while len(self._cache) > self.cache_users:
                del self._cache[next(iter(self._cache))]
        return index

    # -- writes ------------------------------------------------------------------------------
    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        rows = [self.cipher.encrypt_row(m) for m in memories]
        for m in memories:
            self._drop((m.tenant_id, m.user_id))
        await self.inner.insert(rows)

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        rows = [self.cipher.encrypt_row(m) for m in memories]
        for m in memories:
            self._drop((m.tenant_id, m.user_id))
        await self.inner.upsert(rows)

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
        self._drop(scope.user_key)
        new = await self.inner.update(
            scope,
            memory_id,
            content=None if content is None else self.cipher.encrypt_text(content),
            metadata=None if metadata is None else self.cipher.encrypt_metadata(metadata),
            embedding=embedding,
            updated_at=updated_at,
            expires_at=expires_at,
        )
        return None if new is None else self.cipher.decrypt_row(new)

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        self._drop(scope.user_key)
        return await self.inner.delete(scope, memory_id)

    async def delete_all(self, scope: Scope) -> int:
        self._drop(scope.user_key)
        return await self.inner.delete_all(scope)

    async def purge_expired(self, now: float) -> int:
        self._cache.clear()
        return await self.inner.purge_expired(now)

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        m = await self.inner.get(scope, memory_id, now)
        return None if m is None else self.cipher.decrypt_row(m)

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> builtins.list[StoredMemory]:
        if not filters:
            rows = await self.inner.list(
                scope, limit=limit, offset=offset, filters=filters, now=now
            )
            return [self.cipher.decrypt_row(m) for m in rows]
        index = await self._user_index(scope.tenant, scope.user_id)
        return index.newest(scope, filters, now, limit, offset)

    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        index = await self._user_index(scope.tenant, scope.user_id)
        return index.search(scope, request)

    async def count(self, scope: Scope, now: float) -> int:
        return await self.inner.count(scope, now)

    async def list_users(self) -> builtins.list[tuple[str, str]]:
        return await self.inner.list_users()

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        async for batch in self.inner.export(tenant_id, user_id, batch_size):
            yield [self.cipher.decrypt_row(m) for m in batch]
