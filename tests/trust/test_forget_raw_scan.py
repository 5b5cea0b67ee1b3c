"""After ``forget``, a raw scan of every store finds no trace of the user (issue 11, item 5):
the SQLite files' bytes (database, WAL), every Redis key and value under the prefixes, every
row of the PostgreSQL tables, every Qdrant point. Another user's data stays."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from mnemoplug import Memory
from tests.conftest import POSTGRES_URL, REDIS_URL, require_server


class Traces:
    """What may not remain of the forgotten user, in the forms the stores write."""

    def __init__(self, tag: str) -> None:
        self.user = f"victim-{tag}"
        self.secret = f"zqvsecret{tag}"
        self.forms = {self.user, self.secret, quote(self.user, safe=""), self.secret.upper()}

    def found_in(self, blob: bytes) -> list[str]:
        low = blob.lower()
        hits = []
        for form in self.forms:
            raw = form.encode("utf-8")
            if raw in blob or raw.lower() in low or raw.hex().encode() in low:
                hits.append(form)
        return hits


async def _fill(memory: Memory, who: str, secret: str) -> None:
    await memory.add(who, f"{who} keeps {secret} under the mattress", {"note": secret})
    await memory.add(who, [f"{who} likes green tea", f"{who} said {secret} twice"])
    mid = (await memory.get_all(who))[0].id
    await memory.update(who, mid, metadata={"note": f"{secret} updated"})
    await memory.search(who, f"where is {secret}")
    await memory.session.add_messages(  # type: ignore[union-attr]
        f"{who}-session",
        [{"role": "user", "content": f"remember {secret}"}, {"role": "assistant", "content": "ok"}],
        user_id=who,
    )
    await memory.checkpoints.save(  # type: ignore[union-attr]
        f"{who}-run", {"secret": secret}, user_id=who, metadata={"m": secret}
    )
    await memory.checkpoints.save(f"{who}-run", secret.encode(), user_id=who)  # type: ignore[union-attr]


async def _check_other_intact(memory: Memory, keeper: str) -> None:
    assert await memory.count(keeper) == 3
    assert len(await memory.session.get_messages(f"{keeper}-session")) == 2  # type: ignore[union-attr]
    assert len(await memory.checkpoints.list(user_id=keeper)) == 2  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def _sqlite(tmp_path: Path, tag: str) -> AsyncIterator[tuple[Memory, Any]]:
    from mnemoplug.providers.sqlite import (
        SQLiteCheckpointStore,
        SQLiteMemoryStore,
        SQLiteSessionMemory,
    )

    d = tmp_path / "files"
    m = Memory(
        SQLiteMemoryStore(path=d / "memories.db"),
        embedder=None,
        session=SQLiteSessionMemory(path=d / "sessions.db"),
        checkpoints=SQLiteCheckpointStore(path=d / "checkpoints.db"),
        load_entry_points=False,
    )

    async def scan() -> bytes:
        return b"".join(p.read_bytes() for p in sorted(d.iterdir()) if p.is_file())

    try:
        yield m, scan
    finally:
        await m.close()


@contextlib.asynccontextmanager
async def _redis(tmp_path: Path, tag: str) -> AsyncIterator[tuple[Memory, Any]]:
    require_server(REDIS_URL, "Redis")
    import redis.asyncio as aioredis

    from mnemoplug.providers.redis import (
        RedisCheckpointStore,
        RedisMemoryStore,
        RedisSessionMemory,
    )
    from tests.stores.backends.redis import drop_prefix

    prefix = f"mnemotest-forget-{tag}"
    m = Memory(
        RedisMemoryStore(REDIS_URL, prefix=f"{prefix}-mem"),
        embedder=None,
        session=RedisSessionMemory(REDIS_URL, prefix=f"{prefix}-sess:"),
        checkpoints=RedisCheckpointStore(REDIS_URL, prefix=f"{prefix}-ckpt:"),
        load_entry_points=False,
    )
    client = aioredis.from_url(REDIS_URL)

    async def scan() -> bytes:
        out = []
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            out.append(key)
            kind = (await client.type(key)).decode()
            if kind == "string":
                out.append(await client.get(key) or b"")
            elif kind == "hash":
                for k, v in (await client.hgetall(key)).items():
                    out += [k, v]
            elif kind == "set":
                out += list(await client.smembers(key))
            elif kind == "zset":
                out += [k for k, _ in await client.zrange(key, 0, -1, withscores=True)]
            elif kind == "list":
                out += list(await client.lrange(key, 0, -1))
            else:
                raise AssertionError(f"unexpected key type {kind} of {key!r}")
        return b"\n".join(out)

    try:
        yield m, scan
    finally:
        await m.close()
        await drop_prefix(prefix)
        await client.aclose()


@contextlib.asynccontextmanager
async def _postgres(tmp_path: Path, tag: str) -> AsyncIterator[tuple[Memory, Any]]:
    require_server(POSTGRES_URL, "PostgreSQL")
    import asyncpg

    from mnemoplug.providers.postgres import (
        PostgresCheckpointStore,
        PostgresMemoryStore,
        PostgresSessionMemory,
    )
    from tests.stores.backends.postgres import drop_plain_tables, drop_tables

    base = f"t_forget_{tag}"
    m = Memory(
        PostgresMemoryStore(POSTGRES_URL, table=f"{base}_mem"),
        embedder=None,
        session=PostgresSessionMemory(POSTGRES_URL, table=f"{base}_sess"),
        checkpoints=PostgresCheckpointStore(POSTGRES_URL, table=f"{base}_ckpt"),
        load_entry_points=False,
    )
    url = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def scan() -> bytes:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            tables = [
                r[0]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE tablename LIKE $1", f"{base}%"
                )
            ]
            assert len(tables) >= 6, tables  # memories, _users, _meta, sessions (2), checkpoints
            out = []
            for t in tables:
                for r in await conn.fetch(f'SELECT row_to_json(x)::text FROM "{t}" x'):
                    out.append(r[0].encode("utf-8"))
            return b"\n".join(out)
        finally:
            await conn.close()

    try:
        yield m, scan
    finally:
        await m.close()
        await drop_tables(f"{base}_mem")
        await drop_plain_tables(f"{base}_sess", f"{base}_sess_messages", f"{base}_ckpt")


@contextlib.asynccontextmanager
async def _qdrant(tmp_path: Path, tag: str) -> AsyncIterator[tuple[Memory, Any]]:
    pytest.importorskip("qdrant_client")
    from mnemoplug.providers.inprocess import InMemoryCheckpointStore, InMemorySessionMemory
    from mnemoplug.providers.qdrant import QdrantMemoryStore

    store = QdrantMemoryStore(path=tmp_path / "q", collection="forget")
    m = Memory(
        store,
        embedder=None,
        session=InMemorySessionMemory(),
        checkpoints=InMemoryCheckpointStore(),
        load_entry_points=False,
    )

    async def scan() -> bytes:
        client = await store._c()
        out = []
        for coll in (store.collection, store.users_collection):
            offset = None
            while True:
                points, offset = await client.scroll(
                    coll, limit=256, offset=offset, with_payload=True, with_vectors=False
                )
                out += [json.dumps([str(p.id), p.payload]).encode() for p in points]
                if offset is None:
                    break
        return b"\n".join(out)

    try:
        yield m, scan
    finally:
        await m.close()


BACKENDS = {"sqlite": _sqlite, "redis": _redis, "postgres": _postgres, "qdrant": _qdrant}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
async def test_forget_leaves_no_trace_in_a_raw_scan(backend: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    victim, keeper = Traces(tag), f"keeper-{tag}"
    async with BACKENDS[backend](tmp_path, tag) as (memory, scan):
        await _fill(memory, keeper, f"keepersecret{tag}")
        await _fill(memory, victim.user, victim.secret)
        await memory.delete(victim.user, (await memory.get_all(victim.user))[0].id)
        before = await scan()
        assert victim.found_in(before), "the scan must see the user before forget"
        counts = await memory.forget(victim.user)
        assert counts["memories"] == 2 and counts["sessions"] == 1
        assert counts["checkpoints"] == 2
        assert victim.found_in(await scan()) == []
        await _check_other_intact(memory, keeper)
        assert f"keepersecret{tag}".encode() in await scan()


@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgres"])
async def test_a_forgotten_user_written_again_is_not_served_from_a_stale_cache(
    backend: str, tmp_path: Path
) -> None:
    """The generation counter is deleted with the user: another process's cache of the old
    user must not match the new counter (it restarts at a clock value, not at 1)."""
    from tests.stores.conftest import factory

    make = factory("memory_store", backend)
    tag = uuid.uuid4().hex[:10]
    shared = {
        "sqlite": {"path": tmp_path / "shared.db"},
        "redis": {"prefix": f"mnemotest-stale-{tag}"},
        "postgres": {"table": f"t_stale_{tag}"},
    }[backend]
    async with make(tmp_path, **dict(shared)) as a, make(tmp_path, **dict(shared)) as b:
        ma = Memory(a, embedder=None, load_entry_points=False)
        mb = Memory(b, embedder=None, load_entry_points=False)
        await ma.add("u", "the old secret")
        assert [r.content for r in await ma.get_all("u")] == ["the old secret"]  # cached in a
        await mb.forget("u")
        await mb.add("u", "a new life")
        assert [r.content for r in await ma.get_all("u")] == ["a new life"]
        assert [r.content for r in await ma.search("u", "secret life")] == ["a new life"]
