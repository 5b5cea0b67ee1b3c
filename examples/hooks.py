"""Hooks: redact personal data, reject what must not be stored, audit searches, observe writes.

    python examples/hooks.py

A process-wide ``@hook`` function, a plugin object for one Memory (``@hookimpl``) and the
built-in ``PIIRedactor`` and ``AuditLog`` plugins, on an in-process store.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mnemoplug import Memory, MemoryRejectedError, hook, hookimpl, unregister_hook
from mnemoplug.plugins import AuditLog, PIIRedactor


@hook("on_memory_add")  # runs for every Memory in the process
def tag_source(ctx: Any) -> None:
    ctx.metadata.setdefault("source", "hooks-example")


class NoPasswords:
    """A plugin object: rejects memories that look like passwords (nothing is stored)."""

    @hookimpl(tryfirst=True)
    def on_memory_add(self, ctx: Any) -> None:
        if "password" in ctx.memory_content.lower():
            raise MemoryRejectedError("looks like a password; not stored")

    @hookimpl
    def on_memory_search(self, ctx: Any) -> None:
        print(f"  [hook] search by {ctx.user.id!r} found {len(ctx.memory_results)}")


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mnemoplug-example-") as tmp:
        audit = Path(tmp) / "audit.jsonl"
        memory = Memory("memory://", plugins=[PIIRedactor(), AuditLog(audit), NoPasswords()])
        async with memory:
            mid = await memory.add("alice", "Reach Alice at alice@example.com")
            stored = await memory.get("alice", mid)
            assert stored is not None
            print("stored:", stored.content, stored.metadata)
            try:
                await memory.add("alice", "My password is hunter2")
            except MemoryRejectedError as exc:
                print("rejected:", exc)
            await memory.search("alice", "email address")
            entries = [json.loads(line) for line in audit.read_text().splitlines()]
            print("audit operations:", [e["operation"] for e in entries])
    unregister_hook(tag_source)


if __name__ == "__main__":
    asyncio.run(main())
