"""Deprecated module path: use ``mnemoplug.providers.redis`` (removed in the next release)."""

import warnings

from .redis import RedisSessionMemory

warnings.warn(
    "mnemoplug.providers.session_redis moved to mnemoplug.providers.redis",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "RedisSessionMemory",
]
