"""Forget a user everywhere (GDPR erasure): long-term memories, sessions, checkpoints and the
audit trail, in one call.

``await forget(memory, "u1")`` returns how much was removed per store, e.g.
``{"memories": 3, "sessions": 2, "checkpoints": 4, "audit_entries": 5}`` (a store that is not
configured is reported as 0). Only ``(tenant_id, user_id)`` is touched: other users, and the
same user id in another tenant, stay intact.

Hooks: ``on_memory_delete`` runs with ``ctx.operation == "forget"`` and the total count
after the stores are emptied and before the audit is scrubbed (so an audit log keeps a record
that a forget happened, with the user id scrubbed).

Audit: every registered plugin with a ``scrub_user(user_id, tenant_id)`` method (sync or
async; :class:`~mnemoplug.plugins.audit.AuditLog` has one) is asked to scrub the user; the
counts add up under ``"audit_entries"``.
"""

from __future__ import annotations

import inspect
from typing import Any

from .contexts import MemoryDeleteContext
from .records import Scope
from .validation import check_id

__all__ = ["forget"]


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def forget(memory: Any, user_id: str, *, tenant_id: str | None = None) -> dict[str, int]:
    """Delete everything ``memory`` holds about ``user_id`` (in ``tenant_id``); return counts
    per store: ``memories``, ``sessions``, ``checkpoints``, ``audit_entries``.

    Raises :class:`~mnemoplug.core.errors.InvalidScopeError` for a bad user or tenant id
    (before anything is deleted)."""
    check_id("user_id", user_id, required=True)
    check_id("tenant_id", tenant_id, required=False)
    counts = {"memories": 0, "sessions": 0, "checkpoints": 0, "audit_entries": 0}
    counts["memories"] = int(await memory.delete_all(user_id, tenant_id=tenant_id))
    session = getattr(memory, "session", None)
    if session is not None:
        counts["sessions"] = int(await session.clear_all(user_id=user_id, tenant_id=tenant_id))
    checkpoints = getattr(memory, "checkpoints", None)
    if checkpoints is not None:
        counts["checkpoints"] = int(await checkpoints.delete_user(user_id, tenant_id))
    hooks = getattr(memory, "hooks", None)
    if hooks is not None and hooks.has("on_memory_delete"):
        # before the scrub, so the audit keeps a record that a forget happened, without the id
        ctx = MemoryDeleteContext(
            operation="forget",
            scope=Scope(user_id=user_id, tenant_id=tenant_id),
            deleted_count=counts["memories"] + counts["sessions"] + counts["checkpoints"],
        )
        await hooks.call("on_memory_delete", ctx)
    if hooks is not None:
        seen: set[int] = set()
        for plugin in hooks.plugins():
            scrub = getattr(plugin, "scrub_user", None)
            if scrub is None or not callable(scrub) or id(plugin) in seen:
                continue
            seen.add(id(plugin))
            counts["audit_entries"] += int(await _maybe_await(scrub(user_id, tenant_id)) or 0)
    return counts
