"""A "portal": an event loop running on a daemon thread, for calling async code from sync code.

``Portal().call(coro)`` submits a coroutine to the portal's loop and blocks the calling thread
until it is done, so it works from plain sync code *and* from inside a running event loop (a
sync framework callback) without deadlocking: the caller's loop is blocked, the portal's is
not. Objects bound to a loop (connection pools, ``asyncio.Lock``) created on the portal stay on
it.

:class:`~mnemoplug.SyncMemory` owns one portal per instance. The sync paths of the adapters
(Agno hooks, LangChain ``invoke``) share one portal per adapter, from :func:`shared_portal`,
so a loop-bound provider sees the same loop on every sync call.

:class:`PortalProxy` makes an async object blocking: its coroutine methods run on a portal.
:class:`SyncSessionMemory` and :class:`SyncCheckpointStore` are the typed proxies that
``SyncMemory.session`` and ``SyncMemory.checkpoints`` return.
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .checkpoints import Checkpoint
    from .session import Message, SessionInfo

__all__ = [
    "DEFAULT_PORTAL_NAME",
    "Portal",
    "PortalProxy",
    "SyncCheckpointStore",
    "SyncSessionMemory",
    "shared_portal",
]

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


# -- blocking proxies over async objects ---------------------------------------------------
def _given(**kw: Any) -> dict[str, Any]:
    """The keyword arguments that are not None (so a store with fewer parameters still works)."""
    return {k: v for k, v in kw.items() if v is not None}


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class PortalProxy:
    """``PortalProxy(obj, portal)``: ``obj``'s attributes, its coroutine methods made blocking
    (they run on ``portal``); ``.wrapped`` is ``obj``."""

    def __init__(self, target: Any, portal: Portal) -> None:
        self._target = target
        self._portal = portal

    @property
    def wrapped(self) -> Any:
        """The underlying async object (it belongs to the portal's loop)."""
        return self._target

    def _run(self, result: Any) -> Any:
        """``result`` of calling a method: a coroutine runs on the portal, a plain value (a sync
        method) is returned as it is."""
        if inspect.iscoroutine(result):
            return self._portal.call(result)
        if inspect.isawaitable(result):
            return self._portal.call(_awaited(result))
        return result

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(attr(*args, **kwargs))

        call.__name__ = name
        call.__doc__ = getattr(attr, "__doc__", None)
        return call

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._target!r})"


