"""Deprecated module path: use ``mnemoplug.providers.inprocess`` (removed in the next release)."""

import warnings

from .inprocess import InMemoryProvider, InProcessMemoryStore

warnings.warn(
    "mnemoplug.providers.in_memory moved to mnemoplug.providers.inprocess",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "InMemoryProvider",
    "InProcessMemoryStore",
]
