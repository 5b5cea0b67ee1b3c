"""Serve ``mnemoplug mcp --http`` for the MCP conformance suite (scripts/mcp_conformance.sh).

The suite's client cannot send an Authorization header, so this wrapper adds one token's
header to every request before the server's own bearer-token check runs; everything else is
the real HTTP app on a fresh SQLite store. Never use this wrapper outside the suite.

    python scripts/mcp_conformance_server.py PORT
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import uvicorn

from mnemoplug import Memory
from mnemoplug.auth import TokenMap
from mnemoplug.mcp import create_mcp_http_app

TOKEN = "conformance-token-0123456789"


class WithToken:
    """ASGI wrapper adding ``Authorization: Bearer TOKEN`` to every HTTP request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
            headers.append((b"authorization", f"Bearer {TOKEN}".encode()))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def main() -> None:
    port = int(sys.argv[1])
    workdir = Path(tempfile.mkdtemp(prefix="mnemoplug-conformance-"))
    memory = Memory.from_url(f"sqlite:///{workdir / 'memory.db'}")
    app = create_mcp_http_app(memory, TokenMap.single(TOKEN, "conformance"))
    uvicorn.run(WithToken(app), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
