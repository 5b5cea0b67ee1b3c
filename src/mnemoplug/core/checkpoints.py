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
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from ._time import now_ts, to_dt
from .errors import ConfigurationError, InvalidCheckpointError, MemoryValidationError
from .records import new_memory_id
from .validation import check_id, check_metadata

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
def _json_check(value: Any, path: str = "state") -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidCheckpointError(f"{path} is {value}; JSON has no NaN or infinity")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _json_check(v, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidCheckpointError(
                    f"{path} has a key {k!r} of type {type(k).__name__}; JSON keys must be "
                    f"strings (or pass the state serialised to bytes)"
                )
            _json_check(v, f"{path}[{k!r}]")
        return
    raise InvalidCheckpointError(
        f"{path} is a {type(value).__name__}, which is not JSON-serialisable; store JSON values "
        f"(dict, list, str, number, bool, None) or serialise the state to bytes yourself"
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
    return run_id


def check_checkpoint_id(value: Any, name: str = "checkpoint_id") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 256 or "\x00" in value:
        raise InvalidCheckpointError(
            f"{name} must be a non-empty string (at most 256 characters) or None, got {value!r}"
        )
    return value


def owner_of(user_id: Any, tenant_id: Any) -> tuple[str, str]:
    """``(tenant, user)`` as stored ('' = default tenant); InvalidScopeError when bad."""
    check_id("user_id", user_id, required=True)
    check_id("tenant_id", tenant_id, required=False)
    return (tenant_id or "", user_id)


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidCheckpointError(f"limit must be a positive integer, got {limit!r}")
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


class CheckpointStore(ABC):
    """Abstract checkpoint store. Subclasses implement the ``_``-prefixed primitives; the
    public methods validate input and live here."""

    name: ClassVar[str] = "checkpoints"
    url: str = ""

    # -- primitives ----------------------------------------------------------------------------
    @abstractmethod
    async def _save(
        self,
        owner: tuple[str, str],
        run_id: str,
        checkpoint_id: str,
        parent_id: str | None,
        state_type: str,
        raw: bytes,
        metadata: dict[str, Any],
        created_at: float,
    ) -> None:
        """Insert, or replace state/metadata/parent of an existing (owner, run, id)."""

    @abstractmethod
    async def _load(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> Checkpoint | None:
        """The given checkpoint, or the run's latest, of this owner."""

    @abstractmethod
    async def _list(
        self, owner: tuple[str, str], run_id: str | None, limit: int, before: str | None
    ) -> list[Checkpoint]:
        """Newest first; with ``before``, only those saved before that checkpoint id."""

    @abstractmethod
    async def _delete(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> int:
        """Delete one checkpoint or the whole run; return how many."""

    @abstractmethod
    async def _delete_user(self, owner: tuple[str, str]) -> int:
        """Delete every checkpoint of the owner; return how many."""

    async def close(self) -> None:  # noqa: B027 - optional
        """Release connections (the store reopens on next use)."""

    # -- public API ----------------------------------------------------------------------------
    async def save(
        self,
        run_id: str,
        state: Any,
        *,
        user_id: str,
        tenant_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        checkpoint_id: str | None = None,
        parent_id: str | None = None,
    ) -> Checkpoint:
        """Save ``state`` (JSON value or bytes) as the run's newest checkpoint; return it."""
        owner = owner_of(user_id, tenant_id)
        check_run_id(run_id)
        cid = check_checkpoint_id(checkpoint_id) or new_memory_id()
        check_checkpoint_id(parent_id, "parent_id")
        try:
            meta = check_metadata(metadata)
        except MemoryValidationError as exc:
            raise InvalidCheckpointError(str(exc)) from None
        state_type, raw = encode_state(state)
        created = now_ts()
        await self._save(owner, run_id, cid, parent_id, state_type, raw, meta, created)
        return build_checkpoint(
            run_id=run_id, checkpoint_id=cid, tenant=owner[0], user=owner[1],
            state_type=state_type, raw=raw, metadata=meta, parent_id=parent_id,
            created_at=created,
        )

    async def load(
        self,
        run_id: str,
        *,
        user_id: str,
        tenant_id: str | None = None,
        checkpoint_id: str | None = None,
    ) -> Checkpoint | None:
        """The run's latest checkpoint (or the one named); None when absent or not the
        caller's."""
        owner = owner_of(user_id, tenant_id)
        check_run_id(run_id)
        return await self._load(owner, run_id, check_checkpoint_id(checkpoint_id))

    async def list(
        self,
        *,
        user_id: str,
        tenant_id: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
        before: str | Checkpoint | None = None,
    ) -> list[Checkpoint]:
        """The owner's checkpoints (of one run when ``run_id``), newest first; ``before`` (a
        checkpoint id or Checkpoint) keeps only older ones."""
        owner = owner_of(user_id, tenant_id)
        if run_id is not None:
            check_run_id(run_id)
        if isinstance(before, Checkpoint):
            before = before.checkpoint_id
        return await self._list(
            owner, run_id, _check_limit(limit), check_checkpoint_id(before, "before")
        )

    async def delete(
        self,
        run_id: str,
        *,
        user_id: str,
        tenant_id: str | None = None,
        checkpoint_id: str | None = None,
    ) -> int:
        """Delete the run's checkpoints (or one); return how many."""
        owner = owner_of(user_id, tenant_id)
        check_run_id(run_id)
        return await self._delete(owner, run_id, check_checkpoint_id(checkpoint_id))

    async def delete_user(self, user_id: str, tenant_id: str | None = None) -> int:
        """Delete every checkpoint of the user (in the tenant); return how many."""
        return await self._delete_user(owner_of(user_id, tenant_id))

    async def __aenter__(self) -> CheckpointStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def checkpoint_store_from_url(url: str, **options: Any) -> CheckpointStore:
    """A checkpoint store for ``url``: ``memory://``, ``sqlite:///path.db``, ``redis://…``,
    ``postgresql+asyncpg://…``. Keyword options go to the backend."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"expected a URL such as memory://, sqlite:///checkpoints.db, redis://localhost:6379/0 "
            f"or postgresql+asyncpg://host/db; got {url!r}"
        )
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from ..providers.checkpoint_memory import InMemoryCheckpointStore

        return InMemoryCheckpointStore(**options)
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        from ..providers.checkpoint_sqlite import SQLiteCheckpointStore

        return SQLiteCheckpointStore(url, **options)
    if scheme in ("redis", "rediss", "unix"):
        from ..providers.checkpoint_redis import RedisCheckpointStore

        return RedisCheckpointStore(url, **options)
    if scheme in ("postgresql", "postgresql+asyncpg", "postgres"):
        from ..providers.checkpoint_postgres import PostgresCheckpointStore

        return PostgresCheckpointStore(url, **options)
    raise ConfigurationError(
        f"no checkpoint store handles {scheme}:// URLs; use memory://, sqlite:///…, redis://… "
        f"or postgresql+asyncpg://…"
    )
