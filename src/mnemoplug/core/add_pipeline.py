"""The write path of ``add``: each memory through the ``on_memory_add`` hooks (which may
rewrite or reject it) into a stored row, and ``on_memory_added`` once rows are stored."""

from __future__ import annotations

from typing import Any

from .contexts import MemoryAddContext
from .plugins import HookManager
from .records import Scope, StoredMemory, new_memory_id
from .validation import check_content, check_metadata

__all__ = ["notify_added", "prepare_records"]


async def prepare_records(
    hooks: HookManager,
    scope: Scope,
    items: list[tuple[str | None, str]],
    meta: dict[str, Any],
    now: float,
    exp: float | None,
    max_chars: int,
) -> tuple[list[StoredMemory], list[MemoryAddContext]]:
    """Rows for ``items`` (role, text) after the hooks; the hook contexts when hooks ran."""
    records: list[StoredMemory] = []
    contexts: list[MemoryAddContext] = []
    run_hooks = hooks.has("on_memory_add")
    for role, text in items:
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
            )
        )
    return records, contexts


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
