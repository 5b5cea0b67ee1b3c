"""mnemoplug: long-term and session memory for AI agents, framework-neutral, with hooks."""

from .core.checkpoints import Checkpoint, checkpoint_store_from_url
from .core.contexts import (
    HookContext,
    HookUser,
    MemoryAddContext,
    MemoryDeleteContext,
    MemoryReadContext,
    MemorySearchContext,
    MemoryUpdateContext,
    SessionMessageContext,
)
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
from .core.hygiene import Dedupe, HygieneExtractor
from .core.instrumentation import OperationContext
from .core.memory import Memory, create_memory
from .core.migration import MigrationResult, migrate_memory
from .core.operations import MemoryOperation, NewTurn, TurnMessage
from .core.plugins import hook, reset_global_hooks, unregister_hook
from .core.provider import MemoryProvider
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
from .core.stores import CheckpointStore, MemoryStore, SessionStore
from .core.strategies import InjectionStrategy, SelectionContext, inject_memory
from .core.sync import SyncMemory

__version__ = "0.1.0"

#: built-in providers, session memories, OnnxEmbedder and the endpoint, imported on first use
#: (``from mnemoplug import RedisProvider``) so that ``import mnemoplug`` stays light
_LAZY = {
    "AgentContext": "mnemoplug.adapters.endpoint",
    "agent_endpoint": "mnemoplug.adapters.endpoint",
    "llm_extractor": "mnemoplug.adapters.llm_extractor",
    "InMemoryProvider": "mnemoplug.providers.inprocess",
    "InMemorySessionMemory": "mnemoplug.providers.inprocess",
    "Mem0Provider": "mnemoplug.providers.mem0",
    "PostgresProvider": "mnemoplug.providers.postgres",
    "PostgresSessionMemory": "mnemoplug.providers.postgres",
    "QdrantProvider": "mnemoplug.providers.qdrant",
    "RedisProvider": "mnemoplug.providers.redis",
    "RedisSessionMemory": "mnemoplug.providers.redis",
    "SQLiteProvider": "mnemoplug.providers.sqlite",
    "SQLiteSessionMemory": "mnemoplug.providers.sqlite",
    "ZepProvider": "mnemoplug.providers.zep",
    "EncryptedProvider": "mnemoplug.encryption",
    "OnnxEmbedder": "mnemoplug.embedding",
    "DecryptionError": "mnemoplug.encryption",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mnemoplug' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AgentContext",
    "CallableEmbedder",
    "Checkpoint",
    "CheckpointStore",
    "ConfigurationError",
    "ContentTooLargeError",
    "DecryptionError",
    "Dedupe",
    "Embedder",
    "EmbedderMismatchError",
    "EncryptedProvider",
    "HookContext",
    "HookUser",
    "HygieneExtractor",
    "InMemoryProvider",
    "InMemorySessionMemory",
    "InjectionStrategy",
    "InvalidCheckpointError",
    "InvalidContentError",
    "InvalidFilterError",
    "InvalidMessageError",
    "InvalidMetadataError",
    "InvalidScopeError",
    "LexicalOnlyWarning",
    "Mem0Provider",
    "Memory",
    "MemoryAddContext",
    "MemoryDeleteContext",
    "MemoryNotFoundError",
    "MemoryOperation",
    "MemoryProvider",
    "MemoryReadContext",
    "MemoryRecord",
    "MemoryRejectedError",
    "MemorySearchContext",
    "MemoryStore",
    "MemoryUpdateContext",
    "MemoryValidationError",
    "Message",
    "MigrationResult",
    "MissingDependencyError",
    "MnemoplugError",
    "NewTurn",
    "OnnxEmbedder",
    "OperationContext",
    "PostgresProvider",
    "PostgresSessionMemory",
    "ProviderError",
    "ProviderUnavailableError",
    "QdrantProvider",
    "RedisProvider",
    "RedisSessionMemory",
    "RetrievalConfig",
    "SQLiteProvider",
    "SQLiteSessionMemory",
    "Scope",
    "SelectionContext",
    "SentenceTransformerEmbedder",
    "SessionInfo",
    "SessionMemory",
    "SessionMessageContext",
    "SessionOwnershipError",
    "SessionStore",
    "SyncMemory",
    "TurnMessage",
    "ZepProvider",
    "agent_endpoint",
    "checkpoint_store_from_url",
    "conversation_id_for",
    "create_conversation_id",
    "create_memory",
    "forget",
    "hook",
    "hookimpl",
    "inject_memory",
    "llm_extractor",
    "migrate_memory",
    "reset_global_hooks",
    "session_memory_from_url",
    "unregister_hook",
]
