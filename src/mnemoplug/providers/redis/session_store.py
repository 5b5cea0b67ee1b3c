"""Redis session memory (redis.asyncio; ``pip install "mnemoplug[redis]"``):
``session_memory_from_url("redis://localhost:6379/0", ttl=3600, max_messages=200)``.

Keys (``P`` is the prefix, default ``mnemoplug:sess:``; ``<t>``/``<u>`` are tenant and user
ids written as ``<byte length>:<id>``, so any character is safe)::

    P m:<session>        list: the messages (JSON, zlib-compressed with compress=True)
    P i:<session>        hash: tenant_id, user_id, created_at, updated_at
    P o:<t>:<u>          sorted set: the owner's sessions by updated_at
    P all                sorted set: every session by updated_at

An append is one Lua script: owner check (a session belongs to its first writer), RPUSH,
LTRIM to ``max_messages``, and the TTL (seconds since the last write) refreshed on the list and
the hash — atomic, so concurrent writers never exceed ``max_messages`` or interleave a batch.
Sessions that expire leave stale sorted-set entries, dropped when next listed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ...core.errors import ConfigurationError
from ...core.session import (
    Message,
    SessionInfo,
    SessionOwnershipError,
    Summarizer,
    decode_message,
    encode_message,
    make_info,
)
from ...core.stores import SessionStore
from ..inprocess.session_store import ttl_seconds
from .client import RedisClientMixin, part

__all__ = ["RedisSessionMemory"]

_APPEND = """
local o = redis.call('HMGET', KEYS[2], 'tenant_id', 'user_id', 'updated_at')
local now = ARGV[3]
if o[1] then
  if o[1] ~= ARGV[1] or o[2] ~= ARGV[2] then return -1 end
  if o[3] and tonumber(o[3]) > tonumber(now) then now = o[3] end
else
  redis.call('HSET', KEYS[2], 'tenant_id', ARGV[1], 'user_id', ARGV[2], 'created_at', now)
end
redis.call('HSET', KEYS[2], 'updated_at', now)
for i = 7, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
local maxn = tonumber(ARGV[4])
if maxn > 0 then redis.call('LTRIM', KEYS[1], -maxn, -1) end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('ZADD', KEYS[3], now, ARGV[6])
redis.call('ZADD', KEYS[4], now, ARGV[6])
return redis.call('LLEN', KEYS[1])
"""

_CLEAR = """
local o = redis.call('HMGET', KEYS[2], 'tenant_id', 'user_id')
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if not o[1] then return -1 end
local key = ARGV[2] .. 'o:' .. string.len(o[1]) .. ':' .. o[1]
  .. ':' .. string.len(o[2]) .. ':' .. o[2]
