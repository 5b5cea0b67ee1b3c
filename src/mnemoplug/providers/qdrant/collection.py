"""The Qdrant store's two collections and the scope filters on them.

* ``<collection>``: the memories (see :mod:`.payload`), one named cosine vector ``"dense"``,
  created at open with ``dimension`` (384, all-MiniLM-L6-v2's; 0 = no vectors) and recreated
  while empty to fit the first vectors; keyword/float payload indexes on the scope fields and
  times (server mode). ``tenant_id`` and ``user_id`` are *tenant* indexes (``is_tenant``):
  Qdrant keeps each user's points together on disk and searches them with per-user HNSW
  graphs (``payload_m``; no whole-collection graph, ``m=0``, since every query carries the
  user). An older collection gets its indexes upgraded at open.
* ``<collection>_users``: per-user generation tokens (see :mod:`.tokens`) and the meta point.

Every read, write and delete carries a ``must=[tenant_id, user_id, (agent_id), (session_id)]``
filter (:func:`scope_filter`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...core.errors import EmbedderMismatchError
from ...core.records import Scope
from .payload import VECTOR, models, point_id

__all__ = ["MemoryCollection", "expired_filter", "memory_filter", "scope_filter"]

#: the tenant fields: every query filters on both
_TENANT_FIELDS = ("tenant_id", "user_id")
_INDEXED = (
    ("agent_id", "KEYWORD"),
    ("session_id", "KEYWORD"),
    ("mid", "KEYWORD"),
    ("created_at", "FLOAT"),
    ("expires_at", "FLOAT"),
)


def scope_filter(scope: Scope, *extra: Any) -> Any:
    """The points in ``scope`` (and matching the ``extra`` conditions)."""
    m = models()
    must: list[Any] = [
        m.FieldCondition(key="tenant_id", match=m.MatchValue(value=scope.tenant)),
        m.FieldCondition(key="user_id", match=m.MatchValue(value=scope.user_id)),
    ]
    if scope.agent_id is not None:
        must.append(m.FieldCondition(key="agent_id", match=m.MatchValue(value=scope.agent_id)))
    if scope.session_id is not None:
        must.append(m.FieldCondition(key="session_id", match=m.MatchValue(value=scope.session_id)))
    must.extend(extra)
    return m.Filter(must=must)


def memory_filter(scope: Scope, memory_id: str) -> Any:
    """The point of one memory, when it lies in ``scope``."""
    m = models()
    return scope_filter(
        scope,
        m.HasIdCondition(has_id=[point_id(memory_id)]),
        m.FieldCondition(key="mid", match=m.MatchValue(value=memory_id)),
    )


def expired_filter(now: float) -> Any:
    """Points whose ``expires_at`` has passed at ``now``."""
    m = models()
    return m.Filter(must=[m.FieldCondition(key="expires_at", range=m.Range(lte=now))])


class MemoryCollection:
    """The memories collection's vector size and its (re)creation.

    ``dim`` is None until :meth:`load` found (or :meth:`create` made) the collection, then the
    dense size (0: the collection holds no vectors). ``after_create`` runs after every creation
    (local mode's storage tuning)."""

    def __init__(
        self, name: str, *, dimension: int, indexed: bool, after_create: Callable[[], None]
    ) -> None:
        self.name = name
        self.dimension = dimension
        self.indexed = indexed
        self.after_create = after_create
        self.dim: int | None = None

    async def load(self, client: Any) -> None:
        """Read the existing collection's vector size (None: there is none yet) and give an
        older collection its tenant indexes."""
        if await client.collection_exists(self.name):
            info = await client.get_collection(self.name)
            vecs = info.config.params.vectors
            self.dim = int(vecs[VECTOR].size) if isinstance(vecs, dict) and VECTOR in vecs else 0
            if self.indexed:
                await self._tenant_indexes(client, info.payload_schema or {})
        else:
            self.dim = None

    async def _tenant_indexes(self, client: Any, schema: dict[str, Any]) -> None:
        """Create (or upgrade to ``is_tenant``) the tenant fields' keyword indexes."""
        m = models()
        for field in _TENANT_FIELDS:
            params = getattr(schema.get(field), "params", None)
            if params is not None and getattr(params, "is_tenant", False):
                continue
            try:
                await client.create_payload_index(
                    self.name,
                    field,
                    m.KeywordIndexParams(type=m.KeywordIndexType.KEYWORD, is_tenant=True),
                )
            except Exception:  # a server before 1.11 has no tenant indexes: a plain one
                if params is None:
                    await client.create_payload_index(self.name, field, m.PayloadSchemaType.KEYWORD)

    async def create(self, client: Any, dim: int) -> None:
        m = models()
        vectors = {VECTOR: m.VectorParams(size=dim, distance=m.Distance.COSINE)} if dim else {}
        hnsw = m.HnswConfigDiff(payload_m=16, m=0) if self.indexed else None
        await client.create_collection(self.name, vectors_config=vectors, hnsw_config=hnsw)
        if self.indexed:
            await self._tenant_indexes(client, {})
            for field, schema in _INDEXED:
                await client.create_payload_index(
                    self.name, field, getattr(m.PayloadSchemaType, schema)
                )
        self.dim = dim
        self.after_create()

    async def ensure(self, client: Any, dim: int | None, url: str) -> None:
        """Make sure the collection takes ``dim``-sized vectors (None: no vectors in this
        write). An empty collection of another size is recreated; a filled one raises."""
        if self.dim is None:
            await self.create(client, dim or self.dimension)
        if dim is None or self.dim == dim:
            return
        if (await client.count(self.name, exact=True)).count == 0:
            await client.delete_collection(self.name)
            self.dim = None
            await self.create(client, dim)
            return
        held = (
            f"{self.dim}-dimensional vectors"
            if self.dim
            else "no vectors (it was created with dimension=0)"
        )
        raise EmbedderMismatchError(
            f"Qdrant collection {self.name!r} on {url} holds {held}, but this write has "
            f"{dim}-dimensional ones. Use the same embedder, or migrate into another collection "
            f"with migrate_memory()."
        )
