"""One fixture per provider: the shared contract suite (test_contract.py) runs against each.

To add a provider to the contract, add one file ``factory_<name>.py`` beside this one that
defines ``FACTORY``: an async context manager ``FACTORY(tmp_path)`` yielding a fresh, empty
provider (calling ``tests.conftest.require_server`` first when it needs a server).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from mnemoplug import Memory, MemoryStore


@contextlib.asynccontextmanager
async def _memory_provider(tmp_path: Any) -> AsyncIterator[MemoryStore]:
    from mnemoplug.providers.inprocess import InProcessMemoryStore

    yield InProcessMemoryStore()


@contextlib.asynccontextmanager
async def _sqlite_provider(tmp_path: Any) -> AsyncIterator[MemoryStore]:
    from mnemoplug.providers.sqlite import SQLiteMemoryStore

    p = SQLiteMemoryStore(path=tmp_path / "contract.db")
    try:
        yield p
    finally:
        await p.close()


PROVIDER_FACTORIES: dict[str, Callable[[Any], Any]] = {
    "memory": _memory_provider,
    "sqlite": _sqlite_provider,
}
for _f in sorted(Path(__file__).parent.glob("factory_*.py")):
    _mod = importlib.import_module(f"tests.providers.{_f.stem}")
    PROVIDER_FACTORIES[_f.stem.removeprefix("factory_")] = _mod.FACTORY


@pytest.fixture(params=sorted(PROVIDER_FACTORIES))
async def provider(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[MemoryStore]:
    async with PROVIDER_FACTORIES[request.param](tmp_path) as p:
        yield p


@pytest.fixture
async def memory(provider: MemoryStore, embedder: Any) -> AsyncIterator[Memory]:
    m = Memory(provider, embedder=embedder, load_entry_points=False)
    yield m
    await m.close()
