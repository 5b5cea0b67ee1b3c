"""Redis bulk deletes beyond one chunk: ``delete_all`` works through the user's ids 1,000 at a
time (and ``purge_expired`` 500 at a time), so these tests store more than that. No embedder
(lexical only), so that adding thousands of memories takes a moment."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mnemoplug import Memory
from tests.conftest import REDIS_URL
from tests.stores.backends.redis import memory_store as FACTORY

pytestmark = pytest.mark.server

T0 = 2_000_000_000.0


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Any) -> AsyncIterator[Any]:
    async with FACTORY(tmp_path) as p:
        yield p


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def memory(store: Any, clock: Clock) -> AsyncIterator[Memory]:
    m = Memory(store, embedder=None, load_entry_points=False, clock=clock)
    yield m
    await m.close()


async def add_many(memory: Memory, user: str, n: int, batch: int = 500, **kw: Any) -> list[str]:
    ids: list[str] = []
    for start in range(0, n, batch):
        texts = [f"bulk fact {i} for {user}" for i in range(start, min(n, start + batch))]
        ids += await memory.add(user, texts, **kw)
    return ids


async def memory_hash_keys(store: Any) -> set[str]:
    """The ids of every memory hash (``<prefix>:{<user>}:m:<id>``) under the store's prefix."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return {
            k.decode().split("}:m:", 1)[1]
            async for k in client.scan_iter(match=f"{store.prefix}:{{*}}:m:*", count=1000)
        }
    finally:
        await client.aclose()


async def test_delete_all_of_more_than_a_thousand(memory: Memory, store: Any) -> None:
    u, v = uid(), uid()
    ids = await add_many(memory, u, 1500)
    others = await add_many(memory, v, 3)
    assert len(set(ids)) == 1500 and await memory.count(u) == 1500
    assert await memory_hash_keys(store) == set(ids) | set(others)

    assert await memory.delete_all(u) == 1500
    assert await memory.count(u) == 0
    assert await memory.get_all(u, limit=10_000) == []
    assert await memory.search(u, "bulk fact", limit=100) == []
    assert await memory.get(u, ids[0]) is None and await memory.get(u, ids[-1]) is None
    assert await memory.delete_all(u) == 0
    # the other user is untouched, and no hash of the deleted memories is left behind
    assert {r.id for r in await memory.get_all(v)} == set(others)
    assert await memory.count(v) == 3
    assert await memory_hash_keys(store) == set(others)


async def test_scoped_delete_all_of_more_than_a_thousand(memory: Memory, store: Any) -> None:
    u, v = uid(), uid()
    planner = await add_many(memory, u, 1300, agent_id="planner")
    coder = await add_many(memory, u, 200, agent_id="coder")
    v_planner = await add_many(memory, v, 5, agent_id="planner")

    assert await memory_hash_keys(store) == set(planner) | set(coder) | set(v_planner)
    assert await memory.delete_all(u, agent_id="planner") == 1300
    assert await memory.count(u, agent_id="planner") == 0
    assert {r.id for r in await memory.get_all(u, limit=10_000)} == set(coder)
    assert {r.id for r in await memory.get_all(v, agent_id="planner")} == set(v_planner)
    assert await memory_hash_keys(store) == set(coder) | set(v_planner)
    assert await memory.delete_all(u) == 200
    assert await memory_hash_keys(store) == set(v_planner)


async def test_purge_expired_of_more_than_one_batch(
    memory: Memory, store: Any, clock: Clock
) -> None:
    u, v = uid(), uid()
    doomed = await add_many(memory, u, 1200, expires_at=T0 + 10)
    keep = await add_many(memory, u, 100)
    v_doomed = await add_many(memory, v, 30, ttl=10)
    clock.now = T0 + 9.999
    assert await memory.purge_expired() == 0
    assert await memory.count(u) == 1300
    clock.now = T0 + 10
    assert await memory.count(u) == 100 and await memory.count(v) == 0
    assert await memory.purge_expired() == 1230
    assert await memory.purge_expired() == 0
    assert {r.id for r in await memory.get_all(u, limit=10_000)} == set(keep)
    assert await memory_hash_keys(store) == set(keep)
    clock.now = T0  # purged for good: not back when the clock says they are live again
    assert {r.id for r in await memory.get_all(u, limit=10_000)} == set(keep)
    assert await memory.get(u, doomed[0]) is None and await memory.get(v, v_doomed[0]) is None
