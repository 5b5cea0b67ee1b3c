"""The one policy of every adapter for a failing memory lookup: the run goes on without
memories and the cause is logged (with its traceback) on the adapter's logger;
``raise_on_lookup_error=True`` makes the failure stop the run instead."""

from __future__ import annotations

import logging
from typing import Any

from ..core.records import MemoryRecord
from ..core.strategies import InjectionStrategy

__all__ = ["select_memories"]


async def select_memories(
    strategy: InjectionStrategy,
    memory: Any,
    *,
    user_id: str,
    query: str | None,
    raise_on_error: bool,
    logger: logging.Logger,
    **scope: Any,
) -> list[MemoryRecord]:
    """``strategy.select(...)``; on an error, [] after logging it (or the error itself when
    ``raise_on_error``)."""
    try:
        return await strategy.select(memory, user_id=user_id, query=query, **scope)
    except Exception as exc:
        if raise_on_error:
            raise
        logger.warning(
            "mnemoplug: memory lookup failed for user %r; running without memories: %s: %s",
            user_id,
            type(exc).__name__,
            exc,
            exc_info=True,
        )
        return []
