"""The three store contracts and the backends that join them.

Each module in ``tests/stores/backends/`` is one backend. It joins a contract by defining the
matching factory — an async context manager taking ``(tmp_path, **options)`` and yielding a
fresh, empty store (calling ``tests.conftest.require_server`` first when it needs a server):

* ``memory_store``     -> test_memory_store_contract.py, test_memory_store_edges.py
* ``session_store``    -> test_session_store_contract.py
* ``checkpoint_store`` -> test_checkpoint_store_contract.py

Adding a backend to all three contracts is adding one file there.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mnemoplug import CheckpointStore, Memory, MemoryStore, SessionStore

BACKENDS: dict[str, ModuleType] = {
    p.stem: importlib.import_module(f"tests.stores.backends.{p.stem}")
    for p in sorted((Path(__file__).parent / "backends").glob("*.py"))
    if p.stem != "__init__"
}


def joining(contract: str) -> list[str]:
    """The backends that define the ``contract`` factory."""
    return [name for name, mod in BACKENDS.items() if hasattr(mod, contract)]


def factory(contract: str, backend: str) -> Callable[..., Any]:
    return getattr(BACKENDS[backend], contract)  # type: ignore[no-any-return]


@pytest.fixture(params=joining("memory_store"))
async def memory_store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[MemoryStore]:
    async with factory("memory_store", request.param)(tmp_path) as s:
        yield s


@pytest.fixture
async def memory(memory_store: MemoryStore, embedder: Any) -> AsyncIterator[Memory]:
    m = Memory(memory_store, embedder=embedder, load_entry_points=False)
    yield m
    await m.close()


@pytest.fixture(params=joining("session_store"))
async def session_store(
    request: pytest.FixtureRequest, tmp_path: Any
) -> AsyncIterator[SessionStore]:
    async with factory("session_store", request.param)(tmp_path) as s:
        yield s


@pytest.fixture(params=joining("checkpoint_store"))
async def checkpoint_store(
    request: pytest.FixtureRequest, tmp_path: Any
) -> AsyncIterator[CheckpointStore]:
    async with factory("checkpoint_store", request.param)(tmp_path) as s:
        yield s
