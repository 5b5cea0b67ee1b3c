"""Serve one user's memories over stdio (the MCP host starts ``mnemoplug mcp``)."""

from __future__ import annotations

from typing import Any

from ..auth import Principal
from ..core.validation import check_id
from .server import create_mcp_server

__all__ = ["run_stdio"]


async def run_stdio(memory: Any, user_id: str, tenant_id: str | None = None) -> None:
    """Serve ``memory`` for ``user_id`` (in ``tenant_id``) on stdin/stdout until the host
    closes the pipe; opens and closes ``memory``."""
    check_id("user_id", user_id, required=True)
    check_id("tenant_id", tenant_id, required=False)
    server = create_mcp_server(memory, Principal(user_id=user_id, tenant_id=tenant_id))
    async with memory:
        await server.run_stdio_async()
