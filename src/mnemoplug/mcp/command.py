"""The ``mnemoplug mcp`` subcommand (registered by :mod:`mnemoplug.cli`)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..core.errors import ConfigurationError

__all__ = ["DEFAULT_MCP_PORT", "add_mcp_parser", "register", "run_mcp_command"]

DEFAULT_MCP_PORT = 8765


def add_mcp_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``mcp`` to the ``mnemoplug`` subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "mcp",
        help="serve memories to an MCP host (stdio, or streamable HTTP with --http)",
        description=(
            "An MCP server over a Memory URL. stdio: one user, from --user/--tenant. "
            "HTTP (--http): each request's user comes from its bearer token (--tokens FILE, "
            '$MNEMOPLUG_TOKEN_FILE or $MNEMOPLUG_TOKENS). Needs pip install "mnemoplug[mcp]".'
        ),
    )
    p.add_argument("--db", help="store URL (default: the SQLite default file)")
    p.add_argument("--user", help="the user whose memories a stdio server serves (required)")
    p.add_argument("--tenant", help="the user's tenant (stdio; default: the default tenant)")
    p.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_MCP_PORT, help=f"HTTP port (default {DEFAULT_MCP_PORT})"
    )
    p.add_argument("--path", default="/mcp", help="HTTP path of the MCP endpoint (default /mcp)")
    p.add_argument("--tokens", help="JSON file of bearer tokens (see mnemoplug.auth)")
    p.set_defaults(handler=run_mcp_command)
    return p


def _memory(url: str | None) -> Any:
    from .. import Memory

    return Memory.from_url(url) if url else Memory()


def run_mcp_command(args: argparse.Namespace) -> int:
    """Run the server the parsed ``mnemoplug mcp`` arguments describe (until stopped)."""
    if not args.http:
        if not args.user:
            raise ConfigurationError(
                "mnemoplug mcp needs --user USER on stdio (or --http to serve bearer tokens)"
            )
        from .stdio import run_stdio

        asyncio.run(run_stdio(_memory(args.db), args.user, args.tenant))
        return 0
    if args.user or args.tenant:
        raise ConfigurationError(
            "--user/--tenant are for stdio; over --http each token names its user (--tokens)"
        )
    from ..auth import load_tokens
    from ._sdk import require_uvicorn
    from .http import create_mcp_http_app

    uvicorn = require_uvicorn("mnemoplug mcp --http", "mcp")
    tokens = load_tokens(args.tokens)
    app = create_mcp_http_app(_memory(args.db), tokens, host=args.host, path=args.path)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def register(commands: Any) -> None:
    """Register the command with :mod:`mnemoplug.cli` (imports no optional package)."""
    add_mcp_parser(commands)
