"""Hook specifications: every point where a plugin can act on a memory operation.

Implement a hook with ``@hookimpl`` on a method of a plugin object (``Memory(plugins=[obj])``
or the ``mnemoplug`` entry-point group), or with ``@hook("on_memory_add")`` on a plain sync or
async function (``Memory(plugins=[fn])`` or ``memory.register(fn)``). Implementations run in
pluggy's order (last registered first; ``tryfirst``/``trylast`` move them); async ones are
awaited in that order, and each sees the changes of the ones before it. Hook wrappers are not
supported on ``on_memory_*`` hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from .contexts import (
    MemoryAddContext,
    MemoryDeleteContext,
    MemoryReadContext,
    MemorySearchContext,
    MemoryUpdateContext,
    SessionMessageContext,
)
from .instrumentation import OperationContext

hookspec = pluggy.HookspecMarker("mnemoplug")
hookimpl = pluggy.HookimplMarker("mnemoplug")


@hookspec
def on_memory_add(ctx: MemoryAddContext) -> Any:
    """Called before a memory is written (once per memory; a list of chat messages calls it once
    per message), before the content is embedded.

    May rewrite ``ctx.memory_content`` and ``ctx.metadata`` (e.g. PII redaction); what the last
    implementation leaves is what is embedded and stored. May reject the write by raising
    :class:`~mnemoplug.MemoryRejectedError` (any other exception is turned into one): nothing of
    that ``add`` call is stored and the caller gets the error. The return value is ignored.
    """


@hookspec
def on_memory_added(ctx: MemoryAddContext) -> Any:
    """Called after memories were stored. ``ctx.memory_id`` is the stored id; the content is as
    stored. For notification (audit, metrics); may not change anything. Return value ignored."""


@hookspec
def on_memory_search(ctx: MemorySearchContext) -> Any:
    """Called after retrieval, before results reach the caller.

    Sees ``ctx.memory_query`` and ``ctx.memory_results`` (ranked :class:`MemoryRecord` list).
    May filter or rewrite the results, in place or by returning a new list (which replaces
    ``ctx.memory_results`` for the implementations after it and for the caller).
    """


@hookspec
def on_memory_get(ctx: MemoryReadContext) -> Any:
    """Called after ``get`` and ``get_all`` (``ctx.operation`` says which), before results reach
    the caller. May filter or rewrite ``ctx.memory_results`` like ``on_memory_search``."""


@hookspec
def on_memory_update(ctx: MemoryUpdateContext) -> Any:
    """Called before a memory is updated, with ``ctx.previous`` (the current record),
    ``ctx.memory_content`` and ``ctx.metadata`` (None where unchanged). May rewrite them or
    reject the update by raising (nothing changes then). Return value ignored."""


@hookspec
def on_memory_delete(ctx: MemoryDeleteContext) -> Any:
    """Called after ``delete``, ``delete_all``, ``purge_expired`` or ``forget``, with
    ``ctx.memory_ids`` (when known) and ``ctx.deleted_count``. Notification only."""


@hookspec
def on_session_message(ctx: SessionMessageContext) -> Any:
    """Called before a session message is stored. May rewrite ``ctx.message`` content or
    metadata, or reject it by raising. Return value ignored."""


@hookspec
def on_operation_start(ctx: OperationContext) -> Any:
    """Called when a memory operation (``add``, ``search``, ``get``, ``get_all``, ``update``,
    ``delete``, ``delete_all``, ``count``, ``forget``, ``list_users``, ``purge_expired``) begins,
    with its name, scope and provider (never content). For instrumentation (metrics, tracing):
    may keep data in ``ctx.state`` for ``on_operation_end``; may not change the operation. An
    exception here is logged and ignored. Return value ignored."""


@hookspec
def on_operation_end(ctx: OperationContext) -> Any:
    """Called when that operation ends, successfully or not: ``ctx.duration_ms``,
    ``ctx.error`` (the exception, or None), ``ctx.result_count`` and ``ctx.phases`` (time spent
    embedding and in the store). Notification only; an exception here is logged and ignored.
    Return value ignored."""


@hookspec
def register_providers(register: Callable[..., None]) -> None:
    """Register long-term providers: ``register(name, factory, schemes=(...), extra=None)``.

    ``factory`` is a provider class, a callable ``factory(url=None, **options)``, or a
    ``"module:attribute"`` string imported on first use (so registering costs no import).
    ``schemes`` are the URL schemes ``Memory.from_url`` routes to it."""


@hookspec
def register_embedders(register: Callable[..., None]) -> None:
    """Register embedders by name: ``register(name, factory)``; ``Memory(embedder="name")``
    then builds one with ``factory()``."""


HOOK_NAMES = (
    "on_memory_add",
    "on_memory_added",
    "on_memory_search",
    "on_memory_get",
    "on_memory_update",
    "on_memory_delete",
    "on_session_message",
    "on_operation_start",
    "on_operation_end",
)
