"""Deprecated module: the storage interface is :class:`mnemoplug.MemoryStore`
(:mod:`mnemoplug.core.stores`); ``mnemoplug.MemoryProvider`` is now the seeds' interface."""

from __future__ import annotations

import warnings
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "MemoryProvider":
        warnings.warn(
            "mnemoplug.core.contracts.MemoryProvider (the storage interface) is now "
            "mnemoplug.MemoryStore; mnemoplug.MemoryProvider is the seeds' seven-method "
            "interface. This alias goes in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        from .stores import MemoryStore

        return MemoryStore
    raise AttributeError(name)
