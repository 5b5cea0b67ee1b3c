"""migrate_memory: chains of real providers keep every field; failures are collected."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from mnemoplug import Memory
from mnemoplug.core.errors import ConfigurationError
from mnemoplug.core.migration import MigrationResult, migrate_memory
from mnemoplug.core.records import Scope, StoredMemory
from mnemoplug.providers.inprocess import InProcessMemoryStore
from mnemoplug.providers.sqlite import SQLiteMemoryStore
from tests.conftest import POSTGRES_URL, REDIS_URL, require_server

NOW = 1_800_000_000.0
USERS = 6  # alice, bob, carol in the default tenant and in "acme"


def _fields(m: StoredMemory) -> tuple[Any, ...]:
    return (
        m.id, m.tenant_id, m.user_id, m.agent_id, m.session_id, m.role, m.content, m.metadata,
        m.created_at, m.updated_at, m.expires_at,
    )  # fmt: skip


async def _everything(provider: Any) -> dict[str, StoredMemory]:
    out: dict[str, StoredMemory] = {}
    for tenant, user in await provider.list_users():
        async for batch in provider.export(tenant, user, 7):
            for m in batch:
                assert m.id not in out
                out[m.id] = m
    return out


async def _seed(embedder: Any) -> tuple[InProcessMemoryStore, dict[str, StoredMemory]]:
    """Three users over two tenants, roles, agents, sessions, expiry (one already expired),
    nested metadata, a non-UUID id and a memory without a vector; real MiniLM vectors."""
    src = InProcessMemoryStore()
    rows: list[StoredMemory] = []
    texts = [f"fact {i}: the user likes topic {i % 5} and city {i % 3}" for i in range(23)]
    vecs = embedder.embed(texts)
    for i, text in enumerate(texts):
        rows.append(
            StoredMemory(
                id=str(uuid.uuid4()) if i != 3 else "legacy-id-3",
                user_id=["alice", "bob", "carol"][i % 3],
                tenant_id="" if i % 4 else "acme",
                agent_id="planner" if i % 2 else None,
                session_id=f"s{i % 2}" if i % 5 else None,
                role=[None, "user", "assistant"][i % 3],
                content=text,
                metadata={"i": i, "tags": ["x", str(i)], "nested": {"k": i % 2}},
                created_at=NOW + i,
                updated_at=NOW + 2 * i,
                expires_at=None if i % 6 else (NOW + 10**6 if i else 1000.0),
                embedding=None if i == 5 else vecs[i],
            )
        )
    await src.upsert(rows)
    return src, {r.id: r for r in rows}


def _assert_same(got: dict[str, StoredMemory], want: dict[str, StoredMemory]) -> None:
    assert sorted(got) == sorted(want)
    for mid, w in want.items():
        g = got[mid]
        assert _fields(g) == _fields(w), mid
        if w.embedding is None:
            assert g.embedding is None or not np.any(g.embedding), mid
        else:
            assert g.embedding is not None and np.allclose(g.embedding, w.embedding, atol=1e-5), mid


async def test_memory_sqlite_qdrant_sqlite_roundtrip_keeps_everything(tmp_path, embedder) -> None:
    from mnemoplug.providers.qdrant import QdrantMemoryStore

    src, want = await _seed(embedder)
    lite = SQLiteMemoryStore(path=tmp_path / "a.db")
    qd = QdrantMemoryStore(path=tmp_path / "qdrant", collection="mig")
    lite2 = f"sqlite:///{tmp_path / 'b.db'}"  # a URL: opened and closed by migrate_memory
    try:
        r1 = await migrate_memory(src, lite, batch_size=4, progress=False)
        assert r1 == MigrationResult(True, USERS, 23, 0, r1.duration, [])
        _assert_same(await _everything(lite), want)
        r2 = await migrate_memory(lite, qd, batch_size=5, progress=False)
        assert (r2.success, r2.total_users, r2.total_memories, r2.failed) == (True, USERS, 23, 0)
        _assert_same(await _everything(qd), want)
        r3 = await migrate_memory(qd, lite2, batch_size=500, progress=False)
        assert (r3.success, r3.total_memories, r3.migrated) == (True, 23, 23)
        final = SQLiteMemoryStore(lite2)
        try:
            _assert_same(await _everything(final), want)
            # the migrated store answers searches for its users, scoped as before
            async with Memory(final, embedder=embedder, load_entry_points=False) as mem:
                hits = await mem.search("bob", "Which city does the user like? city 1", limit=3)
                assert hits and all(h.user_id == "bob" for h in hits)
                legacy = await mem.get("alice", "legacy-id-3")  # a non-UUID id survives
                assert legacy is not None and legacy.content == want["legacy-id-3"].content
                assert await mem.get("bob", "legacy-id-3") is None
                assert await mem.get("alice", "legacy-id-3", tenant_id="acme") is None
            expired = next(m for m in want.values() if m.expires_at == 1000.0)
            assert (
                await final.get(Scope(expired.user_id, expired.tenant_id or None), expired.id, NOW)
                is None
            )
        finally:
            await final.close()
    finally:
        await lite.close()
        await qd.close()


async def test_sqlite_redis_postgres_sqlite_chain(tmp_path, embedder) -> None:
    require_server(REDIS_URL, "Redis")
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug.providers.postgres import PostgresMemoryStore
    from mnemoplug.providers.redis import RedisMemoryStore
    from tests.stores.backends.postgres import drop_tables, unique_table

    _, want = await _seed(embedder)
    lite = SQLiteMemoryStore(path=tmp_path / "chain-a.db")
    await lite.upsert(list(want.values()))
    red = RedisMemoryStore(REDIS_URL, prefix=f"mnemoplug-test-mig-{uuid.uuid4().hex[:12]}")
    table = unique_table("mp_mig")
    pg = PostgresMemoryStore(POSTGRES_URL, table=table)
    out = SQLiteMemoryStore(path=tmp_path / "chain-b.db")
    try:
        for a, b in ((lite, red), (red, pg), (pg, out)):
            r = await migrate_memory(a, b, batch_size=6, progress=False)
            assert (r.success, r.total_users, r.total_memories, r.failed) == (True, USERS, 23, 0), r
            _assert_same(await _everything(b), want)
    finally:
        await lite.close()
        await out.close()
        try:
            await red.drop_all_keys()
        finally:
            await red.close()
        await pg.close()
        await drop_tables(table)


class _FailsForBob(InProcessMemoryStore):
    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if any(m.user_id == "bob" for m in memories):
            raise RuntimeError("disk full while writing bob")
        await super().upsert(memories)


async def test_failing_batches_are_collected_and_others_migrate(embedder) -> None:
    src, want = await _seed(embedder)
    dst = _FailsForBob()
    r = await migrate_memory(src, dst, batch_size=3, progress=False)
    bob = [m for m in want.values() if m.user_id == "bob"]
    assert r.success is False
    assert r.total_memories == 23 and r.failed == len(bob) and r.migrated == 23 - len(bob)
    assert len(r.errors) == -(-sum(1 for m in bob if m.tenant_id == "") // 3) + -(
        -sum(1 for m in bob if m.tenant_id == "acme") // 3
    )
    assert all("bob" in e and "disk full while writing bob" in e for e in r.errors)
    got = await _everything(dst)
    assert sorted(got) == sorted(m.id for m in want.values() if m.user_id != "bob")


async def test_reembeds_when_the_target_embedder_differs(embedder) -> None:
    src, want = await _seed(embedder)

    def tiny(texts: list[str]) -> list[list[float]]:
        return [[len(t), t.count("1") + 1.0, 1.0] for t in texts]

    target = Memory(InProcessMemoryStore(), embedder=tiny, load_entry_points=False)
    r = await migrate_memory(src, target, progress=False)
    assert r.success and r.migrated == 23
    got = await _everything(target.store)
    assert all(m.embedding is not None and m.embedding.shape == (3,) for m in got.values())
    # same embedder on both sides: vectors are copied, not recomputed
    same_src = Memory(src, embedder=embedder, load_entry_points=False)
    same_dst = Memory(InProcessMemoryStore(), embedder=embedder, load_entry_points=False)
    r2 = await migrate_memory(same_src, same_dst, progress=False)
    assert r2.success
    copied = await _everything(same_dst.store)
    assert np.array_equal(copied[next(iter(want))].embedding, want[next(iter(want))].embedding)
    assert copied[next(k for k, v in want.items() if v.embedding is None)].embedding is not None


async def test_progress_line_and_bad_arguments(monkeypatch) -> None:
    src = InProcessMemoryStore()
    await src.upsert(
        [StoredMemory(id="a", user_id="u", content="x", created_at=1.0, updated_at=1.0)]
    )
    buf = io.StringIO()
    monkeypatch.setattr("sys.stderr", buf)
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name: str, *a: Any, **k: Any) -> Any:
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    r = await migrate_memory(src, InProcessMemoryStore(), progress=True)
    assert r.success and "1/1 users, 1 memories" in buf.getvalue()
    from mnemoplug.core.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match=r"mnemoplug\[progress\]"):
        await migrate_memory(src, InProcessMemoryStore(), progress="tqdm")
    monkeypatch.setattr(builtins, "__import__", real_import)
    with pytest.raises(ConfigurationError, match="batch_size"):
        await migrate_memory(src, InProcessMemoryStore(), batch_size=0)
    with pytest.raises(ConfigurationError, match="MemoryStore or a URL"):
        await migrate_memory(src, 42)
    with pytest.raises(ConfigurationError, match="no memory store handles"):
        await migrate_memory("nosuch://x", InProcessMemoryStore())
