"""Redis-specific behaviour of RedisMemoryStore, against a real Redis (tests.conftest.REDIS_URL, db 15)
and, for the outage tests, a private redis-server started on a free port.

The shared contract suite runs against Redis through tests/stores/backends/redis.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnemoplug import Memory, create_memory
from mnemoplug.core.errors import (
    ConfigurationError,
    EmbedderMismatchError,
    MissingDependencyError,
    ProviderError,
    ProviderUnavailableError,
)
from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
from mnemoplug.core.retrieval import SearchRequest
from tests.conftest import REDIS_URL, require_server

DIM = 8
NOW = 1_700_000_000.0
_rng = np.random.default_rng(7)


def _vec(seed: int | None = None) -> np.ndarray:
    g = _rng if seed is None else np.random.default_rng(seed)
    v = g.standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _mem(user: str, content: str, **kw: Any) -> StoredMemory:
    kw.setdefault("created_at", NOW)
    kw.setdefault("updated_at", kw["created_at"])
    kw.setdefault("embedding", _vec())
    return StoredMemory(id=new_memory_id(), user_id=user, content=content, **kw)


def _prefix() -> str:
    return f"mnemoplug-test-redis-{uuid.uuid4().hex[:12]}"


def _uid() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"


def _req(query: str, vector: np.ndarray | None, now: float = NOW, limit: int = 10) -> SearchRequest:
    return SearchRequest(query=query, vector=vector, limit=limit, filters=Filter(None), now=now)


async def _ids(p: Any, scope: Scope, now: float = NOW) -> set[str]:
    return {
        m.id for m in await p.list(scope, limit=10_000, offset=0, filters=Filter(None), now=now)
    }


@contextlib.asynccontextmanager
async def _provider(
    prefix: str | None = None, url: str = REDIS_URL, **kw: Any
) -> AsyncIterator[Any]:
    from mnemoplug.providers.redis import RedisMemoryStore

    p = RedisMemoryStore(url, prefix=prefix or _prefix(), **kw)
    try:
        yield p
    finally:
        with contextlib.suppress(ProviderUnavailableError):
            await p.drop_all_keys()
        await p.close()


@pytest.fixture
async def rp() -> AsyncIterator[Any]:
    require_server(REDIS_URL, "Redis")
    async with _provider() as p:
        yield p


@pytest.fixture
async def raw() -> AsyncIterator[Any]:
    """A plain redis-py client on the test database, to look at the keys themselves."""
    require_server(REDIS_URL, "Redis")
    import redis.asyncio

    c = redis.asyncio.from_url(REDIS_URL)
    yield c
    await c.aclose()


# -- configuration ---------------------------------------------------------------------------
async def test_from_url_and_create_memory_build_a_working_redis_memory(raw: Any) -> None:
    from mnemoplug.providers.redis import RedisMemoryStore

    prefix = _prefix()
    mem = Memory.from_url(REDIS_URL, prefix=prefix, embedder=None, load_entry_points=False)
    try:
        assert isinstance(mem.store, RedisMemoryStore) and mem.store.prefix == prefix
        mid = await mem.add("alice", "Alice keeps bees on the roof")
        assert (await mem.get("alice", mid)).content == "Alice keeps bees on the roof"  # type: ignore[union-attr]
        assert await raw.exists(mem.store.keys.memory(("", "alice"), mid)) == 1
        # a second Memory built by name over the same prefix sees it
        mem2 = create_memory(
            "redis",
            url=REDIS_URL,
            prefix=prefix,
            embedder=None,
            load_entry_points=False,
            max_connections=3,
        )
        assert isinstance(mem2.store, RedisMemoryStore) and mem2.store.max_connections == 3
        assert [h.id for h in await mem2.search("alice", "bees")] == [mid]
        await mem2.close()
    finally:
        await mem.store.drop_all_keys()  # type: ignore[attr-defined]
        await mem.close()


def test_url_and_options_are_validated_without_network() -> None:
    from mnemoplug.providers.redis import RedisMemoryStore

    p = RedisMemoryStore("redis://bob:s3cret@db.example:6380/2")
    assert "s3cret" not in p.url and "***" in p.url and "db.example:6380/2" in p.url
    assert "s3cret" not in repr(p)
    assert RedisMemoryStore("unix:///tmp/redis.sock?db=3").url.startswith("unix://")
    assert RedisMemoryStore("rediss://h:6380/0").socket_timeout == 5.0  # bounded by default
    with pytest.raises(ConfigurationError, match="redis://host:6379/0"):
        RedisMemoryStore("http://localhost:6379")
    with pytest.raises(ConfigurationError, match="socket_timeout"):
        RedisMemoryStore(REDIS_URL, socket_timeout=0)
    with pytest.raises(ConfigurationError, match="prefix"):
        RedisMemoryStore(REDIS_URL, prefix="")
    with pytest.raises(ConfigurationError, match="max_connections"):
        RedisMemoryStore(REDIS_URL, max_connections=0)
    with pytest.raises(ConfigurationError, match="Redis URL"):
        RedisMemoryStore("redis://localhost:notaport/0")
    # building a Memory from the URL connects lazily: no server needed yet
    mem = Memory.from_url("redis://localhost:6379/0", embedder=None, load_entry_points=False)
    assert isinstance(mem.store, RedisMemoryStore) and mem.store.url == "redis://localhost:6379/0"
    assert mem.store.prefix == "mnemoplug"


async def test_server_side_errors_are_typed(rp: Any, raw: Any) -> None:
    u = _uid()
    await rp.insert([_mem(u, "fine")])
    await raw.set(rp.keys.user(("", u), "ids"), "a string where a set belongs")
    with pytest.raises(ProviderError, match=r"Redis at redis://.*WRONGTYPE") as info:
        await rp.list(Scope(u), limit=5, offset=0, filters=Filter(None), now=NOW)
    assert not isinstance(info.value, ProviderUnavailableError)


def test_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)
    # the module itself imports without redis (the client is imported lazily) ...
    monkeypatch.delitem(sys.modules, "mnemoplug.providers.redis", raising=False)
    mod = importlib.import_module("mnemoplug.providers.redis")
    # ... and using it says what to install
    with pytest.raises(MissingDependencyError, match=r'pip install "mnemoplug\[redis\]"') as info:
        mod.RedisMemoryStore(REDIS_URL)
    assert info.value.extra == "redis"
    with pytest.raises(MissingDependencyError, match="redis"):
        Memory.from_url("redis://localhost:6379/0", embedder=None, load_entry_points=False)
    with pytest.raises(MissingDependencyError, match="redis"):
        create_memory(
            "redis", url="redis://localhost:6379/0", embedder=None, load_entry_points=False
        )


# -- keys, isolation, prefixes ---------------------------------------------------------------
async def test_two_prefixes_do_not_see_each_other(raw: Any) -> None:
    async with _provider() as a, _provider() as b:
        u = _uid()
        ma = _mem(u, "apples are stored under prefix A")
        await a.insert([ma])
        await a.check_embedder("model-a", DIM)
        await b.check_embedder("model-b", 2 * DIM)  # its own meta: no mismatch across prefixes
        s = Scope(u)
        assert await b.get(s, ma.id, NOW) is None
        assert await _ids(b, s) == set() and await b.count(s, NOW) == 0
        assert await b.search(s, _req("apples", ma.embedding)) == []
        assert (("", u) in await a.list_users()) and (("", u) not in await b.list_users())
        assert await b.delete(s, ma.id) is False and await b.delete_all(s) == 0
        assert await b.purge_expired(NOW + 10**9) == 0
        mb = _mem(u, "bananas under prefix B")
        await b.insert([mb])
        assert await _ids(a, s) == {ma.id} and await _ids(b, s) == {mb.id}
        await raw.set(f"{b.prefix}:sess:unrelated", "another store's key")
        deleted = await b.drop_all_keys()
        assert deleted >= 4
        assert await raw.get(f"{b.prefix}:sess:unrelated") == b"another store's key"
        assert [k async for k in raw.scan_iter(match=f"{b.prefix}:*")] == [
            f"{b.prefix}:sess:unrelated".encode()
        ]
        await raw.delete(f"{b.prefix}:sess:unrelated")
        assert (
            await _ids(a, s) == {ma.id}
            and await raw.exists(a.keys.memory(("", ma.user_id), ma.id)) == 1
        )


async def test_key_encoding_keeps_tricky_tenants_and_users_apart(rp: Any) -> None:
    m1 = _mem("b:c", "one", tenant_id="a")
    m2 = _mem("c", "two", tenant_id="a:b")
    m3 = _mem("c", "three", tenant_id="a%3Ab")
    m4 = _mem("ü ser/✓", "four")
    await rp.insert([m1, m2, m3, m4])
    assert await _ids(rp, Scope("b:c", tenant_id="a")) == {m1.id}
    assert await _ids(rp, Scope("c", tenant_id="a:b")) == {m2.id}
    assert await _ids(rp, Scope("c", tenant_id="a%3Ab")) == {m3.id}
    assert await rp.get(Scope("c", tenant_id="a:b"), m1.id, NOW) is None
    assert await rp.get(Scope("c", tenant_id="a"), m2.id, NOW) is None
    assert sorted(await rp.list_users()) == sorted(
        [("a", "b:c"), ("a:b", "c"), ("a%3Ab", "c"), ("", "ü ser/✓")]
    )
    got = [m for batch in [b async for b in rp.export("", "ü ser/✓")] for m in batch]
    assert [(m.id, m.content) for m in got] == [(m4.id, "four")]
    assert got[0].embedding is not None and np.array_equal(got[0].embedding, m4.embedding)
    assert await rp.delete(Scope("ü ser/✓"), m4.id) is True  # the user's last memory
    assert ("", "ü ser/✓") not in await rp.list_users()


async def test_memory_hash_holds_the_float32_embedding_beside_the_record(rp: Any, raw: Any) -> None:
    m = _mem(
        _uid(), "vector lives in the hash", metadata={"k": [1, "ü"]}, agent_id="ag", role="user"
    )
    await rp.insert([m])
    h = await raw.hgetall(rp.keys.memory(("", m.user_id), m.id))
    assert np.array_equal(np.frombuffer(h[b"e"], dtype=np.float32), m.embedding)
    assert set(h) == {b"j", b"e"}
    doc = json.loads(h[b"j"])
    assert doc["u"] == m.user_id and doc["a"] == "ag" and doc["c"] == "vector lives in the hash"
    assert await raw.sismember(rp.keys.user(("", m.user_id), "ids"), m.id) == 1
    got = await rp.get(Scope(m.user_id), m.id, NOW)
    assert got is not None and got.metadata == {"k": [1, "ü"]} and got.created_at == NOW
    assert await rp.get(Scope(m.user_id, agent_id="other"), m.id, NOW) is None
    assert await rp.delete(Scope(m.user_id, agent_id="other"), m.id) is False
    assert await rp.delete(Scope(m.user_id, agent_id="ag"), m.id) is True
    assert await raw.exists(rp.keys.memory(("", m.user_id), m.id)) == 0
    assert await raw.sismember(rp.keys.user(("", m.user_id), "ids"), m.id) == 0


async def test_check_embedder_mismatch(rp: Any) -> None:
    await rp.check_embedder("all-MiniLM-L6-v2", 384)
    await rp.check_embedder("all-MiniLM-L6-v2", 384)
    async with _provider(prefix=rp.prefix) as again:  # another instance reads the stored meta
        with pytest.raises(EmbedderMismatchError, match=r"all-MiniLM-L6-v2.*384"):
            await again.check_embedder("other-model", 384)
        with pytest.raises(EmbedderMismatchError, match="migrate_memory"):
            await again.check_embedder("all-MiniLM-L6-v2", 768)


# -- atomicity and concurrency ---------------------------------------------------------------
async def _consistent(p: Any, raw: Any, user: str) -> set[str]:
    """Assert the index set and the memory hashes agree; return the ids."""
    indexed = {x.decode() for x in await raw.smembers(p.keys.user(("", user), "ids"))}
    hashed: set[str] = set()
    async for k in raw.scan_iter(match=p.keys.memory(("", user), "*"), count=1000):
        if json.loads(await raw.hget(k, "j"))["u"] == user:
            hashed.add(k.decode().rsplit(":", 1)[1])
    assert indexed == hashed
    return indexed


async def test_fifty_concurrent_writers_on_two_instances_lose_nothing(raw: Any) -> None:
    prefix, u = _prefix(), _uid()
    async with _provider(prefix, max_connections=4) as a, _provider(prefix, max_connections=4) as b:
        s = Scope(u)
        await a.list(s, limit=1, offset=0, filters=Filter(None), now=NOW)  # warm both caches
        mems = [_mem(u, f"concurrent fact {i}") for i in range(50)]
        await asyncio.gather(*((a if i % 2 else b).insert([m]) for i, m in enumerate(mems)))
        assert await _consistent(a, raw, u) == {m.id for m in mems}
        assert await _ids(a, s) == await _ids(b, s) == {m.id for m in mems}
        # one step a write after the first (which starts at a clock value times 1024)
        assert int(await raw.get(a.keys.user(("", u), "gen"))) % 1024 == 49

        # 30 concurrent updates of one memory from both instances: WATCH retries, all applied
        target = mems[0]
        res = await asyncio.gather(
            *(
                (a if i % 2 else b).update(
                    s,
                    target.id,
                    content=None,
                    metadata={"n": i},
                    embedding=None,
                    updated_at=NOW + i,
                )
                for i in range(30)
            )
        )
        assert all(r is not None for r in res)
        assert int(await raw.get(a.keys.user(("", u), "gen"))) % 1024 == 79
        final = await a.get(s, target.id, NOW)
        assert final is not None and final.metadata["n"] in range(30)
        assert final.content == target.content and np.array_equal(final.embedding, target.embedding)

        # deletes racing inserts and a delete_all: every memory is either counted or still there
        extra = [_mem(u, f"late fact {i}") for i in range(20)]
        results = await asyncio.gather(
            *(a.insert([m]) for m in extra),
            *(b.delete(s, m.id) for m in mems[:10]),
            a.delete_all(Scope(u)),
        )
        removed_singly = sum(1 for r in results[20:30] if r is True)
        removed_all = results[-1]
        left = await _consistent(a, raw, u)
        assert removed_singly + removed_all + len(left) == 70
        assert await _ids(a, s) == left == await _ids(b, s)


async def test_cached_provider_sees_other_instances_writes(raw: Any) -> None:
    prefix, u = _prefix(), _uid()
    s = Scope(u)
    async with _provider(prefix) as a, _provider(prefix) as b:
        m1 = _mem(u, "the cat is called Miso", embedding=_vec(1))
        await a.insert([m1])
        assert [h.memory.id for h in await a.search(s, _req("cat", _vec(1)))] == [m1.id]  # cached
        m2 = _mem(u, "the dog is called Rex", embedding=_vec(2), created_at=NOW + 1)
        await b.insert([m2])
        assert await _ids(a, s) == {m1.id, m2.id}
        assert (await a.search(s, _req("dog Rex", _vec(2))))[0].memory.id == m2.id
        await b.update(
            s,
            m1.id,
            content="the cat is called Tofu",
            metadata=None,
            embedding=_vec(1),
            updated_at=NOW + 2,
        )
        hits = await a.search(s, _req("Tofu", None))
        assert [h.memory.content for h in hits] == ["the cat is called Tofu"]
        # b writes, then a writes: the generation jumps by two, so a reloads instead of applying
        m3 = _mem(u, "b's fact", created_at=NOW + 3)
        m4 = _mem(u, "a's fact", created_at=NOW + 4)
        await b.insert([m3])
        await a.insert([m4])
        assert await _ids(a, s) == {m1.id, m2.id, m3.id, m4.id}
        assert await b.delete(s, m2.id) is True
        assert await _ids(a, s) == {m1.id, m3.id, m4.id}
        assert await a.count(s, NOW + 10) == 3
        assert [h.memory.id for h in await a.search(s, _req("dog Rex", None))] == []


async def test_a_flushed_store_with_colliding_generations_is_not_served_from_cache(
    raw: Any,
) -> None:
    prefix, u = _prefix(), _uid()
    s = Scope(u)
    async with _provider(prefix) as a, _provider(prefix) as b:
        old = [_mem(u, f"old fact {i}") for i in range(3)]
        for m in old:
            await a.insert([m])
        assert await _ids(a, s) == {m.id for m in old}  # cached at generation g
        g = int(await raw.get(a.keys.user(("", u), "gen")))
        # the database is flushed (every key of the store goes), then refilled to generation g
        await raw.delete(*[k async for k in raw.scan_iter(match=f"{prefix}:*")])
        await raw.set(a.keys.user(("", u), "gen"), g - 3)  # (a restored counter, say)
        new = [_mem(u, f"new fact {i}") for i in range(3)]
        for m in new:
            await b.insert([m])
        assert int(await raw.get(a.keys.user(("", u), "gen"))) == g
        assert await _ids(a, s) == {m.id for m in new}
        assert {h.memory.id for h in await a.search(s, _req("old", None))} == set()


async def test_another_process_writes_are_seen(rp: Any) -> None:
    u = _uid()
    s = Scope(u)
    await rp.insert([_mem(u, "written here first")])
    assert len(await _ids(rp, s)) == 1  # cache the user
    script = textwrap.dedent(
        f"""
        import asyncio
        from mnemoplug.core.records import StoredMemory
        from mnemoplug.providers.redis import RedisMemoryStore

        async def main():
            p = RedisMemoryStore({REDIS_URL!r}, prefix={rp.prefix!r})
            await p.insert([StoredMemory(id="from-child", user_id={u!r},
                            content="written by a child process", created_at=1.0, updated_at=1.0)])
            await p.close()

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=str(Path(__file__).parents[2]),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    got = await rp.get(s, "from-child", NOW)
    assert got is not None and got.content == "written by a child process"
    assert "from-child" in await _ids(rp, s)
    hits = await rp.search(s, _req("child process", None))
    assert [h.memory.id for h in hits] == ["from-child"]


