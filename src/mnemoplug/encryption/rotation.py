"""Key rotation: re-encrypt every stored memory, session message and checkpoint with a new key."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from cryptography.fernet import Fernet

from ..core.errors import ConfigurationError
from ..core.memory import Memory
from ..core.records import StoredMemory
from ..core.session import Message
from ..core.stores import CheckpointStore, MemoryStore, SessionStore
from .checkpoints import EncryptingCheckpointStore
from .cipher import FieldCipher, load_keys
from .sessions import EncryptingSessionStore
from .store import EncryptingStore

__all__ = ["RotationProgress", "RotationResult", "rotate"]

Kind = Literal["memories", "sessions", "checkpoints"]


@dataclass(frozen=True, slots=True)
class RotationProgress:
    """Reported after each user (memories, checkpoints) or session (``kind="sessions"``,
    with the session's owner): who, how far (``users_done`` of ``users_total`` items of this
    kind), and that item's counts."""

    tenant_id: str
    user_id: str
    users_done: int
    users_total: int
    rotated: int
    unchanged: int
    kind: Kind = "memories"


@dataclass(frozen=True, slots=True)
class RotationResult:
    """``users`` visited; ``rotated`` memories re-encrypted; ``unchanged`` memories already
    under the new key (from an earlier, interrupted run); likewise for session messages
    (``sessions`` visited) and checkpoints."""

    users: int
    rotated: int
    unchanged: int
    sessions: int = 0
    messages_rotated: int = 0
    messages_unchanged: int = 0
    checkpoints_rotated: int = 0
    checkpoints_unchanged: int = 0


Progress = Callable[[RotationProgress], Awaitable[Any] | Any]


@dataclass(slots=True)
class _Targets:
    memories: MemoryStore | None = None
    sessions: SessionStore | None = None
    checkpoints: CheckpointStore | None = None
    ciphers: tuple[FieldCipher, ...] = ()
    wrapper: EncryptingStore | None = None


def _targets(target: Any) -> _Targets:
    """What ``target`` holds that rotation re-encrypts, and the ciphers to switch over."""
    t = _Targets()
    ciphers: list[FieldCipher] = []
    if isinstance(target, Memory):
        session, checkpoints = target.session, target.checkpoints
        if isinstance(session, EncryptingSessionStore):
            t.sessions = session.inner
            ciphers.append(session.cipher)
        if isinstance(checkpoints, EncryptingCheckpointStore):
            t.checkpoints = checkpoints.inner
            ciphers.append(checkpoints.cipher)
        target = target.store
    if isinstance(target, EncryptingStore):
        t.memories, t.wrapper = target.inner, target
        ciphers.append(target.cipher)
    elif isinstance(target, MemoryStore):
        t.memories = target
    elif isinstance(target, EncryptingSessionStore):
        t.sessions = target.inner
        ciphers.append(target.cipher)
    elif isinstance(target, SessionStore):
        t.sessions = target
    elif isinstance(target, EncryptingCheckpointStore):
        t.checkpoints = target.inner
        ciphers.append(target.cipher)
    elif isinstance(target, CheckpointStore):
        t.checkpoints = target
    if t.memories is None and t.sessions is None and t.checkpoints is None:
        raise ConfigurationError(
            "rotate() takes an EncryptedProvider, an encrypting store (memories, sessions or "
            "checkpoints) or the store holding the encrypted rows, got "
            f"{type(target).__name__}"
        )
    t.ciphers = tuple({id(c): c for c in ciphers}.values())
    return t


async def _report(progress: Progress | None, p: RotationProgress) -> None:
    if progress is not None:
        res = progress(p)
        if inspect.isawaitable(res):
            await res


async def rotate(
    provider_or_store: Any,
    new_key: str | bytes | Fernet,
    old_keys: str | bytes | Fernet | Sequence[str | bytes | Fernet] = (),
    *,
    progress: Progress | None = None,
    batch_size: int = 500,
) -> RotationResult:
    """Re-encrypt every memory of every user — and, for an ``EncryptedProvider``, every session
    message and checkpoint — with ``new_key``.

    Rows are read with ``new_key`` or any of ``old_keys`` and written back in place (memories
    by ``upsert``: ids, timestamps and vectors kept; a session's messages in one atomic
    rewrite; each checkpoint re-saved under its id, keeping its position). Anything already
    under ``new_key`` is left alone, so the rotation is idempotent and resumable: after an
    interruption, run it again with the same keys and it finishes the job. Only after it
    returns may the old keys be dropped. Given an encrypted provider or store, it encrypts
    with ``new_key`` from the start (and still reads ``old_keys``).

    ``progress`` (sync or async) is called with a :class:`RotationProgress` after each user
    (and each session); an exception it raises stops the rotation (what was written stays).

    Raises:
        DecryptionError: a row none of the keys decrypts (nothing of that user's batch, that
            session or that checkpoint is written).
        ConfigurationError: a session or checkpoint store that cannot rewrite in place.
    """
    if batch_size < 1:
        raise ConfigurationError("batch_size must be >= 1")
    olds = load_keys(old_keys, what="old_keys") if old_keys not in ((), [], None) else []
    keys = [*load_keys(new_key, what="new_key"), *olds]
    cipher = FieldCipher(keys)
    t = _targets(provider_or_store)
    for c in t.ciphers:
        # write and read with the new key from now on, even if interrupted below
        c.set_keys(keys + [f for f in c.fernets if f not in keys])
    result = RotationResult(users=0, rotated=0, unchanged=0)
    if t.memories is not None:
        result = await _rotate_memories(t.memories, t.wrapper, cipher, progress, batch_size)
    if t.sessions is not None:
        sessions, rotated, unchanged = await _rotate_sessions(t.sessions, cipher, progress)
        result = _with(
            result, sessions=sessions, messages_rotated=rotated, messages_unchanged=unchanged
        )
    if t.checkpoints is not None:
        rotated, unchanged = await _rotate_checkpoints(t.checkpoints, cipher, progress)
        result = _with(result, checkpoints_rotated=rotated, checkpoints_unchanged=unchanged)
    return result


