"""``EncryptingSessionStore``: session messages encrypted before they reach a session store.

Each message's content and metadata values are Fernet tokens in the wrapped store; its id,
role and timestamp, and the session's id, owner and times stay readable (the store needs them
to order, own and expire sessions). :meth:`~mnemoplug.core.stores.SessionStore.search` ranks
the decrypted messages in this process, as it does for every session store.
"""

from __future__ import annotations

from typing import Any

from ..core.session import Message, SessionInfo
from ..core.stores import SessionStore
from .cipher import FieldCipher, KeyInput

__all__ = ["EncryptingSessionStore"]


class EncryptingSessionStore(SessionStore):
    """Encrypt ``inner``'s session messages (content and metadata values) with Fernet.

    Args:
        inner: the session store that keeps the (encrypted) messages.
        keys: a Fernet key or a list of them — the first encrypts, all decrypt; None reads
            ``$MNEMOPLUG_ENCRYPTION_KEY``. Ignored when ``cipher`` is given.
        cipher: a :class:`FieldCipher` to share with an encrypted memory store.

    Hooks bound to the wrapper (``on_session_message``) see plaintext before it is encrypted.
    Other attributes (``ttl_remaining``, …) are the wrapped store's.
    """

    name = "encrypted-session"

    def __init__(
        self,
        inner: SessionStore,
        keys: KeyInput | None = None,
        *,
        cipher: FieldCipher | None = None,
    ) -> None:
        if not isinstance(inner, SessionStore):
            raise TypeError(f"inner must be a SessionStore, got {type(inner).__name__}")
        if isinstance(inner, EncryptingSessionStore):
            raise TypeError("this session store is encrypted already")
        super().__init__(summarizer=inner.summarizer)
        self.inner = inner
        self.cipher = cipher if cipher is not None else FieldCipher(keys)
        self.url = inner.url
        # the wrapper validates and runs the hooks (it writes through the wrapped store's
        # primitives, which run none): hooks see plaintext, the wrapped store keeps ciphertext
        self.hooks = inner.hooks

    def __getattr__(self, name: str) -> Any:
        # only called for attributes the wrapper lacks: the wrapped store's extras
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"EncryptingSessionStore({self.inner!r})"

    # -- messages ----------------------------------------------------------------------------
    def _encrypt(self, m: Message) -> Message:
        return m.model_copy(
            update={
                "content": self.cipher.encrypt_text(m.content),
                "metadata": self.cipher.encrypt_metadata(m.metadata),
            }
        )

    def _decrypt(self, m: Message, session_id: str) -> Message:
        where = f"message {m.id} of session {session_id!r}"
        return m.model_copy(
            update={
                "content": self.cipher.decrypt_text(m.content, where),
                "metadata": {
                    k: self.cipher.decrypt_value(v, f"metadata {k!r} of {where}")
                    for k, v in m.metadata.items()
                },
            }
        )

    # -- primitives ----------------------------------------------------------------------------
    async def _append(
        self, session_id: str, messages: list[Message], owner: tuple[str, str], now: float
    ) -> None:
        await self.inner._append(session_id, [self._encrypt(m) for m in messages], owner, now)

    async def _info(self, session_id: str) -> SessionInfo | None:
        return await self.inner._info(session_id)

    async def _get(self, session_id: str, limit: int | None) -> list[Message]:
        return [self._decrypt(m, session_id) for m in await self.inner._get(session_id, limit)]

    async def _clear(self, session_id: str) -> int:
        return await self.inner._clear(session_id)

    async def _list(
        self, tenant: str | None, user: str | None, limit: int | None
    ) -> list[SessionInfo]:
        return await self.inner._list(tenant, user, limit)

    async def _clear_older(self, cutoff: float) -> int:
        return await self.inner._clear_older(cutoff)

    async def _clear_owned(self, tenant: str | None, user: str | None) -> int:
        return await self.inner._clear_owned(tenant, user)

    async def close(self) -> None:
        await self.inner.close()
