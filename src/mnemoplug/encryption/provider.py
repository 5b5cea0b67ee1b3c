"""``EncryptedProvider``: a :class:`~mnemoplug.Memory` over an :class:`EncryptingStore`."""

from __future__ import annotations

from typing import Any

from ..core.errors import ConfigurationError
from ..core.memory import Memory
from ..core.stores import CheckpointStore, MemoryStore, SessionStore
from .checkpoints import EncryptingCheckpointStore
from .cipher import KeyInput
from .sessions import EncryptingSessionStore
from .store import EncryptingStore

__all__ = ["EncryptedProvider"]


class EncryptedProvider(Memory):
    """Encrypt a provider's memories at rest (content and metadata values, Fernet).

    >>> memory = EncryptedProvider(provider=SQLiteProvider("memory.db"),
    ...                            encryption_key=os.environ["MY_KEY"])

    Args:
        provider: a built-in provider or any store-backed :class:`~mnemoplug.Memory`
            (its embedder, hooks/plugins, retrieval settings, clock, TTL and attached
            session/checkpoint stores are kept), a :class:`~mnemoplug.MemoryStore`, or a URL.
        encryption_key: a Fernet key (str/bytes) or a list of keys — the first encrypts, all
            decrypt, so ``[new, old]`` reads data written with either. None reads
            ``$MNEMOPLUG_ENCRYPTION_KEY`` (comma-separated for several keys).
        encrypt_sessions: encrypt the provider's session messages (content and metadata
            values) with the same keys; default True. A session memory of your own that is
            not a :class:`~mnemoplug.SessionStore` cannot be wrapped: pass False to keep it.
        encrypt_checkpoints: encrypt the provider's checkpoints (state and metadata values);
            default True.
        **options: ``Memory`` options, used only when ``provider`` is a store or URL.

    Raises:
        ConfigurationError: no key, a malformed key, or a provider without a store (your
            own ``MemoryProvider`` does its own storing and cannot be wrapped).
    """

    name = "encrypted"

    def __init__(
        self,
        provider: Memory | MemoryStore | str | None = None,
        encryption_key: KeyInput | None = None,
        *,
        encrypt_sessions: bool = True,
        encrypt_checkpoints: bool = True,
        **options: Any,
    ) -> None:
        if provider is None:
            raise ConfigurationError(
                "EncryptedProvider needs provider= (e.g. SQLiteProvider('memory.db'))"
            )
        if not isinstance(provider, Memory):
            provider = Memory(provider, **options)
        elif options:
            raise ConfigurationError(
                f"options {', '.join(sorted(options))} only apply when provider is a store or "
                "URL; configure the provider itself instead"
            )
        inner = provider.store
        if inner is None:
            raise ConfigurationError(
                "EncryptedProvider wraps a store-backed provider (SQLiteProvider, RedisProvider, "
                f"PostgresProvider, Memory(store)); {type(provider).__name__} has no store"
            )
        if isinstance(inner, EncryptingStore):
            raise ConfigurationError("this provider is encrypted already")
        store = EncryptingStore(inner, encryption_key)
        super().__init__(
            store,
            embedder=provider.embedder,
            retrieval=provider.retrieval,
            max_content_chars=provider.max_content_chars,
            clock=provider._clock,
            default_ttl=provider.default_ttl,
            load_entry_points=False,
            global_hooks=False,
        )
        # the wrapped provider's hooks (its plugins, entry points, process-wide hooks) run here
        self.hooks = provider.hooks
        self.extractor = provider.extractor
        self.session = _encrypted_session(provider.session, store, encrypt_sessions)
        self.checkpoints = _encrypted_checkpoints(provider.checkpoints, store, encrypt_checkpoints)
        #: the provider that was wrapped (do not write through it: it stores plaintext)
        self.wrapped = provider

    @property
    def encrypting_store(self) -> EncryptingStore:
        store = self.store
        assert isinstance(store, EncryptingStore)
        return store


def _encrypted_session(session: Any, store: EncryptingStore, enabled: bool) -> Any:
    if session is None or not enabled or isinstance(session, EncryptingSessionStore):
        return session
    if not isinstance(session, SessionStore):
        raise ConfigurationError(
            f"cannot encrypt a {type(session).__name__} session memory (only built-in session "
            "stores, subclasses of mnemoplug.SessionStore, can be wrapped); pass "
            "encrypt_sessions=False to keep it unencrypted"
        )
    return EncryptingSessionStore(session, cipher=store.cipher)


def _encrypted_checkpoints(checkpoints: Any, store: EncryptingStore, enabled: bool) -> Any:
    if checkpoints is None or not enabled or isinstance(checkpoints, EncryptingCheckpointStore):
        return checkpoints
    if not isinstance(checkpoints, CheckpointStore):
        raise ConfigurationError(
            f"cannot encrypt a {type(checkpoints).__name__} checkpoint store (only subclasses of "
            "mnemoplug.CheckpointStore can be wrapped); pass encrypt_checkpoints=False"
        )
    return EncryptingCheckpointStore(checkpoints, cipher=store.cipher)
