"""The ``mcp`` SDK, imported when an MCP server is built (extra ``mnemoplug[mcp]``)."""

from __future__ import annotations

from typing import Any

from ..core.errors import MissingDependencyError

__all__ = ["require_mcp"]


def require_mcp() -> Any:
    """The ``mcp.server.mcpserver`` module, or MissingDependencyError naming the extra."""
    try:
        import mcp.server.mcpserver as mcpserver
    except ImportError as exc:
        raise MissingDependencyError("the MCP server", "mcp", "mcp") from exc
    return mcpserver
