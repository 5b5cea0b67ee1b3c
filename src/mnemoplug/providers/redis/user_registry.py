"""The memory store's two store-wide indexes of users, kept beside the per-user keys.

``P:users`` (set) holds every user with memories, for ``list_users`` and erasure; ``P:due``
(sorted set) holds every user with an expiring memory, scored by a lower bound of the user's
earliest ``expires_at``, so ``purge_expired`` visits only users with something due. The
per-user keys (``P:{<u>}:exp`` …) are the truth; these two may say more than it (a user with
nothing left, a bound too early: harmless, fixed on the next visit), never less:

* on a single server the write's own Lua script or MULTI/EXEC adds the user to both
  (:meth:`queue`), so they change atomically with the data;
* on a cluster they lie in other slots than the user's keys, so a write adds the user by
  separate commands before its script or transaction (a crash after them leaves no unindexed
  data) and again after it when it started the user's counter or wrote an expiry (:meth:`after`):
  an erasure or a purge that ran in between may have just dropped or raised the entry;
* an erasure removes the user after their keys went, then adds them back if a write started
  their counter again meanwhile (:meth:`forget`); a purge sets the bound to the user's earliest
  remaining expiry, then lowers it again if a write added an earlier one meanwhile
  (:meth:`settle`). Together with the writers' second step above, whichever of the two ran last
  sees the other's change.

Bounds are lowered with ``ZADD LT`` (Redis 6.2 or later).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from .codec import text
from .keys import MemoryKeys, UserKey, member, parse_member

__all__ = ["UserRegistry"]

_PAGE = 500


class UserRegistry:
    """``P:users`` and ``P:due`` of one store (see the module docstring)."""

    def __init__(self, keys: MemoryKeys, *, cluster: bool) -> None:
        self.keys = keys
        self.cluster = cluster

    def _queue_all(self, pipe: Any, users: Mapping[UserKey, float | None]) -> None:
        if users:
            pipe.sadd(self.keys.users, *(member(k) for k in users))
        due = {member(k): e for k, e in users.items() if e is not None}
        if due:
            pipe.zadd(self.keys.due, due, lt=True)

    def queue(self, pipe: Any, users: Mapping[UserKey, float | None]) -> None:
        """On a single server: add ``users`` (user -> earliest new expiry, or None) inside the
        write's transaction."""
        if not self.cluster:
            self._queue_all(pipe, users)

    async def before(self, client: Any, users: Mapping[UserKey, float | None]) -> None:
        """On a cluster: add ``users`` before their write."""
        if self.cluster and users:
            async with client.pipeline(transaction=False) as pipe:
                self._queue_all(pipe, users)
                await pipe.execute()

    async def after(
        self, client: Any, started: Iterable[UserKey], users: Mapping[UserKey, float | None]
    ) -> None:
        """On a cluster: add again the users whose write started their counter, and the
        expiry bounds of ``users``."""
        if not self.cluster:
            return
        again: dict[UserKey, float | None] = {k: None for k in started}
        again.update({k: e for k, e in users.items() if e is not None})
        if again:
            async with client.pipeline(transaction=False) as pipe:
                self._queue_all(pipe, again)
                await pipe.execute()

    async def _earliest(self, client: Any, key: UserKey) -> float | None:
        first = await client.zrange(self.keys.user(key, "exp"), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def forget(self, client: Any, key: UserKey) -> None:
        """Remove an erased user (after their keys went); add them back if a write started
        their counter again meanwhile."""
        m = member(key)
        await client.srem(self.keys.users, m)
        await client.zrem(self.keys.due, m)
        if await client.exists(self.keys.user(key, "gen")):
            await client.sadd(self.keys.users, m)
            earliest = await self._earliest(client, key)
            if earliest is not None:
                await client.zadd(self.keys.due, {m: earliest}, lt=True)

    async def settle(self, client: Any, key: UserKey) -> None:
        """After a purge of the user: their bound becomes their earliest remaining expiry (or
        they leave ``P:due``), lowered again if a write added an earlier one meanwhile."""
        m = member(key)
        earliest = await self._earliest(client, key)
        if earliest is None:
            await client.zrem(self.keys.due, m)
        else:
            await client.zadd(self.keys.due, {m: earliest})
        now_earliest = await self._earliest(client, key)
        if now_earliest is not None and (earliest is None or now_earliest < earliest):
            await client.zadd(self.keys.due, {m: now_earliest}, lt=True)

    async def due(self, client: Any, now: float) -> AsyncIterator[UserKey]:
        """Each user whose bound is at most ``now``, once (the caller settles each)."""
        seen: set[str] = set()
        start = 0
        while True:
            page = [
                text(v)
                for v in await client.zrangebyscore(
                    self.keys.due, "-inf", now, start=start, num=_PAGE
                )
            ]
            if not page:
                return
            fresh = [m for m in page if m not in seen]
            if not fresh:  # still due after a visit (an expiry written in the past meanwhile)
                start += len(page)
                continue
            for m in fresh:
                seen.add(m)
                yield parse_member(m)
