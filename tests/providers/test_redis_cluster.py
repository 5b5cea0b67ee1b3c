"""The Redis stores on a real three-node Redis Cluster (tests.redis_cluster_server): every key a
transaction or script touches together lies in one slot, users spread over the nodes, and the
cluster options are checked. The three store contracts run on the cluster too, through
tests/stores/backends/redis_cluster.py."""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from mnemoplug import Memory
from mnemoplug.core.errors import ConfigurationError
from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
from mnemoplug.core.retrieval import SearchRequest
from tests.redis_cluster_server import RedisClusterServer, require_redis_cluster

NOW = 1_700_000_000.0


def _mem(user: str, content: str, tenant: str = "", **kw: Any) -> StoredMemory:
    v = np.random.default_rng(abs(hash(content)) % 2**32).standard_normal(8).astype(np.float32)
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
def cluster() -> RedisClusterServer:
    return require_redis_cluster()


@pytest.fixture
async def raw(cluster: RedisClusterServer) -> AsyncIterator[Any]:
    from redis.asyncio.cluster import RedisCluster

    c = RedisCluster.from_url(cluster.url)
    yield c
    await c.aclose()


def _prefix() -> str:
    return f"mnemoplug-test-cl-{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def _memory_store(cluster: RedisClusterServer, **kw: Any) -> AsyncIterator[Any]:
    from mnemoplug.providers.redis import RedisMemoryStore

    s = RedisMemoryStore(cluster.url, prefix=kw.pop("prefix", _prefix()), cluster=True, **kw)
    try:
        yield s
    finally:
        await s.drop_all_keys()
        await s.close()


async def _keys(raw: Any, pattern: str) -> list[str]:
    return [k.decode() async for k in raw.scan_iter(match=pattern, count=1000)]


async def _drop(raw: Any, pattern: str) -> None:
    for k in await _keys(raw, pattern):
        await raw.unlink(k)


def _user_of(key: str) -> str:
    """The hash tag of a key (what Redis hashes)."""
    start = key.index("{")
    return key[start + 1 : key.index("}", start)]


async def test_a_users_keys_share_one_slot_and_users_spread_over_the_nodes(
    cluster: RedisClusterServer, raw: Any
) -> None:
    async with _memory_store(cluster) as s:
        users = [(f"tenant-{i % 3}", f"user:{i}/ü {{x}}") for i in range(24)]
        rows = []
        for t, u in users:
            rows += [
                _mem(u, f"{u} likes tea", tenant=t),
                _mem(u, f"{u} has a short note", tenant=t, expires_at=NOW + 1),
            ]
        await s.insert(rows[:10])  # several users in one call
        for m in rows[10:]:
            await s.insert([m])
        keys = await _keys(raw, f"{s.prefix}:*")
        per_user: dict[str, set[int]] = defaultdict(set)
        for k in keys:
            if "{" in k:
                per_user[_user_of(k)].add(cluster.keyslot(k))
        assert len(per_user) == len(users)
        # memory hashes, id set, generation and expiry set of each user: one slot per user
        assert all(len(slots) == 1 for slots in per_user.values())
        assert {k.rsplit(":", 1)[1] for k in keys if "}:" in k and ":m:" not in k} == {
            "ids",
            "gen",
            "exp",
        }
        nodes = {cluster.node_of_slot(next(iter(slots))) for slots in per_user.values()}
        assert len(nodes) >= 2  # the users' data lies on several nodes
        # every operation of every user works across the nodes, each user sees their own only
        for t, u in users:
            scope = Scope(u, tenant_id=t)
            listed = await s.list(scope, limit=10, offset=0, filters=Filter(None), now=NOW)
            assert {m.user_id for m in listed} == {u} and len(listed) == 2
            hits = await s.search(
                scope,
                SearchRequest(query="tea", vector=None, limit=5, filters=Filter(None), now=NOW),
            )
            assert [h.memory.content for h in hits] == [f"{u} likes tea"]
        assert sorted(await s.list_users()) == sorted(users)
        assert await s.purge_expired(NOW + 2) == len(users)
        t, u = users[0]
        scope = Scope(u, tenant_id=t)
        only = (await s.list(scope, limit=5, offset=0, filters=Filter(None), now=NOW))[0]
        assert (
            await s.update(
                scope, only.id, content="tea, green", metadata=None, embedding=None, updated_at=NOW
            )
        ) is not None
        assert await s.get(Scope(users[1][1], tenant_id=users[1][0]), only.id, NOW) is None
        assert await s.delete_all(scope) == 1
        assert not [k for k in await _keys(raw, f"{s.prefix}:*") if u in k]
        assert await raw.sismember(s.keys.users, f"{t}:{u}") == 0
        assert (t, u) not in await s.list_users()


