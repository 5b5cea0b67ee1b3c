"""Durable runs for ``@agent_endpoint(durable=True)``: run ids, checkpoints, resume, stored results.

A run is identified by ``(tenant, user, run_id)`` in the Memory's checkpoint store
(``Memory(checkpoints="sqlite:///runs.db")``). Its checkpoints are the progress the function saved
with ``await ctx.checkpoint(state)`` (metadata ``{"mnemoplug_run": "progress", "step": n}``) and,
once the function returned, one *finished* checkpoint holding the result and the turn to store
(metadata ``{"mnemoplug_run": "finished", "turn_stored": bool}``). A call with the run id of a
finished run returns that result without running the function again; a call with the run id of an
unfinished run (a crash, an exception) runs the function with ``ctx.resumed_state`` set to the last
progress checkpoint. The checkpoint store is scoped by owner, so another user (or tenant) sending
the same run id starts a fresh run of their own and never sees the first user's state or result.

Calls with the same run id are serialised by a lock held in this process (per event loop); across
processes (several workers, several hosts) nothing prevents two calls from running at once, and the
later finished checkpoint wins — route a run id to one worker, or have clients wait for the answer
before retrying.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from ..core.checkpoints import Checkpoint, check_run_id
from ..core.errors import ConfigurationError
from ..core.records import new_memory_id

__all__ = [
    "RUN_ID_HEADER",
    "RUN_STATUS_HEADER",
    "AgentUser",
    "DurableRun",
    "checkpoint_store_of",
    "http_params",
    "new_run_id",
]

RUN_ID_HEADER = "X-Run-Id"
RUN_STATUS_HEADER = "X-Run-Status"  # new | resumed | replayed
KIND_KEY = "mnemoplug_run"
REQUEST_PARAM = "_mnemoplug_request"
RESPONSE_PARAM = "_mnemoplug_response"


def new_run_id() -> str:
    """A fresh, time-ordered run id (UUIDv7 layout)."""
    return new_memory_id()


class AgentUser:
    """Who the request is for: ``ctx.user.id`` and ``ctx.user.tenant_id``."""

    __slots__ = ("id", "tenant_id")

    def __init__(self, id: str, tenant_id: str | None = None) -> None:
        self.id = id
        self.tenant_id = tenant_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgentUser) and (self.id, self.tenant_id) == (
            other.id,
            other.tenant_id,
        )

    def __hash__(self) -> int:
        return hash((self.id, self.tenant_id))

    def __repr__(self) -> str:
        return f"AgentUser(id={self.id!r}, tenant_id={self.tenant_id!r})"


def checkpoint_store_of(memory: Any, where: str) -> Any:
    """The Memory's checkpoint store, or a ConfigurationError saying how to attach one."""
    store = getattr(memory, "checkpoints", None)
    if store is None:
        raise ConfigurationError(
            f"{where}: durable=True needs a checkpoint store on the Memory, e.g. "
            f'Memory(..., checkpoints="sqlite:///runs.db")'
        )
    return store


def http_params() -> tuple[Any, Any] | None:
    """Starlette's ``Request`` and ``Response`` when installed (FastAPI injects parameters
    annotated with them), else None. Imported lazily: nothing requires FastAPI."""
    try:
        from starlette.requests import Request
        from starlette.responses import Response
    except ImportError:
        return None
    return Request, Response


