"""Keys and field encryption: content and metadata values as Fernet tokens.

A stored field is ``"mpenc1:" + <Fernet token>``; a metadata value is encrypted as its JSON
text, so any JSON value (number, list, …) comes back with its type.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from ..core.errors import ConfigurationError, MnemoplugError
from ..core.records import StoredMemory
from ..providers._deps import import_optional

import_optional(
    "cryptography.fernet", feature="encryption", extra="encryption", package="cryptography"
)

from cryptography.fernet import Fernet, InvalidToken, MultiFernet  # noqa: E402

__all__ = [
    "KEY_ENV",
    "PREFIX",
    "DecryptionError",
    "FieldCipher",
    "KeyInput",
    "load_keys",
]

#: environment variable read when no key is given (comma-separated: first encrypts)
KEY_ENV = "MNEMOPLUG_ENCRYPTION_KEY"
#: marks an encrypted field (format version 1)
PREFIX = "mpenc1:"

KeyInput = str | bytes | Fernet | Sequence[str | bytes | Fernet]

_HOW = (
    'make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class DecryptionError(MnemoplugError):
    """A stored memory could not be decrypted with the configured keys (encrypted with
    another key, not encrypted at all, or tampered with)."""


def _one(key: Any, what: str) -> Fernet:
    if isinstance(key, Fernet):
        return key
    if not isinstance(key, str | bytes) or not key:
        raise ConfigurationError(
            f"{what} must be a Fernet key (str or bytes), got {type(key).__name__}; {_HOW}"
        )
    try:
        return Fernet(key.strip())
    except (ValueError, TypeError):
        # never echo the key itself
        raise ConfigurationError(
            f"{what} is not a valid Fernet key (32 url-safe base64-encoded bytes); {_HOW}"
        ) from None


def _list(keys: Any, what: str) -> list[Fernet]:
    if isinstance(keys, str | bytes | Fernet):
        items: list[Any] = [keys]
    elif isinstance(keys, Sequence):
        items = list(keys)
    else:
        raise ConfigurationError(
            f"{what} must be a Fernet key or a list of them, got {type(keys).__name__}"
        )
    if not items:
        raise ConfigurationError(f"{what} is an empty list; {_HOW}")
    return [_one(k, f"{what}[{i}]" if len(items) > 1 else what) for i, k in enumerate(items)]


def load_keys(keys: KeyInput | None = None, *, what: str = "encryption_key") -> list[Fernet]:
    """``keys`` (one key or a list; the first encrypts, all decrypt) as Fernets; None reads
    ``$MNEMOPLUG_ENCRYPTION_KEY`` (comma-separated for several keys)."""
    if keys is None:
        env = os.environ.get(KEY_ENV, "").strip()
        if not env:
            raise ConfigurationError(
                f"no encryption key: pass encryption_key= or set ${KEY_ENV}; {_HOW}"
            )
        return _list([k for k in env.split(",") if k.strip()], f"${KEY_ENV}")
    return _list(keys, what)


class FieldCipher:
    """Encrypts and decrypts the content and metadata values of :class:`StoredMemory` rows."""

    def __init__(self, keys: KeyInput | None = None) -> None:
        self.set_keys(keys)

    def set_keys(self, keys: KeyInput | None) -> None:
        """Use other keys from now on (in place: every store sharing this cipher follows)."""
        fernets = load_keys(keys)
        self.fernets = fernets
        #: the key that encrypts (the first one)
        self.primary = fernets[0]
        self.keys = MultiFernet(fernets)

    # -- single fields -------------------------------------------------------------------
    def encrypt_text(self, text: str) -> str:
        return PREFIX + self.keys.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt_text(self, token: Any, where: str = "a memory") -> str:
        if not isinstance(token, str) or not token.startswith(PREFIX):
            raise DecryptionError(
                f"{where} is not encrypted (was it written without EncryptedProvider? "
                "encrypt existing data by migrating it into an encrypted provider)"
            )
        try:
            return self.keys.decrypt(token[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise DecryptionError(
                f"{where} cannot be decrypted with the configured keys: it was encrypted with "
                "another key or altered. Pass the old key too (encryption_key=[new, old]) or "
                "re-encrypt with mnemoplug.encryption.rotate()"
            ) from None

    def encrypt_value(self, value: Any) -> str:
        return self.encrypt_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def decrypt_value(self, token: Any, where: str) -> Any:
        return json.loads(self.decrypt_text(token, where))

    def encrypt_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        return {k: self.encrypt_value(v) for k, v in metadata.items()}

    def decrypt_metadata(self, metadata: dict[str, Any], memory_id: str) -> dict[str, Any]:
        return {
            k: self.decrypt_value(v, f"metadata {k!r} of memory {memory_id}")
            for k, v in metadata.items()
        }

    # -- rows ----------------------------------------------------------------------------
    def encrypt_row(self, m: StoredMemory) -> StoredMemory:
        return m.copy(
            content=self.encrypt_text(m.content), metadata=self.encrypt_metadata(m.metadata)
        )

    def decrypt_row(self, m: StoredMemory) -> StoredMemory:
        return m.copy(
            content=self.decrypt_text(m.content, f"memory {m.id}"),
            metadata=self.decrypt_metadata(m.metadata, m.id),
        )

    def rotate_token(self, token: Any, where: str) -> tuple[str, bool]:
        """``token`` re-encrypted with the first key, and whether it changed (False when the
        first key already decrypts it: rotation is idempotent)."""
        self.decrypt_text(token, where)  # typed error for foreign / plaintext fields
        raw = token[len(PREFIX) :].encode("ascii")
        try:
            self.primary.decrypt(raw)
            return token, False
        except InvalidToken:
            pass
        return PREFIX + self.keys.rotate(raw).decode("ascii"), True

    def rotate_row(self, m: StoredMemory) -> StoredMemory | None:
        """The row with every field under the first key; None when it already was."""
        content, changed = self.rotate_token(m.content, f"memory {m.id}")
        meta: dict[str, Any] = {}
        for k, v in m.metadata.items():
            meta[k], c = self.rotate_token(v, f"metadata {k!r} of memory {m.id}")
            changed = changed or c
        return m.copy(content=content, metadata=meta) if changed else None

    # -- bytes (checkpoint state) ------------------------------------------------------------
    def encrypt_bytes(self, raw: bytes) -> bytes:
        return PREFIX.encode("ascii") + self.keys.encrypt(raw)

    def decrypt_bytes(self, token: Any, where: str) -> bytes:
        prefix = PREFIX.encode("ascii")
        if not isinstance(token, bytes | bytearray) or not bytes(token).startswith(prefix):
            raise DecryptionError(
                f"{where} is not encrypted (was it written without encryption? clear it or "
                "write it again through the encrypted store)"
            )
        try:
            return self.keys.decrypt(bytes(token)[len(prefix) :])
        except (InvalidToken, ValueError):
            raise DecryptionError(
                f"{where} cannot be decrypted with the configured keys: it was encrypted with "
                "another key or altered. Pass the old key too (encryption_key=[new, old])"
            ) from None

    def rotate_bytes(self, token: bytes, where: str) -> tuple[bytes, bool]:
        """:meth:`rotate_token` for bytes fields."""
        self.decrypt_bytes(token, where)
        raw = bytes(token)[len(PREFIX) :]
        try:
            self.primary.decrypt(raw)
            return bytes(token), False
        except InvalidToken:
            pass
        return PREFIX.encode("ascii") + self.keys.rotate(raw), True
