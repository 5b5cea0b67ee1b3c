"""LangChain 1.x / LangGraph adapter: middleware, retriever, stores, vector store, chat history,
checkpointer.

Install with ``pip install "mnemoplug[langchain]"``. Importing this module imports LangChain;
``import mnemoplug`` does not.
"""

from __future__ import annotations

from ._deps import require_langchain

require_langchain()

from .checkpointer import MnemoplugCheckpointer  # noqa: E402
from .history import MnemoplugChatMessageHistory  # noqa: E402
from .middleware import MnemoplugMiddleware, MnemoplugState  # noqa: E402
from .retriever import MnemoplugRetriever, record_to_document  # noqa: E402
from .store import MnemoplugKVStore, MnemoplugStore  # noqa: E402
from .vectorstore import MnemoplugVectorStore  # noqa: E402

__all__ = [
    "MnemoplugChatMessageHistory",
    "MnemoplugCheckpointer",
    "MnemoplugKVStore",
    "MnemoplugMiddleware",
    "MnemoplugRetriever",
    "MnemoplugState",
    "MnemoplugStore",
    "MnemoplugVectorStore",
    "record_to_document",
]
