"""Operation boundaries for instrumentation: metrics and tracing plugins see every memory
operation start and end, with its duration, outcome, result count and the time spent
embedding and in the store.

``Memory``'s public methods are decorated with :func:`instrumented`. When no plugin implements
``on_operation_start`` or ``on_operation_end`` the decorator only checks that and calls the
method (no context object, no clock). Otherwise it builds an :class:`OperationContext`, runs
``on_operation_start``, the method, then ``on_operation_end`` (also when the method raised; the
exception propagates unchanged). Inside, :func:`phase` marks the embedding and store calls.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from .contexts import HookContext
from .records import Scope

__all__ = ["OperationContext", "instrumented", "phase", "record_phase", "timed"]

log = logging.getLogger("mnemoplug")
P = ParamSpec("P")
R = TypeVar("R")

_current: contextvars.ContextVar[OperationContext | None] = contextvars.ContextVar(
    "mnemoplug_operation", default=None
)


@dataclass(slots=True)
class OperationContext(HookContext):
    """One memory operation, for ``on_operation_start`` / ``on_operation_end``.

    ``operation`` is the method name (``add``, ``search``, ``get``, ``get_all``, ``update``,
    ``delete``, ``delete_all``, ``count``, ``forget``, ``list_users``, ``purge_expired``);
    ``provider`` the store's or provider's short name. Set at the end: ``duration_ms``,
    ``error`` (the exception, or None), ``result_count`` (ids added, results returned, memories
    deleted …) and ``phases``: ``(name, start_ns, end_ns)`` for ``"embed"`` and ``"store"``
    (``time.time_ns`` clock). Never carries content.
    """

    provider: str = ""
    started_ns: int = 0
    duration_ms: float = 0.0
    error: BaseException | None = None
    result_count: int | None = None
    phases: list[tuple[str, int, int]] = field(default_factory=list)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Record the time spent in ``name`` (``"embed"``, ``"store"``) on the current operation;
    nothing when no operation is being instrumented."""
    op = _current.get()
    if op is None:
        yield
        return
    start = time.time_ns()
    try:
        yield
    finally:
        op.phases.append((name, start, time.time_ns()))


def record_phase(name: str, start_ns: int, end_ns: int) -> None:
    """Record a phase that ran before the current operation began, on its behalf (a query
    that ``SyncMemory`` embedded in the calling thread); nothing outside an operation."""
    op = _current.get()
    if op is not None:
        op.phases.append((name, start_ns, end_ns))


async def timed(name: str, awaitable: Awaitable[R]) -> R:
    """``await awaitable`` as phase ``name`` of the current operation."""
    with phase(name):
        return await awaitable


def _count(result: Any) -> int | None:
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, int):
        return result
    if isinstance(result, list | tuple):
        return len(result)
    if isinstance(result, dict):
        return sum(v for v in result.values() if isinstance(v, int))
    if result is None:
        return 0
    return 1


def _scope(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Scope:
    user = kwargs.get("user_id", args[0] if args else "")
    tenant = kwargs.get("tenant_id")
    return Scope(
        user_id=user if isinstance(user, str) else "",
        tenant_id=tenant if isinstance(tenant, str) else None,
        agent_id=kwargs.get("agent_id") if isinstance(kwargs.get("agent_id"), str) else None,
        session_id=kwargs.get("session_id") if isinstance(kwargs.get("session_id"), str) else None,
    )


async def _notify(hooks: Any, name: str, op: OperationContext) -> None:
    """Run an instrumentation hook; its failure is logged, never the operation's."""
    try:
        await hooks.call(name, op)
    except Exception as exc:
        log.warning("mnemoplug: %s hook failed (ignored): %s: %s", name, type(exc).__name__, exc)


def instrumented(
    operation: str,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate a ``Memory`` method so that ``on_operation_start`` / ``on_operation_end`` run
    around it (see the module docs)."""

    def deco(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            memory: Any = args[0]
            hooks = memory.hooks
            if _current.get() is not None or not (
                hooks.has("on_operation_start") or hooks.has("on_operation_end")
            ):
                return await method(*args, **kwargs)
            op = OperationContext(
                operation=operation,
                scope=_scope(args[1:], kwargs),
                provider=memory.backend_name,
                started_ns=time.time_ns(),
            )
            token = _current.set(op)
            start = time.perf_counter()
            try:
                await _notify(hooks, "on_operation_start", op)
                result = await method(*args, **kwargs)
                op.result_count = _count(result)
                return result
            except BaseException as exc:
                op.error = exc
                raise
            finally:
                op.duration_ms = (time.perf_counter() - start) * 1000
                _current.reset(token)
                await _notify(hooks, "on_operation_end", op)

        return wrapper

    return deco
