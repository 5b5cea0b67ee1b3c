"""The ``Memory`` facade: validation, hooks, embedding and a provider behind one async API."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ._time import expiry_ts, now_ts
from .contexts import (
    MemoryAddContext,
    MemoryDeleteContext,
    MemoryReadContext,
    MemorySearchContext,
    MemoryUpdateContext,
)
from .contracts import MemoryProvider
from .embedders import aembed, as_embedder, default_embedder
from .errors import (
    ConfigurationError,
    InvalidContentError,
    MemoryNotFoundError,
    MemoryValidationError,
    MissingDependencyError,
)
from .filters import compile_filters
from .plugins import HookManager, provider_registry
from .records import MemoryRecord, Scope, StoredMemory, new_memory_id
from .retrieval import RetrievalConfig, SearchRequest
from .validation import (
    DEFAULT_MAX_CONTENT_CHARS,
    check_content,
    check_metadata,
    make_scope,
)

__all__ = ["Memory", "create_memory", "provider_from_url"]

_DEFAULT = object()
_ROLE_ALIASES = {"human": "user", "ai": "assistant", "model": "assistant", "developer": "system"}
MAX_LIMIT = 10_000


def _instantiate(spec: Any, url: str | None, options: dict[str, Any]) -> MemoryProvider:
    try:
        factory = spec.load()
    except ImportError as exc:
        if spec.extra:
            raise MissingDependencyError(
                f"the {spec.name!r} provider", spec.extra, exc.name
            ) from exc
        raise
    provider = factory(url, **options) if url is not None else factory(**options)
    if not isinstance(provider, MemoryProvider):
        raise ConfigurationError(
            f"provider factory {spec.name!r} returned {type(provider).__name__}, not a MemoryProvider"
        )
    return provider


def provider_from_url(url: str, plugins: Iterable[Any] = (), **options: Any) -> MemoryProvider:
    """Build the provider registered for ``url``'s scheme."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"expected a URL such as sqlite:///memory.db, memory://, redis://localhost:6379/0, "
            f"postgresql+asyncpg://host/db or qdrant://host:6333; got {url!r}"
        )
    scheme = urlsplit(url).scheme.lower()
    reg = provider_registry(plugins)
    spec = reg.schemes.get(scheme)
    if spec is None:
        known = ", ".join(sorted(f"{s}://" for s in reg.schemes))
        raise ConfigurationError(f"no provider handles {scheme}:// URLs; known schemes: {known}")
    return _instantiate(spec, url, options)


def _message_parts(item: Any, i: int) -> tuple[str, Any]:
    """(role, content) of a chat message given as a dict or an object with role/content."""
    if isinstance(item, Mapping):
        role, content = item.get("role"), item.get("content")
    else:
        role = getattr(item, "role", None) or getattr(item, "type", None)
        content = getattr(item, "content", None)
    if not isinstance(role, str) or not role:
        raise InvalidContentError(
            f"message {i} has no role; pass messages like {{'role': 'user', 'content': '...'}}"
        )
    role = _ROLE_ALIASES.get(role, role)
    if role not in ("user", "assistant", "system", "tool"):
        raise InvalidContentError(
            f"message {i} has unknown role {role!r}; use user, assistant, system or tool"
        )
    return role, content


