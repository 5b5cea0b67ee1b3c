"""Encryption at rest for long-term memories (``pip install 'mnemoplug[encryption]'``).

>>> from mnemoplug.encryption import EncryptedProvider, rotate
>>> memory = EncryptedProvider(provider=SQLiteProvider("memory.db"), encryption_key=key)

Encrypted with Fernet (AES-128-CBC + HMAC-SHA256): each memory's content and every metadata
*value*. Not encrypted (the backend still sees them): ids, tenant/user/agent/session ids,
role, metadata keys, timestamps, expiry, and the embedding vectors — computed from the
plaintext, a vector can reveal what a text is about. Search and filtered listing decrypt the
user's rows and rank them in this process (same fusion as the built-in stores).

Session messages (content and metadata values) and checkpoints (state and metadata values) of
an ``EncryptedProvider`` are encrypted with the same keys (:class:`EncryptingSessionStore`,
:class:`EncryptingCheckpointStore`; ``encrypt_sessions=False`` / ``encrypt_checkpoints=False``
keep them as they are). Their ids, owners, roles and times stay readable.
"""

from __future__ import annotations

from .checkpoints import EncryptingCheckpointStore
from .cipher import KEY_ENV, DecryptionError, FieldCipher, load_keys
from .provider import EncryptedProvider
from .rotation import RotationProgress, RotationResult, rotate
from .sessions import EncryptingSessionStore
from .store import EncryptingStore

__all__ = [
    "KEY_ENV",
    "DecryptionError",
    "EncryptedProvider",
    "EncryptingCheckpointStore",
    "EncryptingSessionStore",
    "EncryptingStore",
    "FieldCipher",
    "RotationProgress",
    "RotationResult",
    "load_keys",
    "rotate",
]
