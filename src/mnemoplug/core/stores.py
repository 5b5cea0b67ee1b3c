"""The three store contracts: what a storage technology implements to back mnemoplug.

* :class:`MemoryStore` — long-term memories (insert, get, list, search over a scope with a
  prepared request, update, delete, delete_all, purge_expired, list_users, export, upsert).
  :class:`~mnemoplug.Memory` and the built-in providers (``SQLiteProvider``, ``RedisProvider``,
  …) sit on top of one.
* :class:`SessionStore` — the running conversation of a session (ordered messages, one owner).
* :class:`CheckpointStore` — the saved state of durable runs.

A backend registers its stores in a plugin's ``register_providers(register)`` hook with
``kind="memory" | "session" | "checkpoint"`` and its URL schemes (see
:mod:`mnemoplug.providers`); each contract has one test suite under ``tests/stores/`` that a
backend joins with one fixture. Users who want their own *search* implement the seeds'
:class:`~mnemoplug.MemoryProvider` instead.
"""

from __future__ import annotations

import builtins
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import EllipsisType
from typing import TYPE_CHECKING, Any, ClassVar

from ._time import now_ts
from .checkpoints import (
    Checkpoint,
    build_checkpoint,
    check_checkpoint_id,
    check_run_id,
    encode_state,
    owner_of,
)
from .checkpoints import (
    _check_limit as _check_checkpoint_limit,
)
from .contexts import SessionMessageContext
from .errors import (
    ConfigurationError,
    InvalidCheckpointError,
    InvalidMessageError,
    MemoryValidationError,
)
from .filters import Filter
from .records import Scope, StoredMemory, new_memory_id
from .retrieval import BM25Index, ScoredMemory, SearchRequest
from .session import (
    Message,
    SessionInfo,
    SessionMemory,
    Summarizer,
    _check_limit,
    _cutoff,
    check_session_id,
    coerce_message,
    default_summarizer,
    owner_filter,
    owner_key,
)
from .validation import check_metadata

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CheckpointStore", "MemoryStore", "SessionStore"]


