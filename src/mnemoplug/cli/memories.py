"""Commands on one store's memories: add, search, list, get, update, delete, delete-all, count,
users, forget, purge-expired."""

from __future__ import annotations

import argparse
import re
from typing import Any

from ._common import (
    CommandError,
    add_common,
    add_scope,
    emit,
    json_arg,
    open_memory,
    record_dict,
    scope_kwargs,
)

__all__ = ["parse_ttl", "register"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_ttl(text: str) -> float:
    """``"3600"``, ``"90s"``, ``"15m"``, ``"2h"``, ``"7d"``, ``"1w"`` → seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid TTL {text!r}: use seconds or a number with s, m, h, d or w (e.g. 7d)"
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _user(p: argparse.ArgumentParser) -> None:
    p.add_argument("user", help="the user id whose memories this is about")


def _filter(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--filter",
        metavar="JSON",
        help='metadata filter as a JSON object, e.g. \'{"topic": "food"}\' or '
        '\'{"priority": {"$gte": 2}}\'',
    )


def _limit(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument(
        "--limit", type=int, default=default, help=f"at most this many (default {default})"
    )


def register(commands: Any) -> None:
    p = commands.add_parser("add", help="store a memory", description="Store a memory.")
    _user(p)
    p.add_argument("text", help="the memory's content")
    add_common(p)
    add_scope(p)
    p.add_argument(
        "--metadata", metavar="JSON", help='metadata as a JSON object, e.g. \'{"topic": "food"}\''
    )
    p.add_argument(
        "--ttl",
        type=parse_ttl,
        metavar="DURATION",
        help="expire after this long: seconds, or 90s, 15m, 2h, 7d, 1w (default: never)",
    )
    p.set_defaults(handler=_add)

    p = commands.add_parser(
        "search",
        help="search a user's memories",
        description="A user's memories most relevant to QUERY, best first, with their score "
        "(fused ranking score, at most 1, higher is better; -2/3..1 with the default "
        "weights) and, with --json, the cosine similarity (-1..1).",
    )
    _user(p)
    p.add_argument("query", help="what to look for")
    add_common(p)
    add_scope(p)
    _filter(p)
    _limit(p, 10)
    p.add_argument(
        "--min-relevance",
        type=float,
        metavar="COSINE",
        help="drop hits whose cosine similarity to the query is below this (-1..1)",
    )
    p.set_defaults(handler=_search)

    p = commands.add_parser(
        "list",
        help="a user's memories, newest first",
        description="A user's memories, newest first.",
    )
    _user(p)
    add_common(p)
    add_scope(p)
    _filter(p)
    _limit(p, 100)
    p.add_argument("--offset", type=int, default=0, help="skip this many first (default 0)")
    p.set_defaults(handler=_list)

    p = commands.add_parser("get", help="one memory by id", description="Show one memory.")
    _user(p)
    p.add_argument("id", help="the memory id (as add, list or search print it)")
    add_common(p)
    add_scope(p)
    p.set_defaults(handler=_get)

    p = commands.add_parser(
        "update",
        help="change a memory's content, metadata or expiry",
        description="Change a memory's content (re-embedded), metadata (replaced) or expiry.",
    )
    _user(p)
    p.add_argument("id", help="the memory id")
    p.add_argument("text", nargs="?", help="the new content (default: keep it)")
    add_common(p)
    add_scope(p)
    p.add_argument("--metadata", metavar="JSON", help="new metadata as a JSON object (replaces it)")
    p.add_argument("--ttl", type=parse_ttl, metavar="DURATION", help="expire this long from now")
    p.set_defaults(handler=_update)

    p = commands.add_parser("delete", help="delete one memory", description="Delete one memory.")
    _user(p)
    p.add_argument("id", help="the memory id")
    add_common(p)
    add_scope(p)
    p.set_defaults(handler=_delete)

    p = commands.add_parser(
        "delete-all",
        help="delete a user's memories",
        description="Delete every memory of the user (in the scope given); never another user's.",
    )
    _user(p)
    add_common(p)
    add_scope(p)
    p.set_defaults(handler=_delete_all)

    p = commands.add_parser(
        "count", help="how many memories a user has", description="Count a user's memories."
    )
    _user(p)
    add_common(p)
    add_scope(p)
    p.set_defaults(handler=_count)

    p = commands.add_parser(
        "users",
        help="every user holding memories",
        description="Every (tenant, user) holding memories; the default tenant prints as ''.",
    )
    add_common(p)
    p.add_argument("--tenant", metavar="ID", help="only this tenant's users")
    p.set_defaults(handler=_users)

    p = commands.add_parser(
        "forget",
        help="forget a user everywhere (GDPR erasure)",
        description="Delete the user's memories, and with --session-db / --checkpoint-db / "
        "--audit-log their sessions, checkpoints and audit entries. Prints the counts.",
    )
    _user(p)
    add_common(p)
    add_scope(p, agent_session=False)
    p.add_argument("--session-db", metavar="URL", help="also clear the user's sessions there")
    p.add_argument(
        "--checkpoint-db", metavar="URL", help="also delete the user's checkpoints there"
    )
    p.add_argument(
        "--audit-log", metavar="FILE", help="also scrub the user from this AuditLog file"
    )
    p.set_defaults(handler=_forget)

    p = commands.add_parser(
        "purge-expired",
        help="delete expired memories of every user",
        description="Delete expired memories of every user (they are never returned anyway).",
    )
    add_common(p)
    p.set_defaults(handler=_purge)


async def _add(args: argparse.Namespace) -> int:
    meta = json_arg(args.metadata, "--metadata")
    async with open_memory(args, embedder="default", create=True) as memory:
        mid = await memory.add(args.user, args.text, meta, ttl=args.ttl, **scope_kwargs(args))
    emit(args, {"id": mid}, mid)
    return 0


async def _search(args: argparse.Namespace) -> int:
    filters = json_arg(args.filter, "--filter")
    async with open_memory(args, embedder="default") as memory:
        hits = await memory.search(
            args.user,
            args.query,
            limit=args.limit,
            filters=filters,
            min_relevance=args.min_relevance,
            **scope_kwargs(args),
        )
    emit(
        args,
        [record_dict(h) for h in hits],
        [f"{h.score:.3f}\t{h.id}\t{h.content}" for h in hits],
    )
    return 0


async def _list(args: argparse.Namespace) -> int:
    filters = json_arg(args.filter, "--filter")
    async with open_memory(args) as memory:
        rows = await memory.get_all(
            args.user, limit=args.limit, offset=args.offset, filters=filters, **scope_kwargs(args)
        )
    emit(
        args,
        [record_dict(r) for r in rows],
        [f"{r.created_at.isoformat()}\t{r.id}\t{r.content}" for r in rows],
    )
    return 0


def _not_found(args: argparse.Namespace) -> CommandError:
    return CommandError(f"no memory {args.id!r} for user {args.user!r} (in this scope)")


async def _get(args: argparse.Namespace) -> int:
    async with open_memory(args) as memory:
        r = await memory.get(args.user, args.id, **scope_kwargs(args))
    if r is None:
        raise _not_found(args)
    emit(args, record_dict(r))
    return 0


async def _update(args: argparse.Namespace) -> int:
    meta = json_arg(args.metadata, "--metadata")
    if args.text is None and meta is None and args.ttl is None:
        raise CommandError("update needs TEXT, --metadata or --ttl", 2)
    embedder = "default" if args.text is not None else None
    async with open_memory(args, embedder=embedder) as memory:
        r = await memory.update(
            args.user, args.id, args.text, meta, ttl=args.ttl, **scope_kwargs(args)
        )
    emit(args, record_dict(r))
    return 0


async def _delete(args: argparse.Namespace) -> int:
    async with open_memory(args) as memory:
        ok = await memory.delete(args.user, args.id, **scope_kwargs(args))
    if not ok:
        raise _not_found(args)
    emit(args, {"deleted": 1}, "1")
    return 0


async def _delete_all(args: argparse.Namespace) -> int:
    async with open_memory(args) as memory:
        n = await memory.delete_all(args.user, **scope_kwargs(args))
    emit(args, {"deleted": n}, str(n))
    return 0


async def _count(args: argparse.Namespace) -> int:
    async with open_memory(args) as memory:
        n = await memory.count(args.user, **scope_kwargs(args))
    emit(args, {"count": n}, str(n))
    return 0


async def _users(args: argparse.Namespace) -> int:
    async with open_memory(args) as memory:
        users = await memory.list_users()
    if args.tenant is not None:
        users = [u for u in users if u[0] == args.tenant]
    emit(
        args,
        [{"tenant_id": t, "user_id": u} for t, u in users],
        [f"{t}\t{u}" for t, u in users],
    )
    return 0


async def _forget(args: argparse.Namespace) -> int:
    plugins: list[Any] = []
    if args.audit_log:
        from ..plugins import AuditLog

        plugins.append(AuditLog(args.audit_log))
    memory = open_memory(
        args, session=args.session_db, checkpoints=args.checkpoint_db, plugins=plugins
    )
    async with memory:
        counts = await memory.forget(args.user, tenant_id=args.tenant)
    emit(args, counts)
    return 0


async def _purge(args: argparse.Namespace) -> int:
    async with open_memory(args) as memory:
        n = await memory.purge_expired()
    emit(args, {"purged": n}, str(n))
    return 0
