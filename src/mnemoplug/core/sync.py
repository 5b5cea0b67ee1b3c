"""A synchronous facade for sync frameworks (Agno ``run``, LangChain ``invoke``).

``SyncMemory`` runs its own event loop on a daemon thread (a :class:`~mnemoplug.core.portal.Portal`,
like anyio's) and submits each call to it, so it works from plain sync code *and* from inside a
running event loop (e.g. a sync tool called by an async framework) without deadlocking. The
wrapped :class:`Memory` belongs to that loop: use it through this facade only.

Its methods mirror :class:`Memory`'s (same parameters, same return types, blocking);
``sync_memory.session`` and ``sync_memory.checkpoints`` are blocking wrappers
(:class:`SyncSessionMemory`, :class:`SyncCheckpointStore`) over the Memory's session memory and
checkpoint store, running on the same loop::

    sm = SyncMemory("sqlite:///memory.db", session="sqlite:///sessions.db")
    sm.add("u1", "User prefers dark mode")
    sm.session.add_message("s1", {"role": "user", "content": "hi"}, user_id="u1")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, overload

from .errors import ConfigurationError, MnemoplugError
from .memory import Memory
from .operations import MemoryOperation
from .portal import Portal, SyncCheckpointStore, SyncSessionMemory
from .provider import MemoryProvider
from .records import MemoryRecord
from .retrieval import RetrievalConfig
from .validation import check_content

__all__ = ["Portal", "SyncCheckpointStore", "SyncMemory", "SyncSessionMemory"]

T = TypeVar("T")
Expiry = datetime | float | str | None
TTL = timedelta | float | None


class SyncMemory:
    """``SyncMemory()`` takes the same arguments as ``Memory()`` (or ``memory=`` an existing,
    not yet used Memory, or your own :class:`~mnemoplug.MemoryProvider`) and offers the same
    methods, blocking."""

    def __init__(
        self,
        provider: Any = None,
        *,
        memory: Memory | MemoryProvider | None = None,
        **kwargs: Any,
    ) -> None:
        if memory is not None:
            if provider is not None or kwargs:
                raise ConfigurationError("pass either memory= or Memory arguments, not both")
            if isinstance(memory, Memory):
                mem = memory
            elif isinstance(memory, MemoryProvider):
                mem = Memory(provider=memory)
            else:
                raise ConfigurationError(
                    f"memory= must be a Memory or a MemoryProvider, got {type(memory).__name__}"
                )
        else:
            mem = Memory(provider, **kwargs)
        self.memory: Memory = mem
        self._portal = Portal()
        self._session: tuple[Any, SyncSessionMemory] | None = None
        self._checkpoints: tuple[Any, SyncCheckpointStore] | None = None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SyncMemory:
        """``SyncMemory.from_url("sqlite:///memory.db", ...)``, as ``Memory.from_url``."""
        return cls(memory=Memory.from_url(url, **kwargs))

    def __repr__(self) -> str:
        return f"SyncMemory({self.memory!r})"

    @property
    def portal(self) -> Portal:
        """The event-loop thread this SyncMemory runs its Memory on."""
        return self._portal

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run any coroutine of the wrapped Memory on its loop."""
        return self._portal.call(coro)

    # -- session memory and checkpoints -------------------------------------------------------
    @property
    def session(self) -> SyncSessionMemory | None:
        """The Memory's session memory (``Memory(session=...)``) with blocking methods, or None
        when it has none. ``.session.wrapped`` is the async object (of this loop)."""
        target = self.memory.session
        if target is None:
            return None
        if self._session is None or self._session[0] is not target:
            self._session = (target, SyncSessionMemory(target, self._portal))
        return self._session[1]

    @property
    def checkpoints(self) -> SyncCheckpointStore | None:
        """The Memory's checkpoint store (``Memory(checkpoints=...)``) with blocking methods, or
        None when it has none. ``.checkpoints.wrapped`` is the async store (of this loop)."""
        target = self.memory.checkpoints
        if target is None:
            return None
        if self._checkpoints is None or self._checkpoints[0] is not target:
            self._checkpoints = (target, SyncCheckpointStore(target, self._portal))
        return self._checkpoints[1]

    # -- the Memory API, blocking -------------------------------------------------------------
    @overload
    def add(
        self,
        user_id: str,
        content: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        expires_at: Expiry = None,
        ttl: TTL = None,
        occurred_at: Expiry = None,
    ) -> str: ...

    @overload
    def add(
        self,
        user_id: str,
        content: list[Any] | tuple[Any, ...],
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        expires_at: Expiry = None,
        ttl: TTL = None,
        occurred_at: Expiry = None,
    ) -> list[str]: ...

    @overload
    def add(
        self,
        user_id: str,
        content: str | Sequence[Any],
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        expires_at: Expiry = None,
        ttl: TTL = None,
        occurred_at: Expiry = None,
    ) -> str | list[str]: ...

    def add(
        self,
        user_id: str,
        content: str | Sequence[Any],
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        expires_at: Expiry = None,
        ttl: TTL = None,
        occurred_at: Expiry = None,
    ) -> str | list[str]:
        """Store text (its id) or chat messages (their ids); see :meth:`Memory.add`."""
        memory: Any = self.memory  # one call for both content kinds
        res: str | list[str] = self.run(
            memory.add(
                user_id,
                content,
                metadata,
                tenant_id=tenant_id,
                agent_id=agent_id,
                session_id=session_id,
                expires_at=expires_at,
                ttl=ttl,
                occurred_at=occurred_at,
            )
        )
        return res

    def search(
        self,
        user_id: str,
        query: str,
        limit: int = 10,
        filters: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        min_relevance: float | None = None,
        retrieval: RetrievalConfig | None = None,
    ) -> list[MemoryRecord]:
        """The user's memories most relevant to ``query``; see :meth:`Memory.search`."""
        start = time.time_ns()
        vector = self._embed_query_here(query)
        embedded = (start, time.time_ns())
        search = self.memory.search(
            user_id,
            query,
            limit,
            filters,
            tenant_id=tenant_id,
            agent_id=agent_id,
            session_id=session_id,
            min_relevance=min_relevance,
            retrieval=retrieval,
        )
        if vector is None:
            return self.run(search)
        return self.run(self._search_with(query, vector, embedded, search))

    def _embed_query_here(self, query: str) -> Any:
        """The query's vector, embedded in this (otherwise blocked) thread when the embedder
        allows it (:meth:`StoreVectors.embed_query_here`): one thread hop less than the loop
        asking the embedder's thread. None when it does not apply, or for a query that
        ``Memory.search`` will reject with its own error."""
        memory = self.memory
        if memory._calls is not None or memory.embedder is None:  # a provider of the user's
            return None
        try:
            query = check_content(query, memory.max_content_chars, what="query", allow_nul=True)
        except MnemoplugError:
            return None
        return memory._vectors.embed_query_here(memory.embedder, query)

    async def _search_with(
        self,
        query: str,
        vector: Any,
        embedded: tuple[int, int],
        search: Coroutine[Any, Any, list[MemoryRecord]],
    ) -> list[MemoryRecord]:
        self.memory._vectors.keep_query(query, vector, embedded)
        return await search

    def get(
        self,
        user_id: str,
        memory_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> MemoryRecord | None:
        """One memory, or None; see :meth:`Memory.get`."""
        return self.run(
            self.memory.get(
                user_id, memory_id, tenant_id=tenant_id, agent_id=agent_id, session_id=session_id
            )
        )

    def get_all(
        self,
        user_id: str,
        limit: int = 100,
        filters: Mapping[str, Any] | None = None,
        *,
        offset: int = 0,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[MemoryRecord]:
        """The user's memories, newest first; see :meth:`Memory.get_all`."""
        return self.run(
            self.memory.get_all(
                user_id,
                limit,
                filters,
                offset=offset,
                tenant_id=tenant_id,
                agent_id=agent_id,
                session_id=session_id,
            )
        )

    def update(
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        expires_at: Expiry = None,
        ttl: TTL = None,
    ) -> MemoryRecord:
        """Change a memory's content and/or metadata; see :meth:`Memory.update`."""
        return self.run(
            self.memory.update(
                user_id,
                memory_id,
                content,
                metadata,
                tenant_id=tenant_id,
                agent_id=agent_id,
                session_id=session_id,
                expires_at=expires_at,
                ttl=ttl,
            )
        )

    def delete(
        self,
        user_id: str,
        memory_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> bool:
        """Delete one memory; False when the scope held none. See :meth:`Memory.delete`."""
        return self.run(
            self.memory.delete(
                user_id, memory_id, tenant_id=tenant_id, agent_id=agent_id, session_id=session_id
            )
        )

    def delete_all(
        self,
        user_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> int:
        """Delete every memory in the scope; return how many."""
        return self.run(
            self.memory.delete_all(
                user_id, tenant_id=tenant_id, agent_id=agent_id, session_id=session_id
            )
        )

    def count(
        self,
        user_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> int:
        """How many unexpired memories the scope holds."""
        return self.run(
            self.memory.count(
                user_id, tenant_id=tenant_id, agent_id=agent_id, session_id=session_id
            )
        )

    def remember(
        self,
        user_id: str,
        messages: str | Sequence[Any],
        metadata: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> list[MemoryOperation]:
        """Keep what is worth keeping of a live turn; see :meth:`Memory.remember`."""
        return self.run(self.memory.remember(user_id, messages, metadata, **options))

    def forget(self, user_id: str, *, tenant_id: str | None = None) -> dict[str, int]:
        """Forget the user everywhere; see :meth:`Memory.forget`."""
        return self.run(self.memory.forget(user_id, tenant_id=tenant_id))

    def purge_expired(self) -> int:
        """Delete expired memories of every user; return how many."""
        return self.run(self.memory.purge_expired())

    def list_users(self) -> list[tuple[str, str]]:
        """Every ``(tenant_id, user_id)`` holding memories ('' is the default tenant)."""
        return self.run(self.memory.list_users())

    # -- hooks and lifecycle ------------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> Any:
        """Register a plugin on the wrapped Memory (see :meth:`Memory.register`)."""
        return self.memory.register(plugin, name)

    def hook(self, name: str, **opts: Any) -> Callable[[Any], Any]:
        """Decorator registering a hook on the wrapped Memory (see :meth:`Memory.hook`)."""
        return self.memory.hook(name, **opts)

    def open(self) -> None:
        """Connect now (otherwise the first call does)."""
        self.run(self.memory.open())

    def close(self) -> None:
        """Close the Memory (and its session/checkpoint stores) and stop the loop thread."""
        try:
            if not self._portal.loop.is_closed():
                self.run(self.memory.close())
        finally:
            self._portal.stop()

    def __enter__(self) -> SyncMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
