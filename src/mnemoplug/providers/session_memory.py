"""Deprecated module path: use ``mnemoplug.providers.inprocess`` (removed in the next release)."""

import warnings

from .inprocess import InMemorySessionMemory

warnings.warn(
    "mnemoplug.providers.session_memory moved to mnemoplug.providers.inprocess",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "InMemorySessionMemory",
]
