"""Encryption at rest: ciphertext on disk / in Redis / in PostgreSQL, plaintext through the API,
the same ranking as an unencrypted store, typed errors for foreign keys, resumable rotation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.fernet import Fernet

from mnemoplug import Memory
from mnemoplug.core.errors import ConfigurationError, MnemoplugError
from mnemoplug.encryption import (
    KEY_ENV,
    DecryptionError,
    EncryptedProvider,
    EncryptingStore,
    RotationProgress,
    rotate,
)
from mnemoplug.providers.inprocess import InProcessMemoryStore
from mnemoplug.providers.sqlite import SQLiteMemoryStore, SQLiteProvider
from tests.conftest import POSTGRES_URL, REDIS_URL, require_server

SECRET = "the password is zebra-7731"
META = "cobalt-42"
PLAINS = [b"zebra-7731", b"password", META.encode(), b"lighthouse"]

DOCS = [
    ("the password is zebra-7731", {"tag": "cobalt-42", "n": 1}),
    ("I walked to the lighthouse at dawn", {"tag": "sea", "n": 2}),
    ("my favourite colour is cobalt blue", {"tag": "cobalt-42", "n": 3}),
    ("the dentist appointment is on tuesday", {"tag": "health", "n": 4}),
    ("zebras live in the savannah", {"tag": "animals", "n": 5}),
    ("remember to water the lighthouse garden plants", {"tag": "sea", "n": 6}),
]
QUERIES = ["what is the password", "lighthouse", "cobalt colour", "zebra", "appointment day"]


class HashEmbedder:
    """Deterministic bag-of-words vectors (no model download)."""

    name = "test-hash"
    dimension = 64

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.sha256(w[:5].encode()).digest()[:4], "big")
                out[i, h % self.dimension] += 1.0
        return out


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        self.t += 60.0
        return self.t


KEY = Fernet.generate_key()


def memory(store: Any, **kw: Any) -> Memory:
    return Memory(store, embedder=HashEmbedder(), load_entry_points=False, clock=Clock(), **kw)


async def fill(
    m: Memory, user: str = "u1", docs: Sequence[tuple[str, dict[str, Any]]] = DOCS
) -> list[str]:
    return [str(await m.add(user, c, md)) for c, md in docs]


def ranked(hits: Sequence[Any]) -> list[tuple[str, float, float | None]]:
    return [
        (h.content, round(h.score, 9), None if h.similarity is None else round(h.similarity, 6))
        for h in hits
    ]


def assert_no_plaintext(blob: bytes, where: str) -> None:
    for p in PLAINS:
        assert p not in blob, f"{p!r} found in {where}"


# -- keys ------------------------------------------------------------------------------------
def test_missing_key_says_how_to_make_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigurationError, match="generate_key"):
        EncryptedProvider(provider=memory(InProcessMemoryStore()))


def test_malformed_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a valid Fernet key") as exc:
        EncryptedProvider(provider=memory(InProcessMemoryStore()), encryption_key="hunter2")
    assert "hunter2" not in str(exc.value)
    with pytest.raises(ConfigurationError):
        EncryptedProvider(provider=memory(InProcessMemoryStore()), encryption_key=[])


async def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    other = Fernet.generate_key()
    monkeypatch.setenv(KEY_ENV, f"{KEY.decode()},{other.decode()}")
    async with EncryptedProvider(provider=memory(InProcessMemoryStore())) as m:
        mid = str(await m.add("u1", SECRET))
        rec = await m.get("u1", mid)
        assert rec is not None and rec.content == SECRET
        raw = await m.encrypting_store.inner.get(_scope(), mid, 0)
        assert raw is not None
        Fernet(KEY).decrypt(raw.content.removeprefix("mpenc1:").encode())  # first key encrypts


def _scope() -> Any:
    from mnemoplug.core.records import Scope

    return Scope(user_id="u1")


def test_provider_without_store_is_rejected() -> None:
    storeless = memory(InProcessMemoryStore())
    storeless.store = None  # what a Memory over your own seven-method provider looks like
    with pytest.raises(ConfigurationError, match="has no store"):
        EncryptedProvider(provider=storeless, encryption_key=KEY)
    wrapped = EncryptedProvider(provider=memory(InProcessMemoryStore()), encryption_key=KEY)
    with pytest.raises(ConfigurationError, match="encrypted already"):
        EncryptedProvider(provider=wrapped, encryption_key=KEY)


async def test_migrating_plaintext_into_an_encrypted_provider_encrypts_it() -> None:
    from mnemoplug import migrate_memory

    plain = memory(InProcessMemoryStore())
    await fill(plain)
    inner = InProcessMemoryStore()
    enc = EncryptedProvider(provider=memory(inner), encryption_key=KEY)
    res = await migrate_memory(plain, enc)
    assert not getattr(res, "errors", None)
    raw = [r async for b in inner.export("", "u1") for r in b]
    assert len(raw) == len(DOCS) and all(r.content.startswith("mpenc1:") for r in raw)
    for q in QUERIES:
        assert ranked(await plain.search("u1", q)) == ranked(await enc.search("u1", q))


# -- SQLite: bytes on disk ---------------------------------------------------------------------
def _disk(path: Path) -> bytes:
    blob = b""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
        if p.exists():
            blob += p.read_bytes()
    return blob


async def test_sqlite_file_holds_no_plaintext(tmp_path: Path) -> None:
    db = tmp_path / "enc.db"
    base = SQLiteProvider(db, embedder=HashEmbedder(), load_entry_points=False, clock=Clock())
    m = EncryptedProvider(provider=base, encryption_key=KEY)
    try:
        ids = await fill(m)
        updated = await m.update(
            "u1", ids[1], metadata={"tag": "sea", "n": 2, "note": "lighthouse"}
        )
        assert updated.metadata["note"] == "lighthouse"
        assert_no_plaintext(_disk(db), "the SQLite file/WAL while open")

        hits = await m.search("u1", "what is the password", limit=3)
        assert hits[0].content == SECRET and hits[0].metadata == {"tag": META, "n": 1}
        rec = await m.get("u1", ids[0])
        assert rec is not None and rec.content == SECRET and rec.metadata["tag"] == META
        assert {r.content for r in await m.get_all("u1")} == {c for c, _ in DOCS}
    finally:
        await m.close()
    assert_no_plaintext(_disk(db), "the SQLite file/WAL after close")

    # the raw rows are Fernet tokens; metadata keys stay visible
    async with SQLiteMemoryStore(path=db) as raw:
        rows = [r async for batch in raw.export("", "u1") for r in batch]
    assert len(rows) == len(DOCS)
    assert all(r.content.startswith("mpenc1:") for r in rows)
    assert all(set(r.metadata) >= {"tag", "n"} for r in rows)
    assert all(str(v).startswith("mpenc1:") for r in rows for v in r.metadata.values())
    assert all(r.embedding is not None for r in rows)  # vectors are stored as is


async def test_control_unencrypted_sqlite_file_does_hold_plaintext(tmp_path: Path) -> None:
    """The byte scan above would catch plaintext: without encryption it is there."""
    db = tmp_path / "plain.db"
    async with memory(SQLiteMemoryStore(path=db)) as m:
        await fill(m)
        blob = _disk(db)
    assert b"zebra-7731" in blob and META.encode() in blob


async def test_wrong_key_raises_decryption_error(tmp_path: Path) -> None:
    db = tmp_path / "enc.db"
    async with EncryptedProvider(
        provider=memory(SQLiteMemoryStore(path=db)), encryption_key=KEY
    ) as m:
        mid = str(await m.add("u1", SECRET, {"tag": META}))
    other = Fernet.generate_key()
    async with EncryptedProvider(
        provider=memory(SQLiteMemoryStore(path=db)), encryption_key=other
    ) as m:
        with pytest.raises(DecryptionError, match="another key") as exc:
            await m.get("u1", mid)
        assert isinstance(exc.value, MnemoplugError)
        assert SECRET not in str(exc.value)
        with pytest.raises(DecryptionError):
            await m.search("u1", "password")
        with pytest.raises(DecryptionError):
            await m.get_all("u1")
    # new key first, old key still decrypts
    async with EncryptedProvider(
        provider=memory(SQLiteMemoryStore(path=db)), encryption_key=[other, KEY]
    ) as m:
        rec = await m.get("u1", mid)
        assert rec is not None and rec.content == SECRET


async def test_plaintext_row_is_a_decryption_error() -> None:
    inner = InProcessMemoryStore()
    plain = memory(inner)
    mid = str(await plain.add("u1", SECRET))
    m = EncryptedProvider(provider=memory(inner), encryption_key=KEY)
    with pytest.raises(DecryptionError, match="not encrypted"):
        await m.get("u1", mid)


# -- same results as an unencrypted store ------------------------------------------------------
@pytest.mark.parametrize("backend", ["inprocess", "sqlite"])
async def test_ranking_equals_unencrypted_store(tmp_path: Path, backend: str) -> None:
    plain = memory(InProcessMemoryStore())
    inner: Any = (
        InProcessMemoryStore()
        if backend == "inprocess"
        else SQLiteMemoryStore(path=tmp_path / "e.db")
    )
    enc = EncryptedProvider(provider=memory(inner), encryption_key=KEY)
    try:
        await fill(plain)
        await fill(enc)
        for q in QUERIES:
            for filters in (None, {"tag": "cobalt-42"}, {"n": {"$gte": 3}}):
                a = await plain.search("u1", q, limit=4, filters=filters)
                b = await enc.search("u1", q, limit=4, filters=filters)
                assert ranked(a) == ranked(b), (q, filters)
                assert a, (q, filters)
        for filters in (None, {"tag": "sea"}, {"tag": {"$in": ["cobalt-42", "health"]}}):
            a = await plain.get_all("u1", filters=filters)
            b = await enc.get_all("u1", filters=filters)
            assert [r.content for r in a] == [r.content for r in b]
        a = await plain.search("u1", "password", min_relevance=0.3)
        b = await enc.search("u1", "password", min_relevance=0.3)
        assert ranked(a) == ranked(b)
    finally:
        await enc.close()


async def test_metadata_filters_on_values() -> None:
    async with EncryptedProvider(provider=memory(InProcessMemoryStore()), encryption_key=KEY) as m:
        await fill(m)
        hits = await m.search("u1", "anything at all", filters={"tag": META})
        assert {h.content for h in hits} <= {DOCS[0][0], DOCS[2][0]}
        listed = await m.get_all("u1", filters={"tag": META})
        assert sorted(r.content for r in listed) == sorted([DOCS[0][0], DOCS[2][0]])
        assert [r.metadata["n"] for r in await m.get_all("u1", filters={"n": {"$gt": 4}})] == [6, 5]
        assert await m.get_all("u1", filters={"tag": "nope"}) == []


async def test_cache_sees_own_and_foreign_writes() -> None:
    inner = InProcessMemoryStore()
    a = EncryptedProvider(provider=memory(inner), encryption_key=KEY)
    b = EncryptedProvider(provider=memory(inner), encryption_key=KEY)  # "another process"
    ids = await fill(a)
    assert (await a.search("u1", "lighthouse", limit=1))[0].content == DOCS[1][0]
    await b.update("u1", ids[1], content="the pier at night")
    await b.add("u1", "a lighthouse keeper's log")
    hits = await a.search("u1", "lighthouse", limit=10)
    contents = [h.content for h in hits]
    assert "the pier at night" in contents and DOCS[1][0] not in contents
    assert contents[0] == "a lighthouse keeper's log"
    await a.delete("u1", ids[5])
    assert DOCS[5][0] not in [h.content for h in await a.search("u1", "lighthouse garden")]
    assert len(await b.search("u1", "lighthouse garden")) == len(DOCS)  # 6 + 1 added - 1 deleted
    await b.delete_all("u1")
    assert await a.search("u1", "lighthouse") == []


async def test_scope_isolation_and_agents() -> None:
    async with EncryptedProvider(provider=memory(InProcessMemoryStore()), encryption_key=KEY) as m:
        await m.add("u1", SECRET, agent_id="a1")
        await m.add("u1", "password for the wifi", agent_id="a2")
        await m.add("u2", "u2 password secret")
        hits = await m.search("u1", "password", agent_id="a1")
        assert [h.content for h in hits] == [SECRET]
        assert {h.content for h in await m.search("u1", "password")} == {
            SECRET,
            "password for the wifi",
        }
        assert await m.count("u1") == 2


# -- rotation ----------------------------------------------------------------------------------
async def test_rotation_is_resumable_after_interruption(tmp_path: Path) -> None:
    db = tmp_path / "rot.db"
    old, new = KEY, Fernet.generate_key()
    m = EncryptedProvider(provider=memory(SQLiteMemoryStore(path=db)), encryption_key=old)
    users = ["alice", "bob", "carol"]
    for u in users:
        await fill(m, u)
    before = {u: ranked(await m.search(u, "lighthouse")) for u in users}

    seen: list[RotationProgress] = []

    def stop_after_first(p: RotationProgress) -> None:
        seen.append(p)
        raise KeyboardInterrupt("interrupted")

    with pytest.raises(KeyboardInterrupt):
        await rotate(m, new, [old], progress=stop_after_first)
    assert [(p.user_id, p.users_done, p.users_total, p.rotated) for p in seen] == [
        ("alice", 1, 3, len(DOCS))
    ]
    await m.close()

    # only alice is under the new key so far; nothing is lost
    async with EncryptedProvider(
        provider=memory(SQLiteMemoryStore(path=db)), encryption_key=new
    ) as only_new:
        assert len(await only_new.get_all("alice")) == len(DOCS)
        with pytest.raises(DecryptionError):
            await only_new.get_all("bob")

    # resume: finishes the job, alice untouched
    store = EncryptingStore(SQLiteMemoryStore(path=db), old)
    progress: list[RotationProgress] = []

    async def record(p: RotationProgress) -> None:
        progress.append(p)

    res = await rotate(store, new, [old], progress=record)
    assert (res.users, res.rotated, res.unchanged) == (3, 2 * len(DOCS), len(DOCS))
    assert [p.rotated for p in progress] == [0, len(DOCS), len(DOCS)]
    again = await rotate(store, new, [old])
    assert (again.rotated, again.unchanged) == (0, 3 * len(DOCS))
    # the wrapper now encrypts with the new key
    await Memory(store, embedder=HashEmbedder(), load_entry_points=False).add(
        "dave", "after rotation"
    )
    await store.close()

    async with EncryptedProvider(
        provider=memory(SQLiteMemoryStore(path=db)), encryption_key=new
    ) as m2:
        for u in users:
            assert ranked(await m2.search(u, "lighthouse")) == before[u]
        assert [r.content for r in await m2.get_all("dave")] == ["after rotation"]
    async with EncryptedProvider(
        provider=memory(SQLiteMemoryStore(path=db)), encryption_key=old
    ) as m3:
        with pytest.raises(DecryptionError):
            await m3.get_all("alice")


async def test_rotation_with_missing_old_key_fails_typed() -> None:
    inner = InProcessMemoryStore()
    m = EncryptedProvider(provider=memory(inner), encryption_key=KEY)
    await fill(m)
    with pytest.raises(DecryptionError):
        await rotate(inner, Fernet.generate_key(), [Fernet.generate_key()])
    assert len(await m.get_all("u1")) == len(DOCS)  # nothing written


# -- servers -----------------------------------------------------------------------------------
@pytest.mark.server
async def test_redis_holds_no_plaintext() -> None:
    require_server(REDIS_URL, "Redis")
    from tests.stores.backends.redis import memory_store

    async with memory_store(None) as store:
        m = EncryptedProvider(provider=memory(store), encryption_key=KEY)
        ids = await fill(m)
        assert (await m.search("u1", "what is the password"))[0].content == SECRET
        rec = await m.get("u1", ids[0])
        assert rec is not None and rec.content == SECRET and rec.metadata["tag"] == META
        assert [r.content for r in await m.get_all("u1", filters={"tag": META})] == [
            DOCS[2][0],
            DOCS[0][0],
        ]
        assert_no_plaintext(await _redis_dump(store.prefix), "Redis")
        # control: the same scan finds plaintext written without encryption
        await memory(store).add("control", SECRET, {"tag": META})
        assert b"zebra-7731" in await _redis_dump(store.prefix)


async def _redis_dump(prefix: str) -> bytes:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        blob = b""
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        assert keys
        for k in keys:
            t = (await client.type(k)).decode()
            if t == "string":
                blob += await client.get(k) or b""
            elif t == "hash":
                for f, v in (await client.hgetall(k)).items():
                    blob += f + b"\0" + v
            elif t == "set":
                blob += b"\0".join(await client.smembers(k))
            elif t == "zset":
                blob += b"\0".join(await client.zrange(k, 0, -1))
            elif t == "list":
                blob += b"\0".join(await client.lrange(k, 0, -1))
            else:  # pragma: no cover - a type this test cannot read
                blob += await client.dump(k) or b""
            blob += k
        return blob
    finally:
        await client.aclose()


@pytest.mark.server
async def test_postgres_holds_no_plaintext() -> None:
    require_server(POSTGRES_URL, "PostgreSQL")
    import asyncpg

    from tests.stores.backends.postgres import memory_store

    async with memory_store(None) as store:
        m = EncryptedProvider(provider=memory(store), encryption_key=KEY)
        ids = await fill(m)
        assert (await m.search("u1", "what is the password"))[0].content == SECRET
        rec = await m.get("u1", ids[0])
        assert rec is not None and rec.content == SECRET and rec.metadata["tag"] == META
        plain = memory(InProcessMemoryStore())
        await fill(plain)
        for q in QUERIES:
            assert [h.content for h in await plain.search("u1", q, limit=3)] == [
                h.content for h in await m.search("u1", q, limit=3)
            ]
        conn = await asyncpg.connect(
            POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
        )
        try:
            rows = await conn.fetch(f'SELECT * FROM "{store.table}"')
        finally:
            await conn.close()
        assert len(rows) == len(DOCS)
        blob = "\n".join(repr(tuple(r.values())) for r in rows).encode()
        assert_no_plaintext(blob, "PostgreSQL")
        assert b"mpenc1:" in blob
        # control: the same SELECT shows plaintext written without encryption
        await memory(store).add("control", SECRET, {"tag": META})
        conn = await asyncpg.connect(
            POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
        )
        try:
            rows = await conn.fetch(f'SELECT * FROM "{store.table}"')
        finally:
            await conn.close()
        assert b"zebra-7731" in "\n".join(repr(tuple(r.values())) for r in rows).encode()
