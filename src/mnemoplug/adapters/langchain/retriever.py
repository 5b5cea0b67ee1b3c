"""``MnemoplugRetriever``: a LangChain ``BaseRetriever`` over ``Memory.search``."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr, ValidationError

from ...core.errors import ConfigurationError, MnemoplugError
from ...core.records import MemoryRecord
from ._runner import MemoryRunner

__all__ = ["MnemoplugRetriever", "record_to_document"]


def record_to_document(rec: MemoryRecord) -> Document:
    """A Document whose ``page_content`` is the memory and whose metadata holds its fields
    (``id``, ``score``, ``similarity``, ``role``, scope, ISO times) plus the memory's metadata
    under ``"metadata"``."""
    meta: dict[str, Any] = {
        "id": rec.id,
        "score": rec.score,
        "similarity": rec.similarity,
        "user_id": rec.user_id,
        "role": rec.role,
        "created_at": rec.created_at.isoformat(),
        "updated_at": rec.updated_at.isoformat(),
        "metadata": dict(rec.metadata),
    }
    for name in ("tenant_id", "agent_id", "session_id"):
        value = getattr(rec, name)
        if value is not None:
            meta[name] = value
    return Document(page_content=rec.content, metadata=meta, id=rec.id)


class MnemoplugRetriever(BaseRetriever):
    """Retrieve one user's memories for a query, best first.

    ``MnemoplugRetriever(memory=memory, user_id="u1", k=4, filters={"category": "work"})``;
    ``retriever.invoke("query", k=2)`` overrides ``k`` (and ``filters=``) per call. ``memory``
    is a :class:`Memory` or :class:`SyncMemory` (the latter for loop-bound providers used from
    both ``invoke`` and ``ainvoke``), or your own :class:`~mnemoplug.MemoryProvider` (searched
    through ``Memory(provider=...)``, which applies ``filters`` and ``min_relevance``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any
    """The mnemoplug Memory (or SyncMemory) to search."""
    user_id: str
    """Whose memories to search."""
    k: int = 4
    """How many documents to return."""
    filters: dict[str, Any] | None = None
    """Metadata filters (mnemoplug's filter language)."""
    tenant_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    min_relevance: float | None = None
    """Drop hits whose cosine similarity is below this (None: keep all)."""

    _runner: MemoryRunner = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        """Raises :class:`~mnemoplug.ConfigurationError` (not pydantic's ValidationError) for a
        missing or bad argument, or the mnemoplug error that rejected the memory."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, MnemoplugError):
                    raise cause from None
            raise ConfigurationError(f"MnemoplugRetriever: {exc}") from exc

    def model_post_init(self, context: Any, /) -> None:
        """Wrap the memory in a runner for the sync and async paths."""
        self._runner = MemoryRunner(self.memory)

    def _search_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "limit": int(kwargs.get("k", self.k)),
            "filters": kwargs.get("filters", self.filters),
            "min_relevance": kwargs.get("min_relevance", self.min_relevance),
        }
        for name in ("tenant_id", "agent_id", "session_id"):
            value = kwargs.get(name, getattr(self, name))
            if value is not None:
                kw[name] = value
        return kw

    async def _asearch(self, query: str, kwargs: dict[str, Any]) -> list[Document]:
        hits = await self._runner.memory.search(
            kwargs.get("user_id", self.user_id), query, **self._search_kwargs(kwargs)
        )
        return [record_to_document(h) for h in hits]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self._runner.run(self._asearch(query, kwargs))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return await self._runner.arun(self._asearch(query, kwargs))