# -- expiry and deletion ---------------------------------------------------------------------
async def test_expiry_is_honoured_and_purged_with_index_entries(rp: Any, raw: Any) -> None:
    u, v = _uid(), _uid()
    s = Scope(u)
    short = _mem(u, "short-lived note about keys", expires_at=NOW + 0.2)
    later = _mem(u, "note about keys that expires later", expires_at=NOW + 100)
    forever = _mem(u, "permanent note about keys")
    other = _mem(v, "other user's expiring note", expires_at=NOW + 0.1)
    await rp.insert([short, later, forever, other])
    assert await _ids(rp, s, NOW) == {short.id, later.id, forever.id}
    assert await rp.get(s, short.id, NOW + 0.1) is not None
    t = NOW + 0.25
    assert await rp.get(s, short.id, t) is None
    assert await _ids(rp, s, t) == {later.id, forever.id}
    assert {h.memory.id for h in await rp.search(s, _req("keys", None, now=t))} == {
        later.id,
        forever.id,
    }
    assert await rp.count(s, t) == 2
    assert (
        await rp.update(s, short.id, content="x", metadata=None, embedding=None, updated_at=t)
        is None
    )
    # un-expire `later` before the purge: it must survive
    assert (
        await rp.update(
            s, later.id, content=None, metadata=None, embedding=None, updated_at=t, expires_at=None
        )
        is not None
    )
    assert await rp.purge_expired(NOW + 1000) == 2  # short + other
    assert await rp.purge_expired(NOW + 1000) == 0
    assert (
        await raw.exists(rp.keys.memory(("", u), short.id), rp.keys.memory(("", v), other.id)) == 0
    )
    assert await raw.sismember(rp.keys.user(("", u), "ids"), short.id) == 0
    assert await raw.zcard(rp.keys.user(("", u), "exp")) == 0
    assert await raw.zcard(rp.keys.user(("", v), "exp")) == 0
    assert await _ids(rp, s, NOW + 1000) == {later.id, forever.id}
    assert ("", v) not in await rp.list_users()


