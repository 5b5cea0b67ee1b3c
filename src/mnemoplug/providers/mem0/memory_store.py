"""Mem0: mnemoplug's API, hooks, strategies and adapters over the open-source mem0 ``AsyncMemory``.

``Mem0MemoryStore(config=None, *, path=..., collection="mnemoplug", memory=None, llm=None,
telemetry=False)`` or ``Memory.from_url("mem0:///abs/dir")``. How the ``AsyncMemory`` is built
(default config, shared embedding model, LLM and telemetry) is in :mod:`.config`; how memories
sit in mem0's payloads in :mod:`.payload`.

* Writes go through ``AsyncMemory.add(..., infer=False)`` (one memory per message, no LLM
  call), updates through ``AsyncMemory.update`` and deletes through ``AsyncMemory.delete``, so
  mem0's history database and its own ``get``/``get_all``/``search`` keep working on the same
  store. mem0 embeds the content itself with its configured embedder; vectors mnemoplug already
  computed are handed to it instead (:mod:`.embedder`) when their size fits.
* Search, listing, filters and expiry use mnemoplug's shared retrieval (dense + BM25 + recency
  over one in-process matrix per user, loaded from mem0's qdrant collection), so results rank as
  in every other provider. This needs mem0's ``qdrant`` vector store. The per-user cache follows
  this provider's own writes; after writing through ``provider.mem0`` directly, call
  :meth:`Mem0MemoryStore.invalidate`.
* Pass ``llm={"provider": ..., "config": ...}`` and ``infer=True`` to let mem0 extract facts
  with your LLM (ids then come from mem0).
* mem0's local qdrant commits one fsync'd SQLite transaction per point; as in
  :mod:`mnemoplug.providers.qdrant.local` its files are switched to WAL without per-commit fsync.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import ConfigurationError, MissingDependencyError, ProviderError
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex
from ...core.stores import MemoryStore
from .._changes import MemoryChanges
from .._options import non_empty_str, path_option, positive_int
from ..qdrant.local import fast_sqlite, tune_local_storage
from .config import build_memory, path_from_url
from .embedder import PrecomputedEmbedder
from .payload import P, mem0_metadata, mem0_user, memory_from_payload

__all__ = ["Mem0MemoryStore"]


class Mem0MemoryStore(MemoryStore):
    """mnemoplug over mem0's ``AsyncMemory`` (``infer=False``).

    Args:
        config: a mem0 ``MemoryConfig`` or dict; None builds the default described above.
        path: directory for the default config's qdrant store and history database.
        collection: mem0's vector-store collection name (default config).
        memory: an existing ``AsyncMemory`` (then ``config``/``path`` are ignored).
        llm: mem0 LLM config dict (only used with ``infer=True``).
        infer: pass ``infer=True`` to mem0's ``add`` (needs a working ``llm``).
        telemetry: leave mem0's PostHog telemetry on (off by default).
        cache_max_records: memories kept in the in-process search cache.
    """

    name = "mem0"

    def __init__(
        self,
        url: str | None = None,
        *,
        config: Any = None,
        path: str | os.PathLike[str] | None = None,
        collection: str = "mnemoplug",
        memory: Any = None,
        llm: dict[str, Any] | None = None,
        infer: bool = False,
        telemetry: bool = False,
        cache_max_records: int = 500_000,
    ) -> None:
        if url is not None:
            url_path = path_from_url(url)
            if path is not None:
                raise ConfigurationError("pass either a mem0:/// URL or path=, not both")
            path = url_path
        if memory is None and config is None and path is None:
            raise ConfigurationError(
                "Mem0MemoryStore needs path=... (or a mem0:///dir URL), config=... or memory=..."
            )
        self.path: Path | None = path_option("path", path) if path is not None else None
        self.url = f"mem0://{self.path}" if self.path else "mem0://"
        self.collection = non_empty_str("collection", collection)
        if llm is not None and not isinstance(llm, dict):
            raise ConfigurationError(f"llm must be a mem0 LLM config dict, got {llm!r}")
        self._config = config
        self._llm = llm
        self._infer = bool(infer)
        self._telemetry = bool(telemetry)
        self.cache_max_records = positive_int("cache_max_records", cache_max_records)
        self.mem0: Any = memory
        self._owns_memory = memory is None
        self._ready = False  # mem0 wrapped and tuned (see open)
        self._open_lock = asyncio.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[UserIndex, dict[str, Any]]] = OrderedDict()
        self._cached_records = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def _create(self) -> Any:
        return build_memory(
            self._config,
            path=self.path,
            collection=self.collection,
            llm=self._llm,
            telemetry=self._telemetry,
        )

    async def open(self) -> None:
        if self.mem0 is not None and self._ready:
            return
        async with self._open_lock:
            if self.mem0 is None:
                try:
                    self.mem0 = await asyncio.to_thread(self._create)
                except (MissingDependencyError, ConfigurationError):
                    raise
                except Exception as exc:
                    raise ProviderError(
                        f"cannot start mem0 AsyncMemory for {self.url}: {type(exc).__name__}: "
                        f"{exc}",
                        provider=self.name,
                        url=self.url,
                    ) from exc
            store = getattr(self.mem0, "vector_store", None)
            if type(store).__module__ != "mem0.vector_stores.qdrant":
                raise ConfigurationError(
                    "Mem0MemoryStore needs mem0's 'qdrant' vector store (it reads vectors for "
                    f"mnemoplug's retrieval); this AsyncMemory uses {type(store).__name__}"
                )
            if not isinstance(self.mem0.embedding_model, PrecomputedEmbedder):
                dims = getattr(
                    getattr(self.mem0.embedding_model, "config", None), "embedding_dims", None
                )
                self.mem0.embedding_model = PrecomputedEmbedder(self.mem0.embedding_model, dims)
            tune_local_storage(getattr(store, "client", None))
            conn = getattr(getattr(self.mem0, "db", None), "connection", None)
            if conn is not None and str(getattr(self.mem0.db, "db_path", "")) != ":memory:":
                fast_sqlite(conn)
            self._ready = True

    async def close(self) -> None:
        mem, self._ready = self.mem0, False
        self._cache.clear()
        self._cached_records = 0
        if mem is None or not self._owns_memory:
            return
        self.mem0 = None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(mem.vector_store.client.close)
        with contextlib.suppress(Exception):
            mem.db.close()

    async def _m(self) -> Any:
        if self.mem0 is None or not self._ready:
            await self.open()
        return self.mem0

    def _error(self, exc: Exception, what: str) -> ProviderError:
        return ProviderError(
            f"mem0 {what} failed on {self.url}: {type(exc).__name__}: {exc}",
            provider=self.name,
            url=self.url,
        )

    # -- qdrant access (mem0's own store) ----------------------------------------------------
    def _scroll_sync(self, flt: Any, vectors: bool) -> list[Any]:
        store = self.mem0.vector_store
        out: list[Any] = []
        offset = None
        while True:
            points, offset = store.client.scroll(
                store.collection_name,
                scroll_filter=flt,
                limit=1000,
                offset=offset,
                with_payload=True,
                with_vectors=vectors,
            )
            out.extend(points)
            if offset is None or not points:
                return out

    async def _scroll(self, flt: Any, *, vectors: bool) -> list[Any]:
        await self._m()
        try:
            return await asyncio.to_thread(self._scroll_sync, flt, vectors)
        except Exception as exc:
            raise self._error(exc, "read") from exc

    @staticmethod
    def _user_filter(tenant: str, user_id: str) -> Any:
        from qdrant_client import models as m

        return m.Filter(
            must=[
                m.FieldCondition(
                    key="user_id", match=m.MatchValue(value=mem0_user(tenant, user_id))
                )
            ]
        )

    async def _index(self, key: tuple[str, str]) -> tuple[UserIndex, dict[str, Any]]:
        entry = self._cache.get(key)
        if entry is not None:
            self._cache.move_to_end(key)
            return entry
        points = await self._scroll(self._user_filter(*key), vectors=True)
        idx = UserIndex(lexical=True)
        ids: dict[str, Any] = {}
        for p in points:
            mem = memory_from_payload(p.id, p.payload or {}, p.vector)
            if (mem.tenant_id, mem.user_id) != key:
                continue
            idx.upsert(mem)
            ids[mem.id] = p.id
        self._cache[key] = (idx, ids)
        self._cached_records += len(idx)
        while self._cached_records > self.cache_max_records and len(self._cache) > 1:
            self._drop(next(iter(self._cache)))
        return idx, ids

    def invalidate(self, user_id: str | None = None, tenant_id: str = "") -> None:
        """Forget the cached search index of one user (all users when ``user_id`` is None).
        Call it after writing through ``provider.mem0`` directly in this process; writes
        made through this provider keep the cache right by themselves."""
        if user_id is None:
            self._cache.clear()
            self._cached_records = 0
        else:
            self._drop((tenant_id, user_id))

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._cache.pop(key, None)
        if entry is not None:
            self._cached_records -= len(entry[0])

    # -- writes ------------------------------------------------------------------------------
    def _meta(self, m: StoredMemory) -> dict[str, Any]:
        dims = getattr(getattr(self.mem0, "embedding_model", None), "dimension", None)
        return mem0_metadata(m, dims)

    async def _add_one(self, m: StoredMemory) -> Any:
        mem = await self._m()
        offered = mem.embedding_model.offer(m.content, m.embedding)
        try:
            res = await self._add_raw(mem, m)
        finally:
            if offered:
                mem.embedding_model.withdraw(m.content)
        results = res.get("results", []) if isinstance(res, dict) else []
        if not results:
            raise ProviderError(
                f"mem0 stored nothing for memory {m.id}", provider=self.name, url=self.url
            )
        return results[0]["id"]

    async def _add_raw(self, mem: Any, m: StoredMemory) -> Any:
        return await mem.add(
            [{"role": m.role or "user", "content": m.content}],
            user_id=mem0_user(m.tenant_id, m.user_id),
            agent_id=m.agent_id,
            run_id=m.session_id,
            metadata=self._meta(m),
            infer=self._infer,
        )

    async def _mem0_ids(self, memory_ids: Sequence[str]) -> dict[str, tuple[Any, tuple[str, str]]]:
        from qdrant_client import models as qm

        flt = qm.Filter(
            must=[qm.FieldCondition(key=P + "id", match=qm.MatchAny(any=list(memory_ids)))]
        )
        out = {}
        for p in await self._scroll(flt, vectors=False):
            pl = p.payload or {}
            out[pl[P + "id"]] = (p.id, (pl.get(P + "tenant") or "", pl[P + "user"]))
        return out

    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        done: list[tuple[StoredMemory, Any]] = []
        try:
            for m in memories:
                done.append((m, await self._add_one(m)))
        except Exception as exc:
            mem = await self._m()
            for _, pid in done:  # all or nothing
                try:
                    await mem.delete(pid)
                except Exception:
                    pass
            for m in memories:
                self._drop((m.tenant_id, m.user_id))
            raise exc if isinstance(exc, ProviderError) else self._error(exc, "add") from exc
        for m, pid in done:
            key = (m.tenant_id, m.user_id)
            entry = self._cache.get(key)
            if entry is None:
                continue
            if m.embedding is None and entry[0]._matrix is not None:
                self._drop(key)  # mem0 embedded it; read its vector back on the next query
                continue
            entry[0].upsert(m)
            entry[1][m.id] = pid
            self._cached_records += 1

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        mem = await self._m()
        existing = await self._mem0_ids([m.id for m in memories])
        try:
            for m in memories:
                old = existing.get(m.id)
                if old is not None:
                    await mem.delete(old[0])
                    self._drop(old[1])
                await self._add_one(m)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc, "upsert") from exc
        finally:
            for m in memories:
                self._drop((m.tenant_id, m.user_id))

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
        idx, ids = await self._index(scope.user_key)
        old = idx.get(memory_id)
        if old is None or not scope.owns(old) or old.is_expired(updated_at):
            return None
        changes = MemoryChanges.of(
            content=content,
            metadata=metadata,
            embedding=embedding,
            updated_at=updated_at,
            expires_at=expires_at,
        )
        new = changes.apply(old)
        meta = self._meta(new.copy(embedding=None))
        meta.pop("created_at")
        mem = await self._m()
        offered = content is not None and mem.embedding_model.offer(content, embedding)
        try:
            await mem.update(ids[memory_id], text=content, metadata=meta)
        except Exception as exc:
            raise self._error(exc, "update") from exc
        finally:
            if offered:
                mem.embedding_model.withdraw(content)
            self._drop(scope.user_key)
        idx2, _ = await self._index(scope.user_key)
        return idx2.get(memory_id) or new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        idx, ids = await self._index(scope.user_key)
        old = idx.get(memory_id)
        if old is None or not scope.owns(old):
            return False
        mem = await self._m()
        try:
            await mem.delete(ids[memory_id])
        except Exception as exc:
            raise self._error(exc, "delete") from exc
        finally:
            self._drop(scope.user_key)
        return True

    async def delete_all(self, scope: Scope) -> int:
        idx, ids = await self._index(scope.user_key)
        doomed = [r.id for r in idx.records if scope.owns(r)]
        mem = await self._m()
        try:
            for mid in doomed:
                await mem.delete(ids[mid])
        except Exception as exc:
            raise self._error(exc, "delete_all") from exc
        finally:
            self._drop(scope.user_key)
        return len(doomed)

    async def purge_expired(self, now: float) -> int:
        from qdrant_client import models as qm

        flt = qm.Filter(must=[qm.FieldCondition(key=P + "expires_at", range=qm.Range(lte=now))])
        points = await self._scroll(flt, vectors=False)
        mem = await self._m()
        n = 0
        for p in points:
            pl = p.payload or {}
            try:
                await mem.delete(p.id)
            except Exception as exc:
                raise self._error(exc, "purge_expired") from exc
            self._drop((pl.get(P + "tenant") or "", pl.get(P + "user", "")))
            n += 1
        return n

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        idx, _ = await self._index(scope.user_key)
        m = idx.get(memory_id)
        return None if m is None or not scope.owns(m) or m.is_expired(now) else m

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> builtins.list[StoredMemory]:
        idx, _ = await self._index(scope.user_key)
        return idx.newest(scope, filters, now, limit, offset)

    async def count(self, scope: Scope, now: float) -> int:
        idx, _ = await self._index(scope.user_key)
        return int(idx.mask(scope, Filter(None), now).sum()) if len(idx) else 0

    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        idx, _ = await self._index(scope.user_key)
        return idx.search(scope, request)

    async def list_users(self) -> builtins.list[tuple[str, str]]:
        users = set()
        for p in await self._scroll(None, vectors=False):
            m = memory_from_payload(p.id, p.payload or {}, None)
            if m.user_id:
                users.add((m.tenant_id, m.user_id))
        return sorted(users)

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        points = await self._scroll(self._user_filter(tenant_id, user_id), vectors=True)
        rows = [memory_from_payload(p.id, p.payload or {}, p.vector, original=True) for p in points]
        rows = [r for r in rows if (r.tenant_id, r.user_id) == (tenant_id, user_id)]
        rows.sort(key=lambda r: (r.created_at, r.id))
        for i in range(0, len(rows), batch_size):
            yield rows[i : i + batch_size]
