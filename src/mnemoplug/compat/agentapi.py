"""AgentAPI's memory objects on mnemoplug's session stores: change ``from agentapi import
InMemoryMemory, RedisMemory, create_conversation_id`` to ``from mnemoplug.compat.agentapi
import ...``.

Each memory object is bound to one conversation (``conversation_id`` — the isolation key) and
wraps a :class:`~mnemoplug.core.stores.SessionStore` (``.store``):

* :class:`InMemoryMemory` — its own in-process store: two instances never see each other's
  messages, even with the same ``conversation_id``.
* :class:`RedisMemory` — shared across processes through Redis. With ``user_id`` (and
  ``tenant_id``) the first write makes that user the conversation's owner; another user's
  ``RedisMemory`` on the same ``conversation_id`` reads it as empty, and its writes raise
  :class:`~mnemoplug.core.errors.SessionOwnershipError` (nothing stored). Without ``user_id``
  the conversation id is the capability (the caller is trusted).
* :class:`SQLiteMemory` — shared through a SQLite file, with the same ownership rules.

The stores are async, so reads and writes are async methods: ``await memory.get_messages()``,
``await memory.add_message("user", "hi")``, ``await memory.reset()``. :attr:`~_BoundMemory.
messages` is a synchronous property (as AgentAPI's agents read ``agent.memory.messages``): a
copy of the conversation as this object last saw it — refreshed by :meth:`~_BoundMemory.
get_messages` and kept up to date by this object's own writes, but not by other processes'
(call ``await memory.get_messages()`` to pick those up).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import ConfigurationError, InvalidMessageError
from ..core.session import Message, check_session_id, create_conversation_id
from ..core.stores import SessionStore
from ..core.validation import check_id

__all__ = [
    "InMemoryMemory",
    "Message",
    "RedisMemory",
    "SQLiteMemory",
    "create_conversation_id",
]


class _BoundMemory:
    """One conversation of a session store (the base of the AgentAPI memory classes).

    Args:
        store: the session store holding the conversation.
        conversation_id: the conversation's id; a new one (:func:`create_conversation_id`)
            when None.
        user_id, tenant_id: the conversation's owner (optional; see the module docstring).
    """

    def __init__(
        self,
        store: SessionStore,
        conversation_id: str | None,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        if conversation_id is None:
            conversation_id = create_conversation_id()
        self.conversation_id: str = check_session_id(conversation_id)
        check_id("user_id", user_id, required=False)
        check_id("tenant_id", tenant_id, required=False)
        self.user_id = user_id
        self.tenant_id = tenant_id
        self.store = store
        self._cache: list[Message] = []
        self._loaded = False

    @property
    def _owner(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "tenant_id": self.tenant_id}

    @property
    def messages(self) -> list[Message]:
        """The conversation as this object last saw it (a copy), oldest first: refreshed by
        :meth:`get_messages`, extended by this object's :meth:`add_message`, emptied by
        :meth:`reset`. Empty until the first read or write."""
        return list(self._cache)

    async def get_messages(self, limit: int | None = None) -> list[Message]:
        """Read the conversation from the store (oldest first; the last ``limit`` when given)
        and refresh :attr:`messages`. Another owner's conversation reads as empty."""
        if limit is not None:
            _positive(limit)
        msgs = await self.store.get_messages(self.conversation_id, None, **self._owner)
        self._cache = list(msgs)
        self._loaded = True
        return list(msgs[-limit:]) if limit is not None else list(msgs)

    async def load(self) -> list[Message]:
        """Same as :meth:`get_messages` (refresh and return the whole conversation)."""
        return await self.get_messages()

    async def add_message(
        self,
        role: str | Message | Mapping[str, Any],
        content: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Message:
        """Append one message — ``add_message("user", "hi")``, a :class:`Message` or a dict
        — and return it as stored. Raises SessionOwnershipError when another user owns the
        conversation (nothing stored)."""
        if isinstance(role, str):
            if content is None:
                raise InvalidMessageError(
                    "add_message(role, content): pass the content too, e.g. "
                    "add_message('user', 'hello')"
                )
            item: Any = {"role": role, "content": content, "metadata": metadata}
        else:
            if content is not None or metadata is not None:
                raise InvalidMessageError(
                    "pass either add_message(role, content, metadata=...) or a Message/dict alone"
                )
            item = role
        stored = await self.add_messages([item])
        return stored[0]

    async def add_messages(self, messages: Iterable[Message | Mapping[str, Any]]) -> list[Message]:
        """Append messages atomically (all or none); return them as stored."""
        stored = await self.store.add_messages(self.conversation_id, messages, **self._owner)
        if self._loaded:
            self._cache.extend(stored)
            limit = getattr(self.store, "max_messages", None)
            if isinstance(limit, int) and len(self._cache) > limit:
                self._cache = self._cache[-limit:]
        else:
            await self.get_messages()  # first contact: see the whole conversation
        return stored

    async def reset(self) -> int:
        """Delete the conversation (start over with the same id); return how many messages
        it held. A no-op (0) on another owner's conversation."""
        n = await self.store.clear(self.conversation_id, **self._owner)
        self._cache = []
        self._loaded = True
        return n

    async def summarize(self) -> str:
        """The store's summary of the conversation (see ``SessionStore.summarize``)."""
        return await self.store.summarize(
            self.conversation_id, user_id=self.user_id, tenant_id=self.tenant_id
        )

    async def close(self) -> None:
        """Release the store's connections (it reconnects on next use)."""
        await self.store.close()

    async def __aenter__(self) -> _BoundMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __len__(self) -> int:
        return len(self._cache)

    def __repr__(self) -> str:
        who = f", user_id={self.user_id!r}" if self.user_id else ""
        return f"{type(self).__name__}(conversation_id={self.conversation_id!r}{who})"


class InMemoryMemory(_BoundMemory):
    """A conversation in this process's memory, in a store of its own: instances never share
    messages (5 instances = 5 isolated conversations).

    Args:
        conversation_id: the conversation's id (a new one when None).
        max_messages: keep the last N messages; None = all.
    """

    def __init__(self, conversation_id: str | None = None, *, max_messages: int | None = None):
        from ..providers.inprocess import InMemorySessionMemory

        super().__init__(InMemorySessionMemory(max_messages=max_messages), conversation_id)


class RedisMemory(_BoundMemory):
    """A conversation in Redis, shared by every worker using the same server and ``prefix``.

    Args:
        redis_url: ``redis://host:6379/0`` (``rediss://`` for TLS).
        conversation_id: the conversation's id (a new one when None).
        user_id, tenant_id: the owner; another user's RedisMemory on the same id cannot read
            (reads empty) or write it (SessionOwnershipError).
        prefix: key prefix.
        ttl_seconds: a conversation expires this long after its last write; None = never.
        max_messages: keep the last N messages; None = all.
        client: an existing ``redis.asyncio.Redis`` (then ``redis_url`` is only shown).
    """

    def __init__(
        self,
        redis_url: str = "redis://localhost:6379/0",
        conversation_id: str | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        *,
        prefix: str = "agentapi:memory:",
        ttl_seconds: float | None = None,
        max_messages: int | None = None,
        client: Any = None,
    ) -> None:
        from ..providers.redis import RedisSessionMemory

        if not isinstance(redis_url, str):
            raise ConfigurationError(f"redis_url must be a string, got {type(redis_url).__name__}")
        store = RedisSessionMemory(
            url=redis_url,
            prefix=prefix,
            ttl_seconds=ttl_seconds,
            max_messages=max_messages,
            client=client,
        )
        super().__init__(store, conversation_id, user_id=user_id, tenant_id=tenant_id)


class SQLiteMemory(_BoundMemory):
    """A conversation in a SQLite file, shared by every process using the same file.

    Args:
        path: the database file (created with its directory when missing).
        conversation_id: the conversation's id (a new one when None).
        user_id, tenant_id: the owner (same rules as :class:`RedisMemory`).
        table: the session table name.
        max_messages: keep the last N messages; None = all.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "agentapi_memory.db",
        conversation_id: str | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        *,
        table: str = "agentapi_conversations",
        max_messages: int | None = None,
    ) -> None:
        from ..providers.sqlite import SQLiteSessionMemory

        if not isinstance(path, str | os.PathLike) or not str(path).strip():
            raise ConfigurationError(f"path must be a file path, got {path!r}")
        store = SQLiteSessionMemory(path=path, table=table, max_messages=max_messages)
        super().__init__(store, conversation_id, user_id=user_id, tenant_id=tenant_id)


def _positive(limit: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidMessageError(f"limit must be a positive integer, got {limit!r}")
