"""The provider contract, as the seeds define it: seven async methods scoped by user.

Everything that holds long-term memory for an agent is a :class:`MemoryProvider`:
:class:`~mnemoplug.Memory`, the built-in providers (``SQLiteProvider``, ``RedisProvider``,
``PostgresProvider``, ``QdrantProvider``, ``Mem0Provider``, ``InMemoryProvider``), wrappers,
and your own subclass::

    class MyCustomProvider(MemoryProvider):
        async def add(self, user_id, content, metadata=None): ...
        async def search(self, user_id, query, limit=10, filters=None): ...
        async def get(self, user_id, memory_id): ...
        async def get_all(self, user_id, limit=100): ...
        async def update(self, user_id, memory_id, content=None, metadata=None): ...
        async def delete(self, user_id, memory_id): ...
        async def delete_all(self, user_id): ...

A subclass implementing only those seven works everywhere a built-in does (adapters,
``inject_memory(provider=...)``, ``agent_endpoint``, ``migrate_memory``); wrap it as
``Memory(provider=MyCustomProvider(...))`` to add hooks, injection strategies and validation
on top of its own search. Results may be dicts (``{"id", "content", "metadata", "score"}``, as
the seeds return them) or :class:`~mnemoplug.MemoryRecord` objects.

A provider may accept the keyword-only scope arguments ``tenant_id``, ``agent_id`` and
``session_id``; ``Memory`` passes them only to methods that declare them.

To add a *storage technology* under mnemoplug's own retrieval instead, implement
:class:`~mnemoplug.MemoryStore` (:mod:`mnemoplug.core.stores`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .errors import ConfigurationError

__all__ = ["MemoryProvider"]

_STORE_METHODS = {"insert", "upsert", "list_users", "purge_expired", "export"}


class MemoryProvider(ABC):
    """The seeds' long-term memory interface (see the module docs)."""

    #: short name for errors, metrics and ``repr``
    name: ClassVar[str] = "provider"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = set(vars(cls))
        if len(own & _STORE_METHODS) >= 3 and "add" not in own and not _has_concrete_add(cls):
            raise ConfigurationError(
                f"{cls.__qualname__} implements the storage interface (insert, upsert, "
                f"list_users, ...): subclass mnemoplug.MemoryStore for that. "
                f"mnemoplug.MemoryProvider is the seeds' interface (add, search, get, get_all, "
                f"update, delete, delete_all)."
            )

    @abstractmethod
    async def add(
        self,
        user_id: str,
        content: str | Sequence[Any],
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        """Store text (or chat messages); return the new memory's id (a list of ids for a
        list of messages)."""

    @abstractmethod
    async def search(
        self,
        user_id: str,
        query: str,
        limit: int = 10,
        filters: Mapping[str, Any] | None = None,
    ) -> Sequence[Any]:
        """The user's memories most relevant to ``query``, best first, each with a score."""

    @abstractmethod
    async def get(self, user_id: str, memory_id: str) -> Any:
        """One memory by id, or None when the user has no such memory."""

    @abstractmethod
    async def get_all(self, user_id: str, limit: int = 100) -> Sequence[Any]:
        """The user's memories, newest first."""

    @abstractmethod
    async def update(
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        """Change a memory's content and/or metadata."""

    @abstractmethod
    async def delete(self, user_id: str, memory_id: str) -> Any:
        """Delete one memory."""

    @abstractmethod
    async def delete_all(self, user_id: str) -> int:
        """Delete every memory of the user; return how many."""

    async def open(self) -> None:  # noqa: B027 - optional
        """Connect (idempotent). ``Memory`` calls it before first use."""

    async def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""

    async def __aenter__(self) -> MemoryProvider:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _has_concrete_add(cls: type) -> bool:
    for base in cls.__mro__[1:]:
        if base is MemoryProvider:
            return False
        if "add" in vars(base):
            return True
    return False
