"""``MnemoplugVectorStore``: a LangChain ``VectorStore`` kept in one user's mnemoplug memory.

Each document is one memory of ``user_id`` (content = ``page_content``, embedded by the
Memory's embedder and searched with mnemoplug's dense + lexical fusion); the document's id,
metadata and the store's ``collection`` are kept in the memory's metadata (``lc_id``,
``lc_metadata``, ``lc_collection``), so ids are yours to choose, adding a document with an
existing id replaces it, and documents come back exactly as added. Passes langchain-tests'
``VectorStoreIntegrationTests``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ...core.embedders import CallableEmbedder
from ...core.memory import MAX_LIMIT, Memory
from ...core.records import MemoryRecord
from .._checks import check_str
from ._runner import MemoryRunner

__all__ = ["MnemoplugVectorStore"]

LC_ID, LC_META, LC_COLLECTION = "lc_id", "lc_metadata", "lc_collection"


def _matches(meta: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Equality on every key of ``flt`` (a list value: any of its items)."""
    if not flt:
        return True
    for key, want in flt.items():
        have = meta.get(key)
        if isinstance(want, list | tuple | set):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


class MnemoplugVectorStore(VectorStore):
    """A LangChain vector store over one user's mnemoplug memories.

    ``MnemoplugVectorStore(memory, user_id="u1", collection="docs")``; ``memory`` is a
    :class:`Memory`, a :class:`SyncMemory` or your own :class:`~mnemoplug.MemoryProvider`.
    ``similarity_search(query, k, filter={"source": "wiki"})`` filters on document metadata
    (equality; a list means any of). Scores are mnemoplug's fused relevance (0..1, higher is
    better). ``MnemoplugVectorStore.from_texts(texts, embeddings)`` builds an in-process Memory
    that embeds with the given LangChain ``Embeddings``.
    """

    def __init__(
        self,
        memory: Any,
        *,
        user_id: str,
        collection: str = "default",
        tenant_id: str | None = None,
        agent_id: str | None = None,
        embeddings: Embeddings | None = None,
    ) -> None:
        self._runner = MemoryRunner(memory)
        self.memory = self._runner.memory
        self.user_id = check_str(user_id, "user_id")
        self.collection = check_str(collection, "collection")
        self._embeddings = embeddings
        self._scope: dict[str, Any] = {}
        if tenant_id:
            self._scope["tenant_id"] = tenant_id
        if agent_id:
            self._scope["agent_id"] = agent_id

    @property
    def embeddings(self) -> Embeddings | None:
        """The LangChain embeddings given to the store (the Memory embeds either way)."""
        return self._embeddings

    @staticmethod
    def memory_for(embeddings: Embeddings, url: str = "memory://", **options: Any) -> Memory:
        """A Memory at ``url`` that embeds with LangChain ``embeddings``."""
        embedder = CallableEmbedder(
            embeddings.embed_documents, name=f"langchain:{type(embeddings).__name__}"
        )
        return Memory(url, embedder=embedder, **options)

    # -- helpers -------------------------------------------------------------------------
    def _document(self, rec: MemoryRecord) -> Document:
        meta = rec.metadata
        return Document(
            page_content=rec.content, metadata=dict(meta.get(LC_META) or {}), id=meta.get(LC_ID)
        )

    async def _records(self, ids: Sequence[str] | None) -> list[MemoryRecord]:
        filters: dict[str, Any] = {LC_COLLECTION: self.collection}
        if ids is not None:
            if not ids:
                return []
            filters[LC_ID] = {"$in": list(ids)}
        out: list[MemoryRecord] = []
        while True:
            page = await self.memory.get_all(
                self.user_id, MAX_LIMIT, filters, offset=len(out), **self._scope
            )
            out.extend(page)
            if len(page) < MAX_LIMIT:
                return out

    async def _aadd(
        self, texts: list[str], metadatas: list[dict[str, Any]] | None, ids: list[str] | None
    ) -> list[str]:
        given: list[str | None] = list(ids) if ids else [None] * len(texts)
        ids = [str(i) if i else str(uuid.uuid4()) for i in given]
        if len(ids) != len(texts) or (metadatas is not None and len(metadatas) != len(texts)):
            raise ValueError("texts, metadatas and ids must have the same length")
        existing = {str(r.metadata[LC_ID]): r for r in await self._records(ids)}
        for i, (doc_id, text) in enumerate(zip(ids, texts, strict=True)):
            meta = {
                LC_ID: doc_id,
                LC_COLLECTION: self.collection,
                LC_META: dict(metadatas[i]) if metadatas else {},
            }
            rec = existing.get(doc_id)
            if rec is not None:
                await self.memory.update(
                    self.user_id, rec.id, content=text, metadata=meta, **self._scope
                )
            else:
                await self.memory.add(self.user_id, text, meta, **self._scope)
        return ids

    async def _adelete(self, ids: Sequence[str] | None) -> bool:
        for rec in await self._records(None if ids is None else [str(i) for i in ids]):
            await self.memory.delete(self.user_id, rec.id, **self._scope)
        return True

    async def _aget_by_ids(self, ids: Sequence[str]) -> list[Document]:
        found = {str(r.metadata[LC_ID]): r for r in await self._records([str(i) for i in ids])}
        return [self._document(found[str(i)]) for i in ids if str(i) in found]

    async def _asearch(
        self, query: str, k: int, flt: Mapping[str, Any] | None
    ) -> list[tuple[Document, float]]:
        limit = MAX_LIMIT if flt else max(1, min(int(k), MAX_LIMIT))
        hits = await self.memory.search(
            self.user_id, query, limit, {LC_COLLECTION: self.collection}, **self._scope
        )
        out = [(self._document(h), float(h.score or 0.0)) for h in hits]
        return [(d, s) for d, s in out if _matches(d.metadata, flt)][:k]

    # -- the VectorStore API -------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add (or, for an existing id, replace) texts; return their ids."""
        return self._runner.run(self._aadd(list(texts), metadatas, ids))

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`."""
        return await self._runner.arun(self._aadd(list(texts), metadatas, ids))

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete the documents with these ids (missing ids are ignored; None: all)."""
        return self._runner.run(self._adelete(ids))

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Async :meth:`delete`."""
        return await self._runner.arun(self._adelete(ids))

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids, in that order (missing ids are skipped)."""
        return self._runner.run(self._aget_by_ids(ids))

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return await self._runner.arun(self._aget_by_ids(ids))

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most relevant to ``query`` with their scores, best first."""
        return self._runner.run(self._asearch(query, k, filter))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`."""
        return await self._runner.arun(self._asearch(query, k, filter))

    def similarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most relevant to ``query``, best first."""
        return [d for d, _ in self.similarity_search_with_score(query, k, filter)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search`."""
        return [d for d, _ in await self.asimilarity_search_with_score(query, k, filter)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: score  # mnemoplug's fused score is already 0..1, higher better

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        memory: Any = None,
        user_id: str = "default",
        **kwargs: Any,
    ) -> MnemoplugVectorStore:
        """A store over ``memory`` (default: an in-process Memory embedding with
        ``embedding``) holding ``texts``."""
        mem = memory if memory is not None else cls.memory_for(embedding)
        store = cls(mem, user_id=user_id, embeddings=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store
