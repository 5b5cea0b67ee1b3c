"""Moving memories between stores and files: export, import, migrate.

The export format is JSON lines, one memory per line, with everything a store keeps: ``id``,
``user_id``, ``tenant_id`` ('' for the default tenant), ``agent_id``, ``session_id``, ``role``,
``content``, ``metadata``, ``created_at``/``updated_at``/``expires_at`` (UTC epoch seconds) and
``embedding`` (a list of floats, or null). Import writes each line back as it is (an upsert, so
importing twice is harmless); expired memories are exported and imported too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ._common import CommandError, add_common, emit, existing_only, open_memory

__all__ = ["memory_from_line", "memory_to_line", "register"]

_FIELDS = (
    "id",
    "user_id",
    "tenant_id",
    "agent_id",
    "session_id",
    "role",
    "content",
    "metadata",
    "created_at",
    "updated_at",
    "expires_at",
)


def memory_to_line(m: Any) -> str:
    """One ``StoredMemory`` as a JSON line (without the newline)."""
    data = {k: getattr(m, k) for k in _FIELDS}
    data["embedding"] = None if m.embedding is None else [float(x) for x in m.embedding]
    return json.dumps(data, ensure_ascii=False)


def memory_from_line(line: str, where: str) -> Any:
    """The ``StoredMemory`` of one exported line; a CommandError naming ``where`` if it is
    not one."""
    from ..core.records import StoredMemory

    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{where} is not valid JSON ({exc.msg} at char {exc.pos})", 2) from None
    if not isinstance(data, dict):
        raise CommandError(f"{where} is not a JSON object", 2)
    missing = [k for k in ("id", "user_id", "content") if not isinstance(data.get(k), str)]
    if missing:
        raise CommandError(f"{where} lacks {', '.join(missing)} (a string each)", 2)
    unknown = set(data) - {*_FIELDS, "embedding"}
    if unknown:
        raise CommandError(f"{where} has unknown fields: {', '.join(sorted(unknown))}", 2)
    vec = data.pop("embedding", None)
    try:
        m = StoredMemory(
            **{k: v for k, v in data.items() if v is not None or k == "expires_at"},
            embedding=None if vec is None else np.asarray(vec, dtype=np.float32),
        )
        m.created_at, m.updated_at = float(m.created_at), float(m.updated_at)
        if m.expires_at is not None:
            m.expires_at = float(m.expires_at)
        if not isinstance(m.metadata, dict):
            raise TypeError("metadata must be an object")
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{where} is not an exported memory: {exc}", 2) from None
    return m


def register(commands: Any) -> None:
    p = commands.add_parser(
        "export",
        help="write memories as JSON lines",
        description="Write every memory (of every user, or of --user) as JSON lines, with ids, "
        "timestamps and vectors, for 'mnemoplug import'.",
    )
    add_common(p)
    p.add_argument("--user", metavar="ID", help="only this user's memories (default: every user)")
    p.add_argument("--tenant", metavar="ID", help="only this tenant's users")
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        default="-",
        help="file to write ('-', the default, is standard output)",
    )
    p.set_defaults(handler=_export)

    p = commands.add_parser(
        "import",
        help="read memories from JSON lines",
        description="Store the memories of an export file as they are (ids, timestamps, "
        "scopes and vectors kept; importing twice changes nothing). Progress goes to stderr.",
    )
    p.add_argument("file", metavar="FILE", help="the JSON-lines file ('-' reads standard input)")
    add_common(p)
    p.add_argument(
        "--batch-size", type=int, default=500, help="memories written per batch (default 500)"
    )
    p.set_defaults(handler=_import)

    p = commands.add_parser(
        "migrate",
        help="copy every memory from one store to another",
        description="Copy every memory of every user from SOURCE to TARGET (ids, timestamps, "
        "scopes and vectors kept). Prints a JSON summary; exits 1 if anything failed.",
    )
    p.add_argument("source", help="the store URL to read (must exist)")
    p.add_argument("target", help="the store URL to write")
    p.add_argument("--batch-size", type=int, default=500, help="memories per batch (default 500)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (the default)")
    p.set_defaults(handler=_migrate)


@contextmanager
def _output(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            yield f
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None


async def _export(args: argparse.Namespace) -> int:
    users_done = memories = 0
    async with open_memory(args) as memory:
        store = memory.store
        users = await store.list_users()
        if args.tenant is not None:
            users = [u for u in users if u[0] == args.tenant]
        if args.user is not None:
            users = [u for u in users if u[1] == args.user]
        with _output(args.output) as out:
            for tenant, user in users:
                async for batch in store.export(tenant, user, 500):
                    for m in batch:
                        out.write(memory_to_line(m) + "\n")
                    memories += len(batch)
                users_done += 1
    summary = {"users": users_done, "memories": memories}
    if args.output == "-":
        print(f"exported {memories} memories of {users_done} users", file=sys.stderr)
    else:
        emit(args, summary, f"exported {memories} memories of {users_done} users to {args.output}")
    return 0


def _lines(path: str) -> Iterator[tuple[int, str]]:
    if path == "-":
        yield from enumerate(sys.stdin, 1)
        return
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"no file {path}", 2)
    with p.open(encoding="utf-8") as f:
        yield from enumerate(f, 1)


async def _import(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1", 2)
    name = "stdin" if args.file == "-" else args.file
    rows = [
        memory_from_line(line, f"{name} line {n}") for n, line in _lines(args.file) if line.strip()
    ]  # all parsed first: a bad line stores nothing
    users = {(m.tenant_id, m.user_id) for m in rows}
    done = 0
    async with open_memory(args, create=True) as memory:
        store = memory.store
        for i in range(0, len(rows), args.batch_size):
            batch = rows[i : i + args.batch_size]
            await store.upsert(batch)
            done += len(batch)
            print(f"\rimporting: {done}/{len(rows)} memories", end="", file=sys.stderr, flush=True)
    if rows:
        print(file=sys.stderr)
    emit(
        args,
        {"users": len(users), "memories": done},
        f"imported {done} memories of {len(users)} users",
    )
    return 0


async def _migrate(args: argparse.Namespace) -> int:
    from ..core.memory import provider_from_url
    from ..core.migration import migrate_memory

    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1", 2)
    source = provider_from_url(args.source)
    existing_only(source, "source database")
    result = await migrate_memory(source, args.target, batch_size=args.batch_size)
    await source.close()
    print(
        json.dumps(
            {
                k: getattr(result, k)
                for k in (
                    "success",
                    "total_users",
                    "total_memories",
                    "failed",
                    "duration",
                    "errors",
                )
            }
        )
    )
    return 0 if result.success else 1
