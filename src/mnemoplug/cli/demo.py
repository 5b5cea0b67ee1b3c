"""``mnemoplug demo``: an offline tour on a throw-away SQLite file (removed afterwards)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any


async def _demo(db: str | None) -> None:
    from .. import Memory, hook, inject_memory
    from ..plugins import AuditLog, PIIRedactor

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


def register(commands: Any) -> None:
    p = commands.add_parser(
        "demo",
        help="offline demo on a throw-away SQLite file",
        description="Store a few memories for two users, show PII redaction, semantic search, "
        "injection strategies, the audit log and deletion. Offline; leaves nothing behind.",
    )
    p.add_argument(
        "--db", metavar="URL", help="store URL (default: a new SQLite file, removed afterwards)"
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of the tour")
    p.set_defaults(handler=_run)


async def _run(args: argparse.Namespace) -> int:
    await _demo(args.db)
    return 0