async def test_short_real_ttl_through_memory(rp: Any) -> None:
    mem = Memory(rp, embedder=None, load_entry_points=False)
    u = _uid()
    gone = await mem.add(u, "the parking spot is B12", ttl=0.25)
    stays = await mem.add(u, "the parking garage closes at ten")
    assert {h.id for h in await mem.search(u, "parking")} == {gone, stays}
    await asyncio.sleep(0.35)
    assert await mem.get(u, gone) is None
    assert {h.id for h in await mem.search(u, "parking")} == {stays}
    assert await mem.purge_expired() == 1
    assert [r.id for r in await mem.get_all(u)] == [stays]


async def test_delete_all_counts_scoped_and_expired(rp: Any, raw: Any) -> None:
    u, v = _uid(), _uid()
    rows = [
        _mem(u, "a1", agent_id="planner", session_id="s1"),
        _mem(u, "a2", agent_id="planner", session_id="s2"),
        _mem(u, "a3", agent_id="coder", session_id="s1"),
        _mem(u, "a4", expires_at=NOW - 5),  # already expired: still counted by delete_all
        _mem(u, "a5"),
        _mem(u, "t1", tenant_id="acme"),
        _mem(v, "v1", agent_id="planner"),
    ]
    await rp.insert(rows)
    assert await rp.delete_all(Scope(u, agent_id="planner", session_id="s2")) == 1
    assert await rp.delete_all(Scope(u, agent_id="planner")) == 1
    assert await rp.delete_all(Scope(u, session_id="s1")) == 1
    assert await rp.delete_all(Scope(u, agent_id="nobody")) == 0
    assert ("", u) in await rp.list_users()
    assert await rp.delete_all(Scope(u)) == 2  # a4 (expired) and a5
    assert await rp.delete_all(Scope(u)) == 0
    assert ("", u) not in await rp.list_users() and ("acme", u) in await rp.list_users()
    assert await raw.scard(rp.keys.user(("", u), "ids")) == 0
    assert await raw.exists(*(rp.keys.memory(("", u), m.id) for m in rows[:5])) == 0
    assert await _ids(rp, Scope(u, tenant_id="acme")) == {rows[5].id}
    assert await _ids(rp, Scope(v)) == {rows[6].id}


