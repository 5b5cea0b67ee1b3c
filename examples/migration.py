"""Migration: copy every memory from one store to another, keeping ids, timestamps and vectors.

    python examples/migration.py

Here from one SQLite file to another; any URLs work (``redis://…``, ``postgresql+asyncpg://…``,
``qdrant://…``). Running it again is harmless (upsert). From the shell:
``mnemoplug migrate SOURCE_URL TARGET_URL`` or ``mnemoplug export`` / ``mnemoplug import``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mnemoplug import Memory, migrate_memory


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mnemoplug-example-") as tmp:
        old_url, new_url = f"sqlite:///{tmp}/old.db", f"sqlite:///{tmp}/new.db"
        async with Memory(old_url) as old:
            first = await old.add("alice", "Alice prefers window seats")
            await old.add("bob", "Bob collects vinyl records", tenant_id="acme")

        result = await migrate_memory(old_url, new_url, batch_size=500, progress=False)
        print(f"migrated {result.migrated} memories of {result.total_users} users", end="")
        print(f" (success={result.success})")

        async with Memory(new_url) as new:
            copy = await new.get("alice", first)
            assert copy is not None
            print("same id in the new store:", copy.id == first, "-", copy.content)
            hits = await new.search("alice", "Where does she like to sit?")
            print("search in the new store:", hits[0].content)


if __name__ == "__main__":
    asyncio.run(main())