class MemoryStore(ABC):
    """The backend contract for long-term memories (what a storage technology implements).

    Stores are async and know nothing of frameworks, hooks or embedders: :class:`~mnemoplug.Memory`
    validates input, runs hooks, embeds, and hands stores ``StoredMemory`` rows with their
    vectors. Isolation is the store's job: every method takes a :class:`Scope` and must never
    read, change or delete a row outside ``(scope.tenant, scope.user_id)`` (narrowed further by
    ``agent_id``/``session_id`` when set). Expired rows are never returned.
    """

    #: registry name, as used by ``create_memory(name)`` and in error messages
    name: ClassVar[str] = "provider"
    #: URL (or path) this provider talks to, for error messages; no credentials
    url: str = ""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and create the schema if needed. Idempotent; called before first use."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The provider may be opened again afterwards."""

    async def check_embedder(self, name: str, dimension: int) -> None:  # noqa: B027
        """Record the embedder on first use; raise EmbedderMismatchError when the store already
        holds vectors of another name or dimension."""

    @abstractmethod
    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        """Store new memories atomically (all or none). Ids are new and unique."""

    @abstractmethod
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        """The memory if it lies in ``scope`` and has not expired, else None."""

    @abstractmethod
    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> builtins.list[StoredMemory]:
        """Unexpired memories in ``scope`` matching ``filters``, newest first."""

    @abstractmethod
    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        """Rank unexpired memories in ``scope`` matching ``request.filters`` (best first)."""

    @abstractmethod
    async def update(
        self,
        scope: Scope,
        memory_id: str,
        *,
        content: str | None,
        metadata: dict[str, Any] | None,
        embedding: np.ndarray | None,
        updated_at: float,
        expires_at: float | EllipsisType | None = ...,
    ) -> StoredMemory | None:
        """Change a memory in ``scope``; None when it is absent, expired or another user's.
        ``metadata`` replaces the stored dict; ``expires_at=...`` leaves expiry unchanged."""

    @abstractmethod
    async def delete(self, scope: Scope, memory_id: str) -> bool:
        """Delete one memory in ``scope``; False when it was not there."""

    @abstractmethod
    async def delete_all(self, scope: Scope) -> int:
        """Delete every memory in ``scope`` (expired ones too); return how many."""

    @abstractmethod
    async def purge_expired(self, now: float) -> int:
        """Delete expired memories of every user; return how many."""

    # -- migration and GDPR ------------------------------------------------------------------
    @abstractmethod
    async def list_users(self) -> builtins.list[tuple[str, str]]:
        """Every ``(tenant_id, user_id)`` holding at least one memory ('' = default tenant)."""

    @abstractmethod
    def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        """Yield all of one user's memories (expired included, with embeddings), in batches."""

    @abstractmethod
    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        """Write memories keeping their ids and timestamps (insert or replace). Migration uses it."""

    async def count(self, scope: Scope, now: float) -> int:
        """Number of unexpired memories in ``scope``."""
        return len(await self.list(scope, limit=10**9, offset=0, filters=Filter(None), now=now))

    async def __aenter__(self) -> MemoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SessionStore(SessionMemory):
    """The backend contract for session memory. Subclasses implement the ``_``-prefixed primitives; the public
    async methods (validation, hooks, ownership, summaries, search) live here.

    Args:
        summarizer: default summarizer for :meth:`summarize` (see :data:`Summarizer`);
            :func:`default_summarizer` when None.
    """

    #: short backend name for errors and repr
    name: ClassVar[str] = "session"
    url: str = ""

    def __init__(self, *, summarizer: Summarizer | None = None) -> None:
        if summarizer is not None and not callable(summarizer):
            raise ConfigurationError("summarizer must be a callable given the messages")
        self.summarizer = summarizer
        self.hooks: Any = None

    # -- primitives for backends ---------------------------------------------------------------
    @abstractmethod
    async def _append(
        self, session_id: str, messages: list[Message], owner: tuple[str, str], now: float
    ) -> None:
        """Append atomically, creating the session owned by ``owner`` (tenant, user) when it
        does not exist; raise :class:`SessionOwnershipError` (storing nothing) when it exists
        with another owner. Messages keep their order; ``updated_at`` becomes ``now``."""

    @abstractmethod
    async def _info(self, session_id: str) -> SessionInfo | None:
        """The session's info, None when absent (or expired)."""

    @abstractmethod
    async def _get(self, session_id: str, limit: int | None) -> list[Message]:
        """Messages in order; the last ``limit`` when given."""

    @abstractmethod
    async def _clear(self, session_id: str) -> int:
        """Delete the session; return how many messages it held."""

    @abstractmethod
    async def _list(
        self, tenant: str | None, user: str | None, limit: int | None
    ) -> list[SessionInfo]:
        """Sessions matching the owner filter (None = any), most recently updated first."""

    @abstractmethod
    async def _clear_older(self, cutoff: float) -> int:
        """Delete sessions last updated before ``cutoff`` (epoch seconds); return how many."""

    async def _clear_owned(self, tenant: str | None, user: str | None) -> int:
        """Delete every session matching the owner filter; return how many sessions."""
        n = 0
        for info in await self._list(tenant, user, None):
            await self._clear(info.session_id)
            n += 1
        return n

    async def _rewrite(
        self, session_id: str, transform: Callable[[Message], Message | None]
    ) -> int:
        """Replace stored messages in place, atomically per session (for key rotation):
        ``transform`` gets each stored message, oldest first, and returns its replacement
        (same id, role and timestamp) or None to keep it; an exception it raises leaves the
        session unchanged. Return how many messages changed. Optional: backends that cannot
        do it leave this default, which raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} cannot rewrite messages in place")

    async def close(self) -> None:
        """Release connections. The store may be used again afterwards (it reopens)."""

    # -- hooks ---------------------------------------------------------------------------------
    def bind_hooks(self, hook_manager: Any) -> None:
        """Run ``on_session_message`` of ``hook_manager`` (a HookManager) on every message
        before it is stored; a hook raising rejects the whole write. None unbinds."""
        self.hooks = hook_manager

    # -- access checks -------------------------------------------------------------------------
    async def _readable(self, session_id: str, user_id: Any, tenant_id: Any) -> bool:
        if user_id is None and tenant_id is None:
            return True
        tenant, user = owner_filter(user_id, tenant_id)
        info = await self._info(session_id)
        if info is None:
            return False
        if user is not None and (info.user_id or "") != user:
            return False
        return tenant is None or (info.tenant_id or "") == tenant

    # -- public API ----------------------------------------------------------------------------
    async def get_messages(
        self,
        session_id: str,
        limit: int | None = None,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> list[Message]:
        """The session's messages, oldest first; ``limit`` keeps the last N.

        With ``user_id`` (and ``tenant_id``), another user's session reads as empty."""
        check_session_id(session_id)
        n = _check_limit(limit, allow_none=True)
        if not await self._readable(session_id, user_id, tenant_id):
            return []
        return await self._get(session_id, n)

    async def add_message(
        self,
        session_id: str,
        message: Message | Mapping[str, Any] | Any,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> Message:
        """Append one message (a Message, a dict, or an object with role/type and content);
        return it as stored."""
        stored = await self.add_messages(
            session_id, [message], user_id=user_id, tenant_id=tenant_id
        )
        return stored[0]

    async def add_messages(
        self,
        session_id: str,
        messages: Iterable[Message | Mapping[str, Any] | Any],
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> list[Message]:
        """Append messages atomically: all are validated (and pass the hooks) first; on any
        error nothing is stored. The first write fixes the session's owner."""
        check_session_id(session_id)
        owner = owner_key(user_id, tenant_id)
        if isinstance(messages, str | bytes | Mapping | Message):
            raise InvalidMessageError(
                "add_messages takes a list of messages; use add_message for a single one"
            )
        items: list[Message] = []
        for i, item in enumerate(messages):
            try:
                items.append(coerce_message(item))
            except InvalidMessageError as exc:
                raise InvalidMessageError(f"message {i}: {exc}") from None
        if not items:
            return []
        done: list[Callable[[], Any]] = []
        if self.hooks is not None and self.hooks.has("on_session_message"):
            scope = Scope(user_id=user_id or "", tenant_id=tenant_id, session_id=session_id)
            checked: list[Message] = []
            for m in items:
                ctx = SessionMessageContext(operation="session_message", scope=scope, message=m)
                await self.hooks.call("on_session_message", ctx, rejecting=True)
                checked.append(coerce_message(ctx.message))
                done.extend(ctx.after_stored)
            items = checked
        await self._append(session_id, items, owner, now_ts())
        for fn in done:  # only now: a refused write (another user's session) is not reported
            res = fn()
            if inspect.isawaitable(res):
                await res
        return items

    async def clear(
        self, session_id: str, *, user_id: str | None = None, tenant_id: str | None = None
    ) -> int:
        """Delete the session; return how many messages it held (0 when absent or, with
        ``user_id``, another user's)."""
        check_session_id(session_id)
        if not await self._readable(session_id, user_id, tenant_id):
            return 0
        return await self._clear(session_id)

    async def clear_all(self, *, user_id: str | None = None, tenant_id: str | None = None) -> int:
        """Delete every session — or one user's (``user_id``; default tenant unless
        ``tenant_id``), or one tenant's (``tenant_id`` alone). Return how many sessions."""
        tenant, user = owner_filter(user_id, tenant_id)
        return await self._clear_owned(tenant, user)

    async def info(
        self, session_id: str, *, user_id: str | None = None, tenant_id: str | None = None
    ) -> SessionInfo | None:
        """The session's :class:`SessionInfo`, or None."""
        check_session_id(session_id)
        if not await self._readable(session_id, user_id, tenant_id):
            return None
        return await self._info(session_id)

    async def list_sessions(
        self, *, user_id: str | None = None, tenant_id: str | None = None, limit: int = 100
    ) -> list[SessionInfo]:
        """Sessions (of a user or tenant when given), most recently updated first."""
        n = _check_limit(limit)
        tenant, user = owner_filter(user_id, tenant_id)
        return await self._list(tenant, user, n)

    async def clear_old_sessions(self, older_than: timedelta | datetime | float) -> int:
        """Delete sessions not written since ``older_than`` (a timedelta or seconds = age; a
        datetime = cutoff). Return how many sessions were deleted."""
        return await self._clear_older(_cutoff(older_than))

    async def summarize(
        self,
        session_id: str,
        *,
        summarizer: Summarizer | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """Summarise the session with ``summarizer`` (or the store's, or
        :func:`default_summarizer`); sync and async callables both work."""
        fn = summarizer or self.summarizer or default_summarizer
        messages = await self.get_messages(session_id, user_id=user_id, tenant_id=tenant_id)
        res = fn(messages)
        if inspect.isawaitable(res):
            res = await res
        if not isinstance(res, str):
            raise ConfigurationError(
                f"the summarizer returned {type(res).__name__}; it must return a string"
            )
        return res

    async def search(
        self,
        query: str,
        session_id: str | None = None,
        limit: int = 10,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        all_users: bool = False,
    ) -> list[Message]:
        """Messages matching ``query`` lexically (BM25), best first.

        In one session when ``session_id`` is given, else across the sessions of ``user_id``.
        Searching every user's sessions (of a tenant, with ``tenant_id`` alone) needs the
        explicit ``all_users=True``: without it, a forgotten ``user_id`` would read other
        users' conversations."""
        if not isinstance(query, str):
            raise InvalidMessageError(f"query must be a string, got {type(query).__name__}")
        if session_id is None and user_id is None and all_users is not True:
            raise InvalidMessageError(
                "session search across sessions needs user_id='...' (that user's sessions) or, "
                "to search every user's sessions on purpose, all_users=True"
            )
        n = _check_limit(limit)
        assert n is not None
        if session_id is not None:
            check_session_id(session_id)
            if not await self._readable(session_id, user_id, tenant_id):
                return []
            sessions = [session_id]
        else:
            tenant, user = owner_filter(user_id, tenant_id)
            sessions = [i.session_id for i in await self._list(tenant, user, None)]
        index = BM25Index()
        found: dict[str, Message] = {}
        order: dict[str, int] = {}
        for sid in sessions:
            for m in await self._get(sid, None):
                key = f"{len(order)}"
                order[key] = len(order)
                found[key] = m
                index.add(key, m.content)
        scores = index.scores(query)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -order[kv[0]]))
        return [found[k] for k, s in ranked[:n] if s > 0 and math.isfinite(s)]

    async def __aenter__(self) -> SessionStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class CheckpointStore(ABC):
    """The backend contract for checkpoints of durable runs. Subclasses implement the ``_``-prefixed primitives; the
    public methods validate input and live here."""

    name: ClassVar[str] = "checkpoints"
    url: str = ""

    # -- primitives ----------------------------------------------------------------------------
    @abstractmethod
    async def _save(
        self,
        owner: tuple[str, str],
        run_id: str,
        checkpoint_id: str,
        parent_id: str | None,
        state_type: str,
        raw: bytes,
        metadata: dict[str, Any],
        created_at: float,
    ) -> None:
        """Insert, or replace state/metadata/parent of an existing (owner, run, id)."""

    @abstractmethod
    async def _load(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> Checkpoint | None:
        """The given checkpoint, or the run's latest, of this owner."""

    @abstractmethod
    async def _list(
        self, owner: tuple[str, str], run_id: str | None, limit: int, before: str | None
    ) -> list[Checkpoint]:
        """Newest first; with ``before``, only those saved before that checkpoint id."""

    @abstractmethod
    async def _delete(self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None) -> int:
        """Delete one checkpoint or the whole run; return how many."""

    @abstractmethod
    async def _delete_user(self, owner: tuple[str, str]) -> int:
        """Delete every checkpoint of the owner; return how many."""

    async def _owners(self) -> builtins.list[tuple[str, str]]:
        """Every ``(tenant, user)`` with checkpoints (for key rotation). Optional: backends
        that cannot list them leave this default, which raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} cannot list checkpoint owners")

    async def close(self) -> None:  # noqa: B027 - optional
        """Release connections (the store reopens on next use)."""

    # -- public API ----------------------------------------------------------------------------
    async def save(
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
        """Save ``state`` (JSON value or bytes) as the run's newest checkpoint; return it."""
        owner = owner_of(user_id, tenant_id)
        check_run_id(run_id)
        cid = check_checkpoint_id(checkpoint_id) or new_memory_id()
        check_checkpoint_id(parent_id, "parent_id")
        try:
            meta = check_metadata(metadata)
        except MemoryValidationError as exc:
            raise InvalidCheckpointError(str(exc)) from None
        state_type, raw = encode_state(state)
        created = now_ts()
        await self._save(owner, run_id, cid, parent_id, state_type, raw, meta, created)
        return build_checkpoint(
            run_id=run_id,
            checkpoint_id=cid,
            tenant=owner[0],
            user=owner[1],
            state_type=state_type,
            raw=raw,
            metadata=meta,
            parent_id=parent_id,
            created_at=created,
        )

    async def load(
        self,
        run_id: str,
        *,
        user_id: str,
        tenant_id: str | None = None,
        checkpoint_id: str | None = None,
    ) -> Checkpoint | None:
        """The run's latest checkpoint (or the one named); None when absent or not the
        caller's."""
        owner = owner_of(user_id, tenant_id)
        check_run_id(run_id)
        return await self._load(owner, run_id, check_checkpoint_id(checkpoint_id))

    async def list(
        self,
        *,
        user_id: str,
        tenant_id: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
        before: str | Checkpoint | None = None,
    ) -> list[Checkpoint]:
        """The owner's checkpoints (of one run when ``run_id``), newest first; ``before`` (a
        checkpoint id or Checkpoint) keeps only older ones."""
        owner = owner_of(user_id, tenant_id)
        if run_id is not None:
            check_run_id(run_id)
        if isinstance(before, Checkpoint):
            before = before.checkpoint_id
        return await self._list(
            owner, run_id, _check_checkpoint_limit(limit), check_checkpoint_id(before, "before")
        )

    async def delete(
        self,
        run_id: str,
        *,
        user_id: str,
        tenant_id: str | None = None,
        checkpoint_id: str | None = None,
    ) -> int:
        """Delete the run's checkpoints (or one); return how many."""
        owner = owner_of(user_id, tenant_id)
        check_run_id(run_id)
        return await self._delete(owner, run_id, check_checkpoint_id(checkpoint_id))

    async def delete_user(self, user_id: str, tenant_id: str | None = None) -> int:
        """Delete every checkpoint of the user (in the tenant); return how many."""
        return await self._delete_user(owner_of(user_id, tenant_id))

    async def __aenter__(self) -> CheckpointStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
