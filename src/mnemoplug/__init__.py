"""mnemoplug: long-term and session memory for AI agents, framework-neutral, with hooks."""

from .core.contexts import (
    HookContext,
    MemoryAddContext,
    MemoryDeleteContext,
    MemoryReadContext,
    MemorySearchContext,
    MemoryUpdateContext,
    SessionMessageContext,
)
from .core.contracts import MemoryProvider
from .core.embedders import (
    CallableEmbedder,
    Embedder,
    LexicalOnlyWarning,
    SentenceTransformerEmbedder,
)
from .core.errors import (
    ConfigurationError,
    ContentTooLargeError,
    EmbedderMismatchError,
    InvalidContentError,
    InvalidFilterError,
    InvalidMessageError,
    InvalidMetadataError,
    InvalidScopeError,
    MemoryNotFoundError,
    MemoryRejectedError,
    MemoryValidationError,
    MissingDependencyError,
    MnemoplugError,
    ProviderError,
    ProviderUnavailableError,
)
from .core.hookspecs import hookimpl
from .core.memory import Memory, create_memory
from .core.plugins import hook
from .core.records import MemoryRecord, Scope
from .core.retrieval import RetrievalConfig
from .core.strategies import InjectionStrategy, SelectionContext, inject_memory
from .core.sync import SyncMemory

__version__ = "0.1.0"

__all__ = [
    "CallableEmbedder",
    "ConfigurationError",
    "ContentTooLargeError",
    "Embedder",
    "EmbedderMismatchError",
    "HookContext",
    "InjectionStrategy",
    "InvalidContentError",
    "InvalidFilterError",
    "InvalidMessageError",
    "InvalidMetadataError",
    "InvalidScopeError",
    "LexicalOnlyWarning",
    "Memory",
    "MemoryAddContext",
    "MemoryDeleteContext",
    "MemoryNotFoundError",
    "MemoryProvider",
    "MemoryReadContext",
    "MemoryRecord",
    "MemoryRejectedError",
    "MemorySearchContext",
    "MemoryUpdateContext",
    "MemoryValidationError",
    "MissingDependencyError",
    "MnemoplugError",
    "ProviderError",
    "ProviderUnavailableError",
    "RetrievalConfig",
    "Scope",
    "SelectionContext",
    "SentenceTransformerEmbedder",
    "SessionMessageContext",
    "SyncMemory",
    "create_memory",
    "hook",
    "hookimpl",
    "inject_memory",
]
