"""Redis checkpoint store (redis.asyncio; ``pip install "mnemoplug[redis]"``):
``checkpoint_store_from_url("redis://localhost:6379/0", prefix=...)``.

Keys (``P`` the prefix, default ``mnemoplug:ckpt:``; ``<t>``/``<u>`` = ``<byte length>:<id>``)::

    P seq                 counter: the save order shared by all runs
    P r:<t>:<u>:<run>     sorted set: checkpoint id -> save order (listing, newest first)
    P d:<t>:<u>:<run>     hash: checkpoint id -> record (JSON header + raw state bytes)
    P runs:<t>:<u>        set: the owner's run ids (for delete_user)

A save is one Lua script (ordering, record and run set together); a re-save of an id keeps its
position.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from ...core.checkpoints import Checkpoint, build_checkpoint
from ...core.errors import ConfigurationError
from ...core.stores import CheckpointStore
from .client import RedisClientMixin, part

__all__ = ["RedisCheckpointStore"]

_SAVE = """
local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not s then
  s = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], s, ARGV[1])
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[3])
return s
"""

_LOAD = """
local cid = ARGV[1]
if cid == '' then
  local r = redis.call('ZREVRANGE', KEYS[1], 0, 0)
  if #r == 0 then return false end
  cid = r[1]
end
return redis.call('HGET', KEYS[2], cid)
"""

_DELETE_ONE = """
local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return n
"""

_DELETE_RUN = """
local n = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return n
"""


def _pack(header: dict[str, Any], raw: bytes) -> bytes:
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return struct.pack(">I", len(h)) + h + raw


def _unpack(blob: bytes) -> Checkpoint:
    (n,) = struct.unpack(">I", blob[:4])
    h = json.loads(blob[4 : 4 + n])
    return build_checkpoint(
        run_id=h["run_id"], checkpoint_id=h["checkpoint_id"], tenant=h["tenant"],
        user=h["user"], state_type=h["state_type"], raw=blob[4 + n :],
        metadata=h["metadata"], parent_id=h["parent_id"], created_at=h["created_at"],
    )


class RedisCheckpointStore(RedisClientMixin, CheckpointStore):
    """Checkpoints in Redis (``url`` or ``client=``; ``prefix`` option; extra keyword
    arguments go to ``redis.asyncio.from_url``)."""

    name = "redis"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "mnemoplug:ckpt:",
        client: Any = None,
        **client_options: Any,
    ) -> None:
        client_options.setdefault("socket_connect_timeout", 5.0)
        client_options.setdefault("socket_timeout", 5.0)
        self._init_client(url, client, "the Redis checkpoint store", **client_options)
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError(f"prefix must be a non-empty string, got {prefix!r}")
        self.prefix = prefix
        self._scripts: dict[str, Any] = {}

    def _owner(self, owner: tuple[str, str]) -> str:
        return f"{part(owner[0])}:{part(owner[1])}"

    def _keys(self, owner: tuple[str, str], run_id: str) -> tuple[str, str, str]:
        o = self._owner(owner)
        return (f"{self.prefix}r:{o}:{run_id}", f"{self.prefix}d:{o}:{run_id}",
                f"{self.prefix}runs:{o}")

    def _script(self, name: str, body: str) -> Any:
        s = self._scripts.get(name)
        if s is None or s.registered_client is not self.client:
            s = self._scripts[name] = self.client.register_script(body)
        return s

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
        zkey, hkey, runs = self._keys(owner, run_id)
        blob = _pack({"run_id": run_id, "checkpoint_id": checkpoint_id, "tenant": owner[0],
                      "user": owner[1], "state_type": state_type, "metadata": metadata,
                      "parent_id": parent_id, "created_at": created_at}, raw)
        with self._errors():
            await self._script("save", _SAVE)(
                keys=[f"{self.prefix}seq", zkey, hkey, runs], args=[checkpoint_id, blob, run_id]
            )

    async def _load(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> Checkpoint | None:
        zkey, hkey, _ = self._keys(owner, run_id)
        with self._errors():
            blob = await self._script("load", _LOAD)(keys=[zkey, hkey], args=[checkpoint_id or ""])
        return None if not blob else _unpack(blob)

    async def _run_entries(
        self, owner: tuple[str, str], run_id: str, limit: int, before_score: float | None
    ) -> list[tuple[float, str, str]]:
        zkey, _, _ = self._keys(owner, run_id)
        with self._errors():
            if before_score is None:
                rows = await self.client.zrevrange(zkey, 0, limit - 1, withscores=True)
            else:
                rows = await self.client.zrevrangebyscore(
                    zkey, f"({before_score!r}", "-inf", start=0, num=limit, withscores=True
                )
        return [(float(score), run_id, m.decode() if isinstance(m, bytes) else m)
                for m, score in rows]

    async def _runs(self, owner: tuple[str, str]) -> list[str]:
        with self._errors():
            members = await self.client.smembers(f"{self.prefix}runs:{self._owner(owner)}")
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def _list(
        self, owner: tuple[str, str], run_id: str | None, limit: int, before: str | None
    ) -> list[Checkpoint]:
        runs = [run_id] if run_id is not None else await self._runs(owner)
        before_score: float | None = None
        if before is not None:
            scores = []
            for r in runs:
                with self._errors():
                    s = await self.client.zscore(self._keys(owner, r)[0], before)
                if s is not None:
                    scores.append(float(s))
            if not scores:
                return []
            before_score = max(scores)
        entries: list[tuple[float, str, str]] = []
        for r in runs:
            entries.extend(await self._run_entries(owner, r, limit, before_score))
        entries.sort(reverse=True)
        entries = entries[:limit]
        by_run: dict[str, list[str]] = {}
        for _, r, cid in entries:
            by_run.setdefault(r, []).append(cid)
        blobs: dict[tuple[str, str], bytes] = {}
        for r, cids in by_run.items():
            with self._errors():
                vals = await self.client.hmget(self._keys(owner, r)[1], cids)
            for cid, v in zip(cids, vals, strict=True):
                if v:
                    blobs[(r, cid)] = v
        return [_unpack(blobs[(r, cid)]) for _, r, cid in entries if (r, cid) in blobs]

    async def _delete(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> int:
        zkey, hkey, runs = self._keys(owner, run_id)
        with self._errors():
            if checkpoint_id is not None:
                n = await self._script("del1", _DELETE_ONE)(
                    keys=[zkey, hkey, runs], args=[checkpoint_id, run_id]
                )
            else:
                n = await self._script("delrun", _DELETE_RUN)(
                    keys=[zkey, hkey, runs], args=[run_id]
                )
        return int(n)

    async def _delete_user(self, owner: tuple[str, str]) -> int:
        n = 0
        for r in await self._runs(owner):
            n += await self._delete(owner, r, None)
        return n

    async def close(self) -> None:
        self._scripts.clear()
        await RedisClientMixin.close(self)
