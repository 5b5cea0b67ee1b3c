"""Memories as Qdrant points.

A memory is one point of the memories collection: the named dense vector ``"dense"`` (absent
without an embedding: lexical only) and a payload with our id (``mid``), ``tenant_id``,
``user_id``, ``agent_id``, ``session_id``, ``role``, ``content``, ``metadata``, ``created_at``,
``updated_at``, ``expires_at``, ``occurred_at``, ``speaker``, ``seq``. Point ids are our ids when they are canonical UUIDs (what
:func:`mnemoplug.core.records.new_memory_id` makes), else ``uuid5`` of the id; the original id
always stays in the payload, so migrated stores keep any string id. The users collection holds
one point per (tenant, user) with its generation token, and one meta point.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.records import StoredMemory
from .._deps import import_optional

__all__ = [
    "META_ID",
    "VECTOR",
    "memory_from_point",
    "models",
    "payload",
    "point_id",
    "points",
    "user_point",
]

_NS = uuid.UUID("6f1c8a52-93b4-4f0e-9d3c-6d2a1f5b7e10")
#: the users collection's point holding the embedder name and dimension
META_ID = str(uuid.uuid5(_NS, "\x00meta"))
#: the name of the dense vector
VECTOR = "dense"


def models() -> Any:
    """``qdrant_client.models``, or MissingDependencyError naming the ``qdrant`` extra."""
    return import_optional(
        "qdrant_client.models", feature="the 'qdrant' provider", extra="qdrant",
        package="qdrant-client",
    )  # fmt: skip


def point_id(memory_id: str) -> str:
    """The Qdrant point id of a memory id: the id itself when it is a canonical UUID string,
    else a uuid5 of it (the original id stays in the payload)."""
    try:
        if str(uuid.UUID(memory_id)) == memory_id:
            return memory_id
    except ValueError:
        pass
    return str(uuid.uuid5(_NS, memory_id))


def user_point(tenant_id: str, user_id: str) -> str:
    """The users collection's point of one (tenant, user)."""
    return str(uuid.uuid5(_NS, f"user\x00{tenant_id}\x00{user_id}"))


def payload(m: StoredMemory) -> dict[str, Any]:
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
        "occurred_at": m.occurred_at,
        "speaker": m.speaker,
        "seq": m.seq,
    }


def memory_from_point(pl: dict[str, Any], vector: Any) -> StoredMemory:
    """The memory of a point's payload and vector."""
    emb = None
    if isinstance(vector, dict):
        vector = vector.get(VECTOR)
    if vector is not None and len(vector):
        emb = np.asarray(vector, dtype=np.float32)
    return StoredMemory(
        id=pl["mid"],
        user_id=pl["user_id"],
        content=pl["content"],
        metadata=dict(pl.get("metadata") or {}),
        tenant_id=pl.get("tenant_id") or "",
        agent_id=pl.get("agent_id"),
        session_id=pl.get("session_id"),
        role=pl.get("role"),
        created_at=float(pl["created_at"]),
        updated_at=float(pl["updated_at"]),
        expires_at=None if pl.get("expires_at") is None else float(pl["expires_at"]),
        occurred_at=None if pl.get("occurred_at") is None else float(pl["occurred_at"]),
        speaker=pl.get("speaker"),
        seq=int(pl.get("seq") or 0),
        embedding=emb,
    )


def points(memories: Sequence[StoredMemory], dim: int | None) -> list[Any]:
    """The points of ``memories`` (vectors only when the collection takes them: ``dim``)."""
    m = models()
    out = []
    for mem in memories:
        vec: Any = {}
        if mem.embedding is not None and dim:
            vec = {VECTOR: np.asarray(mem.embedding, dtype=np.float32).tolist()}
        out.append(m.PointStruct(id=point_id(mem.id), vector=vec, payload=payload(mem)))
    return out
