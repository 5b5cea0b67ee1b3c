"""``Memory``: the composite :class:`~mnemoplug.MemoryProvider` — validation, hooks, embedding
and a store (or a user's own provider) behind the seeds' seven async methods."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, overload

from ._time import expiry_ts, now_ts
from .add_pipeline import notify_added, prepare_records, read_hooks, said_by, update_hooks
from .contexts import (
    MemoryDeleteContext,
    MemorySearchContext,
)
from .delegate import matching
from .embedders import Embedder
from .errors import ConfigurationError, MemoryNotFoundError, MemoryValidationError
from .factory import (
    MEMORY_OPTIONS,
    attached_stores,
    check_options,
    create_memory,
    make_embedder,
    provider_from_url,
    resolve_backend,
    split_options,
    start_default_embedder,
)
from .filters import compile_filters
from .instrumentation import instrumented, timed
from .plugins import HookManager, mark_hook
from .provider import MemoryProvider
from .records import MemoryRecord, Scope
from .remember import RememberMixin, make_extractor
from .retrieval import RetrievalConfig, SearchRequest
from .stores import MemoryStore
from .validation import (
    DEFAULT_MAX_CONTENT_CHARS,
    MAX_LIMIT,
    check_content,
    check_limit,
    check_memory_id,
    check_metadata,
    check_min_relevance,
    check_offset,
    content_items,
    make_scope,
)
from .vectors import StoreVectors

__all__ = ["MAX_LIMIT", "Memory", "create_memory", "provider_from_url", "split_options"]

Expiry = datetime | float | str | None
TTL = timedelta | float | None


class Memory(RememberMixin, MemoryProvider):
    """Long-term memory for agents: a store (or your provider), an embedder, hooks.

    ``Memory()`` stores into the embedded SQLite default and embeds with all-MiniLM-L6-v2 when
    ``mnemoplug[embeddings]`` is installed. Every built-in provider (``SQLiteProvider``,
    ``RedisProvider``, …) is a ``Memory`` over its store.

    Args:
        provider: a URL (``"sqlite:///memory.db"``, ``"memory://"``, ``"redis://…"``), a
            :class:`~mnemoplug.MemoryStore`, your own :class:`~mnemoplug.MemoryProvider` (its
            seven methods then do the storing and searching; this Memory adds validation, hooks
            and strategies on top), or None for the SQLite default.
        embedder: ``"default"``; None for lexical retrieval only; a registered embedder name or
            a sentence-transformers model name; any object with ``name``/``dimension``/
            ``embed(texts)``; or a callable ``f(list[str]) -> vectors``.
        plugins: plugin objects, modules or ``@hook`` functions for this Memory.
        global_hooks: also run the process-wide ``@hook`` functions (default True).
        retrieval: a :class:`RetrievalConfig` (fusion weights, recency).
        max_content_chars: longest content accepted (32,768 by default).
        load_entry_points: load plugins of the ``mnemoplug`` entry-point group.
        session: session memory (a ``SessionMemory`` or a URL: ``"sqlite:///sessions.db"``);
            its messages go through this Memory's ``on_session_message`` hooks.
        checkpoints: a ``CheckpointStore`` or a URL, for durable runs (alias ``durable_store``).
        clock: "now" in epoch seconds (default ``time.time``); tests pass a fake one.
        default_ttl: expiry (seconds or timedelta) for memories added without ``ttl`` or
            ``expires_at``; None keeps them until deleted.
        metrics: run the built-in Prometheus metrics plugin (default True; it is active only
            when ``mnemoplug[metrics]`` is installed and ``$MNEMOPLUG_METRICS`` is not ``0``).
        extractor, dedupe, questions: what :meth:`remember` (the adapters' store call) keeps;
            see "What gets remembered" in the README (default: the hygiene rules).
    """

    name = "memory"

    def __init__(
        self,
        provider: MemoryStore | MemoryProvider | str | None = None,
        *,
        embedder: Any = "default",
        plugins: Iterable[Any] = (),
        global_hooks: bool = True,
        retrieval: RetrievalConfig | None = None,
        max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS,
        load_entry_points: bool = True,
        session: Any = None,
        checkpoints: Any = None,
        durable_store: Any = None,
        clock: Callable[[], float] | None = None,
        default_ttl: TTL = None,
        metrics: bool = True,
        extractor: Any = None,
        dedupe: Any = None,
        questions: Any = None,
    ) -> None:
        plugin_list = check_options(plugins, retrieval, clock, max_content_chars, default_ttl)
        start_default_embedder(embedder, provider)
        if durable_store is not None:
            if checkpoints is not None:
                raise ConfigurationError("pass checkpoints= or durable_store=, not both")
            checkpoints = durable_store
        self._clock: Callable[[], float] = clock or now_ts
        self.extractor = make_extractor(extractor, dedupe, questions)
        self.default_ttl = default_ttl
        self.store, self._calls = resolve_backend(provider, plugin_list, load_entry_points)
        self.embedder: Embedder | None = (
            None
            if self._calls is not None and embedder == "default"
            else make_embedder(embedder, plugin_list, load_entry_points=load_entry_points)
        )
        inner = self._calls.provider if self._calls is not None else None
        inner_hooks: HookManager | None = getattr(inner, "hooks", None)
        if isinstance(inner, Memory) and inner_hooks is not None and inner_hooks.global_hooks:
            global_hooks = False  # the wrapped Memory runs the process-wide hooks already
        self.hooks = HookManager(
            plugin_list,
            load_entry_points=load_entry_points,
            global_hooks=global_hooks,
            # a wrapped Memory counts its own operations already
            metrics=metrics and not isinstance(inner, Memory),
        )
        self.retrieval = retrieval or RetrievalConfig()
        self.max_content_chars = max_content_chars
        self.session, self.checkpoints = attached_stores(
            session, checkpoints, self.hooks, load_entry_points=load_entry_points
        )
        self._opened = False
        self._open_lock: asyncio.Lock | None = None
        self._vectors = StoreVectors()

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Memory:
        """``Memory.from_url("sqlite:///memory.db")``, ``"memory://"``, ``"redis://…"``, …;
        keyword arguments named like ``Memory``'s go to Memory, the rest to the store."""
        mem_keys = set(MEMORY_OPTIONS)
        mem_opts = {k: kwargs.pop(k) for k in list(kwargs) if k in mem_keys}
        plugins = list(mem_opts.pop("plugins", ()))
        start_default_embedder(mem_opts.get("embedder", "default"), url)
        store = provider_from_url(
            url, plugins, load_entry_points=mem_opts.get("load_entry_points", True), **kwargs
        )
        return cls(store, plugins=plugins, **mem_opts)

    @property
    def provider(self) -> Any:
        """The provider this Memory delegates to, or (deprecated spelling) its store."""
        if self._calls is not None:
            return self._calls.provider
        warnings.warn(
            "Memory.provider is the store here; use Memory.store", DeprecationWarning, stacklevel=2
        )
        return self.store

    def register(self, plugin: Any, name: str | None = None) -> Any:
        """Register a plugin object, module or ``@hook`` function on this Memory."""
        return self.hooks.register(plugin, name=name)

    def hook(self, name: str, **opts: Any) -> Callable[[Any], Any]:
        """Decorator registering a function for hook ``name`` on this Memory only:
        ``@memory.hook("on_memory_add")``."""

        def deco(fn: Any) -> Any:
            self.register(mark_hook(name, **opts)(fn))
            return fn

        return deco

    async def open(self) -> None:
        if self._opened:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if not self._opened:
                if self.store is not None:
                    await self.store.open()
                elif self._calls is not None:
                    await self._calls.provider.open()
                self._opened = True

    async def close(self) -> None:
        """Close the store or provider (and session/checkpoint stores that have ``close``)."""
        for store in (self.session, self.checkpoints):
            close = getattr(store, "close", None)
            if close is not None:
                res = close()
                if asyncio.iscoroutine(res):
                    await res
        if self.store is not None:
            await self.store.close()
        elif self._calls is not None:
            await self._calls.provider.close()
        self._opened = False

    async def __aenter__(self) -> Memory:
        await self.open()
        return self

    def __repr__(self) -> str:
        if self._calls is not None:
            return f"{type(self).__name__}(provider={type(self._calls.provider).__name__})"
        s = self._store()
        return f"{type(self).__name__}(store={s.name}:{s.url!r}, embedder={self.embedder!r})"

    def _store(self) -> MemoryStore:
        assert self.store is not None
        return self.store

    @property
    def backend_name(self) -> str:
        """The store's or provider's short name (for errors, metrics and traces)."""
        return self._calls.name if self._calls is not None else self._store().name

    def _expiry(self, expires_at: Expiry, ttl: TTL, now: float) -> float | None:
        try:
            return expiry_ts(expires_at, ttl, now)
        except (TypeError, ValueError, OverflowError) as exc:
            raise MemoryValidationError(f"bad expiry: {exc}") from exc

    # -- the provider contract ---------------------------------------------------------------
    @overload
    async def add(
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
    async def add(
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
    async def add(
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

    @instrumented("add")
    async def add(
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
        """Store ``content`` for the user; return its id.

        ``content`` may be a list: chat messages (dicts or objects with ``role`` and
        ``content``) give one memory per non-system message with its role kept; plain strings
        give one memory each. A list returns the list of ids (in order). Embedding happens in
        one batch. ``expires_at`` (datetime/epoch/ISO) or ``ttl`` (seconds or timedelta) make
        the memory expire. ``on_memory_add`` hooks may rewrite or reject each memory first.
        """
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        meta = check_metadata(metadata)
        now = self._clock()
        if expires_at is None and ttl is None:
            ttl = self.default_ttl
        exp = self._expiry(expires_at, ttl, now)
        single = isinstance(content, str)
        items = content_items(content, self.max_content_chars)
        if not items:
            return []
        await self.open()
        records, contexts = await prepare_records(
            self.hooks, scope, items, meta, now, exp, self.max_content_chars, occurred_at
        )
        if self._calls is not None:
            ids = await timed("store", self._calls.add_records(scope, records, single, exp))
        else:
            vecs = await self._vectors.texts(
                self.embedder, self.store, [r.indexed_text for r in records]
            )
            if vecs is not None:
                for r, v in zip(records, vecs, strict=True):
                    r.embedding = v
            await timed("store", self._store().insert([r.detached() for r in records]))
            ids = [r.id for r in records]
        await notify_added(self.hooks, scope, records, ids, contexts)
        return ids[0] if single else ids

    @instrumented("search")
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
        (fused: at most 1, [-2/3, 1] with the default weights, [0, 1] without an embedder) and
        ``similarity`` (cosine in [-1, 1]; what ``min_relevance`` thresholds)."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        query = check_content(query, self.max_content_chars, what="query", allow_nul=True)
        limit = check_limit(limit)
        filt = compile_filters(filters)
        min_relevance = check_min_relevance(min_relevance, retrieval)
        await self.open()
        if self._calls is not None:
            results = await timed(
                "store", self._calls.search_records(scope, query, limit, filt, min_relevance)
            )
        else:
            req = SearchRequest(
                query=query,
                vector=await self._vectors.query(self.embedder, self.store, query),
                limit=limit,
                filters=filt,
                now=self._clock(),
                min_relevance=min_relevance,
                config=retrieval or self.retrieval,
            )
            hits = await timed("store", self._store().search(scope, req))
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

    @instrumented("get")
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
        memory_id = check_memory_id(memory_id)
        await self.open()
        results = await self._get(scope, memory_id)
        results = await read_hooks(self.hooks, "get", scope, results, memory_id)
        return results[0] if results else None

    async def _get(self, scope: Scope, memory_id: str) -> list[MemoryRecord]:
        if "\x00" in memory_id:  # no memory has such an id (some stores cannot even look)
            return []
        if self._calls is not None:
            return await timed("store", self._calls.get_records(scope, memory_id))
        m = await timed("store", self._store().get(scope, memory_id, self._clock()))
        return [] if m is None else [m.to_record()]

    @instrumented("get_all")
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
        limit = check_limit(limit)
        offset = check_offset(offset)
        filt = compile_filters(filters)
        await self.open()
        if self._calls is not None:
            want = min(MAX_LIMIT, limit + offset) if not filt else MAX_LIMIT
            recs = matching(await timed("store", self._calls.all_records(scope, want)), filt)
            results = recs[offset : offset + limit]
        else:
            rows = await timed(
                "store",
                self._store().list(
                    scope, limit=limit, offset=offset, filters=filt, now=self._clock()
                ),
            )
            results = [m.to_record() for m in rows]
        return await read_hooks(self.hooks, "get_all", scope, results)

    @instrumented("update")
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
        expires_at: Expiry = None,
        ttl: TTL = None,
    ) -> MemoryRecord:
        """Change content (re-embedded) and/or metadata (replaced) of one memory; return it.

        Raises MemoryNotFoundError when the scope holds no such (unexpired) memory."""
        scope = make_scope(user_id, tenant_id, agent_id, session_id)
        memory_id = check_memory_id(memory_id)
        if content is None and metadata is None and expires_at is None and ttl is None:
            raise MemoryValidationError("update() needs content, metadata, expires_at or ttl")
        if content is not None:
            content = check_content(content, self.max_content_chars)
        meta = None if metadata is None else check_metadata(metadata)
        now = self._clock()
        exp: Any = ... if expires_at is None and ttl is None else self._expiry(expires_at, ttl, now)
        await self.open()
        if self.hooks.has("on_memory_update") or self._calls is not None:
            prev = await self._get(scope, memory_id)
            if not prev:
                raise MemoryNotFoundError(f"no memory {memory_id!r} for user {scope.user_id!r}")
            content, meta = await update_hooks(
                self.hooks, scope, memory_id, content, meta, prev[0], self.max_content_chars
            )
        if self._calls is not None:
            return await timed(
                "store", self._calls.update_record(scope, memory_id, content, meta, exp)
            )
        if "\x00" in memory_id:
            raise MemoryNotFoundError(f"no memory {memory_id!r} for user {scope.user_id!r}")
        vec = None
        if content is not None and self.embedder is not None:
            vecs = await said_by(self, scope, memory_id, content, now)
            vec = None if vecs is None else vecs[0]
        new = await timed(
            "store",
            self._store().update(
                scope,
                memory_id,
                content=content,
                metadata=meta,
                embedding=vec,
                updated_at=now,
                expires_at=exp,
            ),
        )
        if new is None:
            raise MemoryNotFoundError(f"no memory {memory_id!r} for user {scope.user_id!r}")
        return new.to_record()

    @instrumented("delete")
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
        memory_id = check_memory_id(memory_id)
        await self.open()
        if self._calls is not None:
            ok = await timed("store", self._calls.delete_record(scope, memory_id))
        else:
            ok = "\x00" not in memory_id and await timed(
                "store", self._store().delete(scope, memory_id)
            )
        if ok and self.hooks.has("on_memory_delete"):
            ctx = MemoryDeleteContext(
                operation="delete", scope=scope, memory_ids=[memory_id], deleted_count=1
            )
            await self.hooks.call("on_memory_delete", ctx)
        return ok

    @instrumented("delete_all")
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
        if self._calls is not None:
            n = await timed("store", self._calls.delete_all_records(scope))
        else:
            n = await timed("store", self._store().delete_all(scope))
        if self.hooks.has("on_memory_delete"):
            ctx = MemoryDeleteContext(operation="delete_all", scope=scope, deleted_count=n)
            await self.hooks.call("on_memory_delete", ctx)
        return n

    # -- beyond the seven --------------------------------------------------------------------
    @instrumented("count")
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
        if self._calls is not None:
            return len(await timed("store", self._calls.all_records(scope, MAX_LIMIT)))
        return await timed("store", self._store().count(scope, self._clock()))

    @instrumented("forget")
    async def forget(self, user_id: str, *, tenant_id: str | None = None) -> dict[str, int]:
        """Forget the user everywhere (GDPR erasure): long-term memories, sessions, checkpoints,
        and the user's entries in audit logs. Returns the count per store, e.g.
        ``{"memories": 3, "sessions": 1, "checkpoints": 2, "audit_entries": 7}``. Never touches
        another user (nor the same user id in another tenant)."""
        from .forget import forget

        await self.open()
        return await forget(self, user_id, tenant_id=tenant_id)

    @instrumented("list_users")
    async def list_users(self) -> list[tuple[str, str]]:
        """Every ``(tenant_id, user_id)`` holding memories ('' is the default tenant)."""
        await self.open()
        if self._calls is not None:
            from .delegate import ProviderStoreView

            return await ProviderStoreView(self._calls.provider).list_users()
        return await timed("store", self._store().list_users())

    @instrumented("purge_expired")
    async def purge_expired(self) -> int:
        """Delete expired memories of every user; return how many. (Expired memories are never
        returned even before they are purged.)"""
        await self.open()
        if self._calls is not None:
            purge = getattr(self._calls.provider, "purge_expired", None)
            return int(await purge()) if purge is not None else 0
        return await timed("store", self._store().purge_expired(self._clock()))
