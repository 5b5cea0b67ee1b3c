"""What one write changes, worked out once for every backend.

:meth:`MemoryStore.update <mnemoplug.core.stores.MemoryStore.update>` means: ``content`` or
``metadata`` None = unchanged; a new ``content`` comes with its ``embedding`` (None: the new
text has no vector); ``expires_at=...`` = unchanged; ``updated_at`` always changes.
:class:`MemoryChanges` holds that rule; stores apply it to a
:class:`~mnemoplug.core.records.StoredMemory` (:meth:`MemoryChanges.apply`) or turn
:meth:`MemoryChanges.fields` into their own write (SQL ``SET`` clauses, Redis hash fields, a
Qdrant point). :func:`add_inserted` is the matching update of the per-user search cache after
an insert. Only core types are used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import numpy as np

from ..core.records import StoredMemory
from ..core.retrieval import UserIndex

__all__ = ["MemoryChanges", "add_inserted"]


@dataclass(frozen=True, slots=True)
class MemoryChanges:
    """The fields one ``MemoryStore.update`` call sets (see the module docstring)."""

    updated_at: float
    content: str | None = None
    metadata: dict[str, Any] | None = None
    embedding: np.ndarray | None = None
    expires_at: float | EllipsisType | None = ...

    @classmethod
    def of(
        cls,
        *,
        content: str | None,
        metadata: dict[str, Any] | None,
        embedding: np.ndarray | None,
        updated_at: float,
        expires_at: Any = ...,
    ) -> MemoryChanges:
        """From ``MemoryStore.update``'s arguments (times as floats)."""
        if expires_at is not ... and expires_at is not None:
            expires_at = float(expires_at)
        return cls(float(updated_at), content, metadata, embedding, expires_at)

    @property
    def sets_content(self) -> bool:
        """True when the content (and with it the embedding) changes."""
        return self.content is not None

    @property
    def sets_expiry(self) -> bool:
        return self.expires_at is not ...

    def fields(self) -> dict[str, Any]:
        """The changed :class:`StoredMemory` fields by name, in column order: ``updated_at``
        always, ``content`` with ``embedding``, ``metadata``, ``expires_at``."""
        out: dict[str, Any] = {"updated_at": self.updated_at}
        if self.content is not None:
            out["content"] = self.content
            out["embedding"] = self.embedding
        if self.metadata is not None:
            out["metadata"] = self.metadata
        if self.expires_at is not ...:
            out["expires_at"] = self.expires_at
        return out

    def apply(self, memory: StoredMemory) -> StoredMemory:
        """``memory`` with these changes (a new object)."""
        return memory.copy(**self.fields())


def add_inserted(memories: Sequence[StoredMemory]) -> Callable[[tuple[str, str], UserIndex], None]:
    """The cache step of an insert, for ``UserIndexCache.after_write``/``advance``: a cached
    user's index gets that user's new memories."""

    def apply(key: tuple[str, str], idx: UserIndex) -> None:
        idx.extend(m for m in memories if (m.tenant_id, m.user_id) == key)

    return apply
