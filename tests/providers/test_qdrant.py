"""Qdrant-specific behaviour (the shared contract runs through factory_qdrant.py)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np
import pytest

from mnemoplug import Memory
from mnemoplug.core.errors import ConfigurationError, EmbedderMismatchError
from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
from mnemoplug.providers.qdrant import QdrantMemoryStore
from mnemoplug.providers.qdrant.payload import point_id
from mnemoplug.providers.qdrant.url import parse_url as _parse_url
from tests.conftest import require_server

QDRANT_URL = os.environ.get("MNEMOPLUG_TEST_QDRANT_URL", "qdrant://127.0.0.1:6333")


def test_urls() -> None:
    assert _parse_url("qdrant://localhost:6333") == ("http://localhost:6333", None)
    assert _parse_url("qdrant://db.internal") == ("http://db.internal:6333", None)
    assert _parse_url("qdrant:///var/lib/mem") == (None, "/var/lib/mem")
    assert _parse_url("qdrant://:memory:") == (None, ":memory:")
    assert _parse_url("qdrant://./here/dir") == (None, "here/dir")
    for bad in ("qdrant://", "qdrant://host:6333/coll", "redis://x"):
        with pytest.raises(ConfigurationError, match="qdrant"):
            _parse_url(bad)
    with pytest.raises(ConfigurationError, match="either"):
        QdrantMemoryStore("qdrant://:memory:", path="/tmp/x")
    with pytest.raises(ConfigurationError, match="needs a URL"):
        QdrantMemoryStore()
    p = Memory.from_url("qdrant://:memory:", embedder=None, load_entry_points=False).store
    assert isinstance(p, QdrantMemoryStore) and p.local and p.url == "qdrant://:memory:"


def test_point_ids() -> None:
    mid = new_memory_id()
    assert point_id(mid) == mid
    other = point_id("legacy-42")
    assert other == str(uuid.UUID(other)) and other != point_id("legacy-43")
    assert point_id(mid.upper()) != mid.upper()  # non-canonical spellings are hashed too


async def test_non_uuid_ids_and_isolation_at_the_provider(tmp_path: Any) -> None:
    p = QdrantMemoryStore(path=tmp_path / "q")
    vec = np.array([1, 0, 0, 0], dtype=np.float32)
    rows = [
        StoredMemory(id="same-id", user_id="u1", content="mine", created_at=1.0, updated_at=1.0,
                     embedding=vec),
        StoredMemory(id="x-2", user_id="u2", content="theirs", created_at=2.0, updated_at=2.0,
                     tenant_id="acme", embedding=vec),
    ]  # fmt: skip
    try:
        await p.upsert(rows)
        assert (await p.get(Scope("u1"), "same-id", 3.0)).content == "mine"  # type: ignore[union-attr]
        assert await p.get(Scope("u2"), "x-2", 3.0) is None  # default tenant is not acme
        assert await p.get(Scope("u2", "acme"), "x-2", 3.0) is not None
        assert await p.get(Scope("u1"), "x-2", 3.0) is None
        assert await p.delete(Scope("u1"), "x-2") is False
        assert await p.delete_all(Scope("u1", "acme")) == 0
        # moving an id to another user (upsert) leaves no copy behind
        await p.upsert([rows[0].copy(user_id="u3")])
        assert await p.get(Scope("u1"), "same-id", 3.0) is None
        assert await p.list(Scope("u1"), limit=10, offset=0, filters=Filter(None), now=3.0) == []
        assert sorted(await p.list_users()) == [("", "u3"), ("acme", "u2")]
        # the dimension is fixed once the collection holds vectors
        with pytest.raises(EmbedderMismatchError, match="4-dimensional"):
            await p.upsert([rows[0].copy(id="y", embedding=np.ones(8, dtype=np.float32))])
    finally:
        await p.close()


async def test_persists_and_other_instance_sees_writes(tmp_path: Any, embedder: Any) -> None:
    path = tmp_path / "persist"
    async with Memory(
        QdrantMemoryStore(path=path), embedder=embedder, load_entry_points=False
    ) as m:
        mid = await m.add("u", "User prefers dark mode", {"category": "ui"})
        assert (await m.search("u", "Which UI theme does the user like?"))[0].id == mid
    async with Memory(f"qdrant://{path}", embedder=embedder, load_entry_points=False) as m2:
        hits = await m2.search("u", "Which UI theme does the user like?")
        assert hits[0].id == mid and hits[0].metadata == {"category": "ui"}
        await m2.update("u", mid, content="User prefers light mode")
        assert (await m2.get("u", mid)).content == "User prefers light mode"  # type: ignore[union-attr]
    # another embedder on the same store is refused
    bad = Memory(QdrantMemoryStore(path=path), embedder=lambda t: [[1.0, 0.0]] * len(t),
                 load_entry_points=False)  # fmt: skip
    with pytest.raises(EmbedderMismatchError, match="migrate_memory"):
        await bad.add("u", "x")
    await bad.close()


async def test_lexical_only_without_embedder(tmp_path: Any) -> None:
    async with Memory(QdrantMemoryStore(path=tmp_path / "lex"), embedder=None,
                      load_entry_points=False) as m:  # fmt: skip
        a = await m.add("u", "the wifi password is hunter2")
        await m.add("u", "the cat sleeps all day")
        hits = await m.search("u", "wifi password?")
        assert [h.id for h in hits] == [a] and hits[0].similarity is None


@pytest.mark.skipif(
    not os.environ.get("MNEMOPLUG_TEST_QDRANT_URL"),
    reason="set MNEMOPLUG_TEST_QDRANT_URL=qdrant://host:6333 to test a Qdrant server "
    "(none runs on our CI machines; local mode is tested above)",
)
async def test_server_mode(embedder: Any) -> None:
    require_server(QDRANT_URL.replace("qdrant://", "http://"), "Qdrant")
    coll = f"mnemoplug_test_{uuid.uuid4().hex[:10]}"
    p = QdrantMemoryStore(QDRANT_URL, collection=coll)
    try:
        async with Memory(p, embedder=embedder, load_entry_points=False) as m:
            mid = await m.add("u", "User prefers dark mode")
            assert (await m.search("u", "UI theme?"))[0].id == mid
            assert await m.get("v", mid) is None
    finally:
        client = p._client
        if client is None:
            await p.open()
            client = p._client
        assert client is not None
        await client.delete_collection(coll)
        await client.delete_collection(coll + "_users")
        await p.close()


async def test_a_user_not_cached_is_searched_in_qdrant_without_a_scroll(tmp_path: Any) -> None:
    """A cold process answers a long-history user's search with Qdrant's own search (here in
    local mode, turned on for the test) and loads the user's index in the background."""
    import asyncio

    from mnemoplug.core.retrieval import SearchRequest

    p = QdrantMemoryStore(path=tmp_path / "q", collection="cold", cold_search_min=30, dimension=8)
    p._cold_search_local = True
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((60, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    words = ["coffee", "tea", "hiking", "piano", "lisbon", "berlin"]
    rows = [
        StoredMemory(id=new_memory_id(), user_id="big", content=f"likes {words[i % 6]} {i}",
                     created_at=float(i), updated_at=float(i), embedding=vecs[i])
        for i in range(60)
    ] + [
        StoredMemory(id=new_memory_id(), user_id="small", content="likes coffee",
                     created_at=1.0, updated_at=1.0, embedding=vecs[0])
    ]  # fmt: skip
    calls: list[str] = []
    try:
        await p.insert(rows)
        client = await p._c()
        for name in ("scroll", "query_points"):
            real = getattr(client, name)

            async def spy(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
                calls.append(_name)
                return await _real(*a, **kw)

            setattr(client, name, spy)
        q = rng.standard_normal(8).astype(np.float32)
        req = SearchRequest("coffee piano", q / np.linalg.norm(q), 10, Filter(None), 100.0)
        p._cache.clear()  # as a fresh process
        cold = await p.search(Scope("big"), req)
        assert calls == ["query_points"]  # answered without scrolling the user's history
        for task in list(p._warming.values()):
            await asyncio.wait_for(task, 30)
        assert ("", "big") in p._cache and "scroll" in calls  # loaded in the background
        calls.clear()
        warm = await p.search(Scope("big"), req)
        assert calls == []
        # every memory was a candidate (60 < 200): the same ranking and scores either way
        assert [(h.memory.id, h.score) for h in cold] == [(h.memory.id, h.score) for h in warm]
        p._cache.clear()
        small = await p.search(Scope("small"), req)  # under cold_search_min: loaded first
        assert calls == ["scroll"] and len(small) == 1
    finally:
        await p.close()
