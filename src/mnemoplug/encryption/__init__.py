"""Encryption at rest for long-term memories (``pip install 'mnemoplug[encryption]'``).

>>> from mnemoplug.encryption import EncryptedProvider, rotate
>>> memory = EncryptedProvider(provider=SQLiteProvider("memory.db"), encryption_key=key)

Encrypted with Fernet (AES-128-CBC + HMAC-SHA256): each memory's content and every metadata
*value*. Not encrypted (the backend still sees them): ids, tenant/user/agent/session ids,
role, metadata keys, timestamps, expiry, and the embedding vectors — computed from the
plaintext, a vector can reveal what a text is about. Search and filtered listing decrypt the
user's rows and rank them in this process (same fusion as the built-in stores). Session and
checkpoint stores attached to the provider are not encrypted.
"""

from __future__ import annotations

from .cipher import KEY_ENV, DecryptionError, FieldCipher, load_keys
from .provider import EncryptedProvider
from .rotation import RotationProgress, RotationResult, rotate
from .store import EncryptingStore

__all__ = [
    "KEY_ENV",
    "DecryptionError",
    "EncryptedProvider",
    "EncryptingStore",
    "FieldCipher",
    "RotationProgress",
    "RotationResult",
    "load_keys",
    "rotate",
]
