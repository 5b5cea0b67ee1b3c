"""Run the async :class:`Memory` API from sync and async LangChain code paths."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ...core.errors import ConfigurationError
from ...core.memory import Memory
from ...core.portal import Portal
from ...core.portal import shared_portal as _named_portal
from ...core.provider import MemoryProvider
from ...core.strategies import as_memory
from ...core.sync import SyncMemory

__all__ = ["PORTAL_NAME", "MemoryRunner", "shared_portal"]

T = TypeVar("T")

PORTAL_NAME = "mnemoplug-langchain"


def shared_portal() -> Portal:
    """The adapter's one portal thread for sync calls on plain ``Memory`` objects (so a
    loop-bound provider sees the same loop on every sync call)."""
    return _named_portal(PORTAL_NAME)


class MemoryRunner:
    """Runs coroutines of one :class:`Memory` from sync or async callers without deadlocks.

    * Given a :class:`SyncMemory`, every call (sync *and* async) runs on its portal loop, so a
      loop-bound provider (SQLite, Postgres) only ever sees one event loop. Async callers await
      the portal's future without blocking their own loop.
    * Given a :class:`Memory`, async callers run the coroutine on their own loop; sync callers
      (``invoke``) submit it to the adapter's shared portal thread, so a sync call made inside
      a running event loop never blocks that loop on itself. Use a ``SyncMemory`` when one
      agent is driven both by ``invoke`` and ``ainvoke`` over a loop-bound provider.
    * Given your own :class:`~mnemoplug.MemoryProvider` (the seven seed methods), it is wrapped
      once as ``Memory(provider=...)`` and used as a Memory.
    """

    def __init__(
        self, memory: Memory | SyncMemory | Any, *, any_object: bool = False, reuse: Any = None
    ) -> None:
        self.memory: Any
        self._portal: Portal | None
        if any_object and not isinstance(memory, SyncMemory):
            self.memory = memory
            self._portal = None
            self._portal_only = False
        elif isinstance(memory, SyncMemory):
            self.memory = memory.memory
            self._portal = memory.portal
            self._portal_only = True
        elif isinstance(memory, Memory | MemoryProvider):
            self.memory = as_memory(memory, reuse)
            self._portal = None
            self._portal_only = False
        elif _looks_like_memory(memory):  # duck typing: used as it is
            self.memory = memory
            self._portal = None
            self._portal_only = False
        else:
            raise ConfigurationError(
                f"expected a mnemoplug Memory, SyncMemory or MemoryProvider, got "
                f"{type(memory).__name__}; build one with Memory.from_url('sqlite:///memory.db') "
                "or Memory()"
            )

    def _get_portal(self) -> Portal:
        return self._portal if self._portal is not None else shared_portal()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion from sync code (blocking this thread only)."""
        return self._get_portal().call(coro)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` from async code (on the portal when the memory belongs to one)."""
        if not self._portal_only:
            return await coro
        portal = self._get_portal()
        fut = asyncio.run_coroutine_threadsafe(coro, portal.loop)
        return await asyncio.wrap_future(fut)


def _looks_like_memory(obj: Any) -> bool:
    return all(callable(getattr(obj, n, None)) for n in ("add", "search", "get_all", "delete"))
