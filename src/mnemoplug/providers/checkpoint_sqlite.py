"""Deprecated module path: use ``mnemoplug.providers.sqlite`` (removed in the next release)."""

import warnings

from .sqlite import SQLiteCheckpointStore

warnings.warn(
    "mnemoplug.providers.checkpoint_sqlite moved to mnemoplug.providers.sqlite",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "SQLiteCheckpointStore",
]
