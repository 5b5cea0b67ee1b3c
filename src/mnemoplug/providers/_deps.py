"""Optional client libraries (redis, asyncpg, qdrant-client, mem0ai), imported when a store
is built, so that ``import mnemoplug.providers`` never needs them."""

from __future__ import annotations

import importlib
from typing import Any

from ..core.errors import MissingDependencyError

__all__ = ["import_optional"]


def import_optional(module: str, *, feature: str, extra: str, package: str) -> Any:
    """``module`` imported, or MissingDependencyError naming the pip extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(feature, extra, package) from exc