class Memory:
    """Long-term memory for agents: one provider, one embedder, one plugin manager.

    ``Memory()`` stores into the embedded SQLite default (see :mod:`mnemoplug.providers.sqlite`
    for the path) and embeds with all-MiniLM-L6-v2 when ``mnemoplug[embeddings]`` is installed.

    Args:
        provider: a :class:`MemoryProvider`, a URL (``"sqlite:///memory.db"``, ``"memory://"``, …)
            or None for the SQLite default.
        embedder: ``"default"``; None for lexical retrieval only; any object with
            ``name``/``dimension``/``embed(texts)``; or a callable ``f(list[str]) -> vectors``.
        plugins: hook implementations: plugin objects, modules, ``@hook`` functions.
        retrieval: a :class:`RetrievalConfig` (fusion weights, recency).
        max_content_chars: longest content accepted (32,768 by default).
        load_entry_points: load plugins of the ``mnemoplug`` entry-point group.
        session: session memory (a :class:`~mnemoplug.core.session.SessionMemory` or a URL such
            as ``"sqlite:///sessions.db"``, ``"redis://…"``); its messages go through this
            Memory's ``on_session_message`` hooks.
        checkpoints: a checkpoint store for durable runs (a
            :class:`~mnemoplug.core.checkpoints.CheckpointStore` or a URL); ``durable_store`` is
            an alias.
    """

    def __init__(
        self,
        provider: MemoryProvider | str | None = None,
        *,
        embedder: Any = "default",
        plugins: Iterable[Any] = (),
        retrieval: RetrievalConfig | None = None,
        max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS,
        load_entry_points: bool = True,
        session: Any = None,
        checkpoints: Any = None,
        durable_store: Any = None,
    ) -> None:
        plugins = list(plugins)
        if durable_store is not None:
            if checkpoints is not None:
                raise ConfigurationError("pass checkpoints= or durable_store=, not both")
            checkpoints = durable_store
        if provider is None:
            from ..providers.sqlite import SQLiteProvider

            provider = SQLiteProvider()
        elif isinstance(provider, str):
            provider = provider_from_url(provider, plugins)
        if not isinstance(provider, MemoryProvider):
            raise ConfigurationError(
                f"provider must be a MemoryProvider or a URL, got {type(provider).__name__}"
            )
        self.provider: MemoryProvider = provider
        if isinstance(embedder, str):
            if embedder == "default":
                embedder = default_embedder()
            else:
                factory = provider_registry(plugins).embedders.get(embedder)
                if factory is None:
                    from .embedders import SentenceTransformerEmbedder

                    embedder = SentenceTransformerEmbedder(embedder)
                else:
                    embedder = factory()
        self.embedder = as_embedder(embedder)
        self.hooks = HookManager(plugins, load_entry_points=load_entry_points)
        self.retrieval = retrieval or RetrievalConfig()
        if max_content_chars <= 0:
            raise ConfigurationError("max_content_chars must be positive")
        self.max_content_chars = max_content_chars
        if isinstance(session, str):
            from .session import session_memory_from_url

            session = session_memory_from_url(session)
        if isinstance(checkpoints, str):
            from .checkpoints import checkpoint_store_from_url

            checkpoints = checkpoint_store_from_url(checkpoints)
        self.session = session
        self.checkpoints = checkpoints
        if session is not None and hasattr(session, "bind_hooks"):
            session.bind_hooks(self.hooks)
        self._opened = False
        self._open_lock: asyncio.Lock | None = None
        self._embedder_checked = False
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        embedder: Any = "default",
        plugins: Iterable[Any] = (),
        retrieval: RetrievalConfig | None = None,
        max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS,
        load_entry_points: bool = True,
        **provider_options: Any,
    ) -> Memory:
        """``Memory.from_url("sqlite:///memory.db")``, ``"memory://"``, ``"redis://…"``, …;
        extra keyword arguments go to the provider."""
        plugins = list(plugins)
        return cls(
            provider_from_url(url, plugins, **provider_options),
            embedder=embedder,
            plugins=plugins,
            retrieval=retrieval,
            max_content_chars=max_content_chars,
            load_entry_points=load_entry_points,
        )

    def register(self, plugin: Any, name: str | None = None) -> Any:
        """Register a plugin object, module or ``@hook`` function on this Memory."""
        return self.hooks.register(plugin, name=name)

    def hook(self, name: str, **opts: Any) -> Any:
        """Decorator registering a function for hook ``name`` on this Memory:
        ``@memory.hook("on_memory_add")``."""
        from .plugins import hook as _hook

        def deco(fn: Any) -> Any:
            self.register(_hook(name, **opts)(fn))
            return fn

        return deco

    async def open(self) -> None:
        if self._opened:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if not self._opened:
                await self.provider.open()
                self._opened = True

    async def close(self) -> None:
        """Close the provider (and session/checkpoint stores when they have ``close``)."""
        for store in (self.session, self.checkpoints):
            close = getattr(store, "close", None)
            if close is not None:
                res = close()
                if asyncio.iscoroutine(res):
                    await res
        await self.provider.close()
        self._opened = False

    async def __aenter__(self) -> Memory:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Memory(provider={self.provider.name}:{self.provider.url!r}, embedder={self.embedder!r})"

    # -- helpers -----------------------------------------------------------------------------
    async def _embed(self, texts: Sequence[str]) -> np.ndarray | None:
        if self.embedder is None or not texts:
            return None
        vecs = await aembed(self.embedder, texts)
        if not self._embedder_checked:
            await self.provider.check_embedder(str(self.embedder.name), int(vecs.shape[1]))
            self._embedder_checked = True
        return vecs

    async def _embed_query(self, query: str) -> np.ndarray | None:
        if self.embedder is None:
            return None
        v = self._qcache.get(query)
        if v is not None:
            self._qcache.move_to_end(query)
            return v
        vecs = await self._embed([query])
        assert vecs is not None
        v = vecs[0]
        self._qcache[query] = v
        if len(self._qcache) > 1024:
            self._qcache.popitem(last=False)
        return v

    def _limit(self, limit: Any, name: str = "limit") -> int:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1 or limit > MAX_LIMIT:
            raise MemoryValidationError(
                f"{name} must be an integer from 1 to {MAX_LIMIT}, got {limit!r}"
            )
        return limit

    # -- the provider contract ---------------------------------------------------------------
    async def add(
        self,
        user_id: str,
        content: str | Sequence[Any],
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        expires_at: datetime | float | str | None = None,
        ttl: timedelta | float | None = None,
    ) -> Any:
        """Store ``content`` for the user; return its id.

        ``content`` may be a list: chat messages (dicts or objects with ``role`` and
        ``content``) give one memory per non-system message with its role kept; plain strings
        give one memory each. A list returns the list of ids (in order). Embedding happens in
        one batch. ``expires_at`` (datetime/epoch/ISO) or ``ttl`` (seconds or timedelta) make
        the memory expire.
        """
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        meta = check_metadata(metadata)
        now = now_ts()
        try:
            exp = expiry_ts(expires_at, ttl, now)
        except (TypeError, ValueError) as exc:
            raise MemoryValidationError(f"bad expiry: {exc}") from exc
        single = isinstance(content, str)
        items: list[tuple[str | None, str]] = []
        if single:
            items.append((None, check_content(content, self.max_content_chars)))
        elif isinstance(content, Sequence) and not isinstance(content, bytes | bytearray):
            if not content:
                raise InvalidContentError("content is an empty list; pass text or chat messages")
            for i, item in enumerate(content):
                if isinstance(item, str):
                    items.append(
                        (None, check_content(item, self.max_content_chars, what=f"content[{i}]"))
                    )
                    continue
                msg_role, msg_text = _message_parts(item, i)
                msg_text = check_content(
                    msg_text, self.max_content_chars, what=f"message {i} content"
                )
                if msg_role != "system":
                    items.append((msg_role, msg_text))
        else:
            raise InvalidContentError(
                f"content must be a string or a list of chat messages, got {type(content).__name__}"
            )
        if not items:
            return []
        await self.open()
        records: list[StoredMemory] = []
        contexts: list[MemoryAddContext] = []
        run_hooks = self.hooks.has("on_memory_add")
        for role, item_text in items:
            text = item_text
            mid = new_memory_id()
            m_meta = dict(meta)
            if run_hooks:
                ctx = MemoryAddContext(
                    operation="add",
                    scope=scope,
                    memory_content=text,
                    metadata=m_meta,
                    role=role,
                    memory_id=mid,
                )
                await self.hooks.call("on_memory_add", ctx, rejecting=True)
                text = check_content(
                    ctx.memory_content, self.max_content_chars, what="content after hooks"
                )
                m_meta = check_metadata(ctx.metadata)
                contexts.append(ctx)
            records.append(
                StoredMemory(
                    id=mid,
                    user_id=scope.user_id,
                    tenant_id=scope.tenant,
                    agent_id=scope.agent_id,
                    session_id=scope.session_id,
                    role=role,
                    content=text,
                    metadata=m_meta,
                    created_at=now,
                    updated_at=now,
                    expires_at=exp,
                )
            )
        vecs = await self._embed([r.content for r in records])
        if vecs is not None:
            for r, v in zip(records, vecs, strict=True):
                r.embedding = v
        await self.provider.insert(records)
        if self.hooks.has("on_memory_added"):
            if not contexts:
                contexts = [
                    MemoryAddContext(
                        operation="add",
                        scope=scope,
                        memory_content=r.content,
                        metadata=r.metadata,
                        role=r.role,
                        memory_id=r.id,
                    )
                    for r in records
                ]
            for ctx, r in zip(contexts, records, strict=True):
                ctx.memory_content, ctx.metadata = r.content, r.metadata
                await self.hooks.call("on_memory_added", ctx)
        ids = [r.id for r in records]
        return ids[0] if single else ids

    async def search(
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
        """The user's memories most relevant to ``query``, best first, each with ``score``
        (fused, 0..1) and ``similarity`` (cosine; what ``min_relevance`` thresholds)."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        query = check_content(query, self.max_content_chars, what="query")
        limit = self._limit(limit)
        filt = compile_filters(filters)
        await self.open()
        vec = await self._embed_query(query)
        req = SearchRequest(
            query=query,
            vector=vec,
            limit=limit,
            filters=filt,
            now=now_ts(),
            min_relevance=min_relevance,
            config=retrieval or self.retrieval,
        )
        hits = await self.provider.search(scope, req)
        results = [h.memory.to_record(score=h.score, similarity=h.similarity) for h in hits]
        if self.hooks.has("on_memory_search"):
            ctx = MemorySearchContext(
                operation="search",
                scope=scope,
                memory_query=query,
                memory_results=results,
                limit=limit,
                filters=filt.spec,
            )
            await self.hooks.call("on_memory_search", ctx)
            results = ctx.memory_results
        return results

    async def get(
        self,
        user_id: str,
        memory_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> MemoryRecord | None:
        """The memory, or None when it is absent, expired or another user's."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        if not isinstance(memory_id, str) or not memory_id:
            raise MemoryValidationError(f"memory_id must be a non-empty string, got {memory_id!r}")
        await self.open()
        m = await self.provider.get(scope, memory_id, now_ts())
        results = [] if m is None else [m.to_record()]
        if self.hooks.has("on_memory_get"):
            ctx = MemoryReadContext(
                operation="get", scope=scope, memory_results=results, memory_id=memory_id
            )
            await self.hooks.call("on_memory_get", ctx)
            results = ctx.memory_results
        return results[0] if results else None

    async def get_all(
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
        """The user's memories, newest first (``offset`` pages on)."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        limit = self._limit(limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise MemoryValidationError(f"offset must be a non-negative integer, got {offset!r}")
        filt = compile_filters(filters)
        await self.open()
        rows = await self.provider.list(
            scope, limit=limit, offset=offset, filters=filt, now=now_ts()
        )
        results = [m.to_record() for m in rows]
        if self.hooks.has("on_memory_get"):
            ctx = MemoryReadContext(operation="get_all", scope=scope, memory_results=results)
            await self.hooks.call("on_memory_get", ctx)
            results = ctx.memory_results
        return results

    async def update(
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        expires_at: datetime | float | str | None = None,
        ttl: timedelta | float | None = None,
    ) -> MemoryRecord:
        """Change content (re-embedded) and/or metadata (replaced) of one memory; return it.

        Raises MemoryNotFoundError when the scope holds no such (unexpired) memory."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        if content is None and metadata is None and expires_at is None and ttl is None:
            raise MemoryValidationError("update() needs content, metadata, expires_at or ttl")
        if content is not None:
            content = check_content(content, self.max_content_chars)
        meta = None if metadata is None else check_metadata(metadata)
        now = now_ts()
        try:
            exp: Any = (
                ... if expires_at is None and ttl is None else expiry_ts(expires_at, ttl, now)
            )
        except (TypeError, ValueError) as exc:
            raise MemoryValidationError(f"bad expiry: {exc}") from exc
        await self.open()
        if self.hooks.has("on_memory_update"):
            prev = await self.provider.get(scope, memory_id, now)
            if prev is None:
                raise MemoryNotFoundError(f"no memory {memory_id!r} for user {scope.user_id!r}")
            ctx = MemoryUpdateContext(
                operation="update",
                scope=scope,
                memory_id=memory_id,
                memory_content=content,
                metadata=meta,
                previous=prev.to_record(),
            )
            await self.hooks.call("on_memory_update", ctx, rejecting=True)
            if ctx.memory_content is not None:
                content = check_content(
                    ctx.memory_content, self.max_content_chars, what="content after hooks"
                )
            meta = None if ctx.metadata is None else check_metadata(ctx.metadata)
        vec = None
        if content is not None:
            vecs = await self._embed([content])
            vec = None if vecs is None else vecs[0]
        new = await self.provider.update(
            scope,
            memory_id,
            content=content,
            metadata=meta,
            embedding=vec,
            updated_at=now,
            expires_at=exp,
        )
        if new is None:
            raise MemoryNotFoundError(f"no memory {memory_id!r} for user {scope.user_id!r}")
        return new.to_record()

    async def delete(
        self,
        user_id: str,
        memory_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> bool:
        """Delete one memory; False when the scope held no such memory."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        if not isinstance(memory_id, str) or not memory_id:
            raise MemoryValidationError(f"memory_id must be a non-empty string, got {memory_id!r}")
        await self.open()
        ok = await self.provider.delete(scope, memory_id)
        if ok and self.hooks.has("on_memory_delete"):
            ctx = MemoryDeleteContext(
                operation="delete", scope=scope, memory_ids=[memory_id], deleted_count=1
            )
            await self.hooks.call("on_memory_delete", ctx)
        return ok

    async def delete_all(
        self,
        user_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> int:
        """Delete every memory in the scope; return how many. Never touches another user."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        await self.open()
        n = await self.provider.delete_all(scope)
        if self.hooks.has("on_memory_delete"):
            ctx = MemoryDeleteContext(operation="delete_all", scope=scope, deleted_count=n)
            await self.hooks.call("on_memory_delete", ctx)
        return n

    async def count(
        self,
        user_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> int:
        """How many unexpired memories the scope holds."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        await self.open()
        return await self.provider.count(scope, now_ts())

    async def forget(self, user_id: str, *, tenant_id: str | None = None) -> dict[str, int]:
        """Forget the user everywhere (GDPR erasure): long-term memories, sessions, checkpoints,
        and the user's entries in audit logs. Returns the count per store, e.g.
        ``{"memories": 3, "sessions": 1, "checkpoints": 2, "audit_entries": 7}``. Never touches
        another user (nor the same user id in another tenant)."""
        from .forget import forget

        await self.open()
        return await forget(self, user_id, tenant_id=tenant_id)

    async def purge_expired(self) -> int:
        """Delete expired memories of every user; return how many. (Expired memories are never
        returned even before they are purged.)"""
        await self.open()
        return await self.provider.purge_expired(now_ts())


def create_memory(name: str, *, url: str | None = None, **options: Any) -> Memory:
    """``create_memory("redis", url="redis://localhost:6379/0")``: a Memory over the provider
    registered as ``name``. Options named like ``Memory``'s (embedder, plugins, retrieval,
    max_content_chars, load_entry_points) go to Memory; the rest to the provider."""
    memory_keys = {"embedder", "plugins", "retrieval", "max_content_chars", "load_entry_points"}
    mem_opts = {k: options.pop(k) for k in list(options) if k in memory_keys}
    reg = provider_registry(mem_opts.get("plugins", ()))
    spec = reg.providers.get(name)
    if spec is None:
        raise ConfigurationError(
            f"unknown provider {name!r}; registered: {', '.join(sorted(reg.providers))}"
        )
    provider = _instantiate(spec, url, options)
    return Memory(provider, **mem_opts)


def scope_of(user_id: str, **scope: Any) -> Scope:
    return make_scope(
        user_id, scope.get("tenant_id"), scope.get("agent_id"), scope.get("session_id")
    )
