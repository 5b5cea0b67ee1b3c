"""Qdrant: one collection of memories, scope filters on every query.

URLs::

    qdrant://localhost:6333        a Qdrant server (AsyncQdrantClient(url="http://localhost:6333"))
    qdrant:///abs/path/to/dir      qdrant-client's local mode, persisted in that directory
    qdrant://./relative/dir        local mode, relative directory
    qdrant://:memory:              local mode, in this process only

``QdrantMemoryStore(url=None, *, path=None, collection="mnemoplug", api_key=None, https=None,
prefer_grpc=False, timeout=None, cache_max_records=500_000)``.

Layout:

* Collection ``<collection>``: one point a memory, named dense vector ``"dense"`` (cosine;
  created at open with ``dimension=384``, recreated while empty to fit the first vectors),
  payload with our id (``mid``), ``tenant_id``, ``user_id``, ``agent_id``, ``session_id``,
  ``role``, ``content``, ``metadata``, ``created_at``, ``updated_at``, ``expires_at``.
  Keyword/float payload indexes on the scope fields and times (server mode). Point ids are our
  ids when they are canonical UUIDs (what :func:`mnemoplug.core.records.new_memory_id` makes),
  else ``uuid5`` of the id; the original id always stays in the payload, so migrated stores
  keep any string id. A memory without an embedding is stored without a vector (lexical only).
* Collection ``<collection>_users``: one point per (tenant, user) holding a generation token
  that every write replaces, plus one meta point (embedder name and dimension).

Every read, write and delete carries a ``must=[tenant_id, user_id, (agent_id), (session_id)]``
filter. Search keeps each recently used user's records and vectors in one contiguous in-process
matrix (:class:`~mnemoplug.core.retrieval.UserIndex`, loaded by a scoped scroll and revalidated
against the user's generation token on every query), so dense, BM25 and recency are fused
exactly as in the other providers and metadata filters and expiry keep one semantics
(:meth:`Filter.matches <mnemoplug.core.filters.Filter.matches>`).

Local mode (``qdrant:///path``, ``qdrant://:memory:``) is for development only: qdrant-client's
local mode scans every point in Python, about 1.4 s per filtered query at 100,000 points on a
2-core machine, and one directory can be opened by one client at a time. Use a Qdrant server
in production.
"""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import numpy as np

from ...core.errors import (
    ConfigurationError,
    EmbedderMismatchError,
    MissingDependencyError,
    MnemoplugError,
    ProviderError,
    ProviderUnavailableError,
)
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex, UserIndexCache
from ...core.stores import MemoryStore

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient

__all__ = ["QdrantMemoryStore", "point_id", "tune_local_storage"]

_NS = uuid.UUID("6f1c8a52-93b4-4f0e-9d3c-6d2a1f5b7e10")
_META_ID = str(uuid.uuid5(_NS, "\x00meta"))
VECTOR = "dense"
_PAGE = 1000


def _models() -> Any:
    try:
        from qdrant_client import models
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise MissingDependencyError("the 'qdrant' provider", "qdrant", "qdrant-client") from exc
    return models


def point_id(memory_id: str) -> str:
    """The Qdrant point id of a memory id: the id itself when it is a canonical UUID string,
    else a uuid5 of it (the original id stays in the payload)."""
    try:
        if str(uuid.UUID(memory_id)) == memory_id:
            return memory_id
    except ValueError:
        pass
    return str(uuid.uuid5(_NS, memory_id))


def _user_point(tenant_id: str, user_id: str) -> str:
    return str(uuid.uuid5(_NS, f"user\x00{tenant_id}\x00{user_id}"))


def _parse_url(url: str) -> tuple[str | None, str | None]:
    """(server_url, local_path) of a qdrant:// URL; local_path may be ':memory:'."""
    if url.startswith("qdrant://:memory:"):
        return None, ":memory:"
    parts = urlsplit(url)
    if parts.scheme != "qdrant":
        raise ConfigurationError(
            f"not a Qdrant URL: {url!r}; use qdrant://host:6333, qdrant:///abs/path or qdrant://:memory:"
        )
    netloc, path = parts.netloc, unquote(parts.path)
    if netloc in (".", "..", "~"):
        return None, str(Path(netloc + path).expanduser())
    if not netloc:
        if path in ("", "/"):
            raise ConfigurationError(
                f"Qdrant URL {url!r} names neither a server nor a directory; use "
                f"qdrant://host:6333, qdrant:///abs/path, qdrant://./dir or qdrant://:memory:"
            )
        return None, path
    if path not in ("", "/"):
        raise ConfigurationError(
            f"Qdrant URL {url!r} has a path after the host; name the collection with "
            f"collection=... (qdrant://host:6333) or write qdrant:///abs/path for local mode"
        )
    try:
        port = parts.port or 6333
    except ValueError as exc:
        raise ConfigurationError(f"Qdrant URL {url!r} has a bad port") from exc
    return f"http://{parts.hostname}:{port}", None


