"""Records and scopes.

``MemoryRecord`` is the public, typed (pydantic v2) view of a memory; it also reads like the
seeds' dicts (``rec["content"]``, ``rec.get("score")``, ``rec.to_dict()``).
``StoredMemory`` is the light internal row that providers keep and return.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ._time import to_dt

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MemoryRecord",
    "Scope",
    "StoredMemory",
    "copy_json",
    "new_memory_id",
    "stored_from_record",
]

DEFAULT_TENANT = ""


def new_memory_id() -> str:
    """A UUIDv7-style id: time-ordered (millisecond prefix) and random, as a canonical string."""
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (
        (ms << 80)
        | (0x7 << 76)
        | ((rand >> 68) & 0xFFF) << 64
        | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists copied, scalars shared): what a store keeps
    and what a caller gets never share a mutable part. Much faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {k: copy_json(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) if isinstance(v, dict | list) else v for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a memory belongs to. ``(tenant_id, user_id)`` is the isolation boundary;
    ``agent_id`` and ``session_id`` narrow a query when set (None = any)."""

    user_id: str
    tenant_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None

    @property
    def tenant(self) -> str:
        return self.tenant_id or DEFAULT_TENANT

    @property
    def user_key(self) -> tuple[str, str]:
        return (self.tenant, self.user_id)

    def owns(self, m: StoredMemory) -> bool:
        """True when the memory lies inside this scope (the isolation check)."""
        return (
            m.user_id == self.user_id
            and m.tenant_id == self.tenant
            and (self.agent_id is None or m.agent_id == self.agent_id)
            and (self.session_id is None or m.session_id == self.session_id)
        )

    def as_dict(self) -> dict[str, str]:
        d = {"user_id": self.user_id}
        if self.tenant_id:
            d["tenant_id"] = self.tenant_id
        if self.agent_id is not None:
            d["agent_id"] = self.agent_id
        if self.session_id is not None:
            d["session_id"] = self.session_id
        return d


@dataclass(slots=True)
class StoredMemory:
    """A memory as providers store it. Times are UTC epoch seconds; ``tenant_id`` is '' for the
    default tenant; ``embedding`` is a normalised float32 vector or None.

    ``occurred_at`` is when it was said or happened (None in rows written before it existed:
    :attr:`when` falls back to ``created_at``); ``speaker`` is who said it (a chat message's
    ``name``); ``seq`` is its position in the ``add`` call that stored it, which orders the
    memories of one call (they share ``created_at``)."""

    id: str
    user_id: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)
    tenant_id: str = DEFAULT_TENANT
    agent_id: str | None = None
    session_id: str | None = None
    role: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    expires_at: float | None = None
    embedding: np.ndarray | None = None
    occurred_at: float | None = None
    speaker: str | None = None
    seq: int = 0

    @property
    def when(self) -> float:
        """When it happened: ``occurred_at``, else ``created_at``."""
        return self.created_at if self.occurred_at is None else self.occurred_at

    @property
    def indexed_text(self) -> str:
        """What its vector embeds and lexical search indexes: the content, said by its speaker
        when it has one (``"Melanie: I adopted a dog."``): who said it is part of what it
        means (LoCoMo dev hit@10 0.797 with the speaker embedded, 0.741 without)."""
        return self.content if self.speaker is None else f"{self.speaker}: {self.content}"

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def copy(self, **changes: Any) -> StoredMemory:
        return replace(self, **changes)

    def detached(self) -> StoredMemory:
        """A copy sharing no mutable metadata with this one (for a store's cache)."""
        return replace(self, metadata=copy_json(self.metadata)) if self.metadata else self.copy()

    def to_record(
        self, score: float | None = None, similarity: float | None = None
    ) -> MemoryRecord:
        # every field is already of its declared type: build it without validating (pydantic's
        # validation, or even model_construct, took most of a warm search's facade time)
        return _trusted_record(
            {
                "id": self.id,
                "content": self.content,
                "metadata": copy_json(self.metadata) if self.metadata else {},
                "user_id": self.user_id,
                "tenant_id": self.tenant_id or None,
                "agent_id": self.agent_id,
                "session_id": self.session_id,
                "role": self.role,
                "created_at": to_dt(self.created_at),
                "updated_at": to_dt(self.updated_at),
                "expires_at": to_dt(self.expires_at),
                "occurred_at": to_dt(self.when),
                "speaker": self.speaker,
                "score": score,
                "similarity": similarity,
            }
        )


class MemoryRecord(BaseModel):
    """One memory as the public API returns it.

    ``score`` is set on search hits: the fused ranking score, higher is better, at most 1 —
    a weighted mean of the cosine (-1..1), the normalised BM25 score and recency (0..1), so
    [-2/3, 1] with the default weights and [0, 1] without an embedder (hosted Mem0 and Zep pass
    on their service's own score). ``similarity`` is the cosine similarity of the query and the
    memory, in [-1, 1] (None without an embedder); ``min_relevance`` thresholds apply to it.
    ``occurred_at`` is when it was said or happened (``add(occurred_at=...)`` or a message's
    own timestamp; else when it was added); ``speaker`` is who said it (a message's ``name``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    user_id: str
    tenant_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    role: str | None = None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    occurred_at: datetime | None = None
    speaker: str | None = None
    score: float | None = None
    similarity: float | None = None

    @property
    def category(self) -> Any:
        return self.metadata.get("category")

    # Read like the seeds' dicts where cheap.
    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        if key == "memory":  # mem0's name for the content
            return self.content
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in type(self).model_fields

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> list[str]:
        return list(type(self).model_fields)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO-8601 strings)."""
        return self.model_dump(mode="json")


def _trusted_record(values: dict[str, Any]) -> MemoryRecord:
    """A :class:`MemoryRecord` from values of their declared types, one per field in field order:
    what ``MemoryRecord.model_construct`` makes, in a tenth of its time (tests compare the two)."""
    record = MemoryRecord.__new__(MemoryRecord)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", set(values))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record


def stored_from_record(r: MemoryRecord) -> StoredMemory:
    """The row view of a record (no embedding), for filter matching."""
    return StoredMemory(
        id=r.id,
        user_id=r.user_id,
        content=r.content,
        metadata=copy_json(r.metadata),
        tenant_id=r.tenant_id or DEFAULT_TENANT,
        agent_id=r.agent_id,
        session_id=r.session_id,
        role=r.role,
        created_at=r.created_at.timestamp(),
        updated_at=r.updated_at.timestamp(),
        expires_at=None if r.expires_at is None else r.expires_at.timestamp(),
        occurred_at=None if r.occurred_at is None else r.occurred_at.timestamp(),
        speaker=r.speaker,
    )
