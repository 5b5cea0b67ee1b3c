"""The Memory facade beyond the provider contract: embedders, defaults, limits, sync facade."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap

import pytest

from mnemoplug import (
    EmbedderMismatchError,
    InvalidScopeError,
    Memory,
    MemoryValidationError,
    SyncMemory,
)


async def test_default_memory_uses_sqlite_file_at_documented_path(
    tmp_path, monkeypatch, embedder
) -> None:
    from mnemoplug.providers.sqlite import SQLiteMemoryStore, default_sqlite_path

    monkeypatch.delenv("MNEMOPLUG_DB_PATH", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_sqlite_path() == tmp_path / "xdg" / "mnemoplug" / "memory.db"
    monkeypatch.setenv("MNEMOPLUG_DB_PATH", str(tmp_path / "custom.db"))
    m = Memory()
    assert isinstance(m.store, SQLiteMemoryStore) and m.store.path == tmp_path / "custom.db"
    assert m.embedder is not None and m.embedder.name == "all-MiniLM-L6-v2"
    await m.add("u", "stored in the default file")
    await m.close()
    assert (tmp_path / "custom.db").exists()
    import sqlite3

    with sqlite3.connect(tmp_path / "custom.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_callable_embedder_sync_and_async() -> None:
    def fn(texts):
        return [[float(len(t)), 1.0] for t in texts]

    async def afn(texts):
        return [[1.0, float("cat" in t)] for t in texts]

    m = Memory("memory://", embedder=fn, load_entry_points=False)
    await m.add("u", "abc")
    hits = await m.search("u", "abcd")
    assert hits and hits[0].similarity is not None
    m2 = Memory("memory://", embedder=afn, load_entry_points=False)
    await m2.add("u", "a cat")
    await m2.add("u", "a dog")
    assert (await m2.search("u", "cat?"))[0].content == "a cat"


async def test_embedder_mismatch_is_refused_and_data_kept(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/e.db"
    m = Memory.from_url(url, embedder=lambda ts: [[1.0, 0.0, 0.0]] * len(ts))
    await m.add("u", "first")
    await m.close()
    m2 = Memory.from_url(url, embedder=lambda ts: [[1.0, 0.0]] * len(ts))
    with pytest.raises(EmbedderMismatchError, match="dimension"):
        await m2.add("u", "second")
    await m2.close()
    m3 = Memory.from_url(url, embedder=None)
    assert [r.content for r in await m3.get_all("u")] == ["first"]
    await m3.close()


async def test_lexical_only_without_embedder() -> None:
    m = Memory("memory://", embedder=None, load_entry_points=False)
    await m.add("u", "User prefers dark mode")
    await m.add("u", "User lives in Berlin")
    hits = await m.search("u", "dark mode please")
    assert [h.content for h in hits] == ["User prefers dark mode"]
    assert hits[0].similarity is None and 0 < (hits[0].score or 0) <= 1


def test_without_embedding_packages_memory_works_and_warns_once(tmp_path) -> None:
    code = textwrap.dedent(
        f"""
        import sys, asyncio, warnings
        sys.modules["sentence_transformers"] = None
        sys.modules["onnxruntime"] = None
        from mnemoplug import Memory, LexicalOnlyWarning
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m1 = Memory.from_url("sqlite:///{tmp_path}/l.db")
            m2 = Memory.from_url("memory://")
        msgs = [str(x.message) for x in w if issubclass(x.category, LexicalOnlyWarning)]
        assert len(msgs) == 1, msgs
        assert 'pip install "mnemoplug[embeddings]"' in msgs[0]
        assert m1.embedder is None
        async def go():
            await m1.add("u", "User prefers dark mode")
            print([h.content for h in await m1.search("u", "dark mode")])
            await m1.close()
        asyncio.run(go())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "User prefers dark mode" in out.stdout


def test_lexical_only_warning_points_at_the_users_line_once(tmp_path) -> None:
    script = tmp_path / "agent.py"
    script.write_text(
        "import sys\n"
        "sys.modules['sentence_transformers'] = None\n"
        "sys.modules['onnxruntime'] = None\n"
        "from mnemoplug import Memory\n"
        "memory = Memory('memory://')\n"
        "other = Memory('memory://')\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("lexical (BM25) retrieval only") == 1, out.stderr
    assert out.stderr.startswith(f"{script}:5: LexicalOnlyWarning"), out.stderr


async def test_limits_and_ids_validated() -> None:
    m = Memory("memory://", embedder=None, load_entry_points=False)
    for bad in (0, -1, 10**6, "5", True):
        with pytest.raises(MemoryValidationError, match="limit"):
            await m.search("u", "q", limit=bad)
    with pytest.raises(InvalidScopeError):
        await m.search("", "q")
    with pytest.raises(MemoryValidationError, match="query"):
        await m.search("u", "")
    with pytest.raises(MemoryValidationError):
        await m.update("u", "id")
    with pytest.raises(MemoryValidationError, match="ttl"):
        await m.add("u", "x", ttl=-5)
    m2 = Memory("memory://", embedder=None, max_content_chars=10, load_entry_points=False)
    from mnemoplug import ContentTooLargeError

    with pytest.raises(ContentTooLargeError, match="max_content_chars"):
        await m2.add("u", "x" * 11)


def test_sync_facade_plain_and_inside_running_loop(tmp_path, embedder) -> None:
    sm = SyncMemory(f"sqlite:///{tmp_path}/s.db", embedder=embedder, load_entry_points=False)
    mid = sm.add("u", "User prefers dark mode")
    assert sm.get("u", mid).content == "User prefers dark mode"

    async def inside_loop():
        # a sync framework callback running inside an event loop
        return sm.search("u", "Which UI theme does the user like?", limit=1)

    hits = asyncio.run(inside_loop())
    assert hits[0].id == mid
    assert sm.count("u") == 1 and sm.delete_all("u") == 1
    sm.close()


async def test_memory_rejects_bad_provider() -> None:
    from mnemoplug import ConfigurationError

    with pytest.raises(ConfigurationError, match="MemoryStore"):
        Memory(object())  # type: ignore[arg-type]


def test_no_network_or_heavy_import_at_import_time() -> None:
    code = (
        "import socket, sys\n"
        "def boom(*a, **k): raise AssertionError('network at import')\n"
        "socket.socket.connect = boom\n"
        "import mnemoplug, mnemoplug.providers, mnemoplug.plugins\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'redis', 'asyncpg', 'qdrant_client',"
        " 'agno', 'langchain', 'pydantic_ai', 'fastapi', 'mem0') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_logging_namespace() -> None:
    assert logging.getLogger("mnemoplug").name == "mnemoplug"
