"""Where the SQLite files are: ``sqlite:///`` URLs, ``path=`` options and the default files.

Default: ``$MNEMOPLUG_DB_PATH``, else ``$XDG_DATA_HOME/mnemoplug/memory.db``
(``~/.local/share/mnemoplug/memory.db``); sessions and checkpoints default to
``sessions.db`` and ``checkpoints.db`` beside it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ...core.errors import ConfigurationError
from .._options import checked_path, expand_user, path_option, split_url

__all__ = [
    "default_checkpoint_path",
    "default_session_path",
    "default_sqlite_path",
    "path_from_url",
    "resolve_path",
]

SCHEMES = ("sqlite", "sqlite+aiosqlite")


def default_sqlite_path() -> Path:
    """The long-term memory database when neither a URL nor a path is given."""
    env = os.environ.get("MNEMOPLUG_DB_PATH")
    if env:
        return expand_user("$MNEMOPLUG_DB_PATH", Path(env))
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "mnemoplug" / "memory.db"


def default_session_path() -> Path:
    """``sessions.db`` beside the default long-term memory database."""
    return default_sqlite_path().with_name("sessions.db")


def default_checkpoint_path() -> Path:
    """``checkpoints.db`` beside the default long-term memory database."""
    return default_sqlite_path().with_name("checkpoints.db")


def path_from_url(url: str) -> Path:
    """The file of a ``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` URL."""
    parts = split_url(url, SCHEMES, "SQLite", "sqlite:///path/to/memory.db")
    raw = unquote(parts.path)
    if parts.netloc:
        raise ConfigurationError(
            f"SQLite URL {url!r} has a host part; write sqlite:///relative.db or sqlite:////abs/path.db"
        )
    if raw in ("", "/", "/:memory:"):
        raise ConfigurationError(
            f"SQLite URL {url!r} names no file; use sqlite:///path/to/memory.db "
            f"(or memory:// for a store that lives only in this process)"
        )
    # sqlite:///rel.db -> rel.db, sqlite:////abs -> /abs
    what = f"SQLite URL {url!r} names the file"
    return checked_path(what, expand_user(what, Path(raw[1:])))


def resolve_path(url: Any, path: Any, default: Path) -> Path:
    """The file named by ``url`` (a ``sqlite:///`` URL) or ``path``, else ``default``."""
    if url and path:
        raise ConfigurationError("pass either a sqlite:/// URL or path=, not both")
    if path:
        return path_option("path", path)
    return path_from_url(url) if url else default
