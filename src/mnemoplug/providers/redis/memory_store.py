"""Redis long-term store through redis-py's asyncio client (``pip install "mnemoplug[redis]"``).

``Memory.from_url("redis://localhost:6379/0")``, ``create_memory("redis", url=...)`` or
``RedisMemoryStore(url, prefix="mnemoplug", max_connections=32, socket_timeout=5.0)``, and on a
Redis Cluster ``RedisMemoryStore("redis://any-node:6379", cluster=True)``.

The key layout is in :mod:`.keys`, value encodings in :mod:`.codec`, the Lua loaders in
:mod:`.scripts`, and the client, pool, timeouts and error mapping (shared with the session and
checkpoint stores) in :mod:`.client`. A user's memories load in one round trip: a Lua script
reads the generation, the id set and every hash atomically.

Every write changes a memory's hash, its index entries and its user's generation in one Lua
script (insert, upsert: :data:`~.scripts.STORE_USER`) or MULTI/EXEC transaction over that user's
keys, which share one Redis Cluster slot (the hash tag
in :mod:`.keys`); conditional writes (update, delete, delete_all, purge) WATCH what they read
first and retry when someone else changed it. A write of several users' memories is one script
per user. The store-wide set of users is kept by single commands of its own, in an
order that loses nothing on a crash between them: a user is added before their first write (and
again after a write that started their counter, in case an erasure of the same user removed them
meanwhile), and removed only after their erasure (a crash in between leaves a member with no
memories, which ``list_users`` skips and the next erasure removes). Schema 1 stores (before the
hash tags) are migrated on open (:mod:`.migration`). Redis here has no vector module, so search
ranks in process: each recently used user's memories sit in a
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
from collections.abc import AsyncIterator, Sequence
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
from .client import DEFAULT_URL, RedisClientMixin, gated
from .codec import decode_memories, decode_memory, encode_memory, memory_json, text
from .keys import MemoryKeys, UserKey, check_cluster_prefix, member, parse_member
from .migration import migrate_to_hash_tags
from .scripts import LOAD_KEYS, LOAD_USER, STORE_USER
from .user_registry import UserRegistry

__all__ = ["RedisMemoryStore", "check_expiry_score"]

SCHEMA_VERSION = 2  # 1: before the hash-tagged keys (migrated on open)
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
        cluster: connect to a Redis Cluster (``url`` names any node; see
            :mod:`~mnemoplug.providers.redis.client`).
        max_connections: size of this provider's connection pool (per node on a cluster).
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
        cluster: bool = False,
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
            cluster=cluster,
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
        if self.cluster:
            check_cluster_prefix(prefix)
        self.prefix = prefix
        self.keys = MemoryKeys(prefix)
        self._registry = UserRegistry(self.keys, cluster=self.cluster)
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

    @gated
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
                    if schema == 1:
                        await migrate_to_hash_tags(
                            client, self.keys, cluster=self.cluster, where=repr(self)
                        )
                        schema = 2
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

    @gated
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
    @gated
    async def _load_ids(self, c: Any, key: UserKey, ids: Sequence[str]) -> list[StoredMemory]:
        """The user's memories of ``ids`` that exist (the others are skipped)."""
        out: list[StoredMemory] = []
        for i in range(0, len(ids), _CHUNK):
            flat = await self._script("keys", LOAD_KEYS)(
                keys=[self.keys.memory(key, mid) for mid in ids[i : i + _CHUNK]]
            )
            out.extend(m for m in decode_memories(flat) if (m.tenant_id, m.user_id) == key)
        return out

    @gated
    async def _index(self, key: UserKey) -> UserIndex | None:
        """The user's cached index, reloaded when the generation moved (None: no memories)."""
        c = await self._c()
        gen_key, ids_key = self.keys.user(key, "gen"), self.keys.user(key, "ids")
        with self._errors():
            async with c.pipeline(transaction=False) as pipe:  # two slots on a cluster
                raw, epoch = await pipe.get(gen_key).get(self.keys.epoch).execute()
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
                keys=[gen_key, ids_key], args=[self.keys.memory_prefix(key)]
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
    async def _store_user(
        self, c: Any, key: UserKey, memories: Sequence[StoredMemory], *, replace: bool
    ) -> tuple[bool, int]:
        """Write one user's ``memories``, their index entries and the user's generation in one
        Lua script (:data:`~.scripts.STORE_USER`; on a single server the store-wide indexes
        too); whether it started the user's counter, and the new generation."""
        keys = [self.keys.user(key, what) for what in ("gen", "ids", "exp")]
        if not self.cluster:
            keys += [self.keys.users, self.keys.due]
        keys += [self.keys.memory(key, m.id) for m in memories]
        args: list[Any] = [
            "1" if replace else "0",
            0 if self.cluster else 2,
            first_generation() - 1,  # the INCR makes it the first
            member(key),
        ]
        for m in memories:
            fields = encode_memory(m)
            expiry = "" if m.expires_at is None else repr(float(m.expires_at))
            args += [m.id, fields["j"], fields.get("e", b""), expiry]
        started, gen = await self._script("store", STORE_USER)(keys=keys, args=args)
        return bool(started), int(gen)

    @gated
    async def _store(
        self, memories: Sequence[StoredMemory], *, replace: bool
    ) -> dict[UserKey, int]:
        """Write ``memories``, one script per user; return each user's new generation."""
        users: dict[UserKey, list[StoredMemory]] = {}
        for m in memories:
            check_expiry_score(m.expires_at)
            users.setdefault((m.tenant_id, m.user_id), []).append(m)
        earliest = {
            key: min((m.expires_at for m in ms if m.expires_at is not None), default=None)
            for key, ms in users.items()
        }
        c = await self._c()
        gens: dict[UserKey, int] = {}
        started: list[UserKey] = []
        with self._errors():
            await self._registry.before(c, earliest)
            for key, ms in users.items():
                new_counter, gens[key] = await self._store_user(c, key, ms, replace=replace)
                if new_counter:
                    started.append(key)
            await self._registry.after(c, started, earliest)
        return gens

    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        gens = await self._store(memories, replace=False)
        self._cache.after_write(gens, add_inserted(memories))

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        """Insert or replace (by id, within the memory's user: ids are per user here)."""
        if not memories:
            return
        memories = list({(m.tenant_id, m.user_id, m.id): m for m in memories}.values())
        for key in await self._store(memories, replace=True):
            self._cache.drop(key)

    @gated
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
        mkey = self.keys.memory(scope.user_key, memory_id)
        exp_key = self.keys.user(scope.user_key, "exp")
        sets_expiry = expires_at is not ... and expires_at is not None
        due = {scope.user_key: expires_at} if sets_expiry else {}
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
            self._registry.queue(pipe, due)
            pipe.hset(mkey, "j", memory_json(new))
            if changes.sets_content:
                if new.embedding is None:
                    pipe.hdel(mkey, "e")
                else:
                    pipe.hset(mkey, "e", vector_bytes(new.embedding))
            if changes.sets_expiry:
                if new.expires_at is None:
                    pipe.zrem(exp_key, memory_id)
                else:
                    pipe.zadd(exp_key, {memory_id: new.expires_at})
            pipe.incr(self.keys.user(scope.user_key, "gen"))
            res = await pipe.execute()
            return new, int(res[-1])

        if sets_expiry:
            with self._errors():
                await self._registry.before(await self._c(), due)
        done: tuple[StoredMemory, int] | None = await self._watched([mkey], body)
        if done is None:
            return None
        if sets_expiry:
            with self._errors():
                await self._registry.after(await self._c(), (), due)
        new, gen = done
        self._cache.after_write({scope.user_key: gen}, lambda key, idx: idx.upsert(new))
        return new

    @gated
    async def delete(self, scope: Scope, memory_id: str) -> bool:
        mkey = self.keys.memory(scope.user_key, memory_id)

        async def body(pipe: Any) -> int | None:
            m = decode_memory(await pipe.hget(mkey, "j"))
            if m is None or not scope.owns(m):
                return None
            pipe.multi()
            pipe.delete(mkey)
            pipe.srem(self.keys.user(scope.user_key, "ids"), memory_id)
            pipe.zrem(self.keys.user(scope.user_key, "exp"), memory_id)
            pipe.incr(self.keys.user(scope.user_key, "gen"))
            res = await pipe.execute()
            return int(res[-1])

        gen = await self._watched([mkey], body)
        if gen is None:
            return False
        self._cache.after_write({scope.user_key: gen}, lambda key, idx: idx.remove(memory_id))
        return True

    @gated
    async def delete_all(self, scope: Scope) -> int:
        key = scope.user_key
        gen_key, ids_key = self.keys.user(key, "gen"), self.keys.user(key, "ids")
        exp_key = self.keys.user(key, "exp")
        narrowed = scope.agent_id is not None or scope.session_id is not None

        async def body(pipe: Any) -> int:
            ids = sorted(text(m) for m in await pipe.smembers(ids_key))
            if not ids:
                if not narrowed:  # erasure: no key may keep the user id
                    pipe.multi()
                    pipe.delete(gen_key, exp_key)
                    await pipe.execute()
                return 0
            doomed = ids
            if narrowed:
                doomed = sorted(
                    m.id for m in await self._load_ids(await self._c(), key, ids) if scope.owns(m)
                )
                if not doomed:
                    return 0
            pipe.multi()
            for i in range(0, len(doomed), _CHUNK):
                chunk = doomed[i : i + _CHUNK]
                pipe.delete(*(self.keys.memory(key, mid) for mid in chunk))
                pipe.srem(ids_key, *chunk)
                pipe.zrem(exp_key, *chunk)
            if narrowed:
                pipe.incr(gen_key)
            else:  # erasure: the counter goes too (it starts afresh on the next write)
                pipe.delete(gen_key, exp_key)
            res = await pipe.execute()
            return sum(int(r) for r in res[0 : 3 * ((len(doomed) + _CHUNK - 1) // _CHUNK) : 3])

        n = await self._watched([gen_key, ids_key], body)
        if not narrowed:  # the user's entries go after their keys (see .user_registry)
            with self._errors():
                await self._registry.forget(await self._c(), key)
        self._cache.drop(key)
        return int(n)

    @gated
    async def purge_expired(self, now: float) -> int:
        c = await self._c()
        total = 0
        with self._errors():
            async for key in self._registry.due(c, now):
                total += await self._purge_user(c, key, now)
                await self._registry.settle(c, key)
        return total

    async def _purge_user(self, c: Any, key: UserKey, now: float) -> int:
        """Delete the user's memories expired by ``now``; how many."""
        exp_key, ids_key = self.keys.user(key, "exp"), self.keys.user(key, "ids")
        total = 0
        while True:
            with self._errors():
                raw = await c.zrangebyscore(exp_key, "-inf", now, start=0, num=500)
            ids = [text(r) for r in raw]
            if not ids:
                return total

            async def body(pipe: Any, ids: list[str] = ids) -> int:
                found = {m.id: m for m in await self._load_ids(c, key, ids)}
                pipe.multi()
                dead = 0
                for mid in ids:
                    m = found.get(mid)
                    if m is None or m.expires_at is None:  # gone, or un-expired meanwhile
                        pipe.zrem(exp_key, mid)
                        continue
                    if m.expires_at > now:  # expiry moved later meanwhile: fix its entry
                        pipe.zadd(exp_key, {mid: m.expires_at})
                        continue
                    pipe.delete(self.keys.memory(key, mid))
                    pipe.srem(ids_key, mid)
                    pipe.zrem(exp_key, mid)
                    dead += 1
                if dead:
                    pipe.incr(self.keys.user(key, "gen"))
                await pipe.execute()
                return dead

            dead = await self._watched([self.keys.memory(key, mid) for mid in ids], body)
            total += dead
            if dead:
                self._cache.drop(key)

    # -- reads -------------------------------------------------------------------------------
    @gated
    async def get(self, scope: Scope, memory_id: str, now: float) -> StoredMemory | None:
        c = await self._c()
        with self._errors():
            m = decode_memory(*await c.hmget(self.keys.memory(scope.user_key, memory_id), "j", "e"))
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

    @gated
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
                batch = await self._load_ids(c, key, ids[i : i + batch_size])
            if batch:
                yield batch

    # -- helpers for tests and operators -----------------------------------------------------
    @gated
    async def drop_all_keys(self) -> int:
        """Delete this store's keys (every user's memories!) and return how many keys went.

        Only the key families listed in :mod:`.keys` are touched, so session or
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
            for single in self.keys.singles():  # one by one: they lie in several slots
                n += int(await c.unlink(single))
        self._cache.clear()
        self._embedder_checked = None
        return n

    def __repr__(self) -> str:
        return f"RedisMemoryStore({self.url!r}, prefix={self.prefix!r})"
