"""Where a Qdrant store lives: a server, or qdrant-client's local mode in a directory or in
memory.

URLs::

    qdrant://localhost:6333        a Qdrant server (AsyncQdrantClient(url="http://localhost:6333"))
    qdrant:///abs/path/to/dir      qdrant-client's local mode, persisted in that directory
    qdrant://./relative/dir        local mode, relative directory
    qdrant://:memory:              local mode, in this process only
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ...core.errors import ConfigurationError
from .._deps import import_optional
from .._options import expand_user, path_option, split_url

__all__ = ["Location", "parse_url"]

_USE = "qdrant://host:6333, qdrant:///abs/path or qdrant://:memory:"


def parse_url(url: str) -> tuple[str | None, str | None]:
    """(server_url, local_path) of a qdrant:// URL; local_path may be ':memory:'."""
    if isinstance(url, str) and url.startswith("qdrant://:memory:"):
        return None, ":memory:"
    parts = split_url(url, ("qdrant",), "Qdrant", _USE)
    netloc, path = parts.netloc, unquote(parts.path)
    if netloc in (".", "..", "~"):
        return None, str(expand_user(f"Qdrant URL {url!r}", Path(netloc + path)))
    if not netloc:
        if path in ("", "/"):
            raise ConfigurationError(
                f"Qdrant URL {url!r} names neither a server nor a directory; use "
                f"qdrant://host:6333, qdrant:///abs/path, qdrant://./dir or qdrant://:memory:"
            )
        return None, path
    if path not in ("", "/"):
        raise ConfigurationError(
            f"Qdrant URL {url!r} has a path after the host; name the collection with "
            f"collection=... (qdrant://host:6333) or write qdrant:///abs/path for local mode"
        )
    try:
        port = parts.port or 6333
    except ValueError as exc:
        raise ConfigurationError(f"Qdrant URL {url!r} has a bad port") from exc
    return f"http://{parts.hostname}:{port}", None


class Location:
    """A store's place from its ``url`` or ``path`` option (exactly one of them).

    Attributes:
        server: ``http://host:port`` of a server, else None (local mode).
        path: local mode's directory, or ``":memory:"``; None for a server.
        url: the ``qdrant://`` URL shown in messages.
    """

    def __init__(self, url: Any, path: Any) -> None:
        if url and path:
            raise ConfigurationError("pass either a qdrant:// URL or path=, not both")
        if url:
            self.server, self.path = parse_url(url)
        elif path is not None:
            self.server = None
            self.path = ":memory:" if str(path) == ":memory:" else str(path_option("path", path))
        else:
            raise ConfigurationError(
                "QdrantMemoryStore needs a URL (qdrant://host:6333, qdrant:///abs/path, "
                "qdrant://:memory:) or path=..."
            )
        if self.server:
            self.url = self.server.replace("http://", "qdrant://")
        else:
            self.url = "qdrant://:memory:" if self.path == ":memory:" else f"qdrant://{self.path}"

    @property
    def local(self) -> bool:
        return self.server is None

    @property
    def on_disk(self) -> bool:
        """Local mode in a directory (not in memory)."""
        return self.server is None and self.path != ":memory:"

    def new_client(self, server_options: dict[str, Any]) -> Any:
        """An ``AsyncQdrantClient`` here (``server_options`` apply to a server)."""
        qc = import_optional(
            "qdrant_client", feature="the 'qdrant' provider", extra="qdrant",
            package="qdrant-client",
        )  # fmt: skip
        if self.server:
            return qc.AsyncQdrantClient(url=self.server, **server_options)
        if self.path == ":memory:":
            return qc.AsyncQdrantClient(location=":memory:")
        assert self.path is not None
        try:
            Path(self.path).mkdir(parents=True, exist_ok=True)
            return qc.AsyncQdrantClient(path=self.path)
        except (OSError, RuntimeError) as exc:
            raise ConfigurationError(
                f"cannot open the local Qdrant directory {self.path}: {exc}; local mode "
                f"allows one client per directory - close the other one, or use a server"
            ) from exc
