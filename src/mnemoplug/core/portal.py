"""A "portal": an event loop running on a daemon thread, for calling async code from sync code.

``Portal().call(coro)`` submits a coroutine to the portal's loop and blocks the calling thread
until it is done, so it works from plain sync code *and* from inside a running event loop (a
sync framework callback) without deadlocking: the caller's loop is blocked, the portal's is
not. Objects bound to a loop (connection pools, ``asyncio.Lock``) created on the portal stay on
it.

:class:`~mnemoplug.SyncMemory` owns one portal per instance. The sync paths of the adapters
(Agno hooks, LangChain ``invoke``) share one portal per adapter, from :func:`shared_portal`,
so a loop-bound provider sees the same loop on every sync call.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import ConfigurationError

__all__ = ["DEFAULT_PORTAL_NAME", "Portal", "shared_portal"]

T = TypeVar("T")

DEFAULT_PORTAL_NAME = "mnemoplug-portal"


class Portal:
    """An event loop on a daemon thread; ``call(coro)`` runs a coroutine there and waits."""

    def __init__(self, name: str = DEFAULT_PORTAL_NAME) -> None:
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
        """The portal's event loop (running on its own thread)."""
        return self._loop

    @property
    def name(self) -> str:
        """The portal thread's name."""
        return self._thread.name

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the portal's loop; block this thread until it returns."""
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
        """Stop the loop and its thread (idempotent)."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()


_shared: dict[str, Portal] = {}
_shared_lock = threading.Lock()


def shared_portal(name: str = DEFAULT_PORTAL_NAME) -> Portal:
    """The process-wide portal called ``name`` (created on first use, and again after it was
    stopped). Each adapter uses its own name (``"mnemoplug-agno"``, ``"mnemoplug-langchain"``)."""
    with _shared_lock:
        portal = _shared.get(name)
        if portal is None or portal.loop.is_closed():
            portal = _shared[name] = Portal(name=name)
        return portal
