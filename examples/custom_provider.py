"""A custom provider: your own storage and search behind the seven-method interface.

    python examples/custom_provider.py

Subclass ``MemoryProvider`` and implement ``add``, ``search``, ``get``, ``get_all``, ``update``,
``delete`` and ``delete_all``; results may be dicts or ``MemoryRecord``s. ``Memory(provider=...)``
adds validation, hooks and filters on top, and injection strategies and every framework adapter
accept it like a built-in provider.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from mnemoplug import Memory, MemoryProvider, inject_memory


class DictProvider(MemoryProvider):
    """Memories in a dict, searched by counting shared words (a toy; yours calls a real DB)."""

    name = "dict"

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.ids = (f"m{i}" for i in itertools.count(1))

    async def add(self, user_id: str, content: str, metadata: dict[str, Any] | None = None) -> str:
        mid = next(self.ids)
        self.rows[mid] = {
            "id": mid,
            "user_id": user_id,
            "content": content,
            "metadata": metadata or {},
        }
        return mid

    async def search(
        self, user_id: str, query: str, limit: int = 10, filters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        words = set(query.lower().split())
        scored = []
        for row in await self.get_all(user_id):
            shared = len(words & set(row["content"].lower().split()))
            if shared:
                scored.append({**row, "score": shared / len(words)})
        return sorted(scored, key=lambda r: -r["score"])[:limit]

    async def get(self, user_id: str, memory_id: str) -> dict[str, Any] | None:
        row = self.rows.get(memory_id)
        return row if row is not None and row["user_id"] == user_id else None

    async def get_all(self, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        mine = [r for r in self.rows.values() if r["user_id"] == user_id]
        return list(reversed(mine))[:limit]  # newest first

    async def update(
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        row = await self.get(user_id, memory_id)
        if row is None:
            raise KeyError(memory_id)
        row.update(
            {k: v for k, v in {"content": content, "metadata": metadata}.items() if v is not None}
        )
        return row

    async def delete(self, user_id: str, memory_id: str) -> bool:
        return (
            self.rows.pop(memory_id, None) is not None
            if await self.get(user_id, memory_id)
            else False
        )

    async def delete_all(self, user_id: str) -> int:
        mine = [r["id"] for r in await self.get_all(user_id, limit=10**9)]
        for mid in mine:
            del self.rows[mid]
        return len(mine)


async def main() -> None:
    memory = Memory(provider=DictProvider())  # validation, hooks, filters on top
    await memory.add("alice", "Alice is allergic to peanuts", {"category": "health"})
    await memory.add("alice", "Alice prefers the dark theme", {"category": "ui"})
    await memory.add("bob", "Bob is allergic to cats")

    hits = await memory.search(
        "alice", "is she allergic to anything", filters={"category": "health"}
    )
    print("search:", [(h.content, round(h.score or 0, 2)) for h in hits])

    strategy = inject_memory("relevant", provider=memory, max_memories=2)
    chosen = await strategy.select(user_id="alice", query="what is alice allergic to")
    print(strategy.render(chosen))


if __name__ == "__main__":
    asyncio.run(main())
