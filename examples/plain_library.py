"""Plain library use: store, search, update, expire and delete a user's memories.

    python examples/plain_library.py

Runs offline on a throw-away SQLite file (removed at the end). With ``mnemoplug[embeddings]``
the search is semantic; on a core install it is lexical (BM25) only.
"""

from __future__ import annotations

import asyncio
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mnemoplug import SQLiteProvider


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mnemoplug-example-") as tmp:
        memory = SQLiteProvider(f"{tmp}/memory.db")  # Memory() would use the default file
        async with memory:
            theme = await memory.add("alice", "Alice prefers dark mode", {"category": "ui"})
            await memory.add("alice", "Alice is allergic to peanuts", {"category": "health"})
            await memory.add("alice", "Dentist appointment on Friday", ttl=3 * 24 * 3600)
            await memory.add("bob", "Bob prefers light mode", {"category": "ui"})

            hits = await memory.search("alice", "Which colour scheme does she like?", limit=2)
            for hit in hits:
                print(f"score {hit.score:.2f}  {hit.content}")

            await memory.update("alice", theme, content="Alice switched to light mode")
            ui = await memory.get_all("alice", filters={"category": "ui"})
            print("after update:", [m.content for m in ui])

            print("alice has", await memory.count("alice"), "memories")
            print("deleted", await memory.delete_all("alice"), "of alice's;", end=" ")
            print("bob still has", await memory.count("bob"))


if __name__ == "__main__":
    asyncio.run(main())
