"""Deprecated module path: use ``mnemoplug.providers.inprocess`` (removed in the next release)."""

import warnings

from .inprocess import InMemoryCheckpointStore

warnings.warn(
    "mnemoplug.providers.checkpoint_memory moved to mnemoplug.providers.inprocess",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "InMemoryCheckpointStore",
]
