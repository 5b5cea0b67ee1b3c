"""The ``mnemoplug serve`` subcommand (registered by :mod:`mnemoplug.cli`)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["DEFAULT_SERVE_PORT", "add_serve_parser", "register", "run_serve_command"]

DEFAULT_SERVE_PORT = 8766


def add_serve_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``mnemoplug`` subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="the web dashboard and JSON API (bearer tokens; 127.0.0.1 by default)",
        description=(
            "A dashboard at / and a JSON API under /api (OpenAPI at /docs) over a Memory URL. "
            "Every API request needs a bearer token (--tokens FILE, $MNEMOPLUG_TOKEN_FILE or "
            '$MNEMOPLUG_TOKENS). Needs pip install "mnemoplug[dashboard]".'
        ),
    )
    p.add_argument("--db", help="store URL (default: the SQLite default file)")
    p.add_argument("--sessions", help="session store URL, to show sessions (optional)")
    p.add_argument("--checkpoints", help="checkpoint store URL, to show checkpoints (optional)")
    p.add_argument("--audit", help="audit log file (JSON lines) to write and show (optional)")
    p.add_argument("--tokens", help="JSON file of bearer tokens (see mnemoplug.auth)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_SERVE_PORT, help=f"port (default {DEFAULT_SERVE_PORT})"
    )
    p.set_defaults(handler=run_serve_command)
    return p


def build_serve_app(args: argparse.Namespace) -> Any:
    """The dashboard app the parsed ``mnemoplug serve`` arguments describe."""
    from .. import Memory
    from ..auth import load_tokens
    from . import create_dashboard_app

    tokens = load_tokens(args.tokens)  # first: no tokens, nothing opened or created
    plugins: list[Any] = []
    if args.audit:
        from ..plugins.audit import AuditLog

        plugins.append(AuditLog(args.audit))
    options: dict[str, Any] = {"plugins": plugins}
    if args.sessions:
        options["session"] = args.sessions
    if args.checkpoints:
        options["checkpoints"] = args.checkpoints
    memory = Memory.from_url(args.db, **options) if args.db else Memory(**options)
    return create_dashboard_app(memory, tokens)


def run_serve_command(args: argparse.Namespace) -> int:
    """Serve the dashboard until stopped."""
    from ..mcp._sdk import require_uvicorn

    uvicorn = require_uvicorn("mnemoplug serve", "dashboard")
    app = build_serve_app(args)

    print(f"mnemoplug dashboard on http://{args.host}:{args.port}/ (API docs at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def register(commands: Any) -> None:
    """Register the command with :mod:`mnemoplug.cli` (imports no optional package)."""
    add_serve_parser(commands)