# -- outages ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, up: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise AssertionError(f"port {port} did not come {'up' if up else 'down'} in {timeout}s")


@contextlib.contextmanager
def _redis_server(port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (CI requires it)")
        pytest.skip("redis-server is not installed")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(data_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, up=True)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)


async def test_server_that_goes_away_mid_run_loses_nothing(tmp_path: Path) -> None:
    from mnemoplug.providers.redis import RedisMemoryStore

    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    u = _uid()
    s = Scope(u)
    mems = [_mem(u, f"durable fact number {i}", created_at=NOW + i) for i in range(20)]
    with _redis_server(port, tmp_path) as proc:
        p = RedisMemoryStore(url, prefix="outage", socket_timeout=2, socket_connect_timeout=2)
        await p.insert(mems[:10])
        await p.insert(mems[10:])
        assert len(await _ids(p, s)) == 20  # connections pooled, user cached
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        _wait_port(port, up=False)
        for call in (
            lambda: p.list(s, limit=5, offset=0, filters=Filter(None), now=NOW),
            lambda: p.get(s, mems[0].id, NOW),
            lambda: p.insert([_mem(u, "written while the server is down")]),
            lambda: p.search(s, _req("durable", None)),
        ):
            t0 = time.monotonic()
            with pytest.raises(ProviderUnavailableError) as info:
                await call()
            elapsed = time.monotonic() - t0
            assert elapsed < 10, elapsed
            assert "Redis" in str(info.value) and f"127.0.0.1:{port}" in str(info.value)
            assert info.value.url == url and info.value.provider == "redis"
            assert isinstance(info.value, ConnectionError)
    with _redis_server(port, tmp_path):
        # the same provider object recovers once the server is back; nothing was lost
        assert await _ids(p, s) == {m.id for m in mems}
        got = await p.get(s, mems[3].id, NOW)
        assert got is not None and np.array_equal(got.embedding, mems[3].embedding)
        assert [
            h.memory.id for h in await p.search(s, _req("durable fact number 7", None, limit=1))
        ] == [mems[7].id]
        async with _provider("outage", url=url) as fresh:
            assert await fresh.count(s, NOW) == 20
        await p.close()


