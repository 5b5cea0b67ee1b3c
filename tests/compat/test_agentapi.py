"""mnemoplug.compat.agentapi: AgentAPI's memory docs, run as written (imports changed, server
addresses replaced by the test ones) against the in-process, SQLite and Redis session stores."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mnemoplug.compat.agentapi import (
    InMemoryMemory,
    Message,
    RedisMemory,
    SQLiteMemory,
    create_conversation_id,
)
from mnemoplug.core.errors import ConfigurationError, InvalidMessageError, SessionOwnershipError
from tests.conftest import REDIS_URL, require_server
from tests.stores.backends.redis import drop_prefix


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    require_server(REDIS_URL, "Redis")
    p = f"mp-compat-agentapi-{uuid.uuid4().hex[:10]}:"
    yield p
    await drop_prefix(p)


def _pairs(msgs: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in msgs]


# -- InMemoryMemory -----------------------------------------------------------------------------
async def test_in_memory_memory_as_the_docs_write_it() -> None:
    conversation_id = create_conversation_id()
    memory = InMemoryMemory(
        conversation_id=conversation_id,
    )
    assert memory.conversation_id == conversation_id and memory.messages == []
    await memory.add_message("system", "You are a helpful assistant.")
    await memory.add_message("user", "hi")
    await memory.add_message({"role": "assistant", "content": "hello!"})
    expected = [("system", "You are a helpful assistant."), ("user", "hi"), ("assistant", "hello!")]
    assert _pairs(memory.messages) == expected
    assert _pairs(await memory.get_messages()) == expected
    assert _pairs(await memory.get_messages(limit=1)) == [("assistant", "hello!")]
    assert len(memory) == 3
    fixed = InMemoryMemory(conversation_id="550e8400-e29b-41d4-a716-446655440000")
    assert fixed.conversation_id == "550e8400-e29b-41d4-a716-446655440000"


async def test_five_in_memory_memories_have_no_cross_talk() -> None:
    # Create 5 separate memory instances for 5 agents
    memories = [InMemoryMemory(conversation_id=create_conversation_id()) for _ in range(5)]
    topics = ["research", "editing", "summarization", "analysis", "planning"]

    async def run(i: int) -> None:
        for turn in range(3):
            await memories[i].add_message("user", f"agent {i} {topics[i]} turn {turn}")
            await asyncio.sleep(0)  # interleave the five agents
            await memories[i].add_message("assistant", f"agent {i} reply {turn}")

    await asyncio.gather(*(run(i) for i in range(5)))
    for i, memory in enumerate(memories):
        expected = [
            pair
            for turn in range(3)
            for pair in (
                ("user", f"agent {i} {topics[i]} turn {turn}"),
                ("assistant", f"agent {i} reply {turn}"),
            )
        ]
        assert _pairs(memory.messages) == expected
        assert _pairs(await memory.get_messages()) == expected
    assert len({m.conversation_id for m in memories}) == 5


async def test_in_memory_instances_are_independent_even_with_one_id() -> None:
    a = InMemoryMemory(conversation_id="same")
    b = InMemoryMemory(conversation_id="same")
    await a.add_message("user", "only in a")
    assert await b.get_messages() == [] and b.messages == []


async def test_reset_starts_over_with_the_same_id() -> None:
    memory = InMemoryMemory(conversation_id="c1")
    await memory.add_message("user", "one")
    await memory.add_message("user", "two")
    assert await memory.reset() == 2
    assert memory.messages == [] and await memory.get_messages() == []
    await memory.add_message("user", "three")
    assert _pairs(memory.messages) == [("user", "three")]
    assert memory.conversation_id == "c1"


async def test_messages_property_is_a_copy_and_respects_max_messages() -> None:
    memory = InMemoryMemory(max_messages=2)
    await memory.add_message("user", "a")
    snapshot = memory.messages
    snapshot.clear()
    assert len(memory.messages) == 1
    await memory.add_message("user", "b", metadata={"k": 1})
    await memory.add_message("user", "c")
    assert [m.content for m in memory.messages] == ["b", "c"]
    assert [m.content for m in await memory.get_messages()] == ["b", "c"]
    assert memory.messages[0].metadata == {"k": 1}
    assert (await memory.summarize()).startswith("2 messages")


async def test_bad_arguments_raise_typed_errors(tmp_path: Any) -> None:
    with pytest.raises(InvalidMessageError):
        InMemoryMemory(conversation_id="")
    memory = InMemoryMemory()
    with pytest.raises(InvalidMessageError):
        await memory.add_message("user")
    with pytest.raises(InvalidMessageError):
        await memory.add_message("robot", "x")
    with pytest.raises(InvalidMessageError):
        await memory.add_message({"role": "user", "content": "x"}, "extra")
    with pytest.raises(InvalidMessageError):
        await memory.get_messages(limit=0)
    assert await memory.get_messages() == []
    with pytest.raises(ConfigurationError):
        RedisMemory(redis_url="http://localhost:6379", conversation_id="c")
    with pytest.raises(ConfigurationError):
        SQLiteMemory(path="", conversation_id="c")


def test_create_conversation_id_is_unique() -> None:
    ids = {create_conversation_id() for _ in range(100)}
    assert len(ids) == 100 and all(isinstance(i, str) and i for i in ids)


# -- RedisMemory --------------------------------------------------------------------------------
async def test_redis_memory_as_the_docs_write_it() -> None:
    require_server(REDIS_URL, "Redis")
    memory = RedisMemory(
        redis_url=REDIS_URL,
        conversation_id=create_conversation_id(),
        user_id="123",
        tenant_id="acme",
    )
    try:
        await memory.add_message("user", "hello from worker 1")
        assert _pairs(memory.messages) == [("user", "hello from worker 1")]
        info = await memory.store.info(memory.conversation_id)
        assert info is not None and (info.user_id, info.tenant_id) == ("123", "acme")
        # a second worker of the same user shares the conversation
        worker2 = RedisMemory(
            redis_url=REDIS_URL,
            conversation_id=memory.conversation_id,
            user_id="123",
            tenant_id="acme",
        )
        assert worker2.messages == []  # not read yet
        await worker2.add_message("assistant", "hi, worker 2 here")
        expected = [("user", "hello from worker 1"), ("assistant", "hi, worker 2 here")]
        assert _pairs(worker2.messages) == expected
        assert _pairs(memory.messages) == [("user", "hello from worker 1")]  # stale cache
        assert _pairs(await memory.get_messages()) == expected  # refreshed
        await worker2.close()
    finally:
        await memory.reset()
        await memory.close()


async def test_redis_memory_isolates_users_and_tenants(redis_prefix: str) -> None:
    cid = create_conversation_id()

    def mem(user: str | None, tenant: str | None) -> RedisMemory:
        return RedisMemory(
            redis_url=REDIS_URL,
            conversation_id=cid,
            user_id=user,
            tenant_id=tenant,
            prefix=redis_prefix,
        )

    owner = mem("123", "acme")
    others = [mem("456", "acme"), mem("123", "globex"), mem("456", None)]
    try:
        await owner.add_message("user", "secret of user 123")
        for other in others:
            assert await other.get_messages() == [] and other.messages == []
            with pytest.raises(SessionOwnershipError):
                await other.add_message("user", "intrusion")
            assert await other.reset() == 0
            assert await other.summarize() == ""
        assert _pairs(await owner.get_messages()) == [("user", "secret of user 123")]
    finally:
        for m in [owner, *others]:
            await m.close()


async def test_redis_memory_conversation_id_formats(redis_prefix: str) -> None:
    class User:
        id = 42

    class Tenant:
        id = "acme"

    user, tenant = User(), Tenant()
    for conversation_id in (f"user:{user.id}", f"tenant:{tenant.id}:user:{user.id}"):
        memory = RedisMemory(
            redis_url=REDIS_URL, conversation_id=conversation_id, prefix=redis_prefix
        )
        await memory.add_message("user", conversation_id)
        again = RedisMemory(
            redis_url=REDIS_URL, conversation_id=conversation_id, prefix=redis_prefix
        )
        assert _pairs(await again.get_messages()) == [("user", conversation_id)]
        await memory.close()
        await again.close()


# -- SQLiteMemory -------------------------------------------------------------------------------
async def test_sqlite_memory_shares_a_file_and_enforces_owners(tmp_path: Any) -> None:
    path = tmp_path / "conversations.db"
    cid = create_conversation_id()
    a = SQLiteMemory(path=path, conversation_id=cid, user_id="u1")
    b = SQLiteMemory(path=str(path), conversation_id=cid, user_id="u1")
    intruder = SQLiteMemory(path=path, conversation_id=cid, user_id="u2")
    try:
        await a.add_message("user", "first")
        await b.add_message("assistant", "second")
        assert _pairs(await a.get_messages()) == [("user", "first"), ("assistant", "second")]
        assert await intruder.get_messages() == []
        with pytest.raises(SessionOwnershipError):
            await intruder.add_messages(
                [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]
            )
        assert await intruder.reset() == 0
        assert len(await b.get_messages()) == 2
        assert await a.reset() == 2 and await b.get_messages() == []
    finally:
        for m in (a, b, intruder):
            await m.close()


async def test_sqlite_memory_persists_across_instances(tmp_path: Any) -> None:
    path = tmp_path / "p.db"
    first = SQLiteMemory(path=path, conversation_id="conv-1")
    await first.add_message("user", "remember me")
    await first.close()
    async with SQLiteMemory(path=path, conversation_id="conv-1") as second:
        assert _pairs(await second.load()) == [("user", "remember me")]
        assert _pairs(second.messages) == [("user", "remember me")]
