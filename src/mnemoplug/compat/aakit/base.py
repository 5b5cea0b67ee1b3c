"""The AA Kit ``MemoryBackend`` ABC and its implementation over a mnemoplug session store."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ...core.errors import ConfigurationError, InvalidMessageError
from ...core.session import Message, SessionInfo
from ...core.stores import SessionStore

_ALL = 2**31 - 1  # "every session" for list_sessions' positive limit


# -- the ABC ------------------------------------------------------------------------------------
class MemoryBackend(ABC):
    """AA Kit's base class of memory backends; subclass it for a custom backend.

    Implement :meth:`save`, :meth:`load` and :meth:`clear`. :meth:`search` defaults to a
    lexical search of one session's :meth:`load` output; :meth:`clear_old_sessions` defaults to
    ConfigurationError (a custom backend knows its own timestamps).

    Args:
        config: backend-specific settings, kept as ``self.config``.
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        if config is not None and not isinstance(config, dict):
            raise ConfigurationError(f"config must be a dict or None, got {type(config).__name__}")
        self.config: dict[str, Any] = dict(config or {})

    @abstractmethod
    async def save(self, session_id: str, messages: list[Message]) -> None:
        """Append ``messages`` to the session."""

    @abstractmethod
    async def load(self, session_id: str, limit: int | None = None) -> list[Message]:
        """The session's messages, oldest first; the last ``limit`` when given."""

    @abstractmethod
    async def clear(self, session_id: str | None = None) -> None:
        """Delete one session, or every session when ``session_id`` is None."""

    async def search(
        self, query: str, session_id: str | None = None, limit: int = 10
    ) -> list[Message]:
        """Messages whose content contains every word of ``query`` (case-insensitive), in
        order. This default searches one session only and needs ``session_id``."""
        if session_id is None:
            raise ConfigurationError(
                f"{type(self).__name__}.search needs a session_id (override search() to "
                f"search across sessions)"
            )
        _check_query(query)
        n = _positive("limit", limit)
        words = query.lower().split()
        hits = [
            m for m in await self.load(session_id) if all(w in m.content.lower() for w in words)
        ]
        return hits[:n]

    async def clear_old_sessions(self, older_than: datetime | timedelta) -> int:
        """Delete sessions not written since ``older_than``; return how many."""
        raise ConfigurationError(f"{type(self).__name__} does not implement clear_old_sessions")


# -- shared implementation over a SessionStore ------------------------------------------------
class _StoreBackend(MemoryBackend):
    """A :class:`MemoryBackend` over one mnemoplug :class:`SessionStore` (``self.store``)."""

    #: the name :func:`create_memory` knows this backend by
    backend_name: ClassVar[str] = ""

    def __init__(self, store: SessionStore, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.store = store

    async def save(
        self,
        session_id: str,
        messages: list[Message],
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        """Append ``messages`` atomically (all or none), keeping their ids, timestamps and
        metadata. ``user_id``/``tenant_id`` (mnemoplug extension) set the owner on the
        session's first write; a later write naming another owner raises
        SessionOwnershipError."""
        if isinstance(messages, str | bytes | dict | Message) or not isinstance(messages, Iterable):
            raise InvalidMessageError(
                f"save takes a list of messages, got {type(messages).__name__}; "
                f"wrap a single message in a list"
            )
        await self.store.add_messages(
            session_id, list(messages), user_id=user_id, tenant_id=tenant_id
        )

    async def load(self, session_id: str, limit: int | None = None) -> list[Message]:
        """The session's messages, oldest first; the last ``limit`` when given; ``[]`` for
        an unknown session."""
        return await self.store.get_messages(session_id, limit)

    async def clear(self, session_id: str | None = None) -> None:
        """Delete one session, or every session of this backend when ``session_id`` is None."""
        if session_id is None:
            await self.store.clear_all()
        else:
            await self.store.clear(session_id)

    async def search(
        self, query: str, session_id: str | None = None, limit: int = 10
    ) -> list[Message]:
        """Messages matching ``query`` (BM25 over the words), best first; in one session
        when ``session_id`` is given, else across all sessions."""
        _check_query(query)
        return await self.store.search(
            query, session_id, _positive("limit", limit), all_users=session_id is None
        )

    async def clear_old_sessions(self, older_than: datetime | timedelta) -> int:
        """Delete sessions last written before ``older_than`` (a datetime cut-off; naive means
        local time) or longer ago than a timedelta; return how many."""
        if isinstance(older_than, datetime):
            if older_than.tzinfo is None:
                older_than = older_than.astimezone()  # naive = local time, as datetime.now()
        elif not isinstance(older_than, timedelta):
            raise ConfigurationError(
                f"older_than must be a datetime (cut-off) or a timedelta (age), "
                f"got {type(older_than).__name__}"
            )
        return await self.store.clear_old_sessions(older_than)

    # -- mnemoplug extensions used by migrate_memory --------------------------------------------
    async def list_sessions(self, limit: int | None = None) -> list[SessionInfo]:
        """Every session (the first ``limit``), most recently updated first."""
        return await self.store.list_sessions(
            limit=_ALL if limit is None else _positive("limit", limit)
        )

    async def session_info(self, session_id: str) -> SessionInfo | None:
        """The session's :class:`SessionInfo`, or None when absent."""
        return await self.store.info(session_id)

    async def close(self) -> None:
        """Release the store's connections (it reconnects on next use)."""
        await self.store.close()

    async def __aenter__(self) -> _StoreBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store.url!r})"


# -- helpers ------------------------------------------------------------------------------------
def _takes_owner(backend: MemoryBackend) -> bool:
    """Whether ``backend.save`` takes mnemoplug's ``user_id``/``tenant_id`` keywords (a
    subclass overriding ``save(session_id, messages)`` does not)."""

    try:
        params = inspect.signature(backend.save).parameters
    except (TypeError, ValueError):
        return False
    return "user_id" in params and "tenant_id" in params


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_query(query: Any) -> None:
    if not isinstance(query, str) or not query.strip():
        raise InvalidMessageError(f"query must be a non-empty string, got {query!r}")