async def test_nothing_listening_fails_fast_and_hides_the_password() -> None:
    from mnemoplug.providers.redis import RedisMemoryStore

    port = _free_port()
    p = RedisMemoryStore(f"redis://:hunter2@127.0.0.1:{port}/0", socket_connect_timeout=1)
    t0 = time.monotonic()
    with pytest.raises(
        ProviderUnavailableError, match=rf"Redis at redis://:\*\*\*@127.0.0.1:{port}/0"
    ):
        await p.open()
    assert time.monotonic() - t0 < 3
    mem = Memory(p, embedder=None, load_entry_points=False)
    with pytest.raises(ProviderUnavailableError) as info:
        await mem.add("u", "never stored")
    assert "hunter2" not in str(info.value) and "socket_connect_timeout" in str(info.value)


async def test_a_server_that_never_answers_times_out_within_the_socket_timeout() -> None:
    from mnemoplug.providers.redis import RedisMemoryStore

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        p = RedisMemoryStore(
            f"redis://127.0.0.1:{port}/0", socket_timeout=0.5, socket_connect_timeout=0.5, retries=0
        )
        t0 = time.monotonic()
        with pytest.raises(ProviderUnavailableError, match="Redis"):
            await p.open()
        assert time.monotonic() - t0 < 3
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


def test_usable_from_successive_asyncio_run_calls() -> None:
    """Scripts often call ``asyncio.run`` more than once; the pool follows the new loop."""
    require_server(REDIS_URL, "Redis")
    from mnemoplug.providers.redis import RedisMemoryStore

    p = RedisMemoryStore(REDIS_URL, prefix=_prefix())
    u = _uid()
    m = _mem(u, "first loop wrote this")
    asyncio.run(p.insert([m]))
    try:
        got = asyncio.run(p.get(Scope(u), m.id, NOW))
        assert got is not None and got.content == "first loop wrote this"
        assert asyncio.run(_ids(p, Scope(u))) == {m.id}
    finally:
        asyncio.run(p.drop_all_keys())
        asyncio.run(p.close())


async def test_store_written_by_a_newer_schema_is_refused(rp: Any, raw: Any) -> None:
    await rp.open()
    await raw.hset(f"{rp.prefix}:meta", "schema", "99")
    from mnemoplug.providers.redis import RedisMemoryStore

    newer = RedisMemoryStore(REDIS_URL, prefix=rp.prefix)
    with pytest.raises(ConfigurationError, match="newer mnemoplug"):
        await newer.open()
    await newer.close()
