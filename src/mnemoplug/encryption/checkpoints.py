"""``EncryptingCheckpointStore``: checkpoint state and metadata values encrypted before they
reach a checkpoint store.

The wrapped store keeps each checkpoint's state as an opaque ``bytes`` value (a Fernet token
of the state's kind and serialised form) and its metadata values as Fernet tokens; run ids,
checkpoint ids, parents, owners and times stay readable (the store needs them to list, own
and order checkpoints).
"""

from __future__ import annotations

import builtins
from typing import Any

from ..core.checkpoints import Checkpoint, build_checkpoint
from ..core.stores import CheckpointStore
from .cipher import DecryptionError, FieldCipher, KeyInput

__all__ = ["EncryptingCheckpointStore"]

_SEP = b"\n"


class EncryptingCheckpointStore(CheckpointStore):
    """Encrypt ``inner``'s checkpoints (state and metadata values) with Fernet.

    Args:
        inner: the checkpoint store that keeps the (encrypted) checkpoints.
        keys: a Fernet key or a list of them — the first encrypts, all decrypt; None reads
            ``$MNEMOPLUG_ENCRYPTION_KEY``. Ignored when ``cipher`` is given.
        cipher: a :class:`FieldCipher` to share with an encrypted memory store.
    """

    name = "encrypted-checkpoints"

    def __init__(
        self,
        inner: CheckpointStore,
        keys: KeyInput | None = None,
        *,
        cipher: FieldCipher | None = None,
    ) -> None:
        if not isinstance(inner, CheckpointStore):
            raise TypeError(f"inner must be a CheckpointStore, got {type(inner).__name__}")
        if isinstance(inner, EncryptingCheckpointStore):
            raise TypeError("this checkpoint store is encrypted already")
        self.inner = inner
        self.cipher = cipher if cipher is not None else FieldCipher(keys)
        self.url = inner.url

    def __repr__(self) -> str:
        return f"EncryptingCheckpointStore({self.inner!r})"

    def _open(self, cp: Checkpoint | None) -> Checkpoint | None:
        if cp is None:
            return None
        where = f"checkpoint {cp.checkpoint_id} of run {cp.run_id!r}"
        if cp.state_type != "bytes":
            raise DecryptionError(
                f"{where} is not encrypted (was it written without encryption? delete it or "
                "save it again through the encrypted store)"
            )
        plain = self.cipher.decrypt_bytes(cp.state, where)
        state_type, _, raw = plain.partition(_SEP)
        meta = {
            k: self.cipher.decrypt_value(v, f"metadata {k!r} of {where}")
            for k, v in cp.metadata.items()
        }
        return build_checkpoint(
            run_id=cp.run_id,
            checkpoint_id=cp.checkpoint_id,
            tenant=cp.tenant_id or "",
            user=cp.user_id,
            state_type=state_type.decode("ascii"),
            raw=raw,
            metadata=meta,
            parent_id=cp.parent_id,
            created_at=cp.created_at.timestamp(),
        )

    # -- primitives ----------------------------------------------------------------------------
    async def _save(
        self,
        owner: tuple[str, str],
        run_id: str,
        checkpoint_id: str,
        parent_id: str | None,
        state_type: str,
        raw: bytes,
        metadata: dict[str, Any],
        created_at: float,
    ) -> None:
        token = self.cipher.encrypt_bytes(state_type.encode("ascii") + _SEP + raw)
        await self.inner._save(
            owner,
            run_id,
            checkpoint_id,
            parent_id,
            "bytes",
            token,
            self.cipher.encrypt_metadata(metadata),
            created_at,
        )

    async def _load(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> Checkpoint | None:
        return self._open(await self.inner._load(owner, run_id, checkpoint_id))

    async def _list(
        self, owner: tuple[str, str], run_id: str | None, limit: int, before: str | None
    ) -> builtins.list[Checkpoint]:
        rows = await self.inner._list(owner, run_id, limit, before)
        return [cp for cp in (self._open(r) for r in rows) if cp is not None]

    async def _delete(self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None) -> int:
        return await self.inner._delete(owner, run_id, checkpoint_id)

    async def _delete_user(self, owner: tuple[str, str]) -> int:
        return await self.inner._delete_user(owner)

    async def close(self) -> None:
        await self.inner.close()
