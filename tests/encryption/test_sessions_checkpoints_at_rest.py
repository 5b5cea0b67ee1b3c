"""Session messages and checkpoints of an ``EncryptedProvider`` are ciphertext in SQLite files,
Redis values and PostgreSQL rows, plaintext through the API; wrong keys and unencrypted data
are typed errors; hooks still see plaintext; forget removes them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from mnemoplug import Memory
from mnemoplug.core.errors import ConfigurationError
from mnemoplug.core.session import SessionMemory
from mnemoplug.encryption import DecryptionError, EncryptedProvider
from mnemoplug.plugins import PIIRedactor
from mnemoplug.providers.inprocess import InProcessMemoryStore
from tests.conftest import POSTGRES_URL
from tests.encryption.test_encryption import _redis_dump
from tests.stores.backends import postgres, redis, sqlite

SECRET = "the vault code is zebra-7731"
META = "cobalt-42"
BLOB = b"lighthouse-binary-state"
PLAINS = [b"zebra-7731", META.encode(), b"lighthouse", b"vault code"]
KEY = Fernet.generate_key()
BACKENDS = {"sqlite": sqlite, "redis": redis, "postgres": postgres}


@contextlib.asynccontextmanager
async def stores(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    mod = BACKENDS[backend]
    async with mod.session_store(tmp_path) as sess, mod.checkpoint_store(tmp_path) as cps:
        yield sess, cps


def files_bytes(folder: Path) -> bytes:
    """Every file under ``folder`` (SQLite databases, their WAL and journals), as bytes."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


async def raw_bytes(backend: str, tmp_path: Path, sess: Any, cps: Any) -> bytes:
    """Everything the backend holds for these stores, as bytes."""
    if backend == "sqlite":
        return files_bytes(tmp_path)
    if backend == "redis":
        return await _redis_dump(sess.prefix) + await _redis_dump(cps.prefix)
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        out = []
        for table in (sess.table, f"{sess.table}_messages", cps.table):
            if await conn.fetchval("SELECT to_regclass($1)", f'"{table}"') is None:
                continue
            for r in await conn.fetch(f'SELECT * FROM "{table}"'):
                out.append(repr(tuple(r.values())))
        return "\n".join(out).encode()
    finally:
        await conn.close()


def assert_no_plaintext(blob: bytes, where: str) -> None:
    for p in PLAINS:
        assert p not in blob, f"{p!r} found in {where}"


def provider(sess: Any, cps: Any, **kw: Any) -> EncryptedProvider:
    base = Memory(
        InProcessMemoryStore(),
        embedder=None,
        load_entry_points=False,
        session=sess,
        checkpoints=cps,
        plugins=kw.pop("plugins", ()),
    )
    return EncryptedProvider(provider=base, encryption_key=kw.pop("key", KEY), **kw)


async def write(m: Any, run: str = "run-1") -> None:
    await m.session.add_messages(
        "s1",
        [
            {"role": "user", "content": SECRET, "metadata": {"tag": META}},
            {"role": "assistant", "content": "noted, I will keep it safe"},
        ],
        user_id="u1",
    )
    await m.checkpoints.save(run, {"note": SECRET, "step": 3}, user_id="u1", metadata={"tag": META})
    await m.checkpoints.save(run + "-bytes", BLOB, user_id="u1")


@pytest.mark.server
@pytest.mark.parametrize("backend", sorted(BACKENDS))
async def test_sessions_and_checkpoints_hold_no_plaintext(backend: str, tmp_path: Path) -> None:
    async with stores(backend, tmp_path) as (sess, cps):
        m = provider(sess, cps)
        await write(m)
        # plaintext through the API
        got = await m.session.get_messages("s1", user_id="u1")
        assert [x.content for x in got] == [SECRET, "noted, I will keep it safe"]
        assert got[0].metadata == {"tag": META}
        assert (await m.session.search("vault code", user_id="u1"))[0].content == SECRET
        cp = await m.checkpoints.load("run-1", user_id="u1")
        assert cp is not None and cp.state == {"note": SECRET, "step": 3}
        assert cp.state_type == "json" and cp.metadata == {"tag": META}
        cpb = await m.checkpoints.load("run-1-bytes", user_id="u1")
        assert cpb is not None and cpb.state == BLOB and cpb.state_type == "bytes"
        assert [c.checkpoint_id for c in await m.checkpoints.list(user_id="u1")] == [
            cpb.checkpoint_id,
            cp.checkpoint_id,
        ]
        # ciphertext at rest
        assert_no_plaintext(await raw_bytes(backend, tmp_path, sess, cps), backend)
        # control: the same scan finds what is written without encryption
        await sess.add_message("s2", {"role": "user", "content": SECRET}, user_id="u2")
        await cps.save("run-2", {"note": SECRET}, user_id="u2")
        assert b"zebra-7731" in await raw_bytes(backend, tmp_path, sess, cps)


