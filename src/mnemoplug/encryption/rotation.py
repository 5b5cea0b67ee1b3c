"""Key rotation: re-encrypt every stored memory with a new key."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet

from ..core.errors import ConfigurationError
from ..core.memory import Memory
from ..core.records import StoredMemory
from ..core.stores import MemoryStore
from .cipher import FieldCipher, load_keys
from .store import EncryptingStore

__all__ = ["RotationProgress", "RotationResult", "rotate"]


@dataclass(frozen=True, slots=True)
class RotationProgress:
    """Reported after each user: who, how far, and that user's counts."""

    tenant_id: str
    user_id: str
    users_done: int
    users_total: int
    rotated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class RotationResult:
    """``users`` visited; ``rotated`` rows re-encrypted; ``unchanged`` rows already under the
    new key (from an earlier, interrupted run)."""

    users: int
    rotated: int
    unchanged: int


Progress = Callable[[RotationProgress], Awaitable[Any] | Any]


def _inner_store(target: Any) -> tuple[MemoryStore, EncryptingStore | None]:
    store = target.store if isinstance(target, Memory) else target
    if isinstance(store, EncryptingStore):
        return store.inner, store
    if isinstance(store, MemoryStore):
        return store, None
    raise ConfigurationError(
        "rotate() takes an EncryptedProvider, an EncryptingStore or the MemoryStore holding "
        f"the encrypted rows, got {type(target).__name__}"
    )


async def rotate(
    provider_or_store: Any,
    new_key: str | bytes | Fernet,
    old_keys: str | bytes | Fernet | Sequence[str | bytes | Fernet] = (),
    *,
    progress: Progress | None = None,
    batch_size: int = 500,
) -> RotationResult:
    """Re-encrypt every memory of every user with ``new_key``.

    Rows are read with ``new_key`` or any of ``old_keys`` and written back (``upsert``: ids,
    timestamps and vectors kept) user by user. Rows already under ``new_key`` are left
    alone, so the rotation is idempotent and resumable: after an interruption, run it again
    with the same keys and it finishes the job. Only after it returns may the old keys be
    dropped. When given an ``EncryptedProvider``/``EncryptingStore`` it uses ``new_key``
    first afterwards (and still reads ``old_keys``).

    ``progress`` (sync or async) is called with a :class:`RotationProgress` after each user;
    an exception it raises stops the rotation (what was written stays written).

    Raises:
        DecryptionError: a row none of the keys decrypts (nothing of that user's batch
            is written).
    """
    if batch_size < 1:
        raise ConfigurationError("batch_size must be >= 1")
    olds = load_keys(old_keys, what="old_keys") if old_keys not in ((), [], None) else []
    keys = [*load_keys(new_key, what="new_key"), *olds]
    cipher = FieldCipher(keys)
    inner, wrapper = _inner_store(provider_or_store)
    if wrapper is not None:
        # write and read with the new key from now on, even if interrupted below
        wrapper.set_keys(keys + [f for f in wrapper.cipher.fernets if f not in keys])
    users = sorted(await inner.list_users())
    rotated = unchanged = 0
    for done, (tenant, user) in enumerate(users, 1):
        rows: list[StoredMemory] = []
        async for batch in inner.export(tenant, user, batch_size):
            rows.extend(batch)
        changed: list[StoredMemory] = []
        for m in rows:
            new = cipher.rotate_row(m)
            if new is not None:
                changed.append(new)
        for i in range(0, len(changed), batch_size):
            await inner.upsert(changed[i : i + batch_size])
        if wrapper is not None:
            wrapper._drop((tenant, user))
        rotated += len(changed)
        unchanged += len(rows) - len(changed)
        if progress is not None:
            res = progress(
                RotationProgress(
                    tenant_id=tenant,
                    user_id=user,
                    users_done=done,
                    users_total=len(users),
                    rotated=len(changed),
                    unchanged=len(rows) - len(changed),
                )
            )
            if inspect.isawaitable(res):
                await res
    return RotationResult(users=len(users), rotated=rotated, unchanged=unchanged)
