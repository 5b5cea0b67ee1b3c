"""Rows of the PostgreSQL memories table: what the shared SQL rows
(:mod:`mnemoplug.providers.sql.rows`) need on top here — PostgreSQL text and JSONB cannot hold
NUL characters (refused before anything is sent), metadata is cast to JSONB, and bulk inserts
bind one array per column. JSONB keeps numbers as ``numeric``, which has no negative zero and
prints ``2.5e16`` as an integer: metadata holding such floats is stored as its exact JSON text
inside JSONB (see :func:`metadata_json`), so every value reads back as it was written."""

from __future__ import annotations

import json
import math
from typing import Any

from ...core.errors import InvalidContentError, InvalidMetadataError
from ...core.records import StoredMemory
from .._changes import MemoryChanges
from .._codec import compact_json
from ..sql import rows as sql_rows
from ..sql.rows import memory_params

__all__ = [
    "ARRAY_TYPES",
    "EXACT_KEY",
    "VALUES",
    "check_changes",
    "memory_from_row",
    "metadata_json",
    "row_params",
]

#: the one key of a JSONB value that holds metadata as exact JSON text (a string)
EXACT_KEY = "\u2063mnemoplug:exact-json"

#: VALUES of one row of :data:`~mnemoplug.providers.sql.rows.COLUMNS`
VALUES = (
    "(:id, :tenant_id, :user_id, :agent_id, :session_id, :role, :content, "
    "CAST(:metadata AS jsonb), :embedding, :created_at, :updated_at, :expires_at, "
    ":occurred_at, :speaker, :seq)"
)
#: the array type of each column in a bulk ``unnest`` insert
ARRAY_TYPES = {
    "id": "text",
    "tenant_id": "text",
    "user_id": "text",
    "agent_id": "text",
    "session_id": "text",
    "role": "text",
    "content": "text",
    "metadata": "jsonb",
    "embedding": "bytea",
    "created_at": "float8",
    "updated_at": "float8",
    "expires_at": "float8",
    "occurred_at": "float8",
    "speaker": "text",
    "seq": "int4",
}

_NUL_CONTENT = "PostgreSQL text cannot hold NUL characters ('\\x00'); remove them from the content"
_NUL_METADATA = (
    "PostgreSQL JSONB cannot hold NUL characters ('\\x00'); remove them from the metadata"
)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _check(content: str | None, metadata: Any) -> None:
    if content is not None and "\x00" in content:
        raise InvalidContentError(_NUL_CONTENT)
    if metadata is not None and _has_nul(metadata):
        raise InvalidMetadataError(_NUL_METADATA)


def _inexact_in_jsonb(value: Any) -> bool:
    """True when JSONB would not give ``value`` back as written: a float printed with an
    exponent (``2.5e+16`` comes back as an integer) or a negative zero (numeric has none)."""
    if isinstance(value, float):
        return "e" in repr(value) or (value == 0.0 and math.copysign(1.0, value) < 0)
    if isinstance(value, dict):
        return any(_inexact_in_jsonb(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_inexact_in_jsonb(v) for v in value)
    return False


def metadata_json(metadata: dict[str, Any]) -> str:
    """The JSON to cast to JSONB: the metadata itself, or — when JSONB would change one of
    its numbers, or it uses :data:`EXACT_KEY` itself — ``{EXACT_KEY: "<its JSON text>"}``."""
    text = compact_json(metadata)
    if EXACT_KEY in metadata or _inexact_in_jsonb(metadata):
        return compact_json({EXACT_KEY: text})
    return text


def memory_from_row(r: Any) -> StoredMemory:
    """:func:`~mnemoplug.providers.sql.rows.memory_from_row`, exact metadata unwrapped."""
    m = sql_rows.memory_from_row(r)
    md = m.metadata
    if len(md) == 1 and isinstance(md.get(EXACT_KEY), str):
        m.metadata = json.loads(md[EXACT_KEY])
    return m


def row_params(m: StoredMemory) -> dict[str, Any]:
    """Bind parameters of one memory (NUL characters refused)."""
    _check(m.content, m.metadata)
    p = memory_params(m)
    p["metadata"] = metadata_json(m.metadata)
    return p


def check_changes(changes: MemoryChanges) -> None:
    """Refuse an update whose new content or metadata holds NUL characters."""
    _check(changes.content, changes.metadata)
