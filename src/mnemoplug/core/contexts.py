"""The context objects hooks receive. Plugins see only these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .records import MemoryRecord, Scope

__all__ = [
    "HookContext",
    "MemoryAddContext",
    "MemoryDeleteContext",
    "MemoryReadContext",
    "MemorySearchContext",
    "MemoryUpdateContext",
    "SessionMessageContext",
]


@dataclass(slots=True)
class HookContext:
    operation: str
    scope: Scope
    #: free space for plugins to pass data between hooks of one operation
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return self.scope.user_id


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


@dataclass(slots=True)
class MemoryReadContext(HookContext):
    memory_results: list[MemoryRecord] = field(default_factory=list)
    memory_id: str | None = None


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
    message: Any = None
