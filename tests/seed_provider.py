"""The seeds' custom provider (seed 000 "Custom Provider"), made runnable: its own storage
(``connect(connection_string)``) and its own word-overlap search. Shared by the seeds test and
the provider-level contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from mnemoplug import MemoryProvider


class _Db:
    """The seed's ``connect(connection_string)`` database: rows in a list."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def insert(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


_DATABASES: dict[str, _Db] = {}


def connect(connection_string: str) -> _Db:
    return _DATABASES.setdefault(connection_string, _Db())


def generate_id() -> str:
    return uuid.uuid4().hex


class MyCustomProvider(MemoryProvider):
    """The seeds' custom provider: its own storage, its own (word-overlap) search."""

    def __init__(self, connection_string: str):
        self.db = connect(connection_string)

    async def add(self, user_id: str, content: str, metadata: dict | None = None) -> str:  # type: ignore[override]
        memory_id = generate_id()
        await self.db.insert(
            {
                "id": memory_id,
                "user_id": user_id,
                "content": content,
                "metadata": metadata or {},
                "created_at": datetime.utcnow(),
            }
        )
        return memory_id

    async def search(  # type: ignore[override]
        self,
        user_id: str,
        query: str,
        limit: int = 10,
        filters: dict | None = None,
    ) -> list[dict]:
        words = set(query.lower().split())
        scored = []
        for row in self.db.rows:
            if row["user_id"] != user_id:
                continue
            overlap = len(words & set(row["content"].lower().split()))
            if overlap:
                scored.append({**row, "score": overlap / len(words)})
        return sorted(scored, key=lambda r: -r["score"])[:limit]

    async def get(self, user_id: str, memory_id: str) -> dict | None:  # type: ignore[override]
        return next(
            (r for r in self.db.rows if r["user_id"] == user_id and r["id"] == memory_id), None
        )

    async def get_all(self, user_id: str, limit: int = 100) -> list[dict]:  # type: ignore[override]
        return [r for r in reversed(self.db.rows) if r["user_id"] == user_id][:limit]

    async def update(  # type: ignore[override]
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: dict | None = None,
    ) -> None:
        row = await self.get(user_id, memory_id)
        if row is not None:
            if content is not None:
                row["content"] = content
            if metadata is not None:
                row["metadata"] = metadata

    async def delete(self, user_id: str, memory_id: str) -> None:  # type: ignore[override]
        self.db.rows[:] = [
            r for r in self.db.rows if not (r["user_id"] == user_id and r["id"] == memory_id)
        ]

    async def delete_all(self, user_id: str) -> int:
        before = len(self.db.rows)
        self.db.rows[:] = [r for r in self.db.rows if r["user_id"] != user_id]
        return before - len(self.db.rows)
