"""Redis long-term store through redis-py's asyncio client (``pip install "mnemoplug[redis]"``).

``Memory.from_url("redis://localhost:6379/0")``, ``create_memory("redis", url=...)`` or
``RedisMemoryStore(url, prefix="mnemoplug", max_connections=32, socket_timeout=5.0)``.

Keys (``P`` is the prefix; tenant and user ids are percent-encoded, so ``:`` in them is safe)::

    P:meta                 hash: schema version, embedder name and dimension
    P:m:<id>               hash: ``j`` = the memory as JSON (ids, content, metadata, times),
                           ``e`` = its embedding as float32 bytes (absent without one)
    P:u:<tenant>:<user>:ids   set of the user's memory ids (the per-scope index)
    P:u:<tenant>:<user>:gen   the user's generation counter, INCR-ed by every write to the user
    P:users                set of ``<tenant>:<user>`` that ever held memories
    P:exp                  sorted set: memory id -> expires_at (for purge_expired)
    P:epoch                random token; a new one (after FLUSHDB, or a restart without
                           persistence) tells cached providers that generations restarted

A user's memories load in one round trip: a Lua script reads the generation, the id set and
every hash atomically (parsing thousands of pipelined replies costs redis-py far more than the
data itself).

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
import contextlib
import json
import os
import random
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from ...core.errors import (
    ConfigurationError,
    EmbedderMismatchError,
    MissingDependencyError,
    MnemoplugError,
    ProviderError,
    ProviderUnavailableError,
)
from ...core.filters import Filter
from ...core.records import Scope, StoredMemory
from ...core.retrieval import ScoredMemory, SearchRequest, UserIndex, UserIndexCache
from ...core.stores import MemoryStore
from ...core.urls import redact_url

__all__ = ["RedisMemoryStore"]

SCHEMA_VERSION = 1
DEFAULT_URL = "redis://localhost:6379/0"
_WATCH_RETRIES = 50
_CHUNK = 1000
UserKey = tuple[str, str]


def _import_redis() -> Any:
    try:
        import redis
        import redis.asyncio
        import redis.asyncio.retry
        import redis.backoff
        import redis.exceptions
    except ImportError as exc:
        raise MissingDependencyError("the Redis provider", "redis", "redis") from exc
    return redis


def _json(m: StoredMemory) -> str:
    d: dict[str, Any] = {
        "id": m.id,
        "t": m.tenant_id,
        "u": m.user_id,
        "c": m.content,
        "md": m.metadata,
        "ca": float(m.created_at),
        "ua": float(m.updated_at),
    }
    if m.agent_id is not None:
        d["a"] = m.agent_id
    if m.session_id is not None:
        d["s"] = m.session_id
    if m.role is not None:
        d["r"] = m.role
    if m.expires_at is not None:
        d["ea"] = float(m.expires_at)
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def _vec_bytes(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.asarray(v, dtype=np.float32).tobytes()


def _encode(m: StoredMemory) -> dict[str, Any]:
    d: dict[str, Any] = {"j": _json(m)}
    e = _vec_bytes(m.embedding)
    if e is not None:
        d["e"] = e
    return d


def _decode(j: bytes | str | None, e: bytes | None = None) -> StoredMemory | None:
    """A memory from its hash fields (None when the hash is missing or not ours)."""
    if not j:
        return None
    try:
        d = json.loads(j)
        return StoredMemory(
            id=d["id"],
            tenant_id=d.get("t", ""),
            user_id=d["u"],
            agent_id=d.get("a"),
            session_id=d.get("s"),
            role=d.get("r"),
            content=d["c"],
            metadata=d.get("md") or {},
            embedding=None if not e else np.frombuffer(e, dtype=np.float32).copy(),
            created_at=float(d["ca"]),
            updated_at=float(d["ua"]),
            expires_at=None if d.get("ea") is None else float(d["ea"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _unpack(flat: Sequence[bytes]) -> list[StoredMemory]:
    """Memories from the loader scripts' flat reply ``[j1, e1, j2, e2, ...]``."""
    out: list[StoredMemory] = []
    for i in range(0, len(flat) - 1, 2):
        m = _decode(flat[i], flat[i + 1])
        if m is not None:
            out.append(m)
    return out


