"""Sessions and checkpoints: a conversation's messages, and a long task's saved progress.

    python examples/sessions_checkpoints.py

Session memory keeps the turns of one conversation (oldest first); a checkpoint store keeps
the state of a durable run so that it can resume after a crash. Both belong to their user.
"""

from __future__ import annotations

import asyncio
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mnemoplug import Memory


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mnemoplug-example-") as tmp:
        memory = Memory(
            f"sqlite:///{tmp}/memory.db",
            session=f"sqlite:///{tmp}/sessions.db",
            checkpoints=f"sqlite:///{tmp}/checkpoints.db",
        )
        async with memory:
            await memory.session.add_messages(
                "chat-1",
                [
                    {"role": "user", "content": "Book a table for two on Friday"},
                    {"role": "assistant", "content": "Booked: Friday 7pm, table for two."},
                ],
                user_id="alice",
            )
            for m in await memory.session.get_messages("chat-1", user_id="alice"):
                print(f"{m.role}: {m.content}")
            print("bob reads:", await memory.session.get_messages("chat-1", user_id="bob"))

            await memory.checkpoints.save("report-42", {"step": 1}, user_id="alice")
            await memory.checkpoints.save(
                "report-42", {"step": 2, "done": ["intro"]}, user_id="alice"
            )
            latest = await memory.checkpoints.load("report-42", user_id="alice")
            assert latest is not None
            print("resume from:", latest.state)


if __name__ == "__main__":
    asyncio.run(main())