async def test_wrong_key_and_unencrypted_data_are_typed_errors(tmp_path: Path) -> None:
    async with stores("sqlite", tmp_path) as (sess, cps):
        await write(provider(sess, cps))
        other = provider(sess, cps, key=Fernet.generate_key())
        with pytest.raises(DecryptionError, match="another key"):
            await other.session.get_messages("s1", user_id="u1")
        with pytest.raises(DecryptionError, match="another key"):
            await other.checkpoints.load("run-1", user_id="u1")
        # both keys: reads data written with either
        both = provider(sess, cps, key=[Fernet.generate_key(), KEY])
        assert (await both.session.get_messages("s1", user_id="u1"))[0].content == SECRET
        # unencrypted rows written beside them are refused, not returned as ciphertext
        await sess.add_message("plain", {"role": "user", "content": "hi"}, user_id="u1")
        await cps.save("plain-run", {"x": 1}, user_id="u1")
        m = provider(sess, cps)
        with pytest.raises(DecryptionError, match="not encrypted"):
            await m.session.get_messages("plain", user_id="u1")
        with pytest.raises(DecryptionError, match="not encrypted"):
            await m.checkpoints.load("plain-run", user_id="u1")


async def test_hooks_see_plaintext_and_forget_removes_everything(tmp_path: Path) -> None:
    async with stores("sqlite", tmp_path) as (sess, cps):
        m = provider(sess, cps, plugins=[PIIRedactor()])
        await m.session.add_message(
            "s1", {"role": "user", "content": "mail me at zed@example.com"}, user_id="u1"
        )
        await write(m)
        stored = await m.session.get_messages("s1", user_id="u1")
        assert "zed@example.com" not in stored[0].content and "[EMAIL]" in stored[0].content
        assert b"[EMAIL]" not in await raw_bytes("sqlite", tmp_path, sess, cps)
        counts = await m.forget("u1")
        assert counts["sessions"] == 1 and counts["checkpoints"] == 2
        assert await m.session.list_sessions(user_id="u1") == []
        assert await m.checkpoints.list(user_id="u1") == []


async def test_opting_out_and_unwrappable_session_memories(tmp_path: Path) -> None:
    async with stores("sqlite", tmp_path) as (sess, cps):
        m = provider(sess, cps, encrypt_sessions=False, encrypt_checkpoints=False)
        await write(m)
        assert b"zebra-7731" in await raw_bytes("sqlite", tmp_path, sess, cps)

    class MySessions(SessionMemory):
        async def get_messages(self, session_id: str) -> list[Any]:
            return []

        async def add_message(self, session_id: str, message: Any) -> Any:
            return message

        async def clear(self, session_id: str) -> Any:
            return 0

        async def summarize(self, session_id: str) -> str:
            return ""

    base = Memory(InProcessMemoryStore(), embedder=None, session=MySessions())
    with pytest.raises(ConfigurationError, match="encrypt_sessions=False"):
        EncryptedProvider(provider=base, encryption_key=KEY)
    kept = EncryptedProvider(provider=base, encryption_key=KEY, encrypt_sessions=False)
    assert isinstance(kept.session, MySessions)


# -- key rotation ---------------------------------------------------------------------------------
class Stop(Exception):
    pass


@pytest.mark.server
@pytest.mark.parametrize("backend", ["inprocess", *sorted(BACKENDS)])
async def test_rotation_covers_sessions_and_checkpoints_and_resumes(
    backend: str, tmp_path: Path
) -> None:
    from mnemoplug.encryption import rotate
    from tests.stores.backends import inprocess

    mod = inprocess if backend == "inprocess" else BACKENDS[backend]
    async with mod.session_store(tmp_path) as sess, mod.checkpoint_store(tmp_path) as cps:
        old = provider(sess, cps)
        for i in range(3):
            await old.session.add_messages(
                f"s{i}",
                [
                    {"role": "user", "content": f"{SECRET} #{i}", "metadata": {"tag": META}},
                    {"role": "assistant", "content": f"answer {i}"},
                ],
                user_id=f"u{i}",
                tenant_id="acme" if i == 2 else None,
            )
            await old.checkpoints.save(
                f"run-{i}", {"i": i}, user_id=f"u{i}", metadata={"tag": META}
            )
        await old.checkpoints.save("run-0", BLOB, user_id="u0")
        before = {
            i: [m.model_dump() for m in await old.session.get_messages(f"s{i}")] for i in range(3)
        }
        new_key = Fernet.generate_key()
        m = provider(sess, cps)

        # interrupted after the first session
        async def stop_after_first_session(p: Any) -> None:
            if p.kind == "sessions":
                raise Stop

        with pytest.raises(Stop):
            await rotate(m, new_key, KEY, progress=stop_after_first_session)
        seen: list[Any] = []
        res = await rotate(m, new_key, KEY, progress=seen.append)
        assert res.sessions == 3 and res.messages_rotated == 4 and res.messages_unchanged == 2
        assert res.checkpoints_rotated == 4 and res.checkpoints_unchanged == 0
        assert {p.kind for p in seen} == {"sessions", "checkpoints"}
        again = await rotate(m, new_key, KEY)
        assert again.messages_rotated == 0 and again.checkpoints_rotated == 0

        # only the new key now reads everything, unchanged, in order
        fresh = provider(sess, cps, key=new_key)
        for i in range(3):
            after = [x.model_dump() for x in await fresh.session.get_messages(f"s{i}")]
            assert after == before[i]
            cp = await fresh.checkpoints.load(f"run-{i}", user_id=f"u{i}")
            assert cp is not None and cp.state == (BLOB if i == 0 else {"i": i})
        assert [c.state for c in await fresh.checkpoints.list(user_id="u0")] == [BLOB, {"i": 0}]
        with pytest.raises(DecryptionError):
            await provider(sess, cps).session.get_messages("s0")
        assert_no_plaintext_for(backend, tmp_path)


def assert_no_plaintext_for(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        assert_no_plaintext(files_bytes(tmp_path), "SQLite after rotation")
