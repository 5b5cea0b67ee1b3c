"""The ``mcp`` SDK, imported when an MCP server is built (extra ``mnemoplug[mcp]``)."""

from __future__ import annotations

from typing import Any

from ..core.errors import MissingDependencyError

__all__ = ["require_mcp", "require_uvicorn"]


def require_mcp() -> Any:
    """The ``mcp.server.mcpserver`` module, or MissingDependencyError naming the extra."""
    try:
        import mcp.server.mcpserver as mcpserver
    except ImportError as exc:
        raise MissingDependencyError("the MCP server", "mcp", "mcp") from exc
    return mcpserver


def require_uvicorn(feature: str, extra: str) -> Any:
    """The ``uvicorn`` module, or MissingDependencyError naming ``extra``."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(feature, extra, "uvicorn") from exc
    return uvicorn
