"""A Redis memory store written in schema 1 (before the hash-tagged keys) keeps working: the
keys are written here as mnemoplug 0.x wrote them (``P:m:<id>``, ``P:u:<u>:ids``/``gen``, one
``P:exp``), and opening the store renames them (tests.conftest.REDIS_URL, db 15)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
from mnemoplug.core.retrieval import SearchRequest
from tests.conftest import REDIS_URL, require_server

NOW = 1_700_000_000.0
GEN = 1_733_000_000_000 * 1024 + 7  # a schema 1 counter, seven writes in


def _mem(user: str, content: str, tenant: str = "", **kw: Any) -> StoredMemory:
    v = np.random.default_rng(len(content)).standard_normal(8).astype(np.float32)
    return StoredMemory(
        id=new_memory_id(),
        user_id=user,
        tenant_id=tenant,
        content=content,
        created_at=NOW,
        updated_at=NOW,
        embedding=v / np.linalg.norm(v),
        **kw,
    )


@pytest.fixture
async def raw() -> AsyncIterator[Any]:
    require_server(REDIS_URL, "Redis")
    import redis.asyncio

    c = redis.asyncio.from_url(REDIS_URL)
    yield c
    await c.aclose()


@pytest.fixture
def prefix() -> str:
    return f"mnemoplug-test-mig-{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def _store(prefix: str) -> AsyncIterator[Any]:
    from mnemoplug.providers.redis import RedisMemoryStore

    s = RedisMemoryStore(REDIS_URL, prefix=prefix)
    try:
        yield s
    finally:
        await s.close()


async def _write_schema_1(raw: Any, prefix: str, memories: list[StoredMemory]) -> None:
    """The keys of ``memories`` as schema 1 laid them out (one MULTI/EXEC each, as it did)."""
    from mnemoplug.providers.redis.codec import encode_memory
    from mnemoplug.providers.redis.keys import member

    await raw.hset(f"{prefix}:meta", mapping={"schema": "1"})
    await raw.set(f"{prefix}:epoch", "0123456789abcdef")
    for m in memories:
        u = member((m.tenant_id, m.user_id))
        async with raw.pipeline(transaction=True) as pipe:
            pipe.hset(f"{prefix}:m:{m.id}", mapping=encode_memory(m))
            if m.expires_at is not None:
                pipe.zadd(f"{prefix}:exp", {m.id: m.expires_at})
            pipe.sadd(f"{prefix}:u:{u}:ids", m.id)
            pipe.sadd(f"{prefix}:users", u)
            pipe.set(f"{prefix}:u:{u}:gen", GEN - 1, nx=True)
            pipe.incr(f"{prefix}:u:{u}:gen")
            await pipe.execute()


async def _keys(raw: Any, prefix: str) -> set[str]:
    return {k.decode() async for k in raw.scan_iter(match=f"{prefix}:*", count=1000)}


async def _drop(raw: Any, prefix: str) -> None:
    keys = await _keys(raw, prefix)
    if keys:
        await raw.delete(*keys)


def _search(query: str) -> SearchRequest:
    return SearchRequest(query=query, vector=None, limit=10, filters=Filter(None), now=NOW)


async def test_schema_1_keys_are_renamed_on_open_and_keep_working(raw: Any, prefix: str) -> None:
    alice = [_mem("alice", f"alice keeps bees, fact {i}") for i in range(3)]
    tricky = _mem("b:c", "the tenant and user hold colons and {braces}", tenant="a:{x}")
    expired = _mem("alice", "an expired note", expires_at=NOW - 10)
    later = _mem("bob", "bob's note expires later", expires_at=NOW + 10**6)
    await _write_schema_1(raw, prefix, [*alice, tricky, expired, later])
    await raw.zadd(f"{prefix}:exp", {"gone-id": NOW - 5})  # an entry whose memory is gone
    try:
        async with _store(prefix) as s:
            await s.open()
            keys = await _keys(raw, prefix)
            assert not [k for k in keys if k.startswith((f"{prefix}:m:", f"{prefix}:u:"))]
            assert f"{prefix}:exp" not in keys
            assert await raw.hget(f"{prefix}:meta", "schema") == b"2"
            a = Scope("alice")
            got = {m.id for m in await s.list(a, limit=10, offset=0, filters=Filter(None), now=NOW)}
            assert got == {m.id for m in alice}  # the expired one is hidden
            assert (await s.get(Scope("b:c", tenant_id="a:{x}"), tricky.id, NOW)) is not None
            assert await s.get(Scope("b:c"), tricky.id, NOW) is None  # another tenant
            hits = await s.search(Scope("b:c", tenant_id="a:{x}"), _search("braces"))
            assert [h.memory.id for h in hits] == [tricky.id]
            loaded = await s.get(a, alice[0].id, NOW)
            assert loaded is not None and np.array_equal(loaded.embedding, alice[0].embedding)
            # the generation counters moved with their users; the expiry entries too
            assert int(await raw.get(s.keys.user(("", "alice"), "gen"))) == GEN + 3
            assert await raw.zscore(s.keys.user(("", "bob"), "exp"), later.id) == later.expires_at
            due = {k.decode(): v for k, v in await raw.zrange(s.keys.due, 0, -1, withscores=True)}
            assert due == {":alice": expired.expires_at, ":bob": later.expires_at}
            assert sorted(await s.list_users()) == [("", "alice"), ("", "bob"), ("a:{x}", "b:c")]
            assert await s.purge_expired(NOW) == 1
            assert await s.get(a, expired.id, NOW - 20) is None
            # and writes go on in the new layout
            new = _mem("alice", "written after the upgrade")
            await s.insert([new])
            assert await raw.exists(s.keys.memory(("", "alice"), new.id)) == 1
            assert await s.count(a, NOW) == 4
    finally:
        await _drop(raw, prefix)


async def test_an_interrupted_migration_completes_on_the_next_open(raw: Any, prefix: str) -> None:
    from mnemoplug.providers.redis.keys import MemoryKeys
    from mnemoplug.providers.redis.migration import migrate_to_hash_tags
    from mnemoplug.providers.redis.scripts import MIGRATE_MEMORY

    mems = [_mem("carol", f"carol fact {i}", expires_at=NOW + 100 * i + 100) for i in range(4)]
    await _write_schema_1(raw, prefix, mems)
    keys = MemoryKeys(prefix)
    # a first run stopped after two memories: their hashes (and expiry entries) moved, the
    # rest, the user's keys and the schema did not
    move = raw.register_script(MIGRATE_MEMORY)
    for m in mems[:2]:
        new_key = keys.memory(("", "carol"), m.id)
        old_keys = [f"{prefix}:m:{m.id}", new_key, f"{prefix}:exp"]
        new_keys = [keys.user(("", "carol"), "exp"), keys.due]
        assert await move(keys=[*old_keys, *new_keys], args=[m.id, ":carol"]) == 1
    assert await raw.hget(f"{prefix}:meta", "schema") == b"1"
    try:
        async with _store(prefix) as s:
            scope = Scope("carol")
            assert await s.count(scope, NOW) == 4
            exp = await raw.zrange(keys.user(("", "carol"), "exp"), 0, -1, withscores=True)
            assert [(k.decode(), v) for k, v in exp] == [(m.id, m.expires_at) for m in mems]
            before = await _keys(raw, prefix)
            # once more over migrated data: nothing moves, nothing changes
            assert await migrate_to_hash_tags(raw, keys, cluster=False, where="test") == 0
            assert await _keys(raw, prefix) == before
            assert await s.count(scope, NOW) == 4
    finally:
        await _drop(raw, prefix)


async def test_a_store_of_a_newer_schema_is_refused(raw: Any, prefix: str) -> None:
    from mnemoplug.core.errors import ConfigurationError

    await raw.hset(f"{prefix}:meta", mapping={"schema": "3"})
    try:
        async with _store(prefix) as s:
            with pytest.raises(ConfigurationError, match="newer mnemoplug"):
                await s.open()
    finally:
        await _drop(raw, prefix)