async def test_sessions_and_checkpoints_keep_their_keys_together(
    cluster: RedisClusterServer, raw: Any
) -> None:
    from mnemoplug import checkpoint_store_from_url, session_memory_from_url

    prefix = f"{_prefix()}:"
    sessions = session_memory_from_url(cluster.url, prefix=f"{prefix}s:", cluster=True, ttl=600)
    checkpoints = checkpoint_store_from_url(cluster.url, prefix=f"{prefix}c:", cluster=True)
    try:
        for i in range(12):
            await sessions.add_messages(
                f"sess-{i}", [{"role": "user", "content": f"hi {i}"}], user_id="u"
            )
            await checkpoints.save(f"run-{i}", {"step": i}, user_id=f"owner-{i}")
        keys = await _keys(raw, f"{prefix}*")
        by_tag: dict[str, set[int]] = defaultdict(set)
        for k in keys:
            if "{" in k:
                by_tag[k[: k.index("}")]].add(cluster.keyslot(k))
        assert len(by_tag) == 24 and all(len(slots) == 1 for slots in by_tag.values())
        assert len({cluster.node_of_slot(next(iter(s))) for s in by_tag.values()}) >= 2
        assert len(await sessions.list_sessions(user_id="u")) == 12
        assert (await checkpoints.load("run-3", user_id="owner-3")).state == {"step": 3}  # type: ignore[union-attr]
        assert await sessions.clear("sess-0") == 1
        assert len(await sessions.list_sessions(user_id="u")) == 11
    finally:
        await sessions.close()
        await checkpoints.close()
        await _drop(raw, f"{prefix}*")


async def test_redis_provider_on_a_cluster(cluster: RedisClusterServer) -> None:
    from mnemoplug import RedisProvider

    prefix = _prefix()
    memory = RedisProvider(url=cluster.url, prefix=prefix, cluster=True, embedder=None)
    try:
        assert isinstance(memory, Memory) and memory.store.cluster is True  # type: ignore[attr-defined]
        mid = await memory.add(user_id="user_123", content="User prefers dark mode")
        assert (await memory.get("user_123", mid)).content == "User prefers dark mode"  # type: ignore[union-attr]
        assert [h.id for h in await memory.search("user_123", "dark mode")] == [mid]
        assert await memory.get("someone_else", mid) is None
    finally:
        await memory.store.drop_all_keys()  # type: ignore[attr-defined]
        await memory.close()


async def test_cluster_options_are_checked(cluster: RedisClusterServer, raw: Any) -> None:
    from mnemoplug.providers.redis import (
        RedisCheckpointStore,
        RedisMemoryStore,
        RedisSessionMemory,
    )

    with pytest.raises(ConfigurationError, match="Redis Cluster"):
        RedisMemoryStore("unix:///tmp/redis.sock", cluster=True)
    with pytest.raises(ConfigurationError, match="database 0 only"):
        RedisMemoryStore("redis://localhost:7000/3", cluster=True)
    with pytest.raises(ConfigurationError, match="must not contain"):
        RedisMemoryStore("redis://localhost:7000", prefix="app{1}", cluster=True)
    with pytest.raises(ConfigurationError, match="must not contain"):
        RedisSessionMemory("redis://localhost:7000", prefix="s{", cluster=True)
    with pytest.raises(ConfigurationError, match="cluster must be True or False"):
        RedisCheckpointStore("redis://localhost:7000", cluster="yes")  # type: ignore[arg-type]
    RedisMemoryStore("redis://localhost:7000", prefix="app{1}")  # fine on a single server
    # a RedisCluster passed in makes the store use the cluster layout
    prefix = f"{_prefix()}:"
    sessions = RedisSessionMemory(client=raw, prefix=prefix)
    try:
        assert sessions.cluster is True
        await sessions.add_messages("s1", [{"role": "user", "content": "hello"}], user_id="u")
        assert await raw.exists(f"{prefix}{{2:s1}}:m") == 1
    finally:
        await sessions.close()
        await _drop(raw, f"{prefix}*")


