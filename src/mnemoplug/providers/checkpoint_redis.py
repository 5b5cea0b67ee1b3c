"""Deprecated module path: use ``mnemoplug.providers.redis`` (removed in the next release)."""

import warnings

from .redis import RedisCheckpointStore

warnings.warn(
    "mnemoplug.providers.checkpoint_redis moved to mnemoplug.providers.redis",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "RedisCheckpointStore",
]
