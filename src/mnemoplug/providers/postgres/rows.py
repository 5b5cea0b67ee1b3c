"""Rows of the PostgreSQL memories table: what the shared SQL rows
(:mod:`mnemoplug.providers.sql.rows`) need on top here — PostgreSQL text and JSONB cannot hold
NUL characters (refused before anything is sent), metadata is cast to JSONB, and bulk inserts
bind one array per column."""

from __future__ import annotations

from typing import Any

from ...core.errors import InvalidContentError, InvalidMetadataError
from ...core.records import StoredMemory
from .._changes import MemoryChanges
from ..sql.rows import memory_params

__all__ = ["ARRAY_TYPES", "VALUES", "check_changes", "row_params"]

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


def row_params(m: StoredMemory) -> dict[str, Any]:
    """Bind parameters of one memory (NUL characters refused)."""
    _check(m.content, m.metadata)
    return memory_params(m)


def check_changes(changes: MemoryChanges) -> None:
    """Refuse an update whose new content or metadata holds NUL characters."""
    _check(changes.content, changes.metadata)