def _with(r: RotationResult, **changes: int) -> RotationResult:
    return replace(r, **changes)


async def _rotate_memories(
    inner: MemoryStore,
    wrapper: EncryptingStore | None,
    cipher: FieldCipher,
    progress: Progress | None,
    batch_size: int,
) -> RotationResult:
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
        await _report(
            progress,
            RotationProgress(
                tenant_id=tenant,
                user_id=user,
                users_done=done,
                users_total=len(users),
                rotated=len(changed),
                unchanged=len(rows) - len(changed),
            ),
        )
    return RotationResult(users=len(users), rotated=rotated, unchanged=unchanged)


def _rotated_metadata(
    cipher: FieldCipher, metadata: dict[str, Any], where: str
) -> tuple[dict[str, Any], bool]:
    """Each encrypted metadata value under the primary key, and whether any token changed."""
    rotated: dict[str, Any] = {}
    changed = False
    for k, v in metadata.items():
        rotated[k], c = cipher.rotate_token(v, f"metadata {k!r} of {where}")
        changed = changed or c
    return rotated, changed


def _rotated_message(cipher: FieldCipher, m: Message, session_id: str) -> Message | None:
    where = f"message {m.id} of session {session_id!r}"
    content, changed = cipher.rotate_token(m.content, where)
    meta, meta_changed = _rotated_metadata(cipher, m.metadata, where)
    changed = changed or meta_changed
    return m.model_copy(update={"content": content, "metadata": meta}) if changed else None


async def _rotate_sessions(
    inner: SessionStore, cipher: FieldCipher, progress: Progress | None
) -> tuple[int, int, int]:
    infos = await inner._list(None, None, None)
    rotated = unchanged = 0
    for done, info in enumerate(infos, 1):
        seen = 0

        def transform(m: Message, sid: str = info.session_id) -> Message | None:
            nonlocal seen
            seen += 1
            return _rotated_message(cipher, m, sid)

        try:
            n = await inner._rewrite(info.session_id, transform)
        except NotImplementedError as exc:
            raise ConfigurationError(
                f"{exc}: its session messages cannot be re-encrypted; keep the old key in "
                "encryption_key=[new, old] until those sessions expire or are cleared"
            ) from None
        rotated += n
        unchanged += seen - n
        await _report(
            progress,
            RotationProgress(
                tenant_id=info.tenant_id or "",
                user_id=info.user_id or "",
                users_done=done,
                users_total=len(infos),
                rotated=n,
                unchanged=seen - n,
                kind="sessions",
            ),
        )
    return len(infos), rotated, unchanged


async def _rotate_checkpoints(
    inner: CheckpointStore, cipher: FieldCipher, progress: Progress | None
) -> tuple[int, int]:
    try:
        owners = await inner._owners()
    except NotImplementedError as exc:
        raise ConfigurationError(
            f"{exc}: its checkpoints cannot be re-encrypted; keep the old key in "
            "encryption_key=[new, old] until they are deleted"
        ) from None
    rotated = unchanged = 0
    for done, owner in enumerate(owners, 1):
        n = kept = 0
        for cp in await inner._list(owner, None, 2**62, None):
            where = f"checkpoint {cp.checkpoint_id} of run {cp.run_id!r}"
            state, changed = cipher.rotate_bytes(cp.state, where)
            meta, meta_changed = _rotated_metadata(cipher, cp.metadata, where)
            changed = changed or meta_changed
            if not changed:
                kept += 1
                continue
            await inner._save(
                owner,
                cp.run_id,
                cp.checkpoint_id,
                cp.parent_id,
                "bytes",
                state,
                meta,
                cp.created_at.timestamp(),
            )
            n += 1
        rotated += n
        unchanged += kept
        await _report(
            progress,
            RotationProgress(
                tenant_id=owner[0],
                user_id=owner[1],
                users_done=done,
                users_total=len(owners),
                rotated=n,
                unchanged=kept,
                kind="checkpoints",
            ),
        )
    return rotated, unchanged
