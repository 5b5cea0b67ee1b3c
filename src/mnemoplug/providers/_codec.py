"""Value encodings several backends store alike: embeddings as raw float32 bytes (SQLite and
PostgreSQL columns, Redis hash fields) and compact JSON (metadata columns and blobs)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["compact_json", "vector_bytes", "vector_from_bytes"]


def vector_bytes(v: np.ndarray | None) -> bytes | None:
    """An embedding as float32 bytes (None stays None)."""
    return None if v is None else np.asarray(v, dtype=np.float32).tobytes()


def vector_from_bytes(raw: bytes | bytearray | memoryview | None) -> np.ndarray | None:
    """The float32 embedding stored by :func:`vector_bytes` (None or empty: no embedding)."""
    if not raw:
        return None
    return np.frombuffer(bytes(raw), dtype=np.float32)


def compact_json(value: Any, *, ascii_only: bool = True) -> str:
    """JSON without spaces after separators."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)
