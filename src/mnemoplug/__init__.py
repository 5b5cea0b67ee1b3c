"""mnemoplug: long-term and session memory for AI agents, framework-neutral, with hooks."""

from .adapters.endpoint import AgentContext, agent_endpoint
from .core.checkpoints import Checkpoint, CheckpointStore, checkpoint_store_from_url
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
    InvalidCheckpointError,
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
    SessionOwnershipError,
)
from .core.forget import forget
from .core.hookspecs import hookimpl
from .core.memory import Memory, create_memory
from .core.migration import MigrationResult, migrate_memory
from .core.plugins import hook
from .core.records import MemoryRecord, Scope
from .core.retrieval import RetrievalConfig
from .core.session import (
    Message,
    SessionInfo,
    SessionMemory,
    conversation_id_for,
    create_conversation_id,
    session_memory_from_url,
)
from .core.strategies import InjectionStrategy, SelectionContext, inject_memory
from .core.sync import SyncMemory

__version__ = "0.1.0"

__all__ = [
    "AgentContext",
    "CallableEmbedder",
    "Checkpoint",
    "CheckpointStore",
    "ConfigurationError",
    "ContentTooLargeError",
    "Embedder",
    "EmbedderMismatchError",
    "HookContext",
    "InjectionStrategy",
    "InvalidCheckpointError",
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
    "Message",
    "MigrationResult",
    "MissingDependencyError",
    "MnemoplugError",
    "ProviderError",
    "ProviderUnavailableError",
    "RetrievalConfig",
    "Scope",
    "SelectionContext",
    "SentenceTransformerEmbedder",
    "SessionInfo",
    "SessionMemory",
    "SessionMessageContext",
    "SessionOwnershipError",
    "SyncMemory",
    "agent_endpoint",
    "checkpoint_store_from_url",
    "conversation_id_for",
    "create_conversation_id",
    "create_memory",
    "forget",
    "hook",
    "hookimpl",
    "inject_memory",
    "migrate_memory",
    "session_memory_from_url",
]
