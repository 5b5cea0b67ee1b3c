"""mnemoplug's memories in mem0's payloads, and back.

mem0 makes its own ids and times. mnemoplug keeps its id, tenant, role, session, times, expiry,
speaker, position and metadata in mem0's metadata payload (keys ``mnemoplug_*``; your metadata sits under
``mnemoplug_metadata``; ``created_at`` is passed as mem0's own ISO ``created_at``) and maps them
back; ``session_id`` is mem0's ``run_id``; tenants other than the default one are stored under
mem0 user id ``"<tenant>/<user>"``. Memories that mem0 wrote on its own read back under their
mem0 id, with their mem0 metadata. Vectors of a size mem0's collection cannot hold are kept in
the payload (``mnemoplug_embedding``) so ``export()`` returns them unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from ...core._time import to_ts
from ...core.records import StoredMemory

__all__ = ["P", "mem0_metadata", "mem0_user", "memory_from_payload"]

#: the prefix of mnemoplug's keys in mem0's payload
P = "mnemoplug_"
_RESERVED = {
    "data", "hash", "created_at", "updated_at", "user_id", "agent_id", "run_id", "actor_id",
    "role", "text_lemmatized", "expiration_date", "attributed_to",
}  # fmt: skip


def mem0_user(tenant: str, user_id: str) -> str:
    """mem0's user id of a (tenant, user).

    mem0 refuses ids with whitespace (and trims them): such an id is percent-escaped (``%`` and
    each whitespace character); others pass unchanged, so existing data keeps its id. Two users
    whose mem0 ids coincide are still kept apart: every row is checked against the tenant and
    user in its payload."""
    joined = user_id if not tenant else f"{tenant}/{user_id}"
    if not any(c.isspace() for c in joined):
        return joined
    return "".join(f"%{ord(c):02X}" if c == "%" or c.isspace() else c for c in joined)


def mem0_metadata(m: StoredMemory, mem0_dims: int | None) -> dict[str, Any]:
    """The metadata payload mem0 stores for ``m`` (its collection holds ``mem0_dims``-sized
    vectors; another size is kept verbatim in the payload)."""
    extra: dict[str, Any] = {}
    if m.embedding is not None and mem0_dims is not None and m.embedding.shape[-1] != mem0_dims:
        # mem0's collection cannot hold it: keep it verbatim so export() round-trips it
        extra[P + "embedding"] = np.asarray(m.embedding, dtype=np.float32).tolist()
    return {
        **extra,
        P + "id": m.id,
        P + "tenant": m.tenant_id,
        P + "user": m.user_id,
        P + "role": m.role,
        P + "metadata": m.metadata,
        P + "created_at": m.created_at,
        P + "updated_at": m.updated_at,
        P + "expires_at": m.expires_at,
        P + "occurred_at": m.occurred_at,
        P + "speaker": m.speaker,
        P + "seq": m.seq,
        "created_at": datetime.fromtimestamp(m.created_at, tz=UTC).isoformat(),
    }


def memory_from_payload(
    pid: Any, payload: dict[str, Any], vector: Any, *, original: bool = False
) -> StoredMemory:
    """The memory of a point of mem0's collection (``original``: the vector mnemoplug gave,
    when mem0 could not store it)."""
    emb = None
    if original and payload.get(P + "embedding") is not None:
        vector = payload[P + "embedding"]
    if isinstance(vector, dict):
        vector = next(iter(vector.values()), None)
    if vector is not None and len(vector):
        emb = np.asarray(vector, dtype=np.float32)
        n = float(np.linalg.norm(emb))
        if n > 0:
            emb = emb / n
    if P + "id" in payload:
        return StoredMemory(
            id=payload[P + "id"],
            user_id=payload[P + "user"],
            tenant_id=payload.get(P + "tenant") or "",
            content=payload.get("data", ""),
            metadata=dict(payload.get(P + "metadata") or {}),
            agent_id=payload.get("agent_id"),
            session_id=payload.get("run_id"),
            role=payload.get(P + "role"),
            created_at=float(payload[P + "created_at"]),
            updated_at=float(payload.get(P + "updated_at") or payload[P + "created_at"]),
            expires_at=payload.get(P + "expires_at"),
            occurred_at=payload.get(P + "occurred_at"),
            speaker=payload.get(P + "speaker"),
            seq=int(payload.get(P + "seq") or 0),
            embedding=emb,
        )
    # written by mem0 itself
    created = payload.get("created_at")
    updated = payload.get("updated_at") or created
    return StoredMemory(
        id=str(pid),
        user_id=payload.get("user_id") or "",
        content=payload.get("data", ""),
        metadata={k: v for k, v in payload.items() if k not in _RESERVED and not k.startswith(P)},
        agent_id=payload.get("agent_id"),
        session_id=payload.get("run_id"),
        role=payload.get("role"),
        created_at=to_ts(created) if created else 0.0,
        updated_at=to_ts(updated) if updated else 0.0,
        embedding=emb,
    )