async def test_schema_1_data_on_a_cluster_is_refused_unchanged(
    cluster: RedisClusterServer, raw: Any
) -> None:
    prefix = _prefix()
    await raw.hset(f"{prefix}:meta", mapping={"schema": "1"})
    await raw.hset(f"{prefix}:m:abc", mapping={"j": "{}"})
    from mnemoplug.providers.redis import RedisMemoryStore

    s = RedisMemoryStore(cluster.url, prefix=prefix, cluster=True)
    try:
        with pytest.raises(ConfigurationError, match="single server"):
            await s.open()
        assert await raw.hget(f"{prefix}:meta", "schema") == b"1"
        assert await raw.exists(f"{prefix}:m:abc") == 1
    finally:
        await s.close()
        await _drop(raw, f"{prefix}*")


def _store_on(deployment: str) -> Any:
    from mnemoplug.providers.redis import RedisMemoryStore
    from tests.conftest import REDIS_URL, require_server

    if deployment == "cluster":
        return RedisMemoryStore(require_redis_cluster().url, prefix=_prefix(), cluster=True)
    require_server(REDIS_URL, "Redis")
    return RedisMemoryStore(REDIS_URL, prefix=_prefix())


@pytest.mark.parametrize("deployment", ["single", "cluster"])
async def test_purge_visits_the_due_users_and_settles_their_bounds(deployment: str) -> None:
    s = _store_on(deployment)
    try:
        soon = [_mem(f"soon-{i}", "goes first", expires_at=NOW + 1) for i in range(5)]
        twice = [_mem("twice", "first", expires_at=NOW + 1), _mem("twice", "second")]
        keep = [_mem(f"keep-{i}", "stays") for i in range(20)]
        await s.insert([*soon, *twice, *keep])
        c = s.client
        due = {k.decode(): v for k, v in await c.zrange(s.keys.due, 0, -1, withscores=True)}
        assert due == {f":soon-{i}": NOW + 1 for i in range(5)} | {":twice": NOW + 1}
        assert await s.purge_expired(NOW) == 0  # nothing due yet
        await s.update(
            Scope("twice"),
            twice[1].id,
            content=None,
            metadata=None,
            embedding=None,
            updated_at=NOW,
            expires_at=NOW + 50,
        )
        assert await c.zscore(s.keys.due, ":twice") == NOW + 1  # a bound only goes down here
        assert await s.purge_expired(NOW + 2) == 6
        # the purged users left P:due; "twice" waits for its next expiry
        due = {k.decode(): v for k, v in await c.zrange(s.keys.due, 0, -1, withscores=True)}
        assert due == {":twice": NOW + 50}
        assert await s.purge_expired(NOW + 60) == 1
        assert await c.zcard(s.keys.due) == 0
        assert sorted(u for _, u in await s.list_users()) == sorted(f"keep-{i}" for i in range(20))
        await s.delete_all(Scope("keep-0"))  # an erasure leaves no entry of the user behind
        assert await c.sismember(s.keys.users, ":keep-0") == 0
    finally:
        await s.drop_all_keys()
        await s.close()


