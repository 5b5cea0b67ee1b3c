"""MnemoplugKVStore held to langchain-tests' BaseStoreSyncTests / BaseStoreAsyncTests."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import BaseStoreAsyncTests, BaseStoreSyncTests

from mnemoplug import Memory
from mnemoplug.adapters.langchain import MnemoplugKVStore


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


class TestKVStoreSync(BaseStoreSyncTests[Any]):
    @pytest.fixture
    def kv_store(self, memory: Memory) -> MnemoplugKVStore:
        return MnemoplugKVStore(memory, user_id="u1", namespace="docs")

    @pytest.fixture
    def three_values(self) -> tuple[Any, Any, Any]:
        return b"foo", {"bar": [1, 2]}, "buzz"


class TestKVStoreAsync(BaseStoreAsyncTests[Any]):
    @pytest.fixture
    async def kv_store(self, memory: Memory) -> MnemoplugKVStore:
        return MnemoplugKVStore(memory, user_id="u1", namespace="docs")

    @pytest.fixture
    def three_values(self) -> tuple[Any, Any, Any]:
        return b"foo", {"bar": [1, 2]}, "buzz"


def test_namespaces_and_users_are_isolated(memory: Memory) -> None:
    a = MnemoplugKVStore(memory, user_id="u1", namespace="docs")
    b = MnemoplugKVStore(memory, user_id="u2", namespace="docs")
    c = MnemoplugKVStore(memory, user_id="u1", namespace="other")
    a.mset([("k", 1)])
    assert b.mget(["k"]) == [None] and c.mget(["k"]) == [None]
    assert list(a.yield_keys()) == ["k"] and list(b.yield_keys()) == []
    b.mdelete(["k"])
    assert a.mget(["k"]) == [1]
