"""The seeds' provider and hook calls, run as the seeds write them with mnemoplug imports.

Only the server addresses differ (the test Redis database and PostgreSQL of this machine) and
the PostgreSQL embedding model, which is a sentence-transformers name here (no hosted API).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from mnemoplug import (
    HookContext,
    Memory,
    MemoryRecord,
    hook,
    inject_memory,
)
from tests.conftest import POSTGRES_URL, REDIS_URL, require_server
from tests.seed_provider import MyCustomProvider, connect


def uid() -> str:
    return f"user_{uuid.uuid4().hex[:8]}"


async def test_seed_redis_provider(embedder: Any) -> None:
    require_server(REDIS_URL, "Redis")
    from mnemoplug import RedisProvider

    prefix = f"memory-{uuid.uuid4().hex[:6]}:"
    memory = RedisProvider(url=REDIS_URL, prefix=prefix, ttl_seconds=None, embedder=embedder)
    user = uid()
    memory_id = await memory.add(
        user_id=user,
        content="User prefers dark mode",
        metadata={"category": "preferences"},
    )
    memories = await memory.get_all(user_id=user)
    assert [(m["id"], m["content"], m["metadata"]) for m in memories] == [
        (memory_id, "User prefers dark mode", {"category": "preferences"})
    ]
    hits = await memory.search(user_id=user, query="which theme does the user like?")
    assert hits[0]["id"] == memory_id and hits[0]["score"] > 0
    assert await memory.delete_all(user) == 1
    await memory.close()


async def test_seed_redis_provider_ttl_seconds() -> None:
    require_server(REDIS_URL, "Redis")
    from mnemoplug import RedisProvider

    now = [1_000_000.0]
    memory = RedisProvider(
        url=REDIS_URL,
        prefix=f"ttl-{uuid.uuid4().hex[:6]}:",
        ttl_seconds=60,
        embedder=None,
        clock=lambda: now[0],
    )
    user = uid()
    mid = await memory.add(user_id=user, content="short-lived")
    rec = await memory.get(user, mid)
    assert rec is not None and rec.expires_at == datetime.fromtimestamp(1_000_060.0, UTC)
    now[0] += 61
    assert await memory.get_all(user_id=user) == []
    await memory.delete_all(user)
    await memory.close()


async def test_seed_postgres_provider(embedder: Any) -> None:
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug import PostgresProvider
    from tests.stores.backends.postgres import drop_tables

    table = f"agent_memories_{uuid.uuid4().hex[:8]}"
    memory = PostgresProvider(
        url=POSTGRES_URL.replace("postgresql+asyncpg://", "postgres://"),
        table=table,
        vector_enabled=False,  # this server has no pgvector; tests/providers covers pgvector
        embedding_model="all-MiniLM-L6-v2",
    )
    try:
        assert memory.embedder is not None and memory.embedder.name == "all-MiniLM-L6-v2"
        user = uid()
        await memory.add(
            user_id=user, content="Allergic to peanuts", metadata={"category": "health"}
        )
        await memory.add(user_id=user, content="Lives in Lisbon")
        hits = await memory.search(user_id=user, query="food allergy", limit=5)
        assert hits[0]["content"] == "Allergic to peanuts"
        filtered = await memory.search(user_id=user, query="where", filters={"category": "health"})
        assert [m["content"] for m in filtered] == ["Allergic to peanuts"]
    finally:
        await memory.close()
        await drop_tables(table)


async def test_seed_custom_provider_directly_and_under_memory() -> None:
    conn = f"db-{uuid.uuid4().hex}"
    custom = MyCustomProvider(conn)
    user, other = uid(), uid()
    mid = await custom.add(user, "User prefers dark mode", {"category": "preferences"})
    await custom.add(other, "Other user prefers light mode")

    memory = Memory(provider=custom)  # hooks, strategies and validation on top
    hits = await memory.search(user_id=user, query="prefers mode", limit=5)
    assert [(h.id, h["content"], h.score) for h in hits] == [(mid, "User prefers dark mode", 1.0)]
    assert isinstance(hits[0], MemoryRecord) and hits[0]["memory"] == "User prefers dark mode"
    updated = await memory.update(user, mid, content="User prefers dark mode everywhere")
    assert updated.content == "User prefers dark mode everywhere"
    assert connect(conn).rows[0]["content"] == "User prefers dark mode everywhere"
    ids = await memory.add(
        user_id=user,
        content=[
            {"role": "user", "content": "I moved to Porto"},
            {"role": "assistant", "content": "Noted: Porto"},
        ],
    )
    assert len(ids) == 1  # the seed's add stores a message list as one row and returns one id
    assert await memory.get(other, mid) is None
    assert await memory.delete(user, mid) is True and await memory.delete(user, mid) is False
    assert await memory.delete_all(user) == 1
    assert [r["user_id"] for r in connect(conn).rows] == [other]

    strategy = inject_memory(provider=custom, strategy="relevant", max_memories=10)
    picked = await strategy.select(user_id=other, query="light mode")
    assert strategy.render(picked).endswith("- Other user prefers light mode")


async def test_seed_hooks_redact_and_audit_on_a_builtin_provider() -> None:
    from mnemoplug import InMemoryProvider

    def contains_pii(text: str) -> bool:
        return "@" in text

    def redact_pii(text: str) -> str:
        return re.sub(r"\S+@\S+", "[EMAIL]", text)

    class AuditLog:
        def __init__(self) -> None:
            self.entries: list[dict[str, Any]] = []

        async def record(self, **entry: Any) -> None:
            self.entries.append(entry)

    audit_log = AuditLog()

    @hook("on_memory_add")
    async def before_memory_add(ctx: HookContext):
        # Filter sensitive content
        if contains_pii(ctx.memory_content):  # type: ignore[attr-defined]
            ctx.memory_content = redact_pii(ctx.memory_content)  # type: ignore[attr-defined]

    @hook("on_memory_search")
    async def after_memory_search(ctx: HookContext):
        # Log memory access
        await audit_log.record(
            user=ctx.user.id,
            action="memory_search",
            query=ctx.memory_query,  # type: ignore[attr-defined]
            results_count=len(ctx.memory_results),  # type: ignore[attr-defined]
        )

    memory = InMemoryProvider(embedder=None)
    user = uid()
    await memory.add(user_id=user, content="Write to jane@example.com about the trip")
    memories = await memory.search(user_id=user, query="trip", limit=5)
    memory_context = "\n".join([f"- {m['content']}" for m in memories])
    assert memory_context == "- Write to [EMAIL] about the trip"
    assert audit_log.entries == [
        {"user": user, "action": "memory_search", "query": "trip", "results_count": 1}
    ]


@pytest.mark.parametrize(
    "strategy",
    [
        inject_memory(strategy="relevant", max_memories=10, min_relevance=0.7),
        inject_memory(strategy="recent", max_memories=20),
        inject_memory(strategy="recent", max_memories=20, time_window_hours=24),
        inject_memory(strategy="all", max_memories=50),
        inject_memory(
            strategy="custom",
            selector=lambda ctx, memories: [
                m for m in memories if m.metadata.get("category") == "important"
            ],
        ),
    ],
    ids=["relevant", "recent", "recent-window", "all", "custom"],
)
async def test_seed_injection_strategies(strategy: Any, embedder: Any) -> None:
    from mnemoplug import InMemoryProvider

    memory = InMemoryProvider(embedder=embedder)
    user = uid()
    await memory.add(user, "User is allergic to peanuts", {"category": "important"})
    await memory.add(user, "User watched a film yesterday")
    picked = await strategy.select(memory, user_id=user, query="User is allergic to peanuts")
    contents = [m.content for m in picked]
    if strategy.strategy == "custom" or strategy.strategy == "relevant":
        assert contents == ["User is allergic to peanuts"]
    else:
        assert contents == ["User watched a film yesterday", "User is allergic to peanuts"]


async def test_seed_gdpr_delete_and_mem0_style_forget() -> None:
    from mnemoplug import InMemoryProvider

    memory = InMemoryProvider(embedder=None)
    user, other = uid(), uid()
    await memory.add(user, ["one", "two", "three"])
    await memory.add(other, "kept")
    memories = await memory.get_all(user)
    for m in memories[:1]:
        await memory.delete(user, m["id"])
    deleted_count = await memory.delete_all(user)
    assert deleted_count == 2 and await memory.get_all(user) == []
    assert [m["content"] for m in await memory.get_all(other)] == ["kept"]


async def test_seed_mem0_provider_messages_and_memory_key(tmp_path: Any, embedder: Any) -> None:
    pytest.importorskip("mem0")
    from mnemoplug import Mem0Provider

    memory = Mem0Provider(path=tmp_path / "mem0", embedder=embedder)
    user = uid()
    message, response = "I am vegetarian", "Noted, no meat."
    await memory.add(
        user_id=user,
        messages=[
            {"role": "user", "content": message},
            {"role": "assistant", "content": response},
        ],
        metadata={"category": "preferences"},
    )
    memories = await memory.search(user_id=user, query="diet", filters={"category": "preferences"})
    memory_context = "\n".join([m["memory"] for m in memories])
    assert set(memory_context.split("\n")) == {message, response}
    await memory.close()


async def test_seed_redis_session_memory() -> None:
    require_server(REDIS_URL, "Redis")
    from mnemoplug import RedisSessionMemory, SessionMemory

    session_memory = RedisSessionMemory(
        url=REDIS_URL,
        ttl_seconds=3600,  # 1 hour
        max_messages=50,  # Keep last 50 messages
        prefix=f"seed-sess-{uuid.uuid4().hex[:6]}:",
    )
    assert isinstance(session_memory, SessionMemory)
    session_id = f"s-{uuid.uuid4().hex[:8]}"
    for i in range(55):
        await session_memory.add_message(session_id, {"role": "user", "content": f"message {i}"})
    messages = await session_memory.get_messages(session_id)
    assert [m.content for m in messages] == [f"message {i}" for i in range(5, 55)]
    summary = await session_memory.summarize(session_id)
    assert "message 54" in summary
    await session_memory.clear(session_id)
    assert await session_memory.get_messages(session_id) == []
    await session_memory.close()


async def test_seed_gdpr_route_deletes_memories_sessions_and_checkpoints(tmp_path: Any) -> None:
    from mnemoplug import Memory

    memory = Memory(
        "memory://", embedder=None, session="memory://", checkpoints=f"sqlite:///{tmp_path}/c.db"
    )
    user_id = uid()
    await memory.add(user_id, ["a", "b"])
    await memory.session.add_message(user_id, {"role": "user", "content": "hi"}, user_id=user_id)
    await memory.checkpoints.save("run-1", {"step": 1}, user_id=user_id)
    # the seed's route, line by line
    deleted_count = await memory.delete_all(user_id)
    await memory.session.clear(user_id)
    await memory.checkpoints.delete_user(user_id)
    assert {"deleted_memories": deleted_count} == {"deleted_memories": 2}
    assert await memory.session.get_messages(user_id) == []
    assert await memory.checkpoints.load("run-1", user_id=user_id) is None
    await memory.close()
