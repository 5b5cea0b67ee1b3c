"""AA Kit's ``MemoryConfig``, ``create_memory`` and ``migrate_memory``."""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...core.errors import ConfigurationError
from .base import MemoryBackend, _positive, _StoreBackend, _takes_owner
from .sql import PostgreSQLBackend, SQLiteBackend
from .stores import InMemoryBackend, RedisBackend

_BACKENDS: dict[str, type[_StoreBackend]] = {
    "memory": InMemoryBackend,
    "redis": RedisBackend,
    "sqlite": SQLiteBackend,
    "postgres": PostgreSQLBackend,
}
_ALIASES = {"inmemory": "memory", "in_memory": "memory", "postgresql": "postgres"}


@dataclass
class MemoryConfig:
    """AA Kit's common memory configuration (plain data; an agent framework reads it).

    ``backend`` is one of ``memory``, ``redis``, ``sqlite``, ``postgres``.
    """

    backend: str = "memory"
    max_messages: int = 1000
    context_window: int = 20
    summarization: bool = False
    compression: bool = False
    encryption: bool = False
    search_enabled: bool = True

    def __post_init__(self) -> None:
        name = _ALIASES.get(str(self.backend).lower(), str(self.backend).lower())
        if name not in _BACKENDS:
            raise ConfigurationError(
                f"unknown memory backend {self.backend!r}; use one of {', '.join(_BACKENDS)}"
            )
        _positive("max_messages", self.max_messages)
        _positive("context_window", self.context_window)


def create_memory(backend: str, **kwargs: Any) -> MemoryBackend:
    """A backend by name — ``'memory'``, ``'redis'``, ``'sqlite'``, ``'postgres'`` — with
    ``kwargs`` passed to its constructor (``create_memory("sqlite", db_path="./agent.db")``)."""
    if not isinstance(backend, str):
        raise ConfigurationError(f"backend must be a string, got {type(backend).__name__}")
    name = _ALIASES.get(backend.lower(), backend.lower())
    cls = _BACKENDS.get(name)
    if cls is None:
        raise ConfigurationError(
            f"unknown memory backend {backend!r}; use one of {', '.join(_BACKENDS)}"
        )

    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigurationError(
            f"{cls.__name__} does not take {', '.join(unknown)}; it takes {', '.join(accepted)}"
        )
    return cls(**kwargs)


@dataclass
class MigrationResult:
    """What :func:`migrate_memory` did. ``success`` is True when no session failed."""

    success: bool
    total_sessions: int
    total_messages: int
    failed_sessions: list[str] = field(default_factory=list)
    duration: float = 0.0
    errors: list[str] = field(default_factory=list)


async def migrate_memory(
    source: MemoryBackend,
    target: MemoryBackend,
    session_ids: list[str] | None = None,
    batch_size: int = 100,
) -> MigrationResult:
    """Copy sessions from ``source`` to ``target``, keeping message order, roles, ids,
    timestamps, metadata and (between mnemoplug backends) the session's owner.

    Every session of ``source`` unless ``session_ids`` is given (a custom source without
    ``list_sessions`` needs it). Messages are written ``batch_size`` at a time; messages whose
    id the target session already holds are skipped, so running it again copies only what is
    new. A failing session is reported in ``failed_sessions``/``errors`` and the others go on.
    ``total_sessions``/``total_messages`` count what was migrated.
    """
    if not isinstance(source, MemoryBackend) or not isinstance(target, MemoryBackend):
        raise ConfigurationError("source and target must be MemoryBackend instances")
    size = _positive("batch_size", batch_size)
    started = time.monotonic()
    if session_ids is None:
        lister = getattr(source, "list_sessions", None)
        if lister is None:
            raise ConfigurationError(
                f"{type(source).__name__} cannot list its sessions; pass session_ids=[...]"
            )
        session_ids = [i.session_id for i in await lister()]
    elif isinstance(session_ids, str) or not isinstance(session_ids, Sequence):
        raise ConfigurationError("session_ids must be a list of session ids or None")
    sessions = 0
    messages = 0
    failed: list[str] = []
    errors: list[str] = []
    for sid in session_ids:
        try:
            msgs = await source.load(sid)
            owner: dict[str, Any] = {}
            info_of = getattr(source, "session_info", None)
            if info_of is not None and _takes_owner(target):
                info = await info_of(sid)
                if info is not None and (info.user_id or info.tenant_id):
                    owner = {"user_id": info.user_id, "tenant_id": info.tenant_id}
            have = {m.id for m in await target.load(sid)}
            todo = [m for m in msgs if m.id not in have]
            for i in range(0, len(todo), size):
                await target.save(sid, todo[i : i + size], **owner)
            messages += len(todo)
            sessions += 1
        except Exception as exc:  # reported per session; the others go on
            failed.append(sid)
            errors.append(f"{sid}: {type(exc).__name__}: {exc}")
    return MigrationResult(
        success=not failed,
        total_sessions=sessions,
        total_messages=messages,
        failed_sessions=failed,
        duration=time.monotonic() - started,
        errors=errors,
    )
