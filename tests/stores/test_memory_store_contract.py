"""The memory-store contract: every backend in tests/stores/backends/ with a memory_store factory
passes all of it,
through the public Memory API (real embedding model)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from mnemoplug import (
    ContentTooLargeError,
    InvalidContentError,
    InvalidFilterError,
    InvalidMetadataError,
    InvalidScopeError,
    Memory,
    MemoryNotFoundError,
)
from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_add_get_roundtrip(memory: Memory) -> None:
    u = uid()
    mid = await memory.add(u, "User prefers dark mode", {"category": "preferences", "n": 3})
    assert isinstance(mid, str) and mid
    rec = await memory.get(u, mid)
    assert rec is not None
    assert rec.id == mid and rec.content == "User prefers dark mode"
    assert rec.metadata == {"category": "preferences", "n": 3}
    assert rec.user_id == u and rec.category == "preferences"
    assert rec.created_at.tzinfo is not None and rec.created_at == rec.updated_at
    assert rec["content"] == rec.content and rec.to_dict()["id"] == mid
    assert await memory.get(u, "no-such-id") is None


async def test_messages_become_one_memory_each_with_role(memory: Memory) -> None:
    u = uid()
    ids = await memory.add(
        u,
        [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "I am allergic to peanuts."},
            {"role": "assistant", "content": "Noted, no peanuts."},
        ],
    )
    assert isinstance(ids, list) and len(ids) == 2
    recs = [await memory.get(u, i) for i in ids]
    assert [r.role for r in recs] == ["user", "assistant"]  # type: ignore[union-attr]
    assert [r.content for r in recs] == ["I am allergic to peanuts.", "Noted, no peanuts."]  # type: ignore[union-attr]
    assert await memory.count(u) == 2


async def test_get_all_newest_first_limit_offset(memory: Memory) -> None:
    u = uid()
    ids = []
    for i in range(5):
        ids.append(await memory.add(u, f"fact number {i}"))
    got = await memory.get_all(u)
    assert [r.id for r in got] == ids[::-1]
    assert [r.id for r in await memory.get_all(u, limit=2)] == ids[::-1][:2]
    assert [r.id for r in await memory.get_all(u, limit=2, offset=2)] == ids[::-1][2:4]


async def test_semantic_search_finds_paraphrase(memory: Memory) -> None:
    u = uid()
    await memory.add(u, "User prefers dark mode", {"category": "preferences"})
    await memory.add(u, "User lives in Berlin and works as a nurse")
    await memory.add(u, "User's dog is called Rex")
    hits = await memory.search(u, "Which UI theme does the user like?", limit=3)
    assert hits[0].content == "User prefers dark mode"
    assert all(h.score is not None for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)  # type: ignore[misc]
    assert hits[0].similarity is not None and 0.25 < hits[0].similarity < 0.9
    strict = await memory.search(u, "Which UI theme does the user like?", min_relevance=0.3)
    assert [h.content for h in strict] == ["User prefers dark mode"]


async def test_lexical_match_counts(memory: Memory) -> None:
    u = uid()
    await memory.add(u, "The wifi password is correct-horse-battery")
    await memory.add(u, "User enjoys long walks on the beach")
    hits = await memory.search(u, "zq-7731 battery", limit=1)
    assert hits and "battery" in hits[0].content


async def test_isolation_between_users_is_total(memory: Memory) -> None:
    users = [uid() for _ in range(6)]
    own: dict[str, set[str]] = {u: set() for u in users}
    for i, u in enumerate(users):
        for j in range(4):
            own[u].add(await memory.add(u, f"secret code {i}-{j} of the shared vault: same words"))
    for u in users:
        hits = await memory.search(u, "secret code of the shared vault", limit=50)
        assert {h.id for h in hits} == own[u]
        assert {r.id for r in await memory.get_all(u, limit=1000)} == own[u]
        for other in users:
            if other != u:
                for mid in own[other]:
                    assert await memory.get(u, mid) is None
                    assert await memory.delete(u, mid) is False
                    with pytest.raises(MemoryNotFoundError):
                        await memory.update(u, mid, content="hijacked")
    for u in users:  # nothing was changed by the attempts above
        assert {r.id for r in await memory.get_all(u)} == own[u]
        assert all("hijacked" not in r.content for r in await memory.get_all(u))


async def test_tenant_agent_session_scopes(memory: Memory) -> None:
    u = uid()
    a = await memory.add(u, "acme fact", tenant_id="acme")
    b = await memory.add(u, "globex fact", tenant_id="globex")
    c = await memory.add(u, "default-tenant fact")
    assert {r.id for r in await memory.get_all(u, tenant_id="acme")} == {a}
    assert {r.id for r in await memory.get_all(u)} == {c}
    assert await memory.get(u, a) is None and await memory.get(u, b, tenant_id="acme") is None
    s1 = await memory.add(u, "planner said hi", agent_id="planner", session_id="s1")
    s2 = await memory.add(u, "coder said hi", agent_id="coder", session_id="s2")
    assert {r.id for r in await memory.get_all(u, agent_id="planner")} == {s1}
    assert {r.id for r in await memory.search(u, "said hi", session_id="s2")} == {s2}
    assert {r.id for r in await memory.get_all(u)} == {c, s1, s2}
    assert await memory.delete_all(u, agent_id="coder") == 1
    assert {r.id for r in await memory.get_all(u)} == {c, s1}
    assert await memory.delete_all(u, tenant_id="acme") == 1
    assert {r.id for r in await memory.get_all(u, tenant_id="globex")} == {b}


async def test_update_reembeds_and_replaces_metadata(memory: Memory) -> None:
    u = uid()
    mid = await memory.add(u, "User drinks coffee every morning", {"category": "habits"})
    other = await memory.add(u, "User plays chess on weekends")
    before = await memory.get(u, mid)
    rec = await memory.update(
        u, mid, content="User switched to green tea", metadata={"category": "diet"}
    )
    assert rec.content == "User switched to green tea" and rec.metadata == {"category": "diet"}
    assert (
        before is not None
        and rec.updated_at >= before.updated_at
        and rec.created_at == before.created_at
    )
    hits = await memory.search(u, "What hot beverage does the user have?", limit=1)
    assert hits[0].id == mid and hits[0].content == "User switched to green tea"
    rec2 = await memory.update(u, mid, metadata={"category": "drinks"})
    assert rec2.content == "User switched to green tea"
    assert (await memory.get(u, other)).content == "User plays chess on weekends"  # type: ignore[union-attr]
    with pytest.raises(MemoryNotFoundError):
        await memory.update(u, "missing", content="x")


async def test_delete_and_delete_all_counts(memory: Memory) -> None:
    u, v = uid(), uid()
    ids = [await memory.add(u, f"memory {i}") for i in range(7)]
    keep = [await memory.add(v, f"other {i}") for i in range(3)]
    assert await memory.delete(u, ids[0]) is True
    assert await memory.delete(u, ids[0]) is False
    assert await memory.delete_all(u) == 6
    assert await memory.delete_all(u) == 0
    assert await memory.get_all(u) == []
    assert await memory.search(u, "memory") == []
    assert {r.id for r in await memory.get_all(v)} == set(keep)


async def test_filters(memory: Memory) -> None:
    u = uid()
    a = await memory.add(u, "alpha note", {"category": "work", "priority": 1, "tags": ["x", "y"]})
    b = await memory.add(u, "beta note", {"category": ["work", "travel"], "priority": 5})
    c = await memory.add(u, "gamma note", {"category": "home", "priority": 9, "nested": {"k": "v"}})

    async def ids(f: dict) -> set[str]:
        got = {r.id for r in await memory.get_all(u, filters=f)}
        assert got == {r.id for r in await memory.search(u, "note", limit=10, filters=f)}
        return got

    assert await ids({"category": "work"}) == {a, b}
    assert await ids({"category": {"$in": ["home", "travel"]}}) == {b, c}
    assert await ids({"category": {"$ne": "work"}}) == {c}
    assert await ids({"priority": {"$gt": 1}}) == {b, c}
    assert await ids({"priority": {"$gte": 1, "$lt": 9}}) == {a, b}
    assert await ids({"priority": {"$lte": 5}, "category": "work"}) == {a, b}
    assert await ids({"tags": "y"}) == {a}
    assert await ids({"nested.k": "v"}) == {c}
    assert await ids({"$or": [{"priority": 1}, {"priority": 9}]}) == {a, c}
    rec = await memory.get(u, b)
    assert rec is not None
    assert await ids({"created_at": {"$gte": rec.created_at}}) >= {b, c}
    future = datetime.now(UTC) + timedelta(days=1)
    assert await ids({"created_at": {"$gt": future.isoformat()}}) == set()
    assert await ids({"created_at": {"$lt": future}}) == {a, b, c}
    with pytest.raises(InvalidFilterError, match=r"\$regex"):
        await memory.search(u, "note", filters={"priority": {"$regex": "x"}})
    with pytest.raises(InvalidFilterError, match="list"):
        await memory.get_all(u, filters={"priority": {"$in": 5}})


async def test_expiry(memory: Memory) -> None:
    # a clock of our own: the store is told "now" on every call, so a loaded machine cannot
    # make the 60-second memory expire before it is read back
    t = [time.time()]
    memory = Memory(
        memory.store, embedder=memory.embedder, load_entry_points=False, clock=lambda: t[0]
    )
    u = uid()
    gone = await memory.add(u, "ephemeral reminder about the dentist", ttl=60.0)
    stays = await memory.add(u, "permanent fact about the dentist")
    past = await memory.add(
        u, "already expired dentist note", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await memory.get(u, past) is None
    assert (await memory.get(u, gone)) is not None
    t[0] += 61.0
    assert await memory.get(u, gone) is None
    assert {r.id for r in await memory.get_all(u)} == {stays}
    assert {r.id for r in await memory.search(u, "dentist")} == {stays}
    assert await memory.count(u) == 1
    with pytest.raises(MemoryNotFoundError):
        await memory.update(u, gone, content="revived")
    assert await memory.purge_expired() >= 2
    assert await memory.purge_expired() == 0
    assert {r.id for r in await memory.get_all(u)} == {stays}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user_id": "", "content": "x"}, InvalidScopeError),
        ({"user_id": "   ", "content": "x"}, InvalidScopeError),
        ({"user_id": 42, "content": "x"}, InvalidScopeError),
        ({"user_id": None, "content": "x"}, InvalidScopeError),
        ({"user_id": "u", "content": ""}, InvalidContentError),
        ({"user_id": "u", "content": 12}, InvalidContentError),
        ({"user_id": "u", "content": "x" * 40_000}, ContentTooLargeError),
        (
            {"user_id": "u", "content": "x", "metadata": {"when": datetime.now()}},
            InvalidMetadataError,
        ),
        ({"user_id": "u", "content": "x", "metadata": {1: "a"}}, InvalidMetadataError),
        ({"user_id": "u", "content": "x", "metadata": ["a"]}, InvalidMetadataError),
        (
            {
                "user_id": "u",
                "content": [{"role": "user", "content": "ok"}, {"role": "wizard", "content": "x"}],
            },
            InvalidContentError,
        ),
        (
            {
                "user_id": "u",
                "content": [{"role": "user", "content": "ok"}, {"role": "user", "content": ""}],
            },
            InvalidContentError,
        ),
    ],
)
async def test_bad_input_is_typed_and_stores_nothing(
    memory: Memory, kwargs: dict, error: type
) -> None:
    await memory.add("u", "pre-existing")
    with pytest.raises(error) as info:
        await memory.add(**kwargs)
    assert str(info.value)  # says something
    assert [r.content for r in await memory.get_all("u")] == ["pre-existing"]


async def test_concurrent_adds_and_searches_lose_nothing(memory: Memory) -> None:
    users = [uid() for _ in range(5)]

    async def writer(i: int) -> str:
        u = users[i % len(users)]
        mid = await memory.add(u, f"concurrent fact {i} about topic {i % 7}")
        hits = await memory.search(u, f"topic {i % 7}", limit=5)
        assert all(h.user_id == u for h in hits)
        return mid

    ids = await asyncio.gather(*(writer(i) for i in range(50)))
    assert len(set(ids)) == 50
    total = 0
    for k, u in enumerate(users):
        got = {r.id for r in await memory.get_all(u, limit=100)}
        assert got == {ids[i] for i in range(50) if i % len(users) == k}
        total += len(got)
    assert total == 50


async def test_export_and_upsert_keep_ids_and_times(memory_store) -> None:  # type: ignore[no-untyped-def]
    u = uid()
    vec = np.ones(4, dtype=np.float32) / 2.0
    rows = [
        StoredMemory(
            id=f"id-{i}",
            user_id=u,
            content=f"c{i}",
            metadata={"i": i},
            created_at=1000.0 + i,
            updated_at=2000.0 + i,
            expires_at=None if i else 9e9,
            embedding=vec,
            role="user",
        )
        for i in range(3)
    ]
    await memory_store.upsert(rows)
    await memory_store.upsert(rows[:1])  # idempotent
    assert ("", u) in await memory_store.list_users()
    batches = [b async for b in memory_store.export("", u, batch_size=2)]
    got = sorted((m for b in batches for m in b), key=lambda m: m.id)
    assert max(len(b) for b in batches) <= 2
    assert [
        (m.id, m.content, m.metadata, m.created_at, m.updated_at, m.expires_at, m.role) for m in got
    ] == [
        (r.id, r.content, r.metadata, r.created_at, r.updated_at, r.expires_at, r.role)
        for r in rows
    ]
    assert all(m.embedding is not None and np.allclose(m.embedding, vec) for m in got)
    listed = await memory_store.list(Scope(u), limit=10, offset=0, filters=Filter(None), now=3000.0)
    assert [m.id for m in listed] == ["id-2", "id-1", "id-0"]
