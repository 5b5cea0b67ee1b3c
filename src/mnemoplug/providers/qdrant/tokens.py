"""Per-user generation tokens of the Qdrant store.

The users collection holds one point per (tenant, user) with a random token that every write
to the user replaces. A user's cached :class:`~mnemoplug.core.retrieval.UserIndex` is valid
for one token: it is revalidated on every query, so writes of other processes and other
store instances are seen. A store applies its own write to the cache only when the token it
replaced is the one it cached (see ``UserIndexCache.advance``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ...core.errors import MnemoplugError
from ...core.retrieval import UserIndex, UserIndexCache
from .payload import models, user_point

__all__ = ["UserTokens"]

_Key = tuple[str, str]


class UserTokens:
    """Read and replace users' tokens in the users collection ``collection``, keeping the
    store's per-user ``cache`` in step."""

    def __init__(self, collection: str, cache: UserIndexCache) -> None:
        self.collection = collection
        self.cache = cache

    async def get(self, client: Any, keys: Iterable[_Key]) -> dict[_Key, str | None]:
        """Each user's token (None: the user never held memories)."""
        keys = list(dict.fromkeys(keys))
        got = await client.retrieve(
            self.collection, [user_point(*k) for k in keys], with_payload=True
        )
        by_id = {str(p.id): (p.payload or {}).get("token") for p in got}
        return {k: by_id.get(user_point(*k)) for k in keys}

    async def bump(self, client: Any, keys: Iterable[_Key]) -> dict[_Key, str]:
        """Give each user a new token; return them."""
        m = models()
        new = {k: uuid.uuid4().hex for k in dict.fromkeys(keys)}
        await client.upsert(
            self.collection,
            [
                m.PointStruct(
                    id=user_point(*k),
                    vector={},
                    payload={"kind": "user", "tenant_id": k[0], "user_id": k[1], "token": tok},
                )
                for k, tok in new.items()
            ],
        )
        return new

    async def forget(self, client: Any, key: _Key) -> None:
        """Delete the user's point (erasure: no point may keep the user id). A later write
        gives the user a new random token, so no stale cache entry can match it."""
        m = models()
        await client.delete(
            self.collection,
            points_selector=m.PointIdsList(points=[user_point(*key)]),
            wait=True,
        )
        self.cache.drop(key)

    async def write(
        self,
        client: Any,
        keys: Iterable[_Key],
        do: Callable[[], Awaitable[Any]],
        apply: Callable[[_Key, UserIndex], Any] | None,
        error: Callable[[Exception, str], MnemoplugError],
    ) -> Any:
        """Run the write ``do()``, replace the touched users' tokens and apply the change to
        cached users nobody else wrote since they were cached (``apply`` None: drop them from
        the cache). On failure the users are dropped from the cache and the error, unless a
        mnemoplug one (or ValueError), is mapped by ``error``. The caller holds the write
        lock."""
        keys = list(dict.fromkeys(keys))
        try:
            before = await self.get(client, keys)
            result = await do()
            if not keys:
                return result
            after = await self.bump(client, keys)
        except (MnemoplugError, ValueError):
            for k in keys:
                self.cache.drop(k)
            raise
        except Exception as exc:
            for k in keys:
                self.cache.drop(k)
            raise error(exc, "write") from exc
        for k in keys:
            if apply is None:
                self.cache.drop(k)
            else:
                self.cache.advance(k, before[k], after[k], apply)
        return result
