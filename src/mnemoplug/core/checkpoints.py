"""Checkpoints for durable runs: the state of an agent run saved step by step, so that a run
can resume after a crash or be inspected later.

A checkpoint belongs to ``(tenant_id, user_id)`` and a ``run_id`` (a thread/conversation);
every method takes the owner and never reads or deletes another owner's checkpoints: a
``load`` of someone else's ``run_id`` returns None. ``state`` is either a JSON-serialisable
value or ``bytes`` (a serialised blob, e.g. what a LangGraph serde produced); it comes back as
the same kind (``Checkpoint.state_type`` is ``"json"`` or ``"bytes"``).

Checkpoint ids are time-ordered strings (UUIDv7-style) unless given; listing is newest first
by save order (a per-store sequence), efficient per ``run_id``. Saving an existing
``checkpoint_id`` of the same run replaces its state and metadata, keeping its position.

Backends: ``memory://``, ``sqlite:///path.db``, ``redis://…``, ``postgresql+asyncpg://…`` —
see :func:`checkpoint_store_from_url`. ``tests/core/test_checkpoint_contract.py`` holds them
all to this contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._time import to_dt
from .errors import InvalidCheckpointError
from .validation import check_id, check_json_value, check_text

if TYPE_CHECKING:
    from .stores import CheckpointStore

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "InvalidCheckpointError",
    "checkpoint_store_from_url",
]

StateType = Literal["json", "bytes"]


class Checkpoint(BaseModel):
    """One saved state of a run.

    ``state`` is the JSON value or the bytes given to ``save``; ``state_type`` says which.
    ``created_at`` is an aware UTC datetime.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    run_id: str
    checkpoint_id: str
    user_id: str
    tenant_id: str | None = None
    state: Any = None
    state_type: StateType = "json"
    metadata: dict[str, Any] = Field(default_factory=dict)
    parent_id: str | None = None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (bytes state as latin-1 is not done: bytes state is hex)."""
        d = self.model_dump(mode="python")
        d["created_at"] = self.created_at.isoformat()
        if self.state_type == "bytes":
            d["state"] = bytes(self.state).hex()
        return d


# -- encoding shared by the backends ------------------------------------------------------------
def _json_check(value: Any, path: str = "") -> None:
    if isinstance(value, Mapping | list | tuple | str | int | float) or value is None:
        check_json_value(value, path, InvalidCheckpointError, what="state")
        return
    raise InvalidCheckpointError(
        f"state{path} is a {type(value).__name__}, which is not JSON-serialisable; store JSON "
        f"values (dict, list, str, number, bool, None) or serialise the state to bytes yourself"
    )


def encode_state(state: Any) -> tuple[StateType, bytes]:
    """``("bytes", raw)`` for bytes-like state, ``("json", utf-8 JSON)`` otherwise."""
    if isinstance(state, bytes | bytearray | memoryview):
        return "bytes", bytes(state)
    _json_check(state)
    return "json", json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_state(state_type: str, raw: bytes) -> Any:
    if state_type == "bytes":
        return bytes(raw)
    return json.loads(bytes(raw).decode("utf-8"))


def check_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not run_id.strip() or "\x00" in run_id:
        raise InvalidCheckpointError(
            f"run_id must be a non-empty string without NUL, got {run_id!r}; use the thread or "
            f"conversation id of the run"
        )
    if len(run_id) > 512:
        raise InvalidCheckpointError(f"run_id is {len(run_id)} characters; the limit is 512")
    return check_text(run_id, "run_id", InvalidCheckpointError)


def check_checkpoint_id(value: Any, name: str = "checkpoint_id") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 256 or "\x00" in value:
        raise InvalidCheckpointError(
            f"{name} must be a non-empty string (at most 256 characters) or None, got {value!r}"
        )
    return check_text(value, name, InvalidCheckpointError)


def owner_of(user_id: Any, tenant_id: Any) -> tuple[str, str]:
    """``(tenant, user)`` as stored ('' = default tenant); InvalidScopeError when bad."""
    check_id("user_id", user_id, required=True)
    check_id("tenant_id", tenant_id, required=False)
    return (tenant_id or "", user_id)


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 2**31 - 1:
        raise InvalidCheckpointError(f"limit must be an integer from 1 to 2**31-1, got {limit!r}")
    return limit


def build_checkpoint(
    *,
    run_id: str,
    checkpoint_id: str,
    tenant: str,
    user: str,
    state_type: str,
    raw: bytes,
    metadata: dict[str, Any] | str,
    parent_id: str | None,
    created_at: float,
) -> Checkpoint:
    return Checkpoint.model_construct(
        run_id=run_id,
        checkpoint_id=checkpoint_id,
        user_id=user,
        tenant_id=tenant or None,
        state=decode_state(state_type, raw),
        state_type=state_type,
        metadata=json.loads(metadata) if isinstance(metadata, str) else metadata,
        parent_id=parent_id,
        created_at=to_dt(created_at),
    )


def checkpoint_store_from_url(url: str, **options: Any) -> CheckpointStore:
    """A checkpoint store for ``url``: ``memory://``, ``sqlite:///path.db``, ``redis://…``,
    ``postgresql+asyncpg://…``, or any scheme a plugin registered with ``kind="checkpoint"``.
    Keyword options go to the backend."""
    from .registry import store_from_url

    store: CheckpointStore = store_from_url("checkpoint", url, **options)
    return store


def __getattr__(name: str) -> Any:
    if name == "CheckpointStore":  # the contract lives with the other two in core.stores
        from .stores import CheckpointStore

        return CheckpointStore
    raise AttributeError(name)
