"""Providers and embedders registered through hooks; URLs; create_memory."""

from __future__ import annotations

import sys

import pytest

from mnemoplug import (
    ConfigurationError,
    Memory,
    MissingDependencyError,
    create_memory,
    hookimpl,
)
from mnemoplug.core.registry import provider_registry
from mnemoplug.providers.inprocess import InProcessMemoryStore
from mnemoplug.providers.sqlite import SQLiteMemoryStore


def test_builtin_providers_registered_by_hook() -> None:
    reg = provider_registry()
    assert {"memory", "sqlite", "redis", "postgres", "qdrant", "mem0"} <= set(reg.providers)
    assert reg.schemes["memory"]["sqlite"].name == "sqlite"


async def test_from_url_sqlite_and_memory(tmp_path) -> None:
    m = Memory.from_url(f"sqlite:///{tmp_path}/x.db", embedder=None)
    assert isinstance(m.store, SQLiteMemoryStore) and str(m.store.path) == f"{tmp_path}/x.db"
    await m.add("u", "persisted fact")
    await m.close()
    m2 = Memory.from_url(f"sqlite:///{tmp_path}/x.db", embedder=None)
    assert [r.content for r in await m2.get_all("u")] == ["persisted fact"]
    await m2.close()
    assert isinstance(Memory.from_url("memory://").store, InProcessMemoryStore)


def test_bad_urls_say_what_to_write() -> None:
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        Memory.from_url("not a url")
    with pytest.raises(ConfigurationError, match="known schemes"):
        Memory.from_url("ftp://x")
    with pytest.raises(ConfigurationError, match="names no file"):
        Memory.from_url("sqlite://")


def test_create_memory_by_name(tmp_path) -> None:
    m = create_memory("sqlite", path=tmp_path / "c.db", embedder=None)
    assert isinstance(m.store, SQLiteMemoryStore) and m.embedder is None
    with pytest.raises(ConfigurationError, match="registered"):
        create_memory("nosuch")


def test_missing_extra_is_named(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    sys.modules.pop("mnemoplug.providers.redis", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "mnemoplug\[redis\]"'):
        Memory.from_url("redis://127.0.0.1:6379/0", embedder=None)
    sys.modules.pop("mnemoplug.providers.redis", None)


async def test_third_party_provider_and_embedder_plugins() -> None:
    class MyProvider(InProcessMemoryStore):
        name = "mine"

    class Plugin:
        @hookimpl
        def register_providers(self, register):
            register("mine", MyProvider, schemes=("mine",))

        @hookimpl
        def register_embedders(self, register):
            register("ones", lambda: lambda texts: [[1.0, 0.0]] * len(texts))

    m = Memory.from_url("mine://", plugins=[Plugin()], embedder=None)
    assert isinstance(m.store, MyProvider)
    m2 = Memory(MyProvider(), embedder="ones", plugins=[Plugin()])
    await m2.add("u", "x")
    assert (await m2.search("u", "x"))[0].similarity == pytest.approx(1.0)