redis.call('ZREM', key, ARGV[1])
return n
"""


def _decode(raw: bytes) -> Message:
    if raw[:1] != b"{":
        raw = zlib.decompress(raw)
    return decode_message(raw)


def _s(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


class RedisSessionMemory(RedisClientMixin, SessionStore):
    """Session memory in Redis.

    Args:
        url: ``redis://host:6379/0`` (or pass ``client=`` an existing ``redis.asyncio.Redis``).
        prefix: key prefix (``mnemoplug:sess:``).
        ttl: seconds (or timedelta) a session lives after its last write; None = forever.
        max_messages: keep the last N messages per session (trimmed atomically).
        compress: zlib-compress message payloads (reads handle both).
        summarizer: see :class:`~mnemoplug.core.stores.SessionStore`.
        **client_options: passed to ``redis.asyncio.from_url``.
    """

    name = "redis"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "mnemoplug:sess:",
        ttl: float | timedelta | None = None,
        max_messages: int | None = None,
        compress: bool = False,
        client: Any = None,
        summarizer: Summarizer | None = None,
        **client_options: Any,
    ) -> None:
        SessionStore.__init__(self, summarizer=summarizer)
        client_options.setdefault("socket_connect_timeout", 5.0)
        client_options.setdefault("socket_timeout", 5.0)
        self._init_client(url, client, "Redis session memory", **client_options)
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError(f"prefix must be a non-empty string, got {prefix!r}")
        if max_messages is not None and (
            isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
        ):
            raise ConfigurationError(
                f"max_messages must be a positive integer or None, got {max_messages!r}"
            )
        self.prefix = prefix
        ttl_s = ttl_seconds(ttl)
        self.ttl = ttl_s
        self._ttl_ms = 0 if ttl_s is None else max(1, int(ttl_s * 1000))
        self.max_messages = max_messages
        self.compress = bool(compress)
        self._scripts: dict[str, Any] = {}

    # -- keys --------------------------------------------------------------------------------
    def _k_msgs(self, sid: str) -> str:
        return f"{self.prefix}m:{sid}"

    def _k_info(self, sid: str) -> str:
        return f"{self.prefix}i:{sid}"

    def _k_owner(self, tenant: str, user: str) -> str:
        return f"{self.prefix}o:{part(tenant)}:{part(user)}"

    @property
    def _k_all(self) -> str:
        return f"{self.prefix}all"

    def _script(self, name: str, body: str) -> Any:
        s = self._scripts.get(name)
        if s is None or s.registered_client is not self.client:
            s = self._scripts[name] = self.client.register_script(body)
        return s

    def _encode(self, m: Message) -> bytes:
        raw = encode_message(m).encode("utf-8")
        return zlib.compress(raw) if self.compress else raw

    # -- primitives --------------------------------------------------------------------------
    async def _append(
        self, session_id: str, messages: list[Message], owner: tuple[str, str], now: float
    ) -> None:
        keys = [self._k_msgs(session_id), self._k_info(session_id),
                self._k_owner(*owner), self._k_all]
        args: list[Any] = [owner[0], owner[1], repr(now), self.max_messages or 0,
                           self._ttl_ms, session_id]
        args.extend(self._encode(m) for m in messages)
        with self._errors():
            n = await self._script("append", _APPEND)(keys=keys, args=args)
        if int(n) < 0:
            raise SessionOwnershipError(
                f"session {session_id!r} belongs to another user; nothing was stored. Use a "
                f"session id of your own (conversation_id_for(user_id)) or the owner's user_id"
            )

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
            d = {_s(k): _s(v) for k, v in h.items()}
            out.append(make_info(sid, d["tenant_id"], d["user_id"], float(d["created_at"]),
                                 float(d["updated_at"]), int(n)))
        return out

    async def _info(self, session_id: str) -> SessionInfo | None:
        return (await self._infos([session_id]))[0]

    async def _get(self, session_id: str, limit: int | None) -> list[Message]:
        with self._errors():
            raw = await self.client.lrange(
                self._k_msgs(session_id), 0 if limit is None else -limit, -1
            )
        return [_decode(r) for r in raw]

    async def _clear(self, session_id: str) -> int:
        keys = [self._k_msgs(session_id), self._k_info(session_id), self._k_all]
        with self._errors():
            n = await self._script("clear", _CLEAR)(keys=keys, args=[session_id, self.prefix])
        return max(int(n), 0)

    async def _candidates(self, tenant: str | None, user: str | None) -> list[SessionInfo]:
        key = self._k_owner(tenant or "", user) if user is not None else self._k_all
        with self._errors():
            sids = [_s(s) for s in await self.client.zrevrange(key, 0, -1)]
        infos = await self._infos(sids)
        stale = [sid for sid, info in zip(sids, infos, strict=True) if info is None]
        if stale:
            with self._errors():
                await self.client.zrem(key, *stale)
                if key != self._k_all:
                    await self.client.zrem(self._k_all, *stale)
        return [
            i for i in infos
            if i is not None and (tenant is None or (i.tenant_id or "") == tenant)
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
            keys = [self._k_msgs(info.session_id), self._k_info(info.session_id), self._k_all]
            with self._errors():
                r = await self._script("clear", _CLEAR)(
                    keys=keys, args=[info.session_id, self.prefix]
                )
            n += int(r) >= 0
        return n

    async def _clear_older(self, cutoff: float) -> int:
        with self._errors():
            sids = [_s(s) for s in await self.client.zrangebyscore(self._k_all, "-inf",
                                                                      f"({cutoff!r}")]
        n = 0
        for sid in sids:
            keys = [self._k_msgs(sid), self._k_info(sid), self._k_all]
            with self._errors():
                r = await self._script("clear", _CLEAR)(keys=keys, args=[sid, self.prefix])
            n += int(r) >= 0
        return n

    async def ttl_remaining(self, session_id: str) -> float | None:
        """Seconds until the session expires (None without a TTL or when absent)."""
        with self._errors():
            ms = await self.client.pttl(self._k_msgs(session_id))
        return None if ms is None or ms < 0 else ms / 1000.0

    async def close(self) -> None:
        self._scripts.clear()
        await RedisClientMixin.close(self)