class _RunLocks:
    """One asyncio.Lock per (event loop, store, owner, run id), dropped once nobody holds it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[Any, ...], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def get(self, key: tuple[Any, ...]) -> asyncio.Lock:
        full = (id(asyncio.get_running_loop()), *key)
        lock = self._locks.get(full)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[full] = lock
        return lock


_LOCKS = _RunLocks()


class DurableRun:
    """The checkpoints of one run of one owner."""

    def __init__(self, store: Any, run_id: str, user_id: str, tenant_id: str | None) -> None:
        self.store = store
        self.run_id = check_run_id(run_id)
        self.user_id = user_id
        self.tenant_id = tenant_id
        self.status = "new"
        self.resumed_state: Any = None
        self.steps = 0
        self.last_id: str | None = None
        self.finished: Checkpoint | None = None

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold the in-process lock of this run (same store, owner and run id)."""
        lock = _LOCKS.get((id(self.store), self.tenant_id or "", self.user_id, self.run_id))
        async with lock:
            yield

    def _owner(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "tenant_id": self.tenant_id}

    async def start(self) -> None:
        """Read the run's latest checkpoint: finished, resumable, or nothing (a new run)."""
        latest = await self.store.load(self.run_id, **self._owner())
        if latest is None:
            return
        self.last_id = latest.checkpoint_id
        kind = latest.metadata.get(KIND_KEY)
        if kind == "finished":
            self.finished = latest
            self.status = "replayed"
            return
        self.status = "resumed"
        self.resumed_state = latest.state
        step = latest.metadata.get("step")
        self.steps = step if isinstance(step, int) and not isinstance(step, bool) else 0

    async def checkpoint(self, state: Any, metadata: Mapping[str, Any] | None = None) -> Checkpoint:
        """Save progress (JSON value or bytes) as the run's newest checkpoint."""
        if self.finished is not None:
            raise ConfigurationError(f"run {self.run_id!r} has finished; it takes no checkpoints")
        meta = {**dict(metadata or {}), KIND_KEY: "progress", "step": self.steps + 1}
        cp: Checkpoint = await self.store.save(
            self.run_id, state, metadata=meta, parent_id=self.last_id, **self._owner()
        )
        self.steps += 1
        self.last_id = cp.checkpoint_id
        return cp

    async def finish(self, result: Any, turn: Mapping[str, Any] | None) -> None:
        """Store the (JSON-ready) result, and the turn still to store in long-term memory."""
        state = {"result": result, "turn": dict(turn) if turn is not None else None}
        meta = {KIND_KEY: "finished", "turn_stored": turn is None, "steps": self.steps}
        self.finished = await self.store.save(
            self.run_id, state, metadata=meta, parent_id=self.last_id, **self._owner()
        )

    @property
    def result(self) -> Any:
        """The stored (JSON-ready) result of a finished run."""
        if self.finished is None or not isinstance(self.finished.state, Mapping):
            return None
        return self.finished.state.get("result")

    @property
    def pending_turn(self) -> Mapping[str, Any] | None:
        """The turn of a finished run not yet stored in long-term memory (a crash between the
        two writes), else None."""
        cp = self.finished
        if cp is None or cp.metadata.get("turn_stored") or not isinstance(cp.state, Mapping):
            return None
        turn = cp.state.get("turn")
        return turn if isinstance(turn, Mapping) else None

    async def mark_turn_stored(self) -> None:
        """Record on the finished checkpoint that its turn was stored (or given up on)."""
        cp = self.finished
        if cp is None:
            return
        meta = {**cp.metadata, "turn_stored": True}
        self.finished = await self.store.save(
            self.run_id,
            cp.state,
            metadata=meta,
            checkpoint_id=cp.checkpoint_id,
            parent_id=cp.parent_id,
            **self._owner(),
        )


def encode_result(result: Any, where: str) -> Any:
    """The function's result as a JSON value to store (bytes as ``{"__bytes__": hex}``)."""
    if isinstance(result, bytes | bytearray | memoryview):
        return {"__bytes__": bytes(result).hex()}
    from pydantic_core import PydanticSerializationError, to_jsonable_python

    try:
        return to_jsonable_python(result)
    except PydanticSerializationError as exc:
        raise ConfigurationError(
            f"{where}: a durable endpoint must return a JSON-serialisable value (a str, dict, "
            f"list, pydantic model, bytes...), got {type(result).__name__}: {exc}"
        ) from None


def result_decoder(annotation: Any) -> Any:
    """``f(stored) -> value`` rebuilding the declared return type (a pydantic model, ...) from the
    stored JSON when it validates, else returning the JSON as is."""
    import inspect

    adapter: Any = None
    if annotation not in (inspect.Signature.empty, Any, None):
        try:
            from pydantic import TypeAdapter

            adapter = TypeAdapter(annotation)
        except Exception:  # not a type pydantic knows (a Response class, a string annotation)
            adapter = None

    def decode(stored: Any) -> Any:
        if isinstance(stored, Mapping) and set(stored) == {"__bytes__"}:
            return bytes.fromhex(str(stored["__bytes__"]))
        if adapter is not None:
            try:
                return adapter.validate_python(stored)
            except Exception:
                return stored
        return stored

    return decode


def with_run_id(result: Any, field: Any, run_id: str) -> Any:
    """``result`` carrying the run id where that is sensible: a dict gets ``field`` (when it does
    not set it already); a pydantic model with that field unset (None) gets a copy with it set.
    Anything else is returned unchanged (the id still travels in the ``X-Run-Id`` header)."""
    if not isinstance(field, str):
        return result
    if isinstance(result, dict):
        if result.get(field) is None:
            return {**result, field: run_id}
        return result
    fields = getattr(type(result), "model_fields", None)
    copy = getattr(result, "model_copy", None)
    if isinstance(fields, Mapping) and field in fields and callable(copy):
        if getattr(result, field, None) is None:
            return copy(update={field: run_id})
    return result
