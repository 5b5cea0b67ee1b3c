"""What every command shares: the parser class, the common options, opening stores from
``--db`` URLs without creating files for reading commands, JSON or text output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "CommandError",
    "Parser",
    "add_common",
    "add_scope",
    "emit",
    "error_line",
    "existing_only",
    "json_arg",
    "open_memory",
    "record_dict",
    "scope_kwargs",
]


class CommandError(Exception):
    """A command failed in a way the user can fix; the message is the whole story."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def error_line(exc: BaseException) -> str:
    """``mnemoplug: <message>`` on one line (the error's type when it says more)."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    from ..core.errors import MnemoplugError

    if not isinstance(exc, MnemoplugError) and type(exc).__name__ not in msg:
        msg = f"{type(exc).__name__}: {msg}"
    return f"mnemoplug: {msg}"


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def add_common(p: argparse.ArgumentParser, *, db_help: str | None = None) -> None:
    """``--db`` and ``--json``."""
    p.add_argument(
        "--db",
        metavar="URL",
        help=db_help
        or "store URL, e.g. sqlite:///memory.db or redis://localhost:6379/0 "
        "(default: the SQLite file at $MNEMOPLUG_DB_PATH or ~/.local/share/mnemoplug/memory.db)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_scope(p: argparse.ArgumentParser, *, agent_session: bool = True) -> None:
    """``--tenant`` (and ``--agent``, ``--session``)."""
    p.add_argument("--tenant", metavar="ID", help="tenant id (default: the default tenant)")
    if agent_session:
        p.add_argument("--agent", metavar="ID", help="limit to / store under this agent id")
        p.add_argument("--session", metavar="ID", help="limit to / store under this session id")


def scope_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "tenant_id": getattr(args, "tenant", None),
        "agent_id": getattr(args, "agent", None),
        "session_id": getattr(args, "session", None),
    }


def json_arg(text: str | None, option: str, *, kind: type = dict) -> Any:
    """``text`` parsed as JSON (None stays None); a one-line CommandError when it is not JSON
    of the expected kind."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{option} is not valid JSON ({exc.msg} at char {exc.pos}): {text}", 2
        ) from None
    if not isinstance(value, kind):
        raise CommandError(f'{option} must be a JSON object, e.g. \'{{"topic": "food"}}\'', 2)
    return value


def _path_of(store: Any) -> Path | None:
    path = getattr(store, "path", None)
    return path if isinstance(path, Path) else None


def existing_only(store: Any, what: str = "database") -> None:
    """Refuse to go on when ``store`` is a file that does not exist (reading commands never
    create one)."""
    path = _path_of(store)
    if path is not None and not path.exists():
        raise CommandError(f"no {what} at {path} (nothing is stored there; check the URL)")


def open_memory(
    args: argparse.Namespace,
    *,
    embedder: Any = None,
    create: bool = False,
    **options: Any,
) -> Any:
    """A Memory on ``--db`` (or the default file). ``create=False`` refuses a missing file.
    ``embedder=None`` (the default) reads without loading a model."""
    from ..core.memory import Memory

    url = getattr(args, "db", None)
    mem = (
        Memory.from_url(url, embedder=embedder, **options)
        if url
        else Memory(embedder=embedder, **options)
    )
    if not create:
        existing_only(mem.store)
        for name in ("session", "checkpoints"):
            existing_only(getattr(mem, name, None), f"{name} database")
    return mem


def record_dict(r: Any) -> dict[str, Any]:
    """A MemoryRecord as JSON-ready data (None fields left out)."""
    data: dict[str, Any] = r.model_dump(mode="json", exclude_none=True)
    return data


def emit(args: argparse.Namespace, data: Any, lines: Iterable[str] | str | None = None) -> None:
    """Print ``data`` as JSON with ``--json``, else ``lines`` (or ``data`` itself)."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, default=str))
        return
    if lines is None:
        if isinstance(data, Mapping):
            lines = [f"{k}: {v}" for k, v in data.items()]
        else:
            lines = [str(data)]
    elif isinstance(lines, str):
        lines = [lines]
    for line in lines:
        print(line)
    sys.stdout.flush()
