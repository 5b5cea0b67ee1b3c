"""The context objects hooks receive. Plugins see only these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .records import MemoryRecord, Scope

__all__ = [
    "HookContext",
    "HookUser",
    "MemoryAddContext",
    "MemoryDeleteContext",
    "MemoryReadContext",
    "MemorySearchContext",
    "MemoryUpdateContext",
    "SessionMessageContext",
]


@dataclass(frozen=True, slots=True)
class HookUser:
    """Who an operation is for, as the seeds' hooks read it: ``ctx.user.id``."""

    id: str
    tenant_id: str | None = None


@dataclass(slots=True)
class HookContext:
    """What every hook receives: the operation name and its scope (``ctx.user.id``,
    ``ctx.tenant_id``, ``ctx.scope.agent_id`` …). ``state`` is free space for plugins to pass
    data between the hooks of one operation."""

    operation: str
    scope: Scope
    #: free space for plugins to pass data between hooks of one operation
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return self.scope.user_id

    @property
    def tenant_id(self) -> str | None:
        return self.scope.tenant_id

    @property
    def user(self) -> HookUser:
        """``ctx.user.id`` (and ``ctx.user.tenant_id``), as the seeds' audit hook reads it."""
        return HookUser(self.scope.user_id, self.scope.tenant_id)


@dataclass(slots=True)
class MemoryAddContext(HookContext):
    memory_content: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    role: str | None = None
    memory_id: str = ""


@dataclass(slots=True)
class MemorySearchContext(HookContext):
    memory_query: str = ""
    memory_results: list[MemoryRecord] = field(default_factory=list)
    limit: int = 10
    filters: dict[str, Any] | None = None

    def accept_result(self, value: Any) -> None:
        """A hook returning a list replaces the results for later hooks and the caller."""
        if isinstance(value, list):
            self.memory_results = value


@dataclass(slots=True)
class MemoryReadContext(HookContext):
    memory_results: list[MemoryRecord] = field(default_factory=list)
    memory_id: str | None = None

    def accept_result(self, value: Any) -> None:
        """A hook returning a list replaces the results for later hooks and the caller."""
        if isinstance(value, list):
            self.memory_results = value


@dataclass(slots=True)
class MemoryUpdateContext(HookContext):
    memory_id: str = ""
    memory_content: str | None = None
    metadata: dict[str, Any] | None = None
    previous: MemoryRecord | None = None


@dataclass(slots=True)
class MemoryDeleteContext(HookContext):
    memory_ids: list[str] = field(default_factory=list)
    deleted_count: int = 0


@dataclass(slots=True)
class SessionMessageContext(HookContext):
    """``message`` is the message about to be stored. A hook that must only act once the
    message is really stored (an audit log) appends a callable to ``after_stored``: each is
    called with no arguments after the store accepted the write, and never when it refused it
    (another user's session, a failed write)."""

    message: Any = None
    after_stored: list[Callable[[], Any]] = field(default_factory=list)
