"""``InMemoryProvider``: memories in this process only (tests, demos, notebooks)."""

from __future__ import annotations

from typing import Any

from ...core.memory import Memory, split_options
from .memory_store import InProcessMemoryStore

__all__ = ["InMemoryProvider"]


class InMemoryProvider(Memory):
    """Long-term memory held in this process (gone when it exits), with mnemoplug's hooks,
    embedder and strategies: ``InMemoryProvider()``.

    Args:
        **options: ``Memory`` options (``embedder``, ``plugins``, …) and store options.
    """

    name = "memory"

    def __init__(self, **options: Any) -> None:
        memory_options, store_options = split_options(options)
        super().__init__(InProcessMemoryStore(**store_options), **memory_options)
