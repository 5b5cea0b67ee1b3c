"""Redis session memory (redis.asyncio; ``pip install "mnemoplug[redis]"``):
``RedisSessionMemory(url="redis://localhost:6379", ttl_seconds=3600, max_messages=50)`` or
``session_memory_from_url("redis://localhost:6379/0", ttl_seconds=3600, max_messages=200)``.

Keys (``P`` is the prefix, default ``mnemoplug:sess:``; ``<t>``/``<u>`` are tenant and user
ids written as ``<byte length>:<id>``, so any character is safe)::

    P m:<session>        list: the messages (JSON, zlib-compressed with compress=True)
    P i:<session>        hash: tenant_id, user_id, created_at, updated_at
    P o:<t>:<u>          sorted set: the owner's sessions by updated_at
    P all                sorted set: every session by updated_at

On a Redis Cluster (``cluster=True``, or a ``RedisCluster`` passed as ``client=``) a session's
two keys carry its id as a hash tag, so they share a slot, and the prefix may not hold ``{``
or ``}``::

    P{<session>}:m       list: the messages
    P{<session>}:i       hash: the session's owner and times

(``<session>`` written as ``<byte length>:<id>``). The owner's and the all-sessions sorted sets
lie in other slots, so there they are updated by commands of their own: added to before an
append (an entry whose session is missing or another owner's is dropped when next listed),
removed from after a delete.

An append is one Lua script (:data:`~mnemoplug.providers.redis.scripts.SESSION_APPEND`): owner
check (a session belongs to its first writer), RPUSH, LTRIM to ``max_messages``, and the TTL
(seconds since the last write) refreshed on the list and the hash — atomic, so concurrent
writers never exceed ``max_messages`` or interleave a batch. Sessions that expire leave stale
sorted-set entries, dropped when next listed. Connections, timeouts and errors: see
:mod:`mnemoplug.providers.redis.client`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from ...core.session import Message, SessionInfo, Summarizer, make_info
from ...core.stores import SessionStore
from .._options import non_empty_str
from .._sessions import max_messages_option, ownership_error, session_ttl
from .client import DEFAULT_URL, RedisClientMixin, gated
from .codec import decode_session_message, encode_session_message, text
from .keys import check_cluster_prefix, part
from .scripts import SESSION_APPEND, SESSION_APPEND_LOCAL, SESSION_CLEAR, SESSION_CLEAR_LOCAL

__all__ = ["RedisSessionMemory"]


class RedisSessionMemory(RedisClientMixin, SessionStore):
    """Session memory in Redis.

    Args:
        url: ``redis://host:6379/0`` (or pass ``client=`` an existing ``redis.asyncio.Redis``).
        prefix: key prefix (``mnemoplug:sess:``).
        cluster: connect to a Redis Cluster (``url`` names any node).
        ttl_seconds: seconds (or a timedelta) a session lives after its last write; None =
            forever. ``ttl`` is the older name (pass one of them).
        max_messages: keep the last N messages per session (trimmed atomically).
        compress: zlib-compress message payloads (reads handle both).
        summarizer: see :class:`~mnemoplug.core.stores.SessionStore`.
        **client_options: ``max_connections`` (32), ``socket_timeout``,
            ``socket_connect_timeout`` (5 s each), ``pool_timeout`` (10 s), ``retries`` (1) and
            any other keyword of ``redis.asyncio.Connection`` (``password``, ``ssl_*``, …).
    """

    name = "redis"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        prefix: str = "mnemoplug:sess:",
        ttl_seconds: float | timedelta | None = None,
        ttl: float | timedelta | None = None,
        max_messages: int | None = None,
        compress: bool = False,
        client: Any = None,
        cluster: bool = False,
        summarizer: Summarizer | None = None,
        **client_options: Any,
    ) -> None:
        SessionStore.__init__(self, summarizer=summarizer)
        self._init_client(
            url, feature="Redis session memory", client=client, cluster=cluster, **client_options
        )
        self.prefix = non_empty_str("prefix", prefix)
        if self.cluster:
            check_cluster_prefix(self.prefix)
        self.ttl = session_ttl(ttl, ttl_seconds)
        self._ttl_ms = 0 if self.ttl is None else max(1, int(self.ttl * 1000))
        self.max_messages = max_messages_option(max_messages)
        self.compress = bool(compress)

    # -- keys --------------------------------------------------------------------------------
    def _k_msgs(self, sid: str) -> str:
        if self.cluster:
            return f"{self.prefix}{{{part(sid)}}}:m"
        return f"{self.prefix}m:{sid}"

    def _k_info(self, sid: str) -> str:
        if self.cluster:
            return f"{self.prefix}{{{part(sid)}}}:i"
        return f"{self.prefix}i:{sid}"

    def _k_owner(self, tenant: str, user: str) -> str:
        return f"{self.prefix}o:{part(tenant)}:{part(user)}"

    @property
    def _k_all(self) -> str:
        return f"{self.prefix}all"

    # -- primitives --------------------------------------------------------------------------
    @gated
    async def _append(
        self, session_id: str, messages: list[Message], owner: tuple[str, str], now: float
    ) -> None:
        keys = [
            self._k_msgs(session_id),
            self._k_info(session_id),
            self._k_owner(*owner),
            self._k_all,
        ]
        args: list[Any] = [
            owner[0],
            owner[1],
            repr(now),
            self.max_messages or 0,
            self._ttl_ms,
            session_id,
        ]
        args.extend(encode_session_message(m, compress=self.compress) for m in messages)
        if self.cluster:
            await self._append_apart(keys, args, now)
            return
        with self._errors():
            n = await self._script("append", SESSION_APPEND)(keys=keys, args=args)
        if int(n) < 0:
            raise ownership_error(session_id)

    async def _append_apart(self, keys: list[str], args: list[Any], now: float) -> None:
        """The cluster append: the sorted sets first (an entry without its session is
        harmless), then the session's own keys in one script."""
        sid = args[5]
        with self._errors():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(keys[2], {sid: now}, gt=True)
                pipe.zadd(keys[3], {sid: now}, gt=True)
                await pipe.execute()
            res = await self._script("append_local", SESSION_APPEND_LOCAL)(
                keys=keys[:2], args=args[:5] + args[6:]
            )
            if int(res[0]) < 0:
                await self.client.zrem(keys[2], sid)  # not this owner's session
                raise ownership_error(sid)
            written = float(res[1])
            if written != now:  # a later updated_at was kept (another writer's clock)
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.zadd(keys[2], {sid: written}, gt=True)
                    pipe.zadd(keys[3], {sid: written}, gt=True)
                    await pipe.execute()

    @gated
    async def _infos(self, sids: Sequence[str]) -> list[SessionInfo | None]:
        if not sids:
            return []
        with self._errors():
            async with self.client.pipeline(transaction=False) as pipe:
                for sid in sids:
                    pipe.hgetall(self._k_info(sid))
                    pipe.llen(self._k_msgs(sid))
                res = await pipe.execute()
        out: list[SessionInfo | None] = []
        for i, sid in enumerate(sids):
            h, n = res[2 * i], res[2 * i + 1]
            if not h:
                out.append(None)
                continue
            d = {text(k): text(v) for k, v in h.items()}
            out.append(
                make_info(
                    sid,
                    d["tenant_id"],
                    d["user_id"],
                    float(d["created_at"]),
                    float(d["updated_at"]),
                    int(n),
                )
            )
        return out

    async def _info(self, session_id: str) -> SessionInfo | None:
        return (await self._infos([session_id]))[0]

    @gated
    async def _get(self, session_id: str, limit: int | None) -> list[Message]:
        with self._errors():
            raw = await self.client.lrange(
                self._k_msgs(session_id), 0 if limit is None else -limit, -1
            )
        return [decode_session_message(r) for r in raw]

    @gated
    async def _delete(self, session_id: str) -> int:
        """Delete one session; how many messages it held, -1 when it did not exist."""
        keys = [self._k_msgs(session_id), self._k_info(session_id), self._k_all]
        if self.cluster:  # the session's keys first, then the sorted-set entries
            with self._errors():
                res = await self._script("clear_local", SESSION_CLEAR_LOCAL)(keys=keys[:2])
                if int(res[0]) >= 0:
                    await self.client.zrem(self._k_owner(text(res[1]), text(res[2])), session_id)
                await self.client.zrem(self._k_all, session_id)
            return int(res[0])
        with self._errors():
            n = await self._script("clear", SESSION_CLEAR)(
                keys=keys, args=[session_id, self.prefix]
            )
        return int(n)

    async def _clear(self, session_id: str) -> int:
        return max(await self._delete(session_id), 0)

    @gated
    async def _candidates(self, tenant: str | None, user: str | None) -> list[SessionInfo]:
        key = self._k_owner(tenant or "", user) if user is not None else self._k_all
        with self._errors():
            sids = [text(s) for s in await self.client.zrevrange(key, 0, -1)]
        infos = await self._infos(sids)
        gone = [sid for sid, info in zip(sids, infos, strict=True) if info is None]
        foreign = [  # in this owner's set, held by another owner (a refused cluster append)
            info.session_id
            for info in infos
            if info is not None
            and user is not None
            and ((info.tenant_id or "") != (tenant or "") or (info.user_id or "") != user)
        ]
        with self._errors():
            if gone or foreign:
                await self.client.zrem(key, *gone, *foreign)
            if gone and key != self._k_all:
                await self.client.zrem(self._k_all, *gone)
        return [
            i
            for i in infos
            if i is not None
            and (tenant is None or (i.tenant_id or "") == tenant)
            and (user is None or (i.user_id or "") == user)
        ]

    async def _list(
        self, tenant: str | None, user: str | None, limit: int | None
    ) -> list[SessionInfo]:
        infos = await self._candidates(tenant, user)
        infos.sort(key=lambda i: i.updated_at, reverse=True)
        return infos if limit is None else infos[:limit]

    async def _clear_owned(self, tenant: str | None, user: str | None) -> int:
        n = 0
        for info in await self._candidates(tenant, user):
            n += await self._delete(info.session_id) >= 0
        return n

    @gated
    async def _clear_older(self, cutoff: float) -> int:
        with self._errors():
            sids = [
                text(s)
                for s in await self.client.zrangebyscore(self._k_all, "-inf", f"({cutoff!r}")
            ]
        n = 0
        for sid in sids:
            n += await self._delete(sid) >= 0
        return n

    @gated
    async def _rewrite(
        self, session_id: str, transform: Callable[[Message], Message | None]
    ) -> int:
        from redis.exceptions import WatchError

        key = self._k_msgs(session_id)
        while True:  # optimistic: redone when an append or trim touched the list meanwhile
            with self._errors():
                async with self.client.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(key)
                        raw = await pipe.lrange(key, 0, -1)
                        changes = []
                        for i, item in enumerate(raw):
                            new = transform(decode_session_message(item))
                            if new is not None:
                                changes.append(
                                    (i, encode_session_message(new, compress=self.compress))
                                )
                        if not changes:
                            await pipe.unwatch()
                            return 0
                        pipe.multi()
                        for i, blob in changes:
                            pipe.lset(key, i, blob)
                        await pipe.execute()
                        return len(changes)
                    except WatchError:
                        continue

    @gated
    async def ttl_remaining(self, session_id: str) -> float | None:
        """Seconds until the session expires (None without a TTL or when absent)."""
        with self._errors():
            ms = await self.client.pttl(self._k_msgs(session_id))
        return None if ms is None or ms < 0 else ms / 1000.0
