"""How the Redis stores encode values.

* Memories: a hash per memory, ``j`` = the record as compact JSON (short field names: ``id``,
  ``t`` tenant, ``u`` user, ``a`` agent, ``s`` session, ``r`` role, ``c`` content, ``md``
  metadata, ``ca``/``ua``/``ea``/``oa`` created/updated/expires/occurred at, ``sp`` speaker,
  ``q`` position in its add call) and ``e`` = the embedding as float32 bytes (absent without
  one).
* Session messages: JSON, zlib-compressed when the store compresses (reads tell them apart).
* Checkpoints: ``<4-byte header length><JSON header><raw state bytes>``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.checkpoints import Checkpoint, build_checkpoint
from ...core.records import StoredMemory
from ...core.session import Message, decode_message, encode_message
from .._codec import compact_json, vector_bytes

__all__ = [
    "decode_memories",
    "decode_memory",
    "decode_session_message",
    "encode_memory",
    "encode_session_message",
    "memory_json",
    "pack_checkpoint",
    "text",
    "unpack_checkpoint",
]


def text(v: Any) -> str:
    """A reply value as ``str`` (replies are bytes)."""
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


# -- memories ------------------------------------------------------------------------------
def memory_json(m: StoredMemory) -> str:
    """The ``j`` field of a memory's hash."""
    d: dict[str, Any] = {
        "id": m.id,
        "t": m.tenant_id,
        "u": m.user_id,
        "c": m.content,
        "md": m.metadata,
        "ca": float(m.created_at),
        "ua": float(m.updated_at),
    }
    if m.agent_id is not None:
        d["a"] = m.agent_id
    if m.session_id is not None:
        d["s"] = m.session_id
    if m.role is not None:
        d["r"] = m.role
    if m.expires_at is not None:
        d["ea"] = float(m.expires_at)
    if m.occurred_at is not None:
        d["oa"] = float(m.occurred_at)
    if m.speaker is not None:
        d["sp"] = m.speaker
    if m.seq:
        d["q"] = int(m.seq)
    return compact_json(d, ascii_only=False)


def encode_memory(m: StoredMemory) -> dict[str, Any]:
    """A memory's hash fields."""
    d: dict[str, Any] = {"j": memory_json(m)}
    e = vector_bytes(m.embedding)
    if e is not None:
        d["e"] = e
    return d


def decode_memory(j: bytes | str | None, e: bytes | None = None) -> StoredMemory | None:
    """A memory from its hash fields (None when the hash is missing or not ours)."""
    if not j:
        return None
    try:
        d = json.loads(j)
        return StoredMemory(
            id=d["id"],
            tenant_id=d.get("t", ""),
            user_id=d["u"],
            agent_id=d.get("a"),
            session_id=d.get("s"),
            role=d.get("r"),
            content=d["c"],
            metadata=d.get("md") or {},
            embedding=None if not e else np.frombuffer(e, dtype=np.float32).copy(),
            created_at=float(d["ca"]),
            updated_at=float(d["ua"]),
            expires_at=None if d.get("ea") is None else float(d["ea"]),
            occurred_at=None if d.get("oa") is None else float(d["oa"]),
            speaker=d.get("sp"),
            seq=int(d.get("q") or 0),
        )
    except (ValueError, KeyError, TypeError):
        return None


def decode_memories(flat: Sequence[bytes]) -> list[StoredMemory]:
    """Memories from the loader scripts' flat reply ``[j1, e1, j2, e2, ...]``."""
    out: list[StoredMemory] = []
    for i in range(0, len(flat) - 1, 2):
        m = decode_memory(flat[i], flat[i + 1])
        if m is not None:
            out.append(m)
    return out


# -- session messages ----------------------------------------------------------------------
def encode_session_message(m: Message, *, compress: bool) -> bytes:
    raw = encode_message(m).encode("utf-8")
    return zlib.compress(raw) if compress else raw


def decode_session_message(raw: bytes) -> Message:
    """A stored message, compressed or not (JSON starts with ``{``, zlib never does)."""
    if raw[:1] != b"{":
        raw = zlib.decompress(raw)
    return decode_message(raw)


# -- checkpoints ---------------------------------------------------------------------------
def pack_checkpoint(header: dict[str, Any], raw: bytes) -> bytes:
    h = compact_json(header, ascii_only=False).encode("utf-8")
    return struct.pack(">I", len(h)) + h + raw


def unpack_checkpoint(blob: bytes) -> Checkpoint:
    (n,) = struct.unpack(">I", blob[:4])
    h = json.loads(blob[4 : 4 + n])
    return build_checkpoint(
        run_id=h["run_id"],
        checkpoint_id=h["checkpoint_id"],
        tenant=h["tenant"],
        user=h["user"],
        state_type=h["state_type"],
        raw=blob[4 + n :],
        metadata=h["metadata"],
        parent_id=h["parent_id"],
        created_at=h["created_at"],
    )
