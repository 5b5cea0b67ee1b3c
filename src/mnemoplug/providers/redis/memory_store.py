"""Redis long-term store through redis-py's asyncio client (``pip install "mnemoplug[redis]"``).

``Memory.from_url("redis://localhost:6379/0")``, ``create_memory("redis", url=...)`` or
``RedisMemoryStore(url, prefix="mnemoplug", max_connections=32, socket_timeout=5.0)``.

The key layout is in :mod:`.keys`, value encodings in :mod:`.codec`, the Lua loaders in
:mod:`.scripts`, and the client, pool, timeouts and error mapping (shared with the session and
checkpoint stores) in :mod:`.client`. A user's memories load in one round trip: a Lua script
reads the generation, the id set and every hash atomically.

Every write changes a memory's hash, its index entries and its user's generation in one
MULTI/EXEC transaction; conditional writes (update, delete, delete_all, upsert, purge) WATCH
what they read first and retry when someone else changed it. Redis here has no vector module,
so search ranks in process: each recently used user's memories sit in a
:class:`~mnemoplug.core.retrieval.UserIndex` (one contiguous float32 matrix plus an in-process
BM25 index), valid while the user's generation is unchanged. A provider applies its own write to
the cache when the generation advanced by exactly one, else it reloads, so writes of other
processes and other provider instances are seen on the next query.

Connection failures and timeouts become :class:`~mnemoplug.core.errors.ProviderUnavailableError`
naming the server and the URL (password hidden), within ``socket_connect_timeout`` /
``socket_timeout`` (5 s each by default) plus ``retries`` quick retries.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import math
import os
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import numpy as np

from ...core.errors import ConfigurationError, EmbedderMismatchError, MemoryValidationError
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex, UserIndexCache
from ...core.stores import MemoryStore
from .._changes import MemoryChanges, add_inserted
from .._codec import vector_bytes
from .._generations import first_generation
from .._options import positive_int
from .client import DEFAULT_URL, RedisClientMixin
from .codec import decode_memories, decode_memory, encode_memory, memory_json, text
from .keys import MemoryKeys, UserKey, member, parse_member
from .scripts import LOAD_IDS, LOAD_USER

__all__ = ["RedisMemoryStore", "check_expiry_score"]

SCHEMA_VERSION = 1
_CHUNK = 1000


def check_expiry_score(expires_at: float | None) -> None:
    """Refuse an expiry Redis would reject inside a transaction (ZADD of NaN or infinity):
    MULTI/EXEC does not roll back, so the other commands would already be applied."""
    if expires_at is not None and (
        isinstance(expires_at, bool)
        or not isinstance(expires_at, int | float)
        or not math.isfinite(expires_at)
    ):
        raise MemoryValidationError(
            f"expires_at must be finite epoch seconds or None, got {expires_at!r}; "
            f"nothing was stored"
        )


class RedisMemoryStore(RedisClientMixin, MemoryStore):
    """Memories in Redis, ranked in process with numpy (no Redis vector module needed).

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://…`` (TLS) or
            ``unix:///path/redis.sock?db=0``; default ``$MNEMOPLUG_REDIS_URL`` or
            ``redis://localhost:6379/0``.
        prefix: key prefix, so several stores (or apps) can share one database.
        max_connections: size of this provider's connection pool.
        pool_timeout: seconds a call waits for a free pooled connection.
        socket_timeout: seconds to wait for a reply before giving up.
        socket_connect_timeout: seconds to wait for a connection before giving up.
        retries: how many times a command is retried after a connection error (quickly).
        cache_max_records: memories kept in the in-process search cache (over all users).
        options: any other keyword of ``redis.asyncio.Connection`` (``password``, ``ssl_*``,
            ``client_name`` …).
    """

    name = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "mnemoplug",
        max_connections: int = 32,
        socket_timeout: float = 5.0,
        socket_connect_timeout: float = 5.0,
        pool_timeout: float = 10.0,
        retries: int = 1,
        cache_max_records: int = 500_000,
        **options: Any,
    ) -> None:
        raw = url or os.environ.get("MNEMOPLUG_REDIS_URL") or DEFAULT_URL
        self._init_client(
            raw,
            feature="the Redis provider",
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            pool_timeout=pool_timeout,
            retries=retries,
            **options,
        )
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ConfigurationError(
                f"Redis key prefix must be a non-empty string without spaces, got {prefix!r}"
            )
        self.prefix = prefix
        self.keys = MemoryKeys(prefix)
        self.cache_max_records = positive_int("cache_max_records", cache_max_records)
        self._ready = False  # the current client answered and the schema was checked
        self._epoch: bytes | None = None
        self._open_lock = asyncio.Lock()
        self._cache = UserIndexCache(cache_max_records)
        self._embedder_checked: tuple[str, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def _forget_client(self) -> None:
        super()._forget_client()
        self._ready = False
        self._cache.clear()
        self._open_lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect and check the server answers and the schema (idempotent)."""
        self._check_loop()
        if self._ready:
            return
        async with self._open_lock:
            if self._ready:
                return
            client = self.client
            try:
                with self._errors():
                    await client.ping()
                    await client.hsetnx(self.keys.meta, "schema", str(SCHEMA_VERSION))
                    schema = int(await client.hget(self.keys.meta, "schema") or SCHEMA_VERSION)
                if schema > SCHEMA_VERSION:
                    raise ConfigurationError(
                        f"Redis store {self.url} (prefix {self.prefix!r}) was written by a newer "
                        f"mnemoplug (schema {schema}, this one reads {SCHEMA_VERSION}); upgrade "
                        f"mnemoplug or use another prefix"
                    )
            except BaseException:
                await RedisClientMixin.close(self)
                raise
            self._ready = True

    async def close(self) -> None:
        """Close the pool; the provider can be opened again."""
        self._ready = False
        self._cache.clear()
        await RedisClientMixin.close(self)

    async def _c(self) -> Any:
        self._check_loop()
        if not self._ready:
            await self.open()
        return self.client

    async def check_embedder(self, name: str, dimension: int) -> None:
        if self._embedder_checked == (name, dimension):
            return
        c = await self._c()
        value = json.dumps({"name": name, "dimension": dimension})
        with self._errors():
            if not await c.hsetnx(self.keys.meta, "embedder", value):
                stored = json.loads(await c.hget(self.keys.meta, "embedder") or b"{}")
                if stored.get("name") != name or stored.get("dimension") != dimension:
                    raise EmbedderMismatchError(
                        f"Redis store {self.url} (prefix {self.prefix!r}) holds vectors "
                        f"from embedder {stored.get('name')!r} (dimension "
                        f"{stored.get('dimension')}), but this Memory uses {name!r} (dimension "
                        f"{dimension}). Use the same embedder, another prefix, or migrate the "
                        f"memories with migrate_memory()."
                    )
        self._embedder_checked = (name, dimension)

    # -- cache -------------------------------------------------------------------------------
    async def _load_ids(self, c: Any, ids: Sequence[str]) -> list[StoredMemory]:
        out: list[StoredMemory] = []
        for i in range(0, len(ids), _CHUNK):
            flat = await self._script("ids", LOAD_IDS)(
                args=[self.keys.memory_prefix, *ids[i : i + _CHUNK]]
            )
            out.extend(decode_memories(flat))
        return out

    async def _index(self, key: UserKey) -> UserIndex | None:
        """The user's cached index, reloaded when the generation moved (None: no memories)."""
        c = await self._c()
        gen_key, ids_key = self.keys.user(key, "gen"), self.keys.user(key, "ids")
        with self._errors():
            raw, epoch = await c.mget(gen_key, self.keys.epoch)
            if epoch is None:  # a new or flushed database: mark it
                await c.set(self.keys.epoch, secrets.token_hex(8), nx=True)
                epoch = await c.get(self.keys.epoch)
            if epoch != self._epoch:  # generations restarted: nothing cached can be trusted
                self._cache.clear()
                self._epoch = epoch
            if raw is None:
                self._cache.drop(key)
                return None
            cached = self._cache.get(key, int(raw))
            if cached is not None:
                return cached
            # one atomic read of the generation and every memory: consistent by construction
            flat = await self._script("user", LOAD_USER)(
                keys=[gen_key, ids_key], args=[self.keys.memory_prefix]
            )
        if not flat:
            self._cache.drop(key)
            return None
        gen = int(flat[0])
        idx = UserIndex(lexical=True)
        idx.extend(m for m in decode_memories(flat[1:]) if (m.tenant_id, m.user_id) == key)
        self._cache.put(key, gen, idx)
        return idx

    # -- writes ------------------------------------------------------------------------------
    def _queue_store(
        self, pipe: Any, memories: Sequence[StoredMemory], *, replace: bool
    ) -> list[UserKey]:
        """Queue the writes of ``memories`` and their index entries; return their users."""
        users: dict[UserKey, list[str]] = {}
        expiring: dict[str, float] = {}
        for m in memories:
            mkey = self.keys.memory(m.id)
            if replace:
                pipe.delete(mkey)
            pipe.hset(mkey, mapping=encode_memory(m))
            users.setdefault((m.tenant_id, m.user_id), []).append(m.id)
            if m.expires_at is not None:
                expiring[m.id] = m.expires_at
            elif replace:
                pipe.zrem(self.keys.expiry, m.id)
        if expiring:
            pipe.zadd(self.keys.expiry, expiring)
        for key, ids in users.items():
            pipe.sadd(self.keys.user(key, "ids"), *ids)
        pipe.sadd(self.keys.users, *(member(k) for k in users))
        return list(users)

    def _queue_first_generations(self, pipe: Any, users: Iterable[UserKey]) -> None:
        """A user's counter that does not exist (new, or forgotten) starts at
        :func:`first_generation`, so a forgotten user never matches a stale cache entry."""
        before_first = first_generation() - 1  # the INCR that follows makes it the first
        for key in users:
            pipe.set(self.keys.user(key, "gen"), before_first, nx=True)

    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        for m in memories:
            check_expiry_score(m.expires_at)
        c = await self._c()
        with self._errors():
            pipe = c.pipeline(transaction=True)
            users = self._queue_store(pipe, memories, replace=False)
            self._queue_first_generations(pipe, users)
            for key in users:
                pipe.incr(self.keys.user(key, "gen"))
            res = await pipe.execute()
        gens = dict(zip(users, (int(g) for g in res[-len(users) :]), strict=True))
        self._cache.after_write(gens, add_inserted(memories))

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        for m in memories:
            check_expiry_score(m.expires_at)
        memories = list({m.id: m for m in memories}.values())
        keys = [self.keys.memory(m.id) for m in memories]

        async def body(pipe: Any) -> set[UserKey]:
            c = await self._c()
            olds = await self._load_ids(c, [m.id for m in memories])
            touched: set[UserKey] = set()
            pipe.multi()
            new_owner = {m.id: (m.tenant_id, m.user_id) for m in memories}
            for old_m in olds:
                old = (old_m.tenant_id, old_m.user_id)
                if old != new_owner[old_m.id]:
                    pipe.srem(self.keys.user(old, "ids"), old_m.id)
                touched.add(old)
            touched.update(self._queue_store(pipe, memories, replace=True))
            self._queue_first_generations(pipe, touched)
            for key in touched:
                pipe.incr(self.keys.user(key, "gen"))
            await pipe.execute()
            return touched

        for key in await self._watched(keys, body):
            self._cache.drop(key)

    async def update(
        self,
        scope: Scope,
        memory_id: str,
        *,
        content: str | None,
        metadata: dict[str, Any] | None,
        embedding: np.ndarray | None,
        updated_at: float,
        expires_at: Any = ...,
    ) -> StoredMemory | None:
        if expires_at is not ...:
            check_expiry_score(expires_at)
        mkey = self.keys.memory(memory_id)
        changes = MemoryChanges.of(
            content=content,
            metadata=metadata,
            embedding=embedding,
            updated_at=updated_at,
            expires_at=expires_at,
        )

        async def body(pipe: Any) -> tuple[StoredMemory, int] | None:
            j, e = await pipe.hmget(mkey, "j", "e")
            m = decode_memory(j, e)
            if m is None or not scope.owns(m) or m.is_expired(changes.updated_at):
                return None
            new = changes.apply(m)
            pipe.multi()
            pipe.hset(mkey, "j", memory_json(new))
            if changes.sets_content:
                if new.embedding is None:
                    pipe.hdel(mkey, "e")
                else:
                    pipe.hset(mkey, "e", vector_bytes(new.embedding))
            if changes.sets_expiry:
                if new.expires_at is None:
                    pipe.zrem(self.keys.expiry, memory_id)
                else:
                    pipe.zadd(self.keys.expiry, {memory_id: new.expires_at})
            pipe.incr(self.keys.user(scope.user_key, "gen"))
            res = await pipe.execute()
            return new, int(res[-1])

        done: tuple[StoredMemory, int] | None = await self._watched([mkey], body)
        if done is None:
            return None
        new, gen = done
        self._cache.after_write({scope.user_key: gen}, lambda key, idx: idx.upsert(new))
        return new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        mkey = self.keys.memory(memory_id)

        async def body(pipe: Any) -> int | None:
            m = decode_memory(await pipe.hget(mkey, "j"))
            if m is None or not scope.owns(m):
                return None
            pipe.multi()
            pipe.delete(mkey)
            pipe.srem(self.keys.user(scope.user_key, "ids"), memory_id)
            pipe.zrem(self.keys.expiry, memory_id)
            pipe.incr(self.keys.user(scope.user_key, "gen"))
            res = await pipe.execute()
            return int(res[-1])

        gen = await self._watched([mkey], body)
        if gen is None:
            return False
        self._cache.after_write({scope.user_key: gen}, lambda key, idx: idx.remove(memory_id))
        return True

    async def delete_all(self, scope: Scope) -> int:
        key = scope.user_key
        gen_key, ids_key = self.keys.user(key, "gen"), self.keys.user(key, "ids")
        narrowed = scope.agent_id is not None or scope.session_id is not None

        async def body(pipe: Any) -> int:
            ids = sorted(text(m) for m in await pipe.smembers(ids_key))
            if not ids:
                if not narrowed:  # erasure: no key may keep the user id
                    pipe.multi()
                    pipe.delete(gen_key)
                    pipe.srem(self.keys.users, member(key))
                    await pipe.execute()
                return 0
            doomed = ids
            if narrowed:
                doomed = sorted(
                    m.id for m in await self._load_ids(await self._c(), ids) if scope.owns(m)
                )
                if not doomed:
                    return 0
            pipe.multi()
            for i in range(0, len(doomed), _CHUNK):
                chunk = doomed[i : i + _CHUNK]
                pipe.delete(*(self.keys.memory(mid) for mid in chunk))
                pipe.srem(ids_key, *chunk)
                pipe.zrem(self.keys.expiry, *chunk)
            if len(doomed) == len(ids):
                pipe.srem(self.keys.users, member(key))
            if narrowed:
                pipe.incr(gen_key)
            else:  # erasure: the counter goes too (it starts afresh on the next write)
                pipe.delete(gen_key)
            res = await pipe.execute()
            return sum(int(r) for r in res[0 : 3 * ((len(doomed) + _CHUNK - 1) // _CHUNK) : 3])

        n = await self._watched([gen_key, ids_key], body)
        self._cache.drop(key)
        return int(n)

    async def purge_expired(self, now: float) -> int:
        c = await self._c()
        total = 0
        while True:
            with self._errors():
                raw = await c.zrangebyscore(self.keys.expiry, "-inf", now, start=0, num=500)
            ids = [text(r) for r in raw]
            if not ids:
                return total
            keys = [self.keys.memory(mid) for mid in ids]

            async def body(pipe: Any, ids: list[str] = ids) -> tuple[int, set[UserKey]]:
                found = {m.id: m for m in await self._load_ids(c, ids)}
                pipe.multi()
                users: set[UserKey] = set()
                dead = 0
                for mid in ids:
                    m = found.get(mid)
                    if m is None or m.expires_at is None:  # gone, or un-expired meanwhile
                        pipe.zrem(self.keys.expiry, mid)
                        continue
                    if m.expires_at > now:  # expiry moved later meanwhile: fix its entry
                        pipe.zadd(self.keys.expiry, {mid: m.expires_at})
                        continue
                    key = (m.tenant_id, m.user_id)
                    users.add(key)
                    pipe.delete(self.keys.memory(mid))
                    pipe.srem(self.keys.user(key, "ids"), mid)
                    pipe.zrem(self.keys.expiry, mid)
                    dead += 1
                for key in users:
                    pipe.incr(self.keys.user(key, "gen"))
                await pipe.execute()
                return dead, users

            dead, users = await self._watched(keys, body)
            total += dead
            for key in users:
                self._cache.drop(key)

    # -- reads -------------------------------------------------------------------------------
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        c = await self._c()
        with self._errors():
            m = decode_memory(*await c.hmget(self.keys.memory(memory_id), "j", "e"))
        if m is None or not scope.owns(m) or m.is_expired(now):
            return None
        return m

    async def list(
        self, scope: Scope, *, limit: int, offset: int, filters: Filter, now: float
    ) -> list[StoredMemory]:
        idx = await self._index(scope.user_key)
        return [] if idx is None else idx.newest(scope, filters, now, limit, offset)

    async def count(self, scope: Scope, now: float) -> int:
        idx = await self._index(scope.user_key)
        return 0 if idx is None else int(idx.mask(scope, Filter(None), now).sum())

    async def search(self, scope: Scope, request: SearchRequest) -> builtins.list[ScoredMemory]:
        idx = await self._index(scope.user_key)
        return [] if idx is None else idx.search(scope, request)

    async def list_users(self) -> builtins.list[tuple[str, str]]:
        c = await self._c()
        with self._errors():
            members = sorted(text(m) for m in await c.smembers(self.keys.users))
            keys = [parse_member(mem) for mem in members]
            pipe = c.pipeline(transaction=False)
            for key in keys:
                pipe.scard(self.keys.user(key, "ids"))
            sizes = await pipe.execute() if keys else []
        return sorted(k for k, n in zip(keys, sizes, strict=True) if int(n) > 0)

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[builtins.list[StoredMemory]]:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        c = await self._c()
        key = (tenant_id, user_id)
        with self._errors():
            ids = sorted(text(m) for m in await c.smembers(self.keys.user(key, "ids")))
        for i in range(0, len(ids), batch_size):
            with self._errors():
                rows = await self._load_ids(c, ids[i : i + batch_size])
            batch = [m for m in rows if (m.tenant_id, m.user_id) == key]
            if batch:
                yield batch

    # -- helpers for tests and operators -----------------------------------------------------
    async def drop_all_keys(self) -> int:
        """Delete this store's keys (every user's memories!) and return how many keys went.

        Only the key families listed in the module docstring are touched, so session or
        checkpoint stores sharing the prefix's namespace (``mnemoplug:sess:``…) are left alone.
        """
        c = await self._c()
        n = 0
        with self._errors():
            for pattern in self.keys.families():
                batch: list[bytes] = []
                async for k in c.scan_iter(match=pattern, count=500):
                    batch.append(k)
                    if len(batch) >= 500:
                        n += int(await c.unlink(*batch))
                        batch = []
                if batch:
                    n += int(await c.unlink(*batch))
            n += int(
                await c.unlink(self.keys.users, self.keys.expiry, self.keys.meta, self.keys.epoch)
            )
        self._cache.clear()
        self._embedder_checked = None
        return n

    def __repr__(self) -> str:
        return f"RedisMemoryStore({self.url!r}, prefix={self.prefix!r})"