# KEYS: gen, ids; ARGV: memory key prefix. Returns {} when the user has no generation, else
# {generation, json1, vector1, json2, vector2, ...} read atomically (one consistent snapshot).
# A flat reply parses faster in redis-py than one blob built by string concatenation in Lua.
_LOAD_USER = """
local gen = redis.call('GET', KEYS[1])
if not gen then return {} end
local ids = redis.call('SMEMBERS', KEYS[2])
local out = {gen}
local n = 1
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', ARGV[1] .. id, 'j', 'e')
  if v[1] then
    out[n + 1] = v[1]
    out[n + 2] = v[2] or ''
    n = n + 2
  end
end
return out
"""

# ARGV: memory key prefix, ids... Returns {json1, vector1, ...} of the memories that exist.
_LOAD_IDS = """
local out = {}
local n = 0
for i = 2, #ARGV do
  local v = redis.call('HMGET', ARGV[1] .. ARGV[i], 'j', 'e')
  if v[1] then
    out[n + 1] = v[1]
    out[n + 2] = v[2] or ''
    n = n + 2
  end
end
return out
"""


class RedisMemoryStore(MemoryStore):
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
        self._redis = _import_redis()
        raw = url or os.environ.get("MNEMOPLUG_REDIS_URL") or DEFAULT_URL
        if not isinstance(raw, str):
            raise ConfigurationError(f"Redis URL must be a string, got {type(raw).__name__}")
        scheme = raw.partition("://")[0].lower() if "://" in raw else ""
        if scheme not in ("redis", "rediss", "unix"):
            raise ConfigurationError(
                f"not a Redis URL: {redact_url(raw)!r}; use redis://host:6379/0, "
                f"rediss://host:6380/0 (TLS) or unix:///path/to/redis.sock?db=0"
            )
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ConfigurationError(
                f"Redis key prefix must be a non-empty string without spaces, got {prefix!r}"
            )
        for opt, val in (
            ("socket_timeout", socket_timeout),
            ("socket_connect_timeout", socket_connect_timeout),
            ("pool_timeout", pool_timeout),
        ):
            if not isinstance(val, int | float) or val <= 0:
                raise ConfigurationError(f"{opt} must be a positive number of seconds, got {val!r}")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ConfigurationError(
                f"max_connections must be a positive integer, got {max_connections!r}"
            )
        if not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"retries must be an integer >= 0, got {retries!r}")
        self._raw_url = raw
        self.url = redact_url(raw)
        self.prefix = prefix
        self.max_connections = max_connections
        self.socket_timeout = float(socket_timeout)
        self.socket_connect_timeout = float(socket_connect_timeout)
        self.pool_timeout = float(pool_timeout)
        self.retries = retries
        self.cache_max_records = cache_max_records
        self._options = options
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._epoch: bytes | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock = asyncio.Lock()
        self._cache = UserIndexCache(cache_max_records)
        self._embedder_checked: tuple[str, int] | None = None
        try:  # validate the URL now (no network): bad ports, db numbers, query options
            self._make_pool()
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"bad Redis URL or option for {self.url}: {exc}") from exc

    # -- keys --------------------------------------------------------------------------------
    def _mkey(self, memory_id: str) -> str:
        return f"{self.prefix}:m:{memory_id}"

    @staticmethod
    def _member(key: UserKey) -> str:
        return f"{quote(key[0], safe='')}:{quote(key[1], safe='')}"

    def _ukey(self, key: UserKey, what: str) -> str:
        return f"{self.prefix}:u:{self._member(key)}:{what}"

    @property
    def _users_key(self) -> str:
        return f"{self.prefix}:users"

    @property
    def _exp_key(self) -> str:
        return f"{self.prefix}:exp"

    @property
    def _epoch_key(self) -> str:
        return f"{self.prefix}:epoch"

    @property
    def _meta_key(self) -> str:
        return f"{self.prefix}:meta"

    # -- lifecycle ---------------------------------------------------------------------------
    def _make_pool(self) -> Any:
        r = self._redis
        retry = r.asyncio.retry.Retry(
            r.backoff.ExponentialBackoff(cap=0.5, base=0.05), self.retries
        )
        return r.asyncio.BlockingConnectionPool.from_url(
            self._raw_url,
            max_connections=self.max_connections,
            timeout=self.pool_timeout,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_connect_timeout,
            retry=retry,
            decode_responses=False,
            **self._options,
        )

    def _unavailable(self, exc: BaseException) -> ProviderUnavailableError:
        reason = (str(exc) or type(exc).__name__).rstrip(".")
        return ProviderUnavailableError(
            f"Redis at {self.url} is unavailable: {reason}. Check that "
            f"the Redis server is running and reachable at that URL, or raise the timeouts "
            f"(socket_connect_timeout={self.socket_connect_timeout:g}s, "
            f"socket_timeout={self.socket_timeout:g}s). The failed call may not have been "
            f"applied; retry it once the server is back.",
            provider=self.name,
            url=self.url,
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        exc_mod = self._redis.exceptions
        try:
            yield
        except (exc_mod.WatchError, MnemoplugError):
            raise
        except (exc_mod.ConnectionError, exc_mod.TimeoutError, OSError, TimeoutError) as exc:
            raise self._unavailable(exc) from exc
        except exc_mod.RedisError as exc:
            raise ProviderError(
                f"Redis at {self.url} failed: {exc}", provider=self.name, url=self.url
            ) from exc

    def _check_loop(self) -> None:
        """Connections belong to one event loop: after ``asyncio.run`` started a new one,
        forget the old pool (its loop is gone) and connect again."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                self._client = None
                self._scripts = {}
                self._cache.clear()
                self._open_lock = asyncio.Lock()
            self._loop = loop

    async def open(self) -> None:
        """Create the connection pool and check the server answers (idempotent)."""
        self._check_loop()
        if self._client is not None:
            return
        async with self._open_lock:
            if self._client is not None:
                return
            client = self._redis.asyncio.Redis(connection_pool=self._make_pool())
            try:
                with self._errors():
                    await client.ping()
                    await client.hsetnx(self._meta_key, "schema", str(SCHEMA_VERSION))
                    schema = int(await client.hget(self._meta_key, "schema") or SCHEMA_VERSION)
                if schema > SCHEMA_VERSION:
                    raise ConfigurationError(
                        f"Redis store {self.url} (prefix {self.prefix!r}) was written by a newer "
                        f"mnemoplug (schema {schema}, this one reads {SCHEMA_VERSION}); upgrade "
                        f"mnemoplug or use another prefix"
                    )
            except BaseException:
                with contextlib.suppress(Exception):
                    await client.aclose(close_connection_pool=True)
                raise
            self._scripts = {
                "user": client.register_script(_LOAD_USER),
                "ids": client.register_script(_LOAD_IDS),
            }
            self._client = client

    async def close(self) -> None:
        """Close the pool; the provider can be opened again."""
        client, self._client = self._client, None
        self._cache.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose(close_connection_pool=True)

    async def _c(self) -> Any:
        if self._client is None or self._loop is not asyncio.get_running_loop():
            await self.open()
        return self._client

    async def check_embedder(self, name: str, dimension: int) -> None:
        if self._embedder_checked == (name, dimension):
            return
        c = await self._c()
        value = json.dumps({"name": name, "dimension": dimension})
        with self._errors():
            if not await c.hsetnx(self._meta_key, "embedder", value):
                stored = json.loads(await c.hget(self._meta_key, "embedder") or b"{}")
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
            flat = await self._scripts["ids"](args=[f"{self.prefix}:m:", *ids[i : i + _CHUNK]])
            out.extend(_unpack(flat))
        return out

    async def _index(self, key: UserKey) -> UserIndex | None:
        """The user's cached index, reloaded when the generation moved (None: no memories)."""
        c = await self._c()
        gen_key, ids_key = self._ukey(key, "gen"), self._ukey(key, "ids")
        with self._errors():
            raw, epoch = await c.mget(gen_key, self._epoch_key)
            if epoch is None:  # a new or flushed database: mark it
                await c.set(self._epoch_key, secrets.token_hex(8), nx=True)
                epoch = await c.get(self._epoch_key)
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
            flat = await self._scripts["user"](keys=[gen_key, ids_key], args=[f"{self.prefix}:m:"])
        if not flat:
            self._cache.drop(key)
            return None
        gen = int(flat[0])
        idx = UserIndex(lexical=True)
        idx.extend(m for m in _unpack(flat[1:]) if (m.tenant_id, m.user_id) == key)
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
            mkey = self._mkey(m.id)
            if replace:
                pipe.delete(mkey)
            pipe.hset(mkey, mapping=_encode(m))
            users.setdefault((m.tenant_id, m.user_id), []).append(m.id)
            if m.expires_at is not None:
                expiring[m.id] = m.expires_at
            elif replace:
                pipe.zrem(self._exp_key, m.id)
        if expiring:
            pipe.zadd(self._exp_key, expiring)
        for key, ids in users.items():
            pipe.sadd(self._ukey(key, "ids"), *ids)
        pipe.sadd(self._users_key, *(self._member(k) for k in users))
        return list(users)

    async def insert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        c = await self._c()
        with self._errors():
            pipe = c.pipeline(transaction=True)
            users = self._queue_store(pipe, memories, replace=False)
            for key in users:
                pipe.incr(self._ukey(key, "gen"))
            res = await pipe.execute()
        gens = dict(zip(users, (int(g) for g in res[-len(users) :]), strict=True))

        def apply(key: UserKey, idx: UserIndex) -> None:
            idx.extend(m for m in memories if (m.tenant_id, m.user_id) == key)

        self._cache.after_write(gens, apply)

    async def _watched(self, keys: Sequence[str], body: Callable[[Any], Any]) -> Any:
        """Run ``body(pipe)`` with ``keys`` WATCHed; retry when another client changed them."""
        c = await self._c()
        exc_mod = self._redis.exceptions
        with self._errors():
            for attempt in range(_WATCH_RETRIES):
                async with c.pipeline(transaction=True) as pipe:
                    try:
                        if keys:
                            await pipe.watch(*keys)
                        return await body(pipe)
                    except exc_mod.WatchError:
                        pass
                if attempt >= 3:  # heavy contention: back off a little, with jitter
                    await asyncio.sleep(random.uniform(0, 0.001 * attempt))
        raise ProviderError(
            f"Redis at {self.url}: gave up after {_WATCH_RETRIES} conflicting concurrent "
            f"writes; try again",
            provider=self.name,
            url=self.url,
        )

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        if not memories:
            return
        memories = list({m.id: m for m in memories}.values())
        keys = [self._mkey(m.id) for m in memories]

        async def body(pipe: Any) -> set[UserKey]:
            c = await self._c()
            olds = await self._load_ids(c, [m.id for m in memories])
            touched: set[UserKey] = set()
            pipe.multi()
            new_owner = {m.id: (m.tenant_id, m.user_id) for m in memories}
            for old_m in olds:
                old = (old_m.tenant_id, old_m.user_id)
                if old != new_owner[old_m.id]:
                    pipe.srem(self._ukey(old, "ids"), old_m.id)
                touched.add(old)
            touched.update(self._queue_store(pipe, memories, replace=True))
            for key in touched:
                pipe.incr(self._ukey(key, "gen"))
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
        mkey = self._mkey(memory_id)

        async def body(pipe: Any) -> tuple[StoredMemory, int] | None:
            j, e = await pipe.hmget(mkey, "j", "e")
            m = _decode(j, e)
            if m is None or not scope.owns(m) or m.is_expired(updated_at):
                return None
            changes: dict[str, Any] = {"updated_at": updated_at}
            if content is not None:
                changes["content"], changes["embedding"] = content, embedding
            if metadata is not None:
                changes["metadata"] = metadata
            if expires_at is not ...:
                changes["expires_at"] = expires_at
            new = m.copy(**changes)
            pipe.multi()
            pipe.hset(mkey, "j", _json(new))
            if content is not None:
                if embedding is None:
                    pipe.hdel(mkey, "e")
                else:
                    pipe.hset(mkey, "e", _vec_bytes(embedding))
            if expires_at is not ...:
                if expires_at is None:
                    pipe.zrem(self._exp_key, memory_id)
                else:
                    pipe.zadd(self._exp_key, {memory_id: expires_at})
            pipe.incr(self._ukey(scope.user_key, "gen"))
            res = await pipe.execute()
            return new, int(res[-1])

        done = await self._watched([mkey], body)
        if done is None:
            return None
        new, gen = done
        self._cache.after_write({scope.user_key: gen}, lambda key, idx: idx.upsert(new))
        return new

    async def delete(self, scope: Scope, memory_id: str) -> bool:
        mkey = self._mkey(memory_id)

        async def body(pipe: Any) -> int | None:
            m = _decode(await pipe.hget(mkey, "j"))
            if m is None or not scope.owns(m):
                return None
            pipe.multi()
            pipe.delete(mkey)
            pipe.srem(self._ukey(scope.user_key, "ids"), memory_id)
            pipe.zrem(self._exp_key, memory_id)
            pipe.incr(self._ukey(scope.user_key, "gen"))
            res = await pipe.execute()
            return int(res[-1])

        gen = await self._watched([mkey], body)
        if gen is None:
            return False
        self._cache.after_write({scope.user_key: gen}, lambda key, idx: idx.remove(memory_id))
        return True

    async def delete_all(self, scope: Scope) -> int:
        key = scope.user_key
        gen_key, ids_key = self._ukey(key, "gen"), self._ukey(key, "ids")
        narrowed = scope.agent_id is not None or scope.session_id is not None

        async def body(pipe: Any) -> int:
            ids = sorted(m.decode() for m in await pipe.smembers(ids_key))
            if not ids:
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
                pipe.delete(*(self._mkey(mid) for mid in chunk))
                pipe.srem(ids_key, *chunk)
                pipe.zrem(self._exp_key, *chunk)
            if len(doomed) == len(ids):
                pipe.srem(self._users_key, self._member(key))
            pipe.incr(gen_key)
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
                raw = await c.zrangebyscore(self._exp_key, "-inf", now, start=0, num=500)
            ids = [r.decode() for r in raw]
            if not ids:
                return total
            keys = [self._mkey(mid) for mid in ids]

            async def body(pipe: Any, ids: list[str] = ids) -> tuple[int, set[UserKey]]:
                found = {m.id: m for m in await self._load_ids(c, ids)}
                pipe.multi()
                users: set[UserKey] = set()
                dead = 0
                for mid in ids:
                    m = found.get(mid)
                    if m is None or m.expires_at is None:  # gone, or un-expired meanwhile
                        pipe.zrem(self._exp_key, mid)
                        continue
                    if m.expires_at > now:  # expiry moved later meanwhile: fix its entry
                        pipe.zadd(self._exp_key, {mid: m.expires_at})
                        continue
                    key = (m.tenant_id, m.user_id)
                    users.add(key)
                    pipe.delete(self._mkey(mid))
                    pipe.srem(self._ukey(key, "ids"), mid)
                    pipe.zrem(self._exp_key, mid)
                    dead += 1
                for key in users:
                    pipe.incr(self._ukey(key, "gen"))
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
            m = _decode(*await c.hmget(self._mkey(memory_id), "j", "e"))
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
            members = sorted(m.decode() for m in await c.smembers(self._users_key))
            keys: list[UserKey] = []
            for mem in members:
                t, _, u = mem.partition(":")
                keys.append((unquote(t), unquote(u)))
            pipe = c.pipeline(transaction=False)
            for key in keys:
                pipe.scard(self._ukey(key, "ids"))
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
            ids = sorted(m.decode() for m in await c.smembers(self._ukey(key, "ids")))
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
            for family in ("m", "u"):
                batch: list[bytes] = []
                pattern = f"{_glob_escape(self.prefix)}:{family}:*"
                async for k in c.scan_iter(match=pattern, count=500):
                    batch.append(k)
                    if len(batch) >= 500:
                        n += int(await c.unlink(*batch))
                        batch = []
                if batch:
                    n += int(await c.unlink(*batch))
            n += int(
                await c.unlink(self._users_key, self._exp_key, self._meta_key, self._epoch_key)
            )
        self._cache.clear()
        self._embedder_checked = None
        return n

    def __repr__(self) -> str:
        return f"RedisMemoryStore({self.url!r}, prefix={self.prefix!r})"


def _glob_escape(s: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in s)
