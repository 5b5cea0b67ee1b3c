"""The provider-level contract: the seeds' seven methods, as a user calls them, on every
built-in provider class, on ``Memory`` over a store, and on the seeds' own custom provider
(directly and under ``Memory(provider=...)``).

Results are read the seeds' way (``m["id"]``, ``m["content"]``, ``m["score"]``), so dict results
and ``MemoryRecord`` results are held to the same rules. The store-level contract (scopes,
filters, expiry, …) is ``test_contract.py``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from mnemoplug import Memory, MemoryNotFoundError, MemoryProvider
from tests.conftest import POSTGRES_URL, REDIS_URL, require_server
from tests.seed_provider import MyCustomProvider


@contextlib.asynccontextmanager
async def _in_memory(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    from mnemoplug import InMemoryProvider

    yield InMemoryProvider(embedder=embedder, load_entry_points=False)


@contextlib.asynccontextmanager
async def _sqlite(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    from mnemoplug import SQLiteProvider

    p = SQLiteProvider(str(tmp_path / "p.db"), embedder=embedder, load_entry_points=False)
    yield p
    await p.close()


@contextlib.asynccontextmanager
async def _redis(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    require_server(REDIS_URL, "Redis")
    from mnemoplug import RedisProvider

    p = RedisProvider(
        url=REDIS_URL,
        prefix=f"pc-{uuid.uuid4().hex[:8]}:",
        embedder=embedder,
        load_entry_points=False,
    )
    yield p
    await p.close()


@contextlib.asynccontextmanager
async def _postgres(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug import PostgresProvider
    from tests.stores.backends.postgres import drop_tables

    table = f"pc_{uuid.uuid4().hex[:10]}"
    p = PostgresProvider(url=POSTGRES_URL, table=table, embedder=embedder, load_entry_points=False)
    try:
        yield p
    finally:
        await p.close()
        await drop_tables(table)


@contextlib.asynccontextmanager
async def _qdrant(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    pytest.importorskip("qdrant_client")
    from mnemoplug import QdrantProvider

    p = QdrantProvider(path=tmp_path / "q", embedder=embedder, load_entry_points=False)
    yield p
    await p.close()


@contextlib.asynccontextmanager
async def _mem0(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    pytest.importorskip("mem0")
    from mnemoplug import Mem0Provider

    p = Mem0Provider(path=tmp_path / "m", embedder=embedder, load_entry_points=False)
    yield p
    await p.close()


@contextlib.asynccontextmanager
async def _memory_url(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    m = Memory(f"sqlite:///{tmp_path}/m.db", embedder=embedder, load_entry_points=False)
    yield m
    await m.close()


@contextlib.asynccontextmanager
async def _seed_custom(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    yield MyCustomProvider(f"contract-{uuid.uuid4().hex}")


@contextlib.asynccontextmanager
async def _memory_over_custom(tmp_path: Any, embedder: Any) -> AsyncIterator[MemoryProvider]:
    yield Memory(provider=MyCustomProvider(f"contract-{uuid.uuid4().hex}"), load_entry_points=False)


PROVIDERS: dict[str, Callable[[Any, Any], Any]] = {
    "InMemoryProvider": _in_memory,
    "SQLiteProvider": _sqlite,
    "RedisProvider": _redis,
    "PostgresProvider": _postgres,
    "QdrantProvider": _qdrant,
    "Mem0Provider": _mem0,
    "Memory(url)": _memory_url,
    "MyCustomProvider": _seed_custom,
    "Memory(provider=MyCustomProvider)": _memory_over_custom,
}


@pytest.fixture(params=list(PROVIDERS))
async def provider(
    request: pytest.FixtureRequest, tmp_path: Any, embedder: Any
) -> AsyncIterator[MemoryProvider]:
    async with PROVIDERS[request.param](tmp_path, embedder) as p:
        assert isinstance(p, MemoryProvider)
        yield p


def uid() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


async def test_add_get_get_all(provider: MemoryProvider) -> None:
    user = uid()
    first = await provider.add(user, "User prefers dark mode", {"category": "preferences"})
    second = await provider.add(user_id=user, content="User lives in Lisbon")
    assert isinstance(first, str) and isinstance(second, str) and first != second
    got = await provider.get(user, first)
    assert got is not None and got["id"] == first and got["content"] == "User prefers dark mode"
    assert got["metadata"] == {"category": "preferences"}
    assert await provider.get(user, "no-such-id") is None
    listed = await provider.get_all(user)
    assert [m["id"] for m in listed] == [second, first]  # newest first
    assert [m["id"] for m in await provider.get_all(user, limit=1)] == [second]


async def test_search_ranks_with_scores(provider: MemoryProvider) -> None:
    user = uid()
    target = await provider.add(user, "User prefers dark mode in the editor")
    await provider.add(user, "User lives in Lisbon near the river")
    hits = await provider.search(user, "dark mode editor", limit=5)
    assert hits and hits[0]["id"] == target
    assert all(isinstance(h["score"], float) for h in hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len(await provider.search(user_id=user, query="dark mode editor", limit=1)) == 1


async def test_update_then_get_shows_change(provider: MemoryProvider) -> None:
    user = uid()
    mid = await provider.add(user, "Favourite colour is blue", {"v": 1})
    await provider.update(user, mid, content="Favourite colour is green")
    got = await provider.get(user, mid)
    assert got is not None and got["content"] == "Favourite colour is green"
    await provider.update(user_id=user, memory_id=mid, metadata={"v": 2})
    got = await provider.get(user, mid)
    assert got is not None and got["metadata"] == {"v": 2}


async def test_delete_and_delete_all_count(provider: MemoryProvider) -> None:
    user, other = uid(), uid()
    a = await provider.add(user, "alpha fact")
    await provider.add(user, "beta fact")
    await provider.add(user, "gamma fact")
    keep = await provider.add(other, "other user's fact")
    await provider.delete(user, a)
    assert await provider.get(user, a) is None
    assert await provider.delete_all(user) == 2
    assert await provider.get_all(user) == []
    assert [m["id"] for m in await provider.get_all(other)] == [keep]


async def test_users_are_isolated(provider: MemoryProvider) -> None:
    alice, bob = uid(), uid()
    secret = await provider.add(alice, "Alice's locker code is 4711")
    await provider.add(bob, "Bob likes chess")
    assert await provider.get(bob, secret) is None
    assert all(h["id"] != secret for h in await provider.search(bob, "locker code 4711"))
    assert [m["content"] for m in await provider.get_all(bob)] == ["Bob likes chess"]
    with contextlib.suppress(MemoryNotFoundError):  # raising it, or doing nothing, are both fine
        await provider.update(bob, secret, content="tampered")
    assert not await provider.delete(bob, secret)  # False (Memory) or None (the seed's)
    got = await provider.get(alice, secret)
    assert got is not None and got["content"] == "Alice's locker code is 4711"
