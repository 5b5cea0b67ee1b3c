"""MnemoplugRetriever: langchain-tests' RetrieversIntegrationTests plus scope and metadata."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from mnemoplug import Memory, SyncMemory
from mnemoplug.adapters.langchain import MnemoplugRetriever

FACTS = [
    "User prefers dark mode",
    "User's dog is called Rex",
    "User lives in Lisbon",
    "User works as a nurse",
    "User likes jazz music",
]


@pytest.fixture(scope="module")
def filled_memory(embedder: Any) -> Memory:
    mem = Memory("memory://", embedder=embedder, load_entry_points=False)

    async def fill() -> None:
        for i, fact in enumerate(FACTS):
            await mem.add("u1", fact, {"category": "work" if i == 3 else "profile"})
        await mem.add("u2", "User prefers light mode")

    asyncio.run(fill())
    return mem


class TestMnemoplugRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _memory(self, filled_memory: Memory) -> None:
        type(self)._mem = filled_memory

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return MnemoplugRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"memory": type(self)._mem, "user_id": "u1"}

    @property
    def retriever_query_example(self) -> str:
        return "what theme does the user like?"


def test_documents_carry_id_score_and_stay_in_scope(filled_memory: Memory) -> None:
    r = MnemoplugRetriever(memory=filled_memory, user_id="u1", k=10)
    docs = r.invoke("which UI theme?")
    assert docs and all(isinstance(d, Document) for d in docs)
    assert docs[0].page_content == "User prefers dark mode"
    assert all(d.metadata["user_id"] == "u1" for d in docs)
    assert "User prefers light mode" not in [d.page_content for d in docs]
    top = docs[0]
    assert top.id == top.metadata["id"] and isinstance(top.metadata["score"], float)
    assert top.metadata["metadata"] == {"category": "profile"}


async def test_filters_and_kwargs_async(filled_memory: Memory) -> None:
    r = MnemoplugRetriever(memory=filled_memory, user_id="u1", filters={"category": "work"})
    docs = await r.ainvoke("job")
    assert [d.page_content for d in docs] == ["User works as a nurse"]
    other = await r.ainvoke("theme", user_id="u2", filters=None, k=1)
    assert [d.page_content for d in other] == ["User prefers light mode"]


def test_over_syncmemory_sqlite(embedder: Any, tmp_path: Any) -> None:
    sm = SyncMemory(f"sqlite:///{tmp_path / 'r.db'}", embedder=embedder, load_entry_points=False)
    try:
        sm.add("u1", "User prefers dark mode")
        r = MnemoplugRetriever(memory=sm, user_id="u1")
        assert [d.page_content for d in r.invoke("theme")] == ["User prefers dark mode"]
        docs = asyncio.run(r.ainvoke("theme"))
        assert [d.page_content for d in docs] == ["User prefers dark mode"]
    finally:
        sm.close()