class SyncSessionMemory(PortalProxy):
    """Blocking twin of the Memory's session memory (``SyncMemory.session``).

    The methods mirror :class:`~mnemoplug.SessionStore`'s; arguments left as None are not
    passed, so a session memory of your own with the four seed methods (``get_messages``,
    ``add_message``, ``clear``, ``summarize``) works too. Other methods of the underlying object
    are reachable as attributes (coroutines run on the portal)."""

    def get_messages(
        self,
        session_id: str,
        limit: int | None = None,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> list[Message]:
        """The session's messages, oldest first (the last ``limit``)."""
        res = self._run(
            self._target.get_messages(
                session_id, **_given(limit=limit, user_id=user_id, tenant_id=tenant_id)
            )
        )
        return list(res)

    def add_message(
        self,
        session_id: str,
        message: Message | Mapping[str, Any] | Any,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> Message:
        """Append one message; return it as stored."""
        res: Message = self._run(
            self._target.add_message(
                session_id, message, **_given(user_id=user_id, tenant_id=tenant_id)
            )
        )
        return res

    def add_messages(
        self,
        session_id: str,
        messages: Iterable[Message | Mapping[str, Any] | Any],
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> list[Message]:
        """Append messages atomically; return them as stored."""
        res = self._run(
            self._target.add_messages(
                session_id, list(messages), **_given(user_id=user_id, tenant_id=tenant_id)
            )
        )
        return list(res)

    def clear(
        self, session_id: str, *, user_id: str | None = None, tenant_id: str | None = None
    ) -> int:
        """Delete the session; return how many messages it held."""
        res = self._run(
            self._target.clear(session_id, **_given(user_id=user_id, tenant_id=tenant_id))
        )
        return int(res or 0)

    def clear_all(self, *, user_id: str | None = None, tenant_id: str | None = None) -> int:
        """Delete every session (of a user or tenant when given); return how many."""
        res = self._run(self._target.clear_all(**_given(user_id=user_id, tenant_id=tenant_id)))
        return int(res or 0)

    def info(
        self, session_id: str, *, user_id: str | None = None, tenant_id: str | None = None
    ) -> SessionInfo | None:
        """The session's :class:`~mnemoplug.SessionInfo`, or None."""
        res: SessionInfo | None = self._run(
            self._target.info(session_id, **_given(user_id=user_id, tenant_id=tenant_id))
        )
        return res

    def list_sessions(
        self, *, user_id: str | None = None, tenant_id: str | None = None, limit: int = 100
    ) -> list[SessionInfo]:
        """Sessions (of a user or tenant when given), most recently updated first."""
        res = self._run(
            self._target.list_sessions(limit=limit, **_given(user_id=user_id, tenant_id=tenant_id))
        )
        return list(res)

    def clear_old_sessions(self, older_than: timedelta | datetime | float) -> int:
        """Delete sessions not written since ``older_than``; return how many."""
        return int(self._run(self._target.clear_old_sessions(older_than)) or 0)

    def summarize(
        self,
        session_id: str,
        *,
        summarizer: Callable[..., Any] | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """A summary of the session."""
        res = self._run(
            self._target.summarize(
                session_id, **_given(summarizer=summarizer, user_id=user_id, tenant_id=tenant_id)
            )
        )
        return str(res)

    def search(
        self,
        query: str,
        session_id: str | None = None,
        limit: int = 10,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> list[Message]:
        """Messages matching ``query`` lexically, best first."""
        res = self._run(
            self._target.search(
                query, session_id, limit, **_given(user_id=user_id, tenant_id=tenant_id)
            )
        )
        return list(res)

    def close(self) -> None:
        """Close the session memory (it reopens on next use)."""
        close = getattr(self._target, "close", None)
        if close is not None:
            self._run(close())


class SyncCheckpointStore(PortalProxy):
    """Blocking twin of the Memory's checkpoint store (``SyncMemory.checkpoints``); the methods
    mirror :class:`~mnemoplug.CheckpointStore`'s."""

    def save(
        self,
        run_id: str,
        state: Any,
        *,
        user_id: str,
        tenant_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        checkpoint_id: str | None = None,
        parent_id: str | None = None,
    ) -> Checkpoint:
        """Save ``state`` as the run's newest checkpoint; return it."""
        res: Checkpoint = self._run(
            self._target.save(
                run_id,
                state,
                user_id=user_id,
                tenant_id=tenant_id,
                metadata=metadata,
                checkpoint_id=checkpoint_id,
                parent_id=parent_id,
            )
        )
        return res

    def load(
        self,
        run_id: str,
        *,
        user_id: str,
        tenant_id: str | None = None,
        checkpoint_id: str | None = None,
    ) -> Checkpoint | None:
        """The run's latest checkpoint (or the one named), None when absent."""
        res: Checkpoint | None = self._run(
            self._target.load(
                run_id, user_id=user_id, tenant_id=tenant_id, checkpoint_id=checkpoint_id
            )
        )
        return res

    def list(
        self,
        *,
        user_id: str,
        tenant_id: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
        before: str | Checkpoint | None = None,
    ) -> builtins.list[Checkpoint]:
        """The owner's checkpoints (of one run when ``run_id``), newest first."""
        res = self._run(
            self._target.list(
                user_id=user_id, tenant_id=tenant_id, run_id=run_id, limit=limit, before=before
            )
        )
        return builtins.list(res)

    def delete(
        self,
        run_id: str,
        *,
        user_id: str,
        tenant_id: str | None = None,
        checkpoint_id: str | None = None,
    ) -> int:
        """Delete the run's checkpoints (or one); return how many."""
        res = self._run(
            self._target.delete(
                run_id, user_id=user_id, tenant_id=tenant_id, checkpoint_id=checkpoint_id
            )
        )
        return int(res)

    def delete_user(self, user_id: str, tenant_id: str | None = None) -> int:
        """Delete every checkpoint of the user (in the tenant); return how many."""
        return int(self._run(self._target.delete_user(user_id, tenant_id)))

    def close(self) -> None:
        """Close the checkpoint store (it reopens on next use)."""
        close = getattr(self._target, "close", None)
        if close is not None:
            self._run(close())
