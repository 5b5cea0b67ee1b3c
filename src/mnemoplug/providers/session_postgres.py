"""Deprecated module path: use ``mnemoplug.providers.postgres`` (removed in the next release)."""

import warnings

from .postgres import PostgresSessionMemory

warnings.warn(
    "mnemoplug.providers.session_postgres moved to mnemoplug.providers.postgres",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "PostgresSessionMemory",
]
