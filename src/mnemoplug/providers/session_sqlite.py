"""Deprecated module path: use ``mnemoplug.providers.sqlite`` (removed in the next release)."""

import warnings

from .sqlite import SQLiteSessionMemory

warnings.warn(
    "mnemoplug.providers.session_sqlite moved to mnemoplug.providers.sqlite",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "SQLiteSessionMemory",
]
