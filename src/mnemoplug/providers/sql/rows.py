"""The memories table as the SQLite and PostgreSQL memory stores both lay it out: its
columns, a row <-> :class:`~mnemoplug.core.records.StoredMemory` in both directions, the scope
condition every statement carries, and the ``SET`` clause of an update."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ...core.records import Scope, StoredMemory
from .._changes import MemoryChanges
from .._codec import compact_json, vector_bytes, vector_from_bytes

__all__ = [
    "COLUMNS",
    "LIVE",
    "N_COLUMNS",
    "PLACEHOLDERS",
    "columns_of",
    "memory_from_row",
    "memory_params",
    "scope_where",
    "update_assignments",
]

#: the memory columns, in the order :func:`memory_from_row` reads them
COLUMNS = (
    "id, tenant_id, user_id, agent_id, session_id, role, content, metadata, embedding, "
    "created_at, updated_at, expires_at, occurred_at, speaker, seq"
)
#: how many :data:`COLUMNS` there are
N_COLUMNS = len(COLUMNS.split(", "))
#: ``:id, :tenant_id, …``: one bind parameter a column, named after it
PLACEHOLDERS = ", ".join(f":{c}" for c in COLUMNS.split(", "))


def columns_of(alias: str) -> str:
    """:data:`COLUMNS` qualified by a table alias (``m.id, m.tenant_id, …``)."""
    return ", ".join(f"{alias}.{c}" for c in COLUMNS.split(", "))


#: rows not expired at ``:now``
LIVE = "(expires_at IS NULL OR expires_at > :now)"


def memory_from_row(r: Any) -> StoredMemory:
    """A memory from a row of :data:`COLUMNS` (metadata as JSON text or already decoded)."""
    md = r[7]
    if isinstance(md, str | bytes):
        md = json.loads(md)
    return StoredMemory(
        id=r[0],
        tenant_id=r[1],
        user_id=r[2],
        agent_id=r[3],
        session_id=r[4],
        role=r[5],
        content=r[6],
        metadata=md,
        embedding=vector_from_bytes(r[8]),
        created_at=float(r[9]),
        updated_at=float(r[10]),
        expires_at=None if r[11] is None else float(r[11]),
        occurred_at=None if r[12] is None else float(r[12]),
        speaker=r[13],
        seq=int(r[14] or 0),
    )


def memory_params(m: StoredMemory) -> dict[str, Any]:
    """Bind parameters of one row, named after :data:`COLUMNS`."""
    return {
        "id": m.id,
        "tenant_id": m.tenant_id,
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "session_id": m.session_id,
        "role": m.role,
        "content": m.content,
        "metadata": compact_json(m.metadata),
        "embedding": vector_bytes(m.embedding),
        "created_at": float(m.created_at),
        "updated_at": float(m.updated_at),
        "expires_at": None if m.expires_at is None else float(m.expires_at),
        "occurred_at": None if m.occurred_at is None else float(m.occurred_at),
        "speaker": m.speaker,
        "seq": int(m.seq),
    }


def scope_where(scope: Scope, p: dict[str, Any]) -> str:
    """The condition selecting the rows in ``scope`` (its parameters go into ``p``)."""
    p["t"], p["u"] = scope.tenant, scope.user_id
    sql = "tenant_id = :t AND user_id = :u"
    if scope.agent_id is not None:
        p["a"] = scope.agent_id
        sql += " AND agent_id = :a"
    if scope.session_id is not None:
        p["s"] = scope.session_id
        sql += " AND session_id = :s"
    return sql


def update_assignments(
    changes: MemoryChanges,
    p: dict[str, Any],
    *,
    metadata_value: Callable[[str], str] = lambda param: param,
) -> list[str]:
    """``column = :param`` assignments applying ``changes`` (parameters into ``p``, named after
    their columns); ``metadata_value`` wraps the metadata parameter (a CAST, in PostgreSQL)."""
    sets: list[str] = []
    for col, value in changes.fields().items():
        if col == "embedding":
            value = vector_bytes(value)
        elif col == "metadata":
            value = compact_json(value)
        p[col] = value
        sets.append(f"{col} = {metadata_value(':metadata') if col == 'metadata' else ':' + col}")
    return sets
