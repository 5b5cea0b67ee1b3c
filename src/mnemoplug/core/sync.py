"""A synchronous facade for sync frameworks (Agno ``run``, LangChain ``invoke``).

``SyncMemory`` runs its own event loop on a daemon thread (a "portal", like anyio's) and
submits each call to it, so it works from plain sync code *and* from inside a running event
loop (e.g. a sync tool called by an async framework) without deadlocking. The wrapped
:class:`Memory` belongs to that loop: use it through this facade only.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import ConfigurationError
from .memory import Memory

__all__ = ["Portal", "SyncMemory"]

T = TypeVar("T")


class Portal:
    """An event loop on a daemon thread; ``call(coro)`` runs a coroutine there and waits."""

    def __init__(self, name: str = "mnemoplug-portal") -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        atexit.register(self.stop)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise ConfigurationError(
                "SyncMemory was called from inside its own event loop (a hook calling the sync "
                "API?); use the async Memory there"
            )
        if self._loop.is_closed():
            coro.close()
            raise ConfigurationError("this SyncMemory is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()


class SyncMemory:
    """``SyncMemory()`` takes the same arguments as ``Memory()`` (or ``memory=`` an existing,
    not yet used Memory) and offers the same methods, blocking."""

    def __init__(
        self, provider: Any = None, *, memory: Memory | None = None, **kwargs: Any
    ) -> None:
        self._portal = Portal()
        if memory is not None:
            if provider is not None or kwargs:
                raise ConfigurationError("pass either memory= or Memory arguments, not both")
            self.memory = memory
        else:
            self.memory = Memory(provider, **kwargs)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SyncMemory:
        return cls(memory=Memory.from_url(url, **kwargs))

    @property
    def portal(self) -> Portal:
        """The event-loop thread this SyncMemory runs its Memory on."""
        return self._portal

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run any coroutine of the wrapped Memory on its loop."""
        return self._portal.call(coro)

    def add(self, user_id: str, content: Any, metadata: Any = None, **kw: Any) -> Any:
        return self.run(self.memory.add(user_id, content, metadata, **kw))

    def search(
        self, user_id: str, query: str, limit: int = 10, filters: Any = None, **kw: Any
    ) -> Any:
        return self.run(self.memory.search(user_id, query, limit, filters, **kw))

    def get(self, user_id: str, memory_id: str, **kw: Any) -> Any:
        return self.run(self.memory.get(user_id, memory_id, **kw))

    def get_all(self, user_id: str, limit: int = 100, filters: Any = None, **kw: Any) -> Any:
        return self.run(self.memory.get_all(user_id, limit, filters, **kw))

    def update(
        self, user_id: str, memory_id: str, content: Any = None, metadata: Any = None, **kw: Any
    ) -> Any:
        return self.run(self.memory.update(user_id, memory_id, content, metadata, **kw))

    def delete(self, user_id: str, memory_id: str, **kw: Any) -> bool:
        return self.run(self.memory.delete(user_id, memory_id, **kw))

    def delete_all(self, user_id: str, **kw: Any) -> int:
        return self.run(self.memory.delete_all(user_id, **kw))

    def count(self, user_id: str, **kw: Any) -> int:
        return self.run(self.memory.count(user_id, **kw))

    def forget(self, user_id: str, **kw: Any) -> dict[str, int]:
        return self.run(self.memory.forget(user_id, **kw))

    def purge_expired(self) -> int:
        return self.run(self.memory.purge_expired())

    def register(self, plugin: Any, name: str | None = None) -> Any:
        return self.memory.register(plugin, name)

    def close(self) -> None:
        try:
            if not self._portal.loop.is_closed():
                self.run(self.memory.close())
        finally:
            self._portal.stop()

    def __enter__(self) -> SyncMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