def _payload(m: StoredMemory) -> dict[str, Any]:
    return {
        "mid": m.id,
        "tenant_id": m.tenant_id,
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "session_id": m.session_id,
        "role": m.role,
        "content": m.content,
        "metadata": m.metadata,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "expires_at": m.expires_at,
    }


def _memory(payload: dict[str, Any], vector: Any) -> StoredMemory:
    emb = None
    if isinstance(vector, dict):
        vector = vector.get(VECTOR)
    if vector is not None and len(vector):
        emb = np.asarray(vector, dtype=np.float32)
    return StoredMemory(
        id=payload["mid"],
        user_id=payload["user_id"],
        content=payload["content"],
        metadata=dict(payload.get("metadata") or {}),
        tenant_id=payload.get("tenant_id") or "",
        agent_id=payload.get("agent_id"),
        session_id=payload.get("session_id"),
        role=payload.get("role"),
        created_at=float(payload["created_at"]),
        updated_at=float(payload["updated_at"]),
        expires_at=None if payload.get("expires_at") is None else float(payload["expires_at"]),
        embedding=emb,
    )


def tune_local_storage(client: Any) -> None:
    """qdrant-client's local mode on disk commits one SQLite transaction (with an fsync) per
    point: ~35 ms a point on this machine. Put its storage files in WAL mode with
    ``synchronous=NORMAL`` (no fsync per commit; a power cut may lose the last writes, which is
    fine for the development use local mode is meant for). Works on sync and async clients;
    does nothing when the client's internals look different."""
    inner = getattr(client, "_client", None)
    for coll in getattr(inner, "collections", {}).values():
        conn = getattr(getattr(coll, "storage", None), "storage", None)
        if conn is None:
            continue
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except Exception:
            continue


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
    """

    name = "qdrant"

    def __init__(
        self,
        url: str | None = None,
        *,
        path: str | Path | None = None,
        collection: str = "mnemoplug",
        api_key: str | None = None,
        https: bool | None = None,
        prefer_grpc: bool = False,
        timeout: int | None = None,
        cache_max_records: int = 500_000,
        fast_local_writes: bool = True,
        dimension: int = 384,
    ) -> None:
        if url and path:
            raise ConfigurationError("pass either a qdrant:// URL or path=, not both")
        if not isinstance(collection, str) or not collection:
            raise ConfigurationError("collection must be a non-empty string")
        if url:
            self._server, self._path = _parse_url(url)
        elif path is not None:
            self._server, self._path = (
                None,
                str(path) if str(path) == ":memory:" else str(Path(path).expanduser()),
            )
        else:
            raise ConfigurationError(
                "QdrantMemoryStore needs a URL (qdrant://host:6333, qdrant:///abs/path, "
                "qdrant://:memory:) or path=..."
            )
        self.collection = collection
        self.users_collection = f"{collection}_users"
        self.url = (
            self._server.replace("http://", "qdrant://")
            if self._server
            else ("qdrant://:memory:" if self._path == ":memory:" else f"qdrant://{self._path}")
        )
        self._client_kwargs: dict[str, Any] = {
            k: v
            for k, v in {"api_key": api_key, "https": https, "timeout": timeout}.items()
            if v is not None
        }
        if prefer_grpc:
            self._client_kwargs["prefer_grpc"] = True
        self.cache_max_records = cache_max_records
        self.fast_local_writes = fast_local_writes
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 0:
            raise ConfigurationError("dimension must be a non-negative integer (0 = no vectors)")
        self.dimension = dimension
        self._client: AsyncQdrantClient | None = None
        self._open_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._dim: int | None = None  # dense size; 0 = collection holds no vectors
        self._cache = UserIndexCache(cache_max_records)
        self._embedder_checked: tuple[str, int] | None = None

    @property
    def local(self) -> bool:
        """True in qdrant-client's local mode (development only)."""
        return self._server is None

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is not None:
            return
        async with self._open_lock:
            if self._client is not None:
                return
            try:
                from qdrant_client import AsyncQdrantClient
            except ImportError as exc:
                raise MissingDependencyError(
                    "the 'qdrant' provider", "qdrant", "qdrant-client"
                ) from exc
            if self._server:
                client = AsyncQdrantClient(url=self._server, **self._client_kwargs)
            elif self._path == ":memory:":
                client = AsyncQdrantClient(location=":memory:")
            else:
                assert self._path is not None
                try:
                    Path(self._path).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
                    client = AsyncQdrantClient(path=self._path)
                except (OSError, RuntimeError) as exc:
                    raise ConfigurationError(
                        f"cannot open the local Qdrant directory {self._path}: {exc}; local mode "
                        f"allows one client per directory - close the other one, or use a server"
                    ) from exc
            try:
                if not await client.collection_exists(self.users_collection):
                    await client.create_collection(self.users_collection, vectors_config={})
                if await client.collection_exists(self.collection):
                    info = await client.get_collection(self.collection)
                    vecs = info.config.params.vectors
                    self._dim = (
                        int(vecs[VECTOR].size) if isinstance(vecs, dict) and VECTOR in vecs else 0
                    )
                else:
                    self._dim = None
            except Exception as exc:
                await client.close()
                raise self._error(exc, "open") from exc
            self._client = client
            if self._dim is None:
                try:
                    await self._create(self.dimension)
                except Exception as exc:
                    self._client = None
                    await client.close()
                    raise self._error(exc, "open") from exc
            self._tune_local()

    def _tune_local(self) -> None:
        if self.local and self._path != ":memory:" and self.fast_local_writes:
            tune_local_storage(self._client)

    async def close(self) -> None:
        client, self._client = self._client, None
        self._cache.clear()
        self._embedder_checked = None
        if client is not None:
            await client.close()

    def _error(self, exc: Exception, what: str) -> MnemoplugError:
        if isinstance(exc, MnemoplugError):
            return exc
        text = f"{type(exc).__name__}: {exc}"
        if self._server and any(s in text for s in ("Connect", "connect", "Timeout", "refused")):
            return ProviderUnavailableError(
                f"cannot reach Qdrant at {self._server} ({what}): {text}; is the server running?",
                provider=self.name,
                url=self.url,
            )
        return ProviderError(
            f"Qdrant {what} failed on {self.url}: {text}", provider=self.name, url=self.url
        )

    async def _c(self) -> AsyncQdrantClient:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    async def _ensure_collection(self, dim: int | None) -> None:
        """Make sure the memories collection takes ``dim``-sized vectors (None: no vectors in
        this write). An empty collection of another size is recreated; a filled one raises."""
        if self._dim is None:
            await self._create(dim or self.dimension)
        if dim is None or self._dim == dim:
            return
        client = await self._c()
        if (await client.count(self.collection, exact=True)).count == 0:
            await client.delete_collection(self.collection)
            self._dim = None
            await self._create(dim)
            return
        raise EmbedderMismatchError(
            f"Qdrant collection {self.collection!r} on {self.url} holds "
            + (
                f"{self._dim}-dimensional vectors"
                if self._dim
                else "no vectors (it was created with dimension=0)"
            )
            + f", but this write has {dim}-dimensional ones. Use the same embedder, or migrate "
            f"into another collection with migrate_memory()."
        )

    async def _create(self, dim: int) -> None:
        m = _models()
        client = await self._c()
        vectors = {VECTOR: m.VectorParams(size=dim, distance=m.Distance.COSINE)} if dim else {}
        await client.create_collection(self.collection, vectors_config=vectors)
        if not self.local:
            for field, schema in (
                ("tenant_id", m.PayloadSchemaType.KEYWORD),
                ("user_id", m.PayloadSchemaType.KEYWORD),
                ("agent_id", m.PayloadSchemaType.KEYWORD),
                ("session_id", m.PayloadSchemaType.KEYWORD),
                ("mid", m.PayloadSchemaType.KEYWORD),
                ("created_at", m.PayloadSchemaType.FLOAT),
                ("expires_at", m.PayloadSchemaType.FLOAT),
            ):
                await client.create_payload_index(self.collection, field, schema)
        self._dim = dim
        self._tune_local()

    async def check_embedder(self, name: str, dimension: int) -> None:
        if self._embedder_checked == (name, dimension):
            return
        client = await self._c()
        try:
            got = await client.retrieve(self.users_collection, [_META_ID], with_payload=True)
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
            m = _models()
            await client.upsert(
                self.users_collection,
                [
                    m.PointStruct(
                        id=_META_ID,
                        vector={},
                        payload={"kind": "meta", "embedder": name, "dimension": dimension},
                    )
                ],
            )
        async with self._write_lock:
            await self._ensure_collection(dimension)
        self._embedder_checked = (name, dimension)

    # -- filters -----------------------------------------------------------------------------
    @staticmethod
    def _scope_filter(scope: Scope, *extra: Any) -> Any:
        m = _models()
        must: list[Any] = [
            m.FieldCondition(key="tenant_id", match=m.MatchValue(value=scope.tenant)),
            m.FieldCondition(key="user_id", match=m.MatchValue(value=scope.user_id)),
        ]
        if scope.agent_id is not None:
            must.append(m.FieldCondition(key="agent_id", match=m.MatchValue(value=scope.agent_id)))
        if scope.session_id is not None:
            must.append(
                m.FieldCondition(key="session_id", match=m.MatchValue(value=scope.session_id))
            )
        must.extend(extra)
        return m.Filter(must=must)

    async def _scroll(
        self, flt: Any, *, vectors: bool, limit: int | None = None
    ) -> AsyncIterator[list[Any]]:
        if self._dim is None:
            return
        client = await self._c()
        offset = None
        while True:
            page = _PAGE if limit is None else min(_PAGE, limit)
            points, offset = await client.scroll(
                self.collection,
                scroll_filter=flt,
                limit=page,
                offset=offset,
                with_payload=True,
                with_vectors=vectors and bool(self._dim),
            )
            if points:
                yield points
            if offset is None or not points:
                return

    async def _find(self, scope: Scope, memory_id: str) -> StoredMemory | None:
        m = _models()
        flt = self._scope_filter(
            scope,
            m.HasIdCondition(has_id=[point_id(memory_id)]),
            m.FieldCondition(key="mid", match=m.MatchValue(value=memory_id)),
        )
        async for points in self._scroll(flt, vectors=True, limit=1):
            for p in points:
                return _memory(p.payload, p.vector)
        return None

    # -- generation tokens and the per-user cache ---------------------------------------------
    async def _tokens(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        keys = list(dict.fromkeys(keys))
        client = await self._c()
        got = await client.retrieve(
            self.users_collection, [_user_point(*k) for k in keys], with_payload=True
        )
        by_id = {str(p.id): (p.payload or {}).get("token") for p in got}
        return {k: by_id.get(_user_point(*k)) for k in keys}

    async def _bump(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        m = _models()
        keys = list(dict.fromkeys(keys))
        new = {k: uuid.uuid4().hex for k in keys}
        client = await self._c()
        await client.upsert(
            self.users_collection,
            [
                m.PointStruct(
                    id=_user_point(*k),
                    vector={},
                    payload={"kind": "user", "tenant_id": k[0], "user_id": k[1], "token": tok},
                )
                for k, tok in new.items()
            ],
        )
        return new

    async def _write(self, keys: Iterable[tuple[str, str]], do: Any, apply: Any) -> Any:
        """Run the write ``do()`` under the lock, replace the touched users' tokens and apply
        the change to cached users nobody else wrote since we cached them."""
        keys = list(dict.fromkeys(keys))
        async with self._write_lock:
            try:
                before = await self._tokens(keys)
                result = await do()
                if not keys:
                    return result
                after = await self._bump(keys)
            except (MnemoplugError, ValueError):
                for k in keys:
                    self._cache.drop(k)
                raise
            except Exception as exc:
                for k in keys:
                    self._cache.drop(k)
                raise self._error(exc, "write") from exc
            for k in keys:
                if apply is None:
                    self._cache.drop(k)
                else:
                    self._cache.advance(k, before[k], after[k], apply)
            return result

    async def _index(self, key: tuple[str, str]) -> UserIndex | None:
        try:
            token = (await self._tokens([key]))[key]
            if token is None or self._dim is None:
                return None
            cached = self._cache.get(key, token)
            if cached is not None:
                return cached
            idx = UserIndex(lexical=True)
            async for points in self._scroll(
                self._scope_filter(Scope(key[1], key[0] or None)), vectors=True
            ):
                idx.extend(_memory(p.payload, p.vector) for p in points)
            token2 = (await self._tokens([key]))[key]
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc, "read") from exc
        if token2 == token:
            self._cache.put(key, token, idx)
        return idx

    # -- writes ------------------------------------------------------------------------------
    def _points(self, memories: Sequence[StoredMemory]) -> list[Any]:
        m = _models()
        out = []
        for mem in memories:
            vec: Any = {}
            if mem.embedding is not None and self._dim:
                vec = {VECTOR: np.asarray(mem.embedding, dtype=np.float32).tolist()}
            out.append(m.PointStruct(id=point_id(mem.id), vector=vec, payload=_payload(mem)))
        return out

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
            await client.upsert(self.collection, self._points(memories), wait=True)

        def apply(key: tuple[str, str], idx: UserIndex) -> None:
            idx.extend(mem for mem in memories if (mem.tenant_id, mem.user_id) == key)

        await self._write(((mem.tenant_id, mem.user_id) for mem in memories), do, apply)

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        client = await self._c()
        old_owners: list[tuple[str, str]] = []
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
            await client.upsert(self.collection, self._points(memories), wait=True)

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
        result: list[StoredMemory] = []

        async def do() -> None:
            old = await self._find(scope, memory_id)
            if old is None or old.is_expired(updated_at):
                return
            changes: dict[str, Any] = {"updated_at": updated_at}
            if content is not None:
                changes["content"] = content
                changes["embedding"] = embedding
                if embedding is not None:
                    await self._ensure_collection(int(embedding.shape[-1]))
            if metadata is not None:
                changes["metadata"] = metadata
            if expires_at is not ...:
                changes["expires_at"] = expires_at
            new = old.copy(**changes)
            await client.upsert(self.collection, self._points([new]), wait=True)
            result.append(new)

        def apply(key: tuple[str, str], idx: UserIndex) -> None:
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
        m = _models()
        found: list[bool] = []

        async def do() -> None:
            if await self._find(scope, memory_id) is None:
                return
            flt = self._scope_filter(
                scope,
                m.HasIdCondition(has_id=[point_id(memory_id)]),
                m.FieldCondition(key="mid", match=m.MatchValue(value=memory_id)),
            )
            await client.delete(
                self.collection, points_selector=m.FilterSelector(filter=flt), wait=True
            )
            found.append(True)

        def apply(key: tuple[str, str], idx: UserIndex) -> None:
            if found:
                idx.remove(memory_id)

        await self._write([scope.user_key], do, apply)
        return bool(found)

    async def delete_all(self, scope: Scope) -> int:
        await self.open()
        if self._dim is None:
            return 0
        client = await self._c()
        m = _models()
        flt = self._scope_filter(scope)
        counted: list[int] = []
        gone: list[str] = []

        async def do() -> None:
            async for points in self._scroll(flt, vectors=False):
                gone.extend(p.payload["mid"] for p in points)
            counted.append(len(gone))
            if gone:
                await client.delete(
                    self.collection, points_selector=m.FilterSelector(filter=flt), wait=True
                )

        def apply(key: tuple[str, str], idx: UserIndex) -> None:
            for mid in gone:
                idx.remove(mid)

        await self._write([scope.user_key], do, apply)
        return counted[0] if counted else 0

    async def purge_expired(self, now: float) -> int:
        await self.open()
        if self._dim is None:
            return 0
        client = await self._c()
        m = _models()
        flt = m.Filter(must=[m.FieldCondition(key="expires_at", range=m.Range(lte=now))])
        doomed: dict[tuple[str, str], list[str]] = {}
        try:
            async for points in self._scroll(flt, vectors=False):
                for p in points:
                    pl = p.payload
                    doomed.setdefault((pl.get("tenant_id") or "", pl["user_id"]), []).append(
                        str(p.id)
                    )
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
        idx = await self._index(scope.user_key)
        return [] if idx is None else idx.search(scope, request)

    async def list_users(self) -> builtins.list[tuple[str, str]]:
        await self.open()
        m = _models()
        users: set[tuple[str, str]] = set()
        client = await self._c()
        if self._dim is None:
            return []
        offset = None
        try:
            while True:
                points, offset = await client.scroll(
                    self.collection,
                    limit=_PAGE,
                    offset=offset,
                    with_payload=m.PayloadSelectorInclude(include=["tenant_id", "user_id"]),
                    with_vectors=False,
                )
                users.update(
                    ((p.payload or {}).get("tenant_id") or "", (p.payload or {})["user_id"])
                    for p in points
                )
                if offset is None or not points:
                    break
        except Exception as exc:
            raise self._error(exc, "list_users") from exc
        return sorted(users)

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        await self.open()
        flt = self._scope_filter(Scope(user_id, tenant_id or None))
        if self._dim is None:
            return
        client = await self._c()
        offset = None
        while True:
            try:
                points, offset = await client.scroll(
                    self.collection,
                    scroll_filter=flt,
                    limit=batch_size,
                    offset=offset,
                    with_payload=True,
                    with_vectors=bool(self._dim),
                )
            except Exception as exc:
                raise self._error(exc, "export") from exc
            if points:
                yield [_memory(p.payload or {}, p.vector) for p in points]
            if offset is None or not points:
                return
