"""Every exception mnemoplug raises on purpose.

Exception tree::

    MnemoplugError
    ├── MemoryValidationError (ValueError)      bad input; nothing was stored
    │   ├── InvalidScopeError                   user_id/tenant_id/agent_id/session_id
    │   ├── InvalidContentError                 empty, non-string or malformed messages
    │   ├── ContentTooLargeError                over ``Memory(max_content_chars=...)``
    │   ├── InvalidMetadataError                not a JSON-serialisable dict with str keys
    │   ├── InvalidFilterError                  unknown operator or bad operand
    │   ├── InvalidMessageError                 session messages: bad role, content, id
    │   └── InvalidCheckpointError              checkpoint state neither JSON nor bytes
    ├── MemoryRejectedError                     a hook rejected a write; nothing was stored
    ├── MemoryNotFoundError (KeyError)          update of an id the scope does not own
    ├── SessionOwnershipError (PermissionError) a session written by another user
    ├── MissingDependencyError (ImportError)    an optional extra is not installed
    ├── ConfigurationError                      bad URL, unknown provider, bad option
    ├── EmbedderMismatchError                   the store holds vectors of another embedder
    └── ProviderError                           the storage backend failed
        └── ProviderUnavailableError (ConnectionError)
                                                the server cannot be reached
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ContentTooLargeError",
    "EmbedderMismatchError",
    "InvalidCheckpointError",
    "InvalidContentError",
    "InvalidFilterError",
    "InvalidMessageError",
    "InvalidMetadataError",
    "InvalidScopeError",
    "MemoryNotFoundError",
    "MemoryRejectedError",
    "MemoryValidationError",
    "MissingDependencyError",
    "MnemoplugError",
    "ProviderError",
    "ProviderUnavailableError",
    "SessionOwnershipError",
]


class MnemoplugError(Exception):
    """Base class of every error mnemoplug raises on purpose."""


class MemoryValidationError(MnemoplugError, ValueError):
    """Input was rejected before anything was stored."""


class InvalidScopeError(MemoryValidationError):
    """user_id (or tenant_id, agent_id, session_id) is missing, empty or not a string."""


class InvalidContentError(MemoryValidationError):
    """Content is empty, not a string, or a malformed list of chat messages."""


class ContentTooLargeError(MemoryValidationError):
    """Content is longer than the configured limit."""


class InvalidMetadataError(MemoryValidationError):
    """Metadata is not a JSON-serialisable dict with string keys."""


class InvalidFilterError(MemoryValidationError):
    """A search/list filter uses an unknown operator or an operand of the wrong type."""


class InvalidMessageError(MemoryValidationError):
    """A session message has an unknown role, non-string content or an empty session id."""


class InvalidCheckpointError(MemoryValidationError):
    """A checkpoint's state is neither bytes nor JSON-serialisable, or an argument is bad.
    Nothing was stored."""


class SessionOwnershipError(MnemoplugError, PermissionError):
    """A session was written with a ``user_id``/``tenant_id`` other than its owner's.

    Nothing was stored. Use a session id of the caller's own (see
    :func:`~mnemoplug.conversation_id_for`), or the same ``user_id``/``tenant_id`` as the first
    write.
    """


class MemoryRejectedError(MnemoplugError):
    """A hook rejected the write; nothing was stored.

    ``hook`` names the implementation that rejected it, ``reason`` says why.
    """

    def __init__(self, reason: str, *, hook: str | None = None) -> None:
        self.reason = reason
        self.hook = hook
        where = f" by hook {hook!r}" if hook else ""
        super().__init__(f"memory write rejected{where}: {reason}")


class MemoryNotFoundError(MnemoplugError, KeyError):
    """No memory with that id exists in the caller's scope (or it has expired)."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "memory not found"


class MissingDependencyError(MnemoplugError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str, package: str | None = None) -> None:
        self.feature = feature
        self.extra = extra
        pkg = f" (the {package!r} package)" if package else ""
        super().__init__(
            f"{feature} needs an optional dependency{pkg} that is not installed. "
            f'Install it with: pip install "mnemoplug[{extra}]"'
        )


class ConfigurationError(MnemoplugError, ValueError):
    """The configuration is wrong: an unknown provider, a malformed URL, a bad option."""


class EmbedderMismatchError(MnemoplugError):
    """The store already holds vectors made by a different embedder or dimension."""


class ProviderError(MnemoplugError):
    """The storage backend failed."""

    def __init__(self, message: str, *, provider: str | None = None, url: str | None = None):
        self.provider = provider
        self.url = url
        super().__init__(message)


class ProviderUnavailableError(ProviderError, ConnectionError):
    """The storage server could not be reached in time; nothing was changed."""
