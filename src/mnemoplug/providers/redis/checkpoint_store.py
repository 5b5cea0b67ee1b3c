"""Redis checkpoint store (redis.asyncio; ``pip install "mnemoplug[redis]"``):
``checkpoint_store_from_url("redis://localhost:6379/0", prefix=...)``.

Keys (``P`` the prefix, default ``mnemoplug:ckpt:``; ``<t>``/``<u>`` = ``<byte length>:<id>``)::

    P seq                 counter: the save order shared by all runs
    P r:<t>:<u>:<run>     sorted set: checkpoint id -> save order (listing, newest first)
    P d:<t>:<u>:<run>     hash: checkpoint id -> record (JSON header + raw state bytes)
    P runs:<t>:<u>        set: the owner's run ids (for delete_user)

On a Redis Cluster (``cluster=True``, or a ``RedisCluster`` passed as ``client=``) every key of
an owner carries the owner as a hash tag, so each script runs in one slot, the save order is
counted per owner (it only orders one owner's checkpoints), and the prefix may not hold ``{``
or ``}``::

    P{<t>:<u>}:seq  P{<t>:<u>}:r:<run>  P{<t>:<u>}:d:<run>  P{<t>:<u>}:runs

A save is one Lua script (ordering, record and run set together); a re-save of an id keeps its
position. Connections, timeouts and errors: see :mod:`mnemoplug.providers.redis.client`.
"""

from __future__ import annotations

from typing import Any

from ...core.checkpoints import Checkpoint
from ...core.stores import CheckpointStore
from .._options import non_empty_str
from .client import DEFAULT_URL, RedisClientMixin, gated
from .codec import pack_checkpoint, text, unpack_checkpoint
from .keys import check_cluster_prefix, part
from .scripts import (
    CHECKPOINT_DELETE_ONE,
    CHECKPOINT_DELETE_RUN,
    CHECKPOINT_LOAD,
    CHECKPOINT_SAVE,
)

__all__ = ["RedisCheckpointStore"]


class RedisCheckpointStore(RedisClientMixin, CheckpointStore):
    """Checkpoints in Redis (``url`` or ``client=``; ``prefix`` option; the connection
    options of :class:`~mnemoplug.providers.redis.RedisSessionMemory`)."""

    name = "redis"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        prefix: str = "mnemoplug:ckpt:",
        client: Any = None,
        cluster: bool = False,
        **client_options: Any,
    ) -> None:
        self._init_client(
            url,
            feature="the Redis checkpoint store",
            client=client,
            cluster=cluster,
            **client_options,
        )
        self.prefix = non_empty_str("prefix", prefix)
        if self.cluster:
            check_cluster_prefix(self.prefix)

    def _owner(self, owner: tuple[str, str]) -> str:
        return f"{part(owner[0])}:{part(owner[1])}"

    def _keys(self, owner: tuple[str, str], run_id: str) -> tuple[str, str, str]:
        """The run's sorted set and hash, and the owner's run set."""
        o = self._owner(owner)
        if self.cluster:
            tag = f"{self.prefix}{{{o}}}:"
            return (f"{tag}r:{run_id}", f"{tag}d:{run_id}", f"{tag}runs")
        return (
            f"{self.prefix}r:{o}:{run_id}",
            f"{self.prefix}d:{o}:{run_id}",
            f"{self.prefix}runs:{o}",
        )

    def _seq(self, owner: tuple[str, str]) -> str:
        """The save-order counter (the owner's own on a cluster)."""
        if self.cluster:
            return f"{self.prefix}{{{self._owner(owner)}}}:seq"
        return f"{self.prefix}seq"

    @gated
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
        blob = pack_checkpoint(
            {
                "run_id": run_id,
                "checkpoint_id": checkpoint_id,
                "tenant": owner[0],
                "user": owner[1],
                "state_type": state_type,
                "metadata": metadata,
                "parent_id": parent_id,
                "created_at": created_at,
            },
            raw,
        )
        with self._errors():
            await self._script("save", CHECKPOINT_SAVE)(
                keys=[self._seq(owner), zkey, hkey, runs], args=[checkpoint_id, blob, run_id]
            )

    @gated
    async def _load(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> Checkpoint | None:
        zkey, hkey, _ = self._keys(owner, run_id)
        with self._errors():
            blob = await self._script("load", CHECKPOINT_LOAD)(
                keys=[zkey, hkey], args=[checkpoint_id or ""]
            )
        return None if not blob else unpack_checkpoint(blob)

    @gated
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
        return [(float(score), run_id, text(m)) for m, score in rows]

    @gated
    async def _runs(self, owner: tuple[str, str]) -> list[str]:
        with self._errors():
            members = await self.client.smembers(self._keys(owner, "")[2])
        return sorted(text(m) for m in members)

    @gated
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
        return [unpack_checkpoint(blobs[(r, cid)]) for _, r, cid in entries if (r, cid) in blobs]

    @gated
    async def _delete(self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None) -> int:
        zkey, hkey, runs = self._keys(owner, run_id)
        with self._errors():
            if checkpoint_id is not None:
                n = await self._script("del1", CHECKPOINT_DELETE_ONE)(
                    keys=[zkey, hkey, runs], args=[checkpoint_id, run_id]
                )
            else:
                n = await self._script("delrun", CHECKPOINT_DELETE_RUN)(
                    keys=[zkey, hkey, runs], args=[run_id]
                )
        return int(n)

    @gated
    async def _owners(self) -> list[tuple[str, str]]:
        head, tail = f"{self.prefix}runs:".encode(), b""
        if self.cluster:
            head, tail = f"{self.prefix}{{".encode(), b"}:runs"
        owners = set()
        with self._errors():
            async for key in self.client.scan_iter(
                match=_glob_escape(head) + b"*" + tail,
                count=500,
                _type="set" if self.cluster else None,
            ):
                raw = bytes(key)
                if not raw.endswith(tail):
                    continue
                parsed = _parse_owner(raw[len(head) : len(raw) - len(tail)])
                if parsed is not None:
                    owners.add(parsed)
        return sorted(owners)

    @gated
    async def _delete_user(self, owner: tuple[str, str]) -> int:
        n = 0
        for r in await self._runs(owner):
            n += await self._delete(owner, r, None)
        return n


def _glob_escape(raw: bytes) -> bytes:
    """``raw`` with Redis glob metacharacters escaped (a prefix may contain them)."""
    out = bytearray()
    for b in raw:
        if b in b"*?[]\\":
            out += b"\\"
        out.append(b)
    return bytes(out)


def _parse_owner(rest: bytes) -> tuple[str, str] | None:
    """``(tenant, user)`` from ``<byte length>:<tenant>:<byte length>:<user>`` (None when the
    key is not one of ours)."""
    parts: list[str] = []
    for _ in range(2):
        head, sep, tail = rest.partition(b":")
        if not sep or not head.isdigit():
            return None
        n = int(head)
        if len(tail) < n:
            return None
        parts.append(tail[:n].decode("utf-8", "replace"))
        rest = tail[n:]
        if len(parts) == 1:
            if rest[:1] != b":":
                return None
            rest = rest[1:]
    return (parts[0], parts[1]) if not rest else None
