"""SQLite-specific behaviour: WAL, schema version, cross-process consistency of the cache."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mnemoplug import ConfigurationError, Memory, ProviderError
from mnemoplug.providers.sqlite import SQLiteMemoryStore
from mnemoplug.providers.sqlite.paths import path_from_url as _path_from_url


def test_url_paths() -> None:
    assert _path_from_url("sqlite:///rel/m.db") == Path("rel/m.db")
    assert _path_from_url("sqlite:////abs/m.db") == Path("/abs/m.db")
    assert _path_from_url("sqlite+aiosqlite:////abs/m.db") == Path("/abs/m.db")
    with pytest.raises(ConfigurationError, match="host"):
        _path_from_url("sqlite://host/m.db")


async def test_wal_schema_version_and_newer_schema_refused(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    m = Memory.from_url(f"sqlite:///{db}", embedder=None)
    await m.add("u", "x")
    await m.close()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (
            con.execute("SELECT value FROM mnemoplug_meta WHERE key='schema_version'").fetchone()[0]
            == "2"
        )
        con.execute("UPDATE mnemoplug_meta SET value='99' WHERE key='schema_version'")
    m2 = Memory.from_url(f"sqlite:///{db}", embedder=None)
    with pytest.raises(ProviderError, match="newer mnemoplug"):
        await m2.get_all("u")
    await m2.close()
    with sqlite3.connect(db) as con:  # nothing was lost by the refusal
        assert con.execute("SELECT content FROM mnemoplug_memories").fetchall() == [("x",)]


async def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    m = Memory(SQLiteMemoryStore(path=blocker / "sub" / "m.db"), embedder=None)
    with pytest.raises(ConfigurationError, match="MNEMOPLUG_DB_PATH"):
        await m.add("u", "x")


async def test_second_instance_writes_are_seen_by_a_cached_reader(tmp_path: Path, embedder) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    a = Memory.from_url(url, embedder=embedder)
    b = Memory.from_url(url, embedder=embedder)
    await a.add("u", "User prefers dark mode")
    assert len(await a.search("u", "theme")) == 1  # a caches u's vectors now
    mid = await b.add("u", "User likes the colour theme solarized")
    hits = await a.search("u", "Which colour theme?", limit=5)
    assert mid in {h.id for h in hits}
    await b.update("u", mid, content="User likes the monokai colour theme")
    assert any("monokai" in h.content for h in await a.search("u", "colour theme", limit=5))
    await b.delete("u", mid)
    assert mid not in {h.id for h in await a.search("u", "Which colour theme?", limit=5)}
    assert [r.content for r in await a.get_all("u")] == ["User prefers dark mode"]
    await a.close()
    await b.close()


def test_two_processes_writing_concurrently_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "mp.db"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from mnemoplug import Memory
        async def main(tag):
            m = Memory.from_url("sqlite:///{db}", embedder=None)
            await asyncio.gather(*(m.add("u", f"{{tag}} fact {{i}}") for i in range(40)))
            await asyncio.gather(*(m.search("u", "fact") for _ in range(10)))
            await m.close()
        asyncio.run(main(sys.argv[1]))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, tag]) for tag in ("p1", "p2", "p3")]
    for p in procs:
        assert p.wait(timeout=120) == 0

    async def check() -> None:
        m = Memory.from_url(f"sqlite:///{db}", embedder=None)
        got = {r.content for r in await m.get_all("u", limit=1000)}
        assert got == {f"{t} fact {i}" for t in ("p1", "p2", "p3") for i in range(40)}
        assert len(await m.search("u", "p2 fact", limit=200)) == 120
        await m.close()

    asyncio.run(check())


async def test_survives_reopen_with_all_fields(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    m = Memory.from_url(url, embedder=None)
    mid = await m.add(
        "u", "fact", {"k": [1, 2]}, tenant_id="t", agent_id="a", session_id="s", ttl=3600
    )
    before = await m.get("u", mid, tenant_id="t")
    await m.close()
    m2 = Memory.from_url(url, embedder=None)
    after = await m2.get("u", mid, tenant_id="t")
    assert after == before
    await m2.close()


#: the FTS triggers of schema version 1 (content only)
_V1_TRIGGERS = [
    """CREATE TRIGGER mnemoplug_memories_ai AFTER INSERT ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(rowid, content, scope_token)
            VALUES (new.rowid, new.content, new.scope_token);
    END""",
    """CREATE TRIGGER mnemoplug_memories_ad AFTER DELETE ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(mnemoplug_fts, rowid, content, scope_token)
            VALUES ('delete', old.rowid, old.content, old.scope_token);
    END""",
    """CREATE TRIGGER mnemoplug_memories_au AFTER UPDATE OF content ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(mnemoplug_fts, rowid, content, scope_token)
            VALUES ('delete', old.rowid, old.content, old.scope_token);
        INSERT INTO mnemoplug_fts(rowid, content, scope_token)
            VALUES (new.rowid, new.content, new.scope_token);
    END""",
]


async def test_version_1_file_is_migrated_and_keeps_its_memories(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    m0 = Memory.from_url(f"sqlite:///{db}", embedder=None)
    old_id = await m0.add("u", "The user lives in Lisbon")
    await m0.close()
    with sqlite3.connect(db) as con:  # back to what version 1 created
        for name in ("ai", "ad", "au"):
            con.execute(f"DROP TRIGGER mnemoplug_memories_{name}")
        for col in ("occurred_at", "speaker", "seq"):
            con.execute(f"ALTER TABLE mnemoplug_memories DROP COLUMN {col}")
        for stmt in _V1_TRIGGERS:
            con.execute(stmt)
        con.execute("UPDATE mnemoplug_meta SET value = '1' WHERE key = 'schema_version'")
    m = Memory.from_url(f"sqlite:///{db}", embedder=None)
    old = await m.get("u", old_id)
    assert old is not None and old.content == "The user lives in Lisbon"
    assert old.occurred_at == old.created_at and old.speaker is None  # NULL reads as created_at
    new = await m.add(
        "u",
        [{"role": "user", "name": "Ana", "content": "Lisbon is sunny"}],
        occurred_at="2020-01-01T00:00:00Z",
    )
    assert {r.id for r in await m.search("u", "Lisbon")} == {new[0], old_id}
    assert [r.id for r in await m.search("u", "Ana")] == new  # the speaker is indexed
    assert (await m.get("u", new[0])).speaker == "Ana"  # type: ignore[union-attr]
    early = {"occurred_at": {"$lt": "2021-01-01T00:00:00Z"}}
    assert [r.id for r in await m.get_all("u", filters=early)] == new
    await m.close()
    with sqlite3.connect(db) as con:
        version = "SELECT value FROM mnemoplug_meta WHERE key='schema_version'"
        assert con.execute(version).fetchone() == ("2",)
        cols = {r[1] for r in con.execute("PRAGMA table_info(mnemoplug_memories)")}
        assert {"occurred_at", "speaker", "seq"} <= cols
    again = Memory.from_url(f"sqlite:///{db}", embedder=None)  # opening again is harmless
    assert await again.count("u") == 2
    assert await again.delete("u", old_id) and await again.delete("u", new[0])
    assert await again.search("u", "Lisbon") == []
    await again.close()


async def test_a_failed_read_is_a_provider_error(tmp_path: Path) -> None:
    """Reads run on plain sqlite3 connections: a driver error reaches the caller typed."""
    db = tmp_path / "m.db"
    m = Memory.from_url(f"sqlite:///{db}", embedder=None)
    mid = await m.add("u", "x")
    assert (await m.get("u", mid)).content == "x"
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE mnemoplug_memories RENAME TO mnemoplug_moved")
    with pytest.raises(ProviderError, match="cannot read SQLite database"):
        await m.get("u", mid)
    await m.close()