@pytest.mark.parametrize("deployment", ["single", "cluster"])
async def test_an_erasure_or_purge_racing_a_write_leaves_the_user_indexed(
    deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _store_on(deployment)
    c = s.client
    try:
        # a concurrent erasure (or purge) drops the user's index entries after the write
        # indexed them and before its data lands: the write indexes the user again
        original_store_user = s._store_user

        async def racing_store_user(client: Any, key: Any, *a: Any, **kw: Any) -> Any:
            await client.srem(s.keys.users, ":racer")
            await client.zrem(s.keys.due, ":racer")
            return await original_store_user(client, key, *a, **kw)

        monkeypatch.setattr(s, "_store_user", racing_store_user)
        await s.insert([_mem("racer", "written while erased", expires_at=NOW + 5)])
        monkeypatch.undo()
        assert await c.sismember(s.keys.users, ":racer") == 1
        assert await c.zscore(s.keys.due, ":racer") == NOW + 5
        # a write that lands between an erasure's data removal and its index removal: the
        # erasure sees the new counter and indexes the user again
        original_forget = s._registry.forget

        async def racing_forget(client: Any, key: Any) -> None:
            await s.insert([_mem("racer", "written during the erasure", expires_at=NOW + 7)])
            await original_forget(client, key)

        monkeypatch.setattr(s._registry, "forget", racing_forget)
        assert await s.delete_all(Scope("racer")) == 1
        monkeypatch.undo()
        assert await c.sismember(s.keys.users, ":racer") == 1
        assert await c.zscore(s.keys.due, ":racer") == NOW + 7
        assert [u for _, u in await s.list_users()] == ["racer"]
        assert await s.purge_expired(NOW + 10) == 1
    finally:
        await s.drop_all_keys()
        await s.close()


async def test_concurrent_writers_on_two_instances_lose_nothing_on_a_cluster(
    cluster: RedisClusterServer, raw: Any
) -> None:
    import asyncio

    prefix, u = _prefix(), "busy-user"
    s = Scope(u)
    async with (
        _memory_store(cluster, prefix=prefix, max_connections=4) as a,
        _memory_store(cluster, prefix=prefix, max_connections=4) as b,
    ):

        async def consistent() -> set[str]:
            """The user's id set and memory hashes agree; their ids."""
            indexed = {x.decode() for x in await raw.smembers(a.keys.user(("", u), "ids"))}
            hashes = await _keys(raw, a.keys.memory(("", u), "*"))
            assert indexed == {k.rsplit(":", 1)[1] for k in hashes}
            return indexed

        async def ids(p: Any) -> set[str]:
            rows = await p.list(s, limit=10_000, offset=0, filters=Filter(None), now=NOW)
            return {m.id for m in rows}

        await ids(a), await ids(b)  # warm both caches
        mems = [_mem(u, f"concurrent fact {i}") for i in range(50)]
        await asyncio.gather(*((a if i % 2 else b).insert([m]) for i, m in enumerate(mems)))
        assert await consistent() == {m.id for m in mems} == await ids(a) == await ids(b)
        res = await asyncio.gather(  # WATCH on the cluster: every update applied
            *(
                (a if i % 2 else b).update(
                    s, mems[0].id, content=None, metadata={"n": i}, embedding=None, updated_at=NOW
                )
                for i in range(30)
            )
        )
        assert all(r is not None for r in res)
        assert int(await raw.get(a.keys.user(("", u), "gen"))) % 1024 == 79
        extra = [_mem(u, f"late fact {i}") for i in range(20)]
        results = await asyncio.gather(
            *(a.insert([m]) for m in extra),
            *(b.delete(s, m.id) for m in mems[:10]),
            a.delete_all(s),
        )
        removed = sum(1 for r in results[20:30] if r is True) + results[-1]
        left = await consistent()
        assert removed + len(left) == 70
        assert await ids(a) == left == await ids(b)
        # the users set has the user exactly when something of theirs is left
        assert await raw.sismember(a.keys.users, f":{u}") == (1 if left else 0)


async def test_more_operations_than_connections_wait_for_a_slot(
    cluster: RedisClusterServer, raw: Any
) -> None:
    import asyncio

    from mnemoplug.providers.redis import RedisCheckpointStore, RedisSessionMemory

    prefix = f"{_prefix()}:"
    sessions = RedisSessionMemory(
        cluster.url, prefix=f"{prefix}s:", cluster=True, max_connections=2
    )
    checkpoints = RedisCheckpointStore(
        cluster.url, prefix=f"{prefix}c:", cluster=True, max_connections=2
    )
    try:  # the cluster client's pools raise when empty: the stores queue instead
        await asyncio.gather(
            *(
                sessions.add_messages(
                    f"s{i % 3}", [{"role": "user", "content": f"m{i}"}], user_id="u"
                )
                for i in range(30)
            ),
            *(checkpoints.save(f"run-{i % 4}", {"i": i}, user_id="u") for i in range(30)),
        )
        assert sum(i.message_count for i in await sessions.list_sessions(user_id="u")) == 30
        assert len(await checkpoints.list(user_id="u", limit=100)) == 30
        with pytest.raises(ConfigurationError, match="at least 2"):
            RedisSessionMemory(cluster.url, cluster=True, max_connections=1)
    finally:
        await sessions.close()
        await checkpoints.close()
        await _drop(raw, f"{prefix}*")
