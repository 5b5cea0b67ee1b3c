"""Qdrant: one collection of memories, scope filters on every query.

``QdrantMemoryStore(url=None, *, path=None, collection="mnemoplug", api_key=None, https=None,
prefer_grpc=False, timeout=None, cache_max_records=500_000)``; URLs (``qdrant://host:6333``,
``qdrant:///abs/dir``, ``qdrant://:memory:``) are described in :mod:`.url`.

The class composes :mod:`.collection` (the collections and scope filters), :mod:`.payload`
(memories as points), :mod:`.tokens` (per-user generation tokens) and :mod:`.local` (local
mode's storage tuning). Search keeps each recently used user's records and vectors in one
contiguous in-process matrix (:class:`~mnemoplug.core.retrieval.UserIndex`, loaded by a scoped
scroll and revalidated against the user's generation token on every query), so dense, BM25 and
recency are fused exactly as in the other providers and metadata filters and expiry keep one
semantics (:meth:`Filter.matches <mnemoplug.core.filters.Filter.matches>`).
A user not cached yet with a long history (``cold_search_min``) is searched by Qdrant itself
first (server mode), while the index loads in the background; the collection's tenant
indexes (``is_tenant``) keep that search within the user's own points.

Local mode (``qdrant:///path``, ``qdrant://:memory:``) is for development only: qdrant-client's
local mode scans every point in Python, about 1.4 s per filtered query at 100,000 points on a
2-core machine, and one directory can be opened by one client at a time. Use a Qdrant server
in production.
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core.errors import (
    ConfigurationError,
    EmbedderMismatchError,
    MnemoplugError,
    ProviderError,
)
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex, UserIndexCache
from ...core.stores import MemoryStore
from .._changes import MemoryChanges, add_inserted
from .._options import non_empty_str, non_negative_int, positive_int, positive_seconds
from .collection import MemoryCollection, expired_filter, memory_filter, scope_filter
from .errors import qdrant_error
from .local import tune_local_storage
from .payload import META_ID, VECTOR, memory_from_point, models, point_id, points
from .tokens import UserTokens
from .url import Location

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient

__all__ = ["QdrantMemoryStore"]

_PAGE = 1000
_Key = tuple[str, str]


class QdrantMemoryStore(MemoryStore):
    """Memories in a Qdrant collection (server, or qdrant-client's local mode for development).

    Args:
        url: ``qdrant://host:6333``, ``qdrant:///abs/path``, ``qdrant://./dir`` or
            ``qdrant://:memory:``.
        path: a directory for local mode (or ``":memory:"``), instead of ``url``.
        collection: the memories collection; ``<collection>_users`` holds generation tokens.
        api_key, https, prefer_grpc, timeout: passed to ``AsyncQdrantClient`` (server mode).
        cache_max_records: memories kept in the in-process search cache (LRU by user).
        fast_local_writes: in local mode on disk, put qdrant-client's SQLite files in WAL mode
            without an fsync per point (35 ms -> well under 1 ms a point here).
        dimension: dense vector size of a new collection (384, all-MiniLM-L6-v2's; 0 = no
            vectors). While the collection is empty it is recreated to fit the first vectors.
        cold_search_min: with a Qdrant server, a search with a query vector and no metadata
            filter, of a user whose index this process has not cached and who holds at least
            this many memories (5,000), runs in Qdrant (the user's nearest
            ``lexical_candidates`` points, then fused as usual over those) while the user's
            index loads in the background, so a cold process does not scroll a long history
            before answering. None: always load first. Local mode always loads (it scans
            every point either way).
    """

    name = "qdrant"

    def __init__(
        self,
        url: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        collection: str = "mnemoplug",
        api_key: str | None = None,
        https: bool | None = None,
        prefer_grpc: bool = False,
        timeout: int | None = None,
        cache_max_records: int = 500_000,
        fast_local_writes: bool = True,
        dimension: int = 384,
        cold_search_min: int | None = 5_000,
    ) -> None:
        self.location = Location(url, path)
        self.collection = non_empty_str("collection", collection)
        self.users_collection = f"{collection}_users"
        self.url = self.location.url
        if api_key is not None and not isinstance(api_key, str):
            raise ConfigurationError("api_key must be a string or None")
        if timeout is not None:
            positive_seconds("timeout", timeout)
        self._client_kwargs: dict[str, Any] = {
            k: v
            for k, v in {"api_key": api_key, "https": https, "timeout": timeout}.items()
            if v is not None
        }
        if prefer_grpc:
            self._client_kwargs["prefer_grpc"] = True
        self.cache_max_records = positive_int("cache_max_records", cache_max_records)
        self.fast_local_writes = fast_local_writes
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 0:
            raise ConfigurationError("dimension must be a non-negative integer (0 = no vectors)")
        self.dimension = dimension
        self.cold_search_min = (
            None
            if cold_search_min is None
            else non_negative_int("cold_search_min", cold_search_min)
        )
        self._cold_search_local = False  # tests turn it on in local mode
        self._warming: dict[_Key, asyncio.Task[Any]] = {}
        self._client: AsyncQdrantClient | None = None
        self._open_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._memories = MemoryCollection(
            collection, dimension=dimension, indexed=not self.local, after_create=self._tune_local
        )
        self._cache = UserIndexCache(cache_max_records)
        self._tokens = UserTokens(self.users_collection, self._cache)
        self._embedder_checked: tuple[str, int] | None = None

    @property
    def local(self) -> bool:
        """True in qdrant-client's local mode (development only)."""
        return self.location.local

    @property
    def _dim(self) -> int | None:
        """The dense vector size (0: no vectors; None: no collection yet)."""
        return self._memories.dim

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is not None:
            return
        async with self._open_lock:
            if self._client is not None:
                return
            client = self.location.new_client(self._client_kwargs)
            try:
                if not await client.collection_exists(self.users_collection):
                    await client.create_collection(self.users_collection, vectors_config={})
                await self._memories.load(client)
            except Exception as exc:
                await client.close()
                raise self._error(exc, "open") from exc
            self._client = client
            if self._dim is None:
                try:
                    await self._memories.create(client, self.dimension)
                except Exception as exc:
                    self._client = None
                    await client.close()
                    raise self._error(exc, "open") from exc
            self._tune_local()

    def _tune_local(self) -> None:
        if self.location.on_disk and self.fast_local_writes:
            tune_local_storage(self._client)

    async def close(self) -> None:
        for task in self._warming.values():
            task.cancel()
        self._warming.clear()
        client, self._client = self._client, None
        self._cache.clear()
        self._embedder_checked = None
        if client is not None:
            await client.close()

    def _error(self, exc: Exception, what: str) -> MnemoplugError:
        return qdrant_error(exc, what, server=self.location.server, url=self.url, name=self.name)

    async def _c(self) -> AsyncQdrantClient:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    async def _ensure_collection(self, dim: int | None) -> None:
        await self._memories.ensure(await self._c(), dim, self.url)

    async def check_embedder(self, name: str, dimension: int) -> None:
        if self._embedder_checked == (name, dimension):
            return
        client = await self._c()
        try:
            got = await client.retrieve(self.users_collection, [META_ID], with_payload=True)
        except Exception as exc:
            raise self._error(exc, "check_embedder") from exc
        if got:
            stored = got[0].payload or {}
            if stored.get("dimension") != dimension or stored.get("embedder") != name:
                raise EmbedderMismatchError(
                    f"Qdrant collection {self.collection!r} on {self.url} holds vectors from "
                    f"embedder {stored.get('embedder')!r} (dimension {stored.get('dimension')}), "
                    f"but this Memory uses {name!r} (dimension {dimension}). Use the same "
                    f"embedder, or migrate the memories with migrate_memory() into another "
                    f"collection."
                )
        else:
            meta = {"kind": "meta", "embedder": name, "dimension": dimension}
            point = models().PointStruct(id=META_ID, vector={}, payload=meta)
            await client.upsert(self.users_collection, [point])
        async with self._write_lock:
            await self._ensure_collection(dimension)
        self._embedder_checked = (name, dimension)

    # -- reading points ----------------------------------------------------------------------
    async def _scroll(
        self, flt: Any, *, vectors: bool, page: int = _PAGE, fields: list[str] | None = None
    ) -> AsyncGenerator[list[Any], None]:
        """Pages of the points matching ``flt`` (None: all), with their payload (or only
        ``fields`` of it) and, with ``vectors``, their vectors."""
        if self._dim is None:
            return
        client = await self._c()
        with_payload: Any = (
            True if fields is None else models().PayloadSelectorInclude(include=fields)
        )
        offset = None
        while True:
            found, offset = await client.scroll(
                self.collection,
                scroll_filter=flt,
                limit=page,
                offset=offset,
                with_payload=with_payload,
                with_vectors=vectors and bool(self._dim),
            )
            if found:
                yield found
            if offset is None or not found:
                return

    async def _find(self, scope: Scope, memory_id: str) -> StoredMemory | None:
        async for found in self._scroll(memory_filter(scope, memory_id), vectors=True, page=1):
            for p in found:
                return memory_from_point(p.payload, p.vector)
        return None

    async def _index(self, key: _Key, token: Any = ...) -> UserIndex | None:
        """The user's index, cached while the user's token is unchanged (None: no memories);
        ``token``: the user's token when the caller just read it."""
        try:
            client = await self._c()
            if token is ...:
                token = (await self._tokens.get(client, [key]))[key]
            if token is None or self._dim is None:
                return None
            cached = self._cache.get(key, token)
            if cached is not None:
                return cached
            idx = UserIndex(lexical=True)
            async for found in self._scroll(
                scope_filter(Scope(key[1], key[0] or None)), vectors=True
            ):
                idx.extend(memory_from_point(p.payload, p.vector) for p in found)
            token2 = (await self._tokens.get(client, [key]))[key]
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc, "read") from exc
        if token2 == token:
            self._cache.put(key, token, idx)
        return idx

    # -- writes ------------------------------------------------------------------------------
    async def _write(
        self,
        keys: Iterable[_Key],
        do: Callable[[], Awaitable[Any]],
        apply: Callable[[_Key, UserIndex], Any] | None,
    ) -> Any:
        """Run the write ``do()`` under the lock (see :meth:`UserTokens.write`)."""
        async with self._write_lock:
            client = await self._c()
            return await self._tokens.write(client, keys, do, apply, self._error)

    async def _prepare(self, memories: Sequence[StoredMemory]) -> None:
        dims = {int(mem.embedding.shape[-1]) for mem in memories if mem.embedding is not None}
        if len(dims) > 1:
            raise EmbedderMismatchError(f"one write holds vectors of dimensions {sorted(dims)}")
        await self._ensure_collection(next(iter(dims)) if dims else None)

    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        client = await self._c()
        ids = [mem.id for mem in memories]
        if len(set(ids)) != len(ids):
            raise ValueError("insert() got the same memory id twice")

        async def do() -> None:
            await self._prepare(memories)
            existing = await client.retrieve(
                self.collection, [point_id(i) for i in ids], with_payload=False
            )
            if existing:
                raise ValueError(f"memory id {existing[0].id} already exists")
            await client.upsert(self.collection, points(memories, self._dim), wait=True)

        keys = ((mem.tenant_id, mem.user_id) for mem in memories)
        await self._write(keys, do, add_inserted(memories))

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        client = await self._c()
        old_owners: list[_Key] = []
        if self._dim is not None:
            try:
                old = await client.retrieve(self.collection, [point_id(mem.id) for mem in memories])
            except Exception as exc:
                raise self._error(exc, "upsert") from exc
            old_owners = [
                ((p.payload or {}).get("tenant_id", ""), (p.payload or {}).get("user_id", ""))
                for p in old
            ]

        async def do() -> None:
            await self._prepare(memories)
            await client.upsert(self.collection, points(memories, self._dim), wait=True)

        await self._write(
            [*old_owners, *((mem.tenant_id, mem.user_id) for mem in memories)], do, None
        )

    async def update(
        self,
        scope: Scope,
        memory_id: str,
        *,
        content: str | None,
        metadata: dict[str, Any] | None,
        embedding: np.ndarray | None,
        updated_at: float,
        expires_at: Any = ...,
    ) -> StoredMemory | None:
        client = await self._c()
        changes = MemoryChanges.of(
            content=content,
            metadata=metadata,
            embedding=embedding,
            updated_at=updated_at,
            expires_at=expires_at,
        )
        result: list[StoredMemory] = []

        async def do() -> None:
            old = await self._find(scope, memory_id)
            if old is None or old.is_expired(changes.updated_at):
                return
            if changes.sets_content and changes.embedding is not None:
                await self._ensure_collection(int(changes.embedding.shape[-1]))
            new = changes.apply(old)
            await client.upsert(self.collection, points([new], self._dim), wait=True)
            result.append(new)

        def apply(key: _Key, idx: UserIndex) -> None:
            if result:
                idx.upsert(result[0])

        await self._write([scope.user_key], do, apply)
        return result[0] if result else None

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        if self._dim is None:
            await self.open()
            if self._dim is None:
                return False
        client = await self._c()
        m = models()
        found: list[bool] = []

        async def do() -> None:
            if await self._find(scope, memory_id) is None:
                return
            selector = m.FilterSelector(filter=memory_filter(scope, memory_id))
            await client.delete(self.collection, points_selector=selector, wait=True)
            found.append(True)

        def apply(key: _Key, idx: UserIndex) -> None:
            if found:
                idx.remove(memory_id)

        await self._write([scope.user_key], do, apply)
        return bool(found)

    async def delete_all(self, scope: Scope) -> int:
        await self.open()
        if self._dim is None:
            return 0
        client = await self._c()
        m = models()
        flt = scope_filter(scope)
        counted: list[int] = []
        gone: list[str] = []

        async def do() -> None:
            async for found in self._scroll(flt, vectors=False):
                gone.extend(p.payload["mid"] for p in found)
            counted.append(len(gone))
            if gone:
                await client.delete(
                    self.collection, points_selector=m.FilterSelector(filter=flt), wait=True
                )

        def apply(key: _Key, idx: UserIndex) -> None:
            for mid in gone:
                idx.remove(mid)

        await self._write([scope.user_key], do, apply)
        if scope.agent_id is None and scope.session_id is None:
            async with self._write_lock:
                try:
                    await self._tokens.forget(client, scope.user_key)
                except Exception as exc:
                    raise self._error(exc, "delete_all") from exc
        return counted[0] if counted else 0

    async def purge_expired(self, now: float) -> int:
        await self.open()
        if self._dim is None:
            return 0
        client = await self._c()
        m = models()
        doomed: dict[_Key, list[str]] = {}
        try:
            async for found in self._scroll(expired_filter(now), vectors=False):
                for p in found:
                    key = (p.payload.get("tenant_id") or "", p.payload["user_id"])
                    doomed.setdefault(key, []).append(str(p.id))
        except Exception as exc:
            raise self._error(exc, "purge_expired") from exc
        if not doomed:
            return 0
        ids = [i for v in doomed.values() for i in v]

        async def do() -> None:
            await client.delete(
                self.collection, points_selector=m.PointIdsList(points=ids), wait=True
            )

        await self._write(doomed, do, None)
        return len(ids)

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        await self.open()
        try:
            m = await self._find(scope, memory_id)
        except Exception as exc:
            raise self._error(exc, "get") from exc
        return None if m is None or m.is_expired(now) else m

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> builtins.list[StoredMemory]:
        await self.open()
        idx = await self._index(scope.user_key)
        return [] if idx is None else idx.newest(scope, filters, now, limit, offset)

    async def count(self, scope: Scope, now: float) -> int:
        await self.open()
        idx = await self._index(scope.user_key)
        return 0 if idx is None else int(idx.mask(scope, Filter(None), now).sum())

    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        await self.open()
        key = scope.user_key
        token: Any = ...
        if (
            self.cold_search_min is not None
            and (not self.local or self._cold_search_local)
            and request.vector is not None
            and not request.filters
            and self._dim
        ):
            try:
                client = await self._c()
                token = (await self._tokens.get(client, [key]))[key]
                if token is None:
                    return []
                if self._cache.get(key, token) is None:
                    hits = await self._search_in_qdrant(client, scope, request)
                    if hits is not None:
                        self._warm(key)
                        return hits
            except ProviderError:
                raise
            except Exception as exc:
                raise self._error(exc, "search") from exc
        idx = await self._index(key, token)
        return [] if idx is None else idx.search(scope, request)

    async def _search_in_qdrant(
        self, client: Any, scope: Scope, request: SearchRequest
    ) -> builtins.list[ScoredMemory] | None:
        """Qdrant's own search of a user not cached here (None: the user holds fewer than
        ``cold_search_min`` memories; loading them is quicker)."""
        assert request.vector is not None and self.cold_search_min is not None
        m = models()
        user = scope_filter(Scope(scope.user_id, scope.tenant_id))
        held = (await client.count(self.collection, count_filter=user, exact=True)).count
        if held < self.cold_search_min:
            return None
        live = m.Filter(
            should=[
                m.IsEmptyCondition(is_empty=m.PayloadField(key="expires_at")),
                m.FieldCondition(key="expires_at", range=m.Range(gt=request.now)),
            ]
        )
        found = await client.query_points(
            self.collection,
            query=np.asarray(request.vector, dtype=np.float32).tolist(),
            using=VECTOR,
            query_filter=scope_filter(scope, live),
            limit=max(request.limit, request.config.lexical_candidates),
            with_payload=True,
            with_vectors=True,
        )
        idx = UserIndex(lexical=True)
        idx.extend(memory_from_point(p.payload, p.vector) for p in found.points)
        return idx.search(scope, request)

    def _warm(self, key: _Key) -> None:
        """Load the user's index in the background (once at a time per user)."""
        if key in self._warming:
            return

        async def load() -> None:
            try:
                await self._index(key)
            except MnemoplugError:
                pass  # the next search loads (and reports) again
            finally:
                self._warming.pop(key, None)

        self._warming[key] = asyncio.get_running_loop().create_task(load())

    async def list_users(self) -> builtins.list[_Key]:
        await self.open()
        users: set[_Key] = set()
        try:
            async for found in self._scroll(None, vectors=False, fields=["tenant_id", "user_id"]):
                users.update(
                    ((p.payload or {}).get("tenant_id") or "", (p.payload or {})["user_id"])
                    for p in found
                )
        except Exception as exc:
            raise self._error(exc, "list_users") from exc
        return sorted(users)

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        await self.open()
        flt = scope_filter(Scope(user_id, tenant_id or None))
        pages = self._scroll(flt, vectors=True, page=batch_size)
        try:
            while True:
                try:
                    found = await anext(pages)
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    raise self._error(exc, "export") from exc
                yield [memory_from_point(p.payload or {}, p.vector) for p in found]
        finally:
            await pages.aclose()
