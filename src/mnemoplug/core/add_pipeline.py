"""The hook steps of Memory's operations: ``add`` (each memory through ``on_memory_add``,
which may rewrite or reject it, into a stored row; ``on_memory_added`` once stored),
``update`` (``on_memory_update``) and reads (``on_memory_get``)."""

from __future__ import annotations

from typing import Any

from .contexts import MemoryAddContext, MemoryReadContext, MemoryUpdateContext
from .plugins import HookManager
from .records import MemoryRecord, Scope, StoredMemory, new_memory_id
from .validation import AddItem, check_content, check_metadata, check_occurred_at

__all__ = ["notify_added", "prepare_records", "read_hooks", "said_by", "update_hooks"]


async def prepare_records(
    hooks: HookManager,
    scope: Scope,
    items: list[AddItem],
    meta: dict[str, Any],
    now: float,
    exp: float | None,
    max_chars: int,
    occurred_at: Any = None,
) -> tuple[list[StoredMemory], list[MemoryAddContext]]:
    """Rows for ``items`` after the hooks; the hook contexts when hooks ran. Each row keeps
    its position in the call (``seq``) and happened at its item's own time, else at
    ``occurred_at`` (``add(occurred_at=)``: a datetime, epoch seconds or ISO string), else
    now. A message's ``name`` is its speaker."""
    if occurred_at is not None:
        occurred_at = check_occurred_at(occurred_at)
    records: list[StoredMemory] = []
    contexts: list[MemoryAddContext] = []
    run_hooks = hooks.has("on_memory_add")
    for seq, (role, text, speaker, when) in enumerate(items):
        mid = new_memory_id()
        m_meta = dict(meta)
        if run_hooks:
            ctx = MemoryAddContext(
                operation="add",
                scope=scope,
                memory_content=text,
                metadata=m_meta,
                role=role,
                memory_id=mid,
            )
            await hooks.call("on_memory_add", ctx, rejecting=True)
            text = check_content(ctx.memory_content, max_chars, what="content after hooks")
            m_meta = check_metadata(ctx.metadata)
            contexts.append(ctx)
        records.append(
            StoredMemory(
                id=mid,
                user_id=scope.user_id,
                tenant_id=scope.tenant,
                agent_id=scope.agent_id,
                session_id=scope.session_id,
                role=role,
                content=text,
                metadata=m_meta,
                created_at=now,
                updated_at=now,
                expires_at=exp,
                occurred_at=when
                if when is not None
                else now
                if occurred_at is None
                else occurred_at,
                speaker=speaker,
                seq=seq,
            )
        )
    return records, contexts


async def said_by(memory: Any, scope: Scope, memory_id: str, content: str, now: float) -> Any:
    """The vectors of a memory's new ``content``, said by its speaker when it has one."""
    old = await memory.store.get(scope, memory_id, now)
    text = content if old is None else old.copy(content=content).indexed_text
    return await memory._vectors.texts(memory.embedder, memory.store, [text])


async def notify_added(
    hooks: HookManager,
    scope: Scope,
    records: list[StoredMemory],
    ids: list[str],
    contexts: list[MemoryAddContext],
) -> None:
    """Run ``on_memory_added`` once per stored memory, with the id the store gave it."""
    if not hooks.has("on_memory_added"):
        return
    for i, (r, mid) in enumerate(zip(records, ids, strict=False)):
        ctx = contexts[i] if contexts else MemoryAddContext(operation="add", scope=scope)
        ctx.memory_content, ctx.metadata, ctx.role, ctx.memory_id = (
            r.content,
            r.metadata,
            r.role,
            mid,
        )
        await hooks.call("on_memory_added", ctx)


async def update_hooks(
    hooks: HookManager,
    scope: Scope,
    memory_id: str,
    content: str | None,
    meta: dict[str, Any] | None,
    previous: MemoryRecord,
    max_chars: int,
) -> tuple[str | None, dict[str, Any] | None]:
    """``(content, metadata)`` after ``on_memory_update`` (which may rewrite or reject)."""
    ctx = MemoryUpdateContext(
        operation="update",
        scope=scope,
        memory_id=memory_id,
        memory_content=content,
        metadata=meta,
        previous=previous,
    )
    await hooks.call("on_memory_update", ctx, rejecting=True)
    if ctx.memory_content is not None:
        content = check_content(ctx.memory_content, max_chars, what="content after hooks")
    return content, None if ctx.metadata is None else check_metadata(ctx.metadata)


async def read_hooks(
    hooks: HookManager,
    operation: str,
    scope: Scope,
    results: list[MemoryRecord],
    memory_id: str | None = None,
) -> list[MemoryRecord]:
    """The results of ``get``/``get_all`` after ``on_memory_get`` (which may filter them)."""
    if not hooks.has("on_memory_get"):
        return results
    ctx = MemoryReadContext(
        operation=operation, scope=scope, memory_results=results, memory_id=memory_id
    )
    await hooks.call("on_memory_get", ctx)
    return ctx.memory_results
