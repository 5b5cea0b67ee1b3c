"""MnemoplugVectorStore against langchain-tests' VectorStoreIntegrationTests (the suite's
deterministic fake embeddings, a real in-process Memory), and with the real model."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from mnemoplug import Memory
from mnemoplug.adapters.langchain import MnemoplugVectorStore


class TestMnemoplugVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> Generator[VectorStore, None, None]:  # type: ignore[override]
        embeddings = self.get_embeddings()
        memory = MnemoplugVectorStore.memory_for(embeddings, load_entry_points=False)
        store = MnemoplugVectorStore(memory, user_id="u1", embeddings=embeddings)
        try:
            yield store
        finally:
            store.delete()
            asyncio.run(memory.close())


def test_collections_users_and_filters(embedder: Any) -> None:
    memory = Memory("memory://", embedder=embedder, load_entry_points=False)
    docs = MnemoplugVectorStore(memory, user_id="alice", collection="docs")
    notes = MnemoplugVectorStore(memory, user_id="alice", collection="notes")
    bobs = MnemoplugVectorStore(memory, user_id="bob", collection="docs")
    docs.add_documents(
        [
            Document("Paris is the capital of France.", metadata={"lang": "en"}),
            Document("Berlin ist die Hauptstadt Deutschlands.", metadata={"lang": "de"}),
        ]
    )
    notes.add_texts(["Buy milk."])
    bobs.add_texts(["Bob's secret: Paris trip in May."])
    hits = docs.similarity_search("What is the capital of France?", k=5)
    assert hits[0].page_content == "Paris is the capital of France."
    assert all("Bob" not in h.page_content and "milk" not in h.page_content for h in hits)
    german = docs.similarity_search("capital", k=5, filter={"lang": "de"})
    assert [h.metadata for h in german] == [{"lang": "de"}]
    retriever = docs.as_retriever(search_kwargs={"k": 1})
    assert retriever.invoke("French capital")[0].metadata == {"lang": "en"}
