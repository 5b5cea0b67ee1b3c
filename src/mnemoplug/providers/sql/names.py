"""SQL identifiers taken from options (table, schema and text-search configuration names):
only plain ones, so they can be written into statements unquoted and safely."""

from __future__ import annotations

import re
from typing import Any

from ...core.errors import ConfigurationError

__all__ = ["check_identifier"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: Any, what: str = "table", *, max_len: int = 63) -> str:
    """``name`` when it is a plain SQL identifier of at most ``max_len`` characters (room left
    for the suffixes of the tables and indexes derived from it)."""
    if not isinstance(name, str) or not _IDENT.match(name) or len(name) > max_len:
        raise ConfigurationError(
            f"{what} {name!r} is not a plain SQL identifier: use letters, digits and _, start "
            f"with a letter or _, at most {max_len} characters"
        )
    return name
