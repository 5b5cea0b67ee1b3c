"""Forget a user everywhere (GDPR erasure): memories, sessions, checkpoints, audit entries.

    python examples/forget.py

``memory.forget(user_id)`` returns what it removed per store; other users, and the same user id
in another tenant, are untouched. From the shell: ``mnemoplug forget USER --session-db URL``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mnemoplug import Memory
from mnemoplug.plugins import AuditLog


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mnemoplug-example-") as tmp:
        memory = Memory(
            f"sqlite:///{tmp}/memory.db",
            session=f"sqlite:///{tmp}/sessions.db",
            checkpoints=f"sqlite:///{tmp}/checkpoints.db",
            plugins=[AuditLog(Path(tmp) / "audit.jsonl")],
        )
        async with memory:
            for user in ("alice", "bob"):
                await memory.add(user, f"{user} likes jazz")
                await memory.add(user, f"{user} lives in Lisbon", tenant_id="acme")
                await memory.session.add_message(
                    f"chat-{user}", {"role": "user", "content": "hello"}, user_id=user
                )
                await memory.checkpoints.save("run-1", {"step": 1}, user_id=user)
                await memory.search(user, "music")

            counts = await memory.forget("alice")
            print("forgot alice:", counts)
            print("alice left:", await memory.count("alice"))
            print("alice in tenant acme left:", await memory.count("alice", tenant_id="acme"))
            print("bob left:", await memory.count("bob"))


if __name__ == "__main__":
    asyncio.run(main())
