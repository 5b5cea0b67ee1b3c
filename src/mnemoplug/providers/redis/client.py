"""The client layer of all three Redis stores (memories, sessions, checkpoints).

:class:`RedisClientMixin` gives a store:

* its URL checked (``redis://``, ``rediss://`` for TLS, ``unix://`` for a socket) and its
  connection options validated when the store is built, without any network (a bad option is a
  :class:`~mnemoplug.core.errors.ConfigurationError`); ``url`` keeps the password hidden;
* a lazy client on a bounded pool (``max_connections``, ``pool_timeout``), with
  ``socket_timeout``/``socket_connect_timeout`` (5 s each) and ``retries`` quick retries, or the
  ``client=`` a caller passes (never closed by the store);
* with ``cluster=True`` (or a ``redis.asyncio.cluster.RedisCluster`` passed as ``client=``), a
  Redis Cluster client instead: ``url`` names any node (``redis://`` or ``rediss://``, database
  0), the client discovers the others and routes each command to the node of its key's slot
  (``max_connections`` is then per node; ``pool_timeout`` does not apply); the store then keeps
  every transaction and script within one hash-tagged slot (see each store's key layout). The
  cluster client's pools do not wait for a free connection (they raise), so there the store lets
  at most ``max_connections // 2`` operations run at once (:func:`gated`; an operation holds at
  most two connections to a node) and the others wait;
* a new client when ``asyncio.run`` started another event loop (connections belong to one);
* Lua scripts registered once per client (:meth:`RedisClientMixin._script`);
* errors typed (:meth:`RedisClientMixin._errors`): connection failures and timeouts become
  :class:`~mnemoplug.core.errors.ProviderUnavailableError` naming the server, other Redis
  errors :class:`~mnemoplug.core.errors.ProviderError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import random
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from ...core.errors import (
    ConfigurationError,
    MnemoplugError,
    ProviderError,
    ProviderUnavailableError,
)
from ...core.urls import redact_url
from .._deps import import_optional
from .._options import non_negative_int, positive_int, positive_seconds, split_url

__all__ = ["DEFAULT_URL", "SCHEMES", "RedisClientMixin", "gated", "import_redis"]

DEFAULT_URL = "redis://localhost:6379/0"
SCHEMES = ("redis", "rediss", "unix")
_WATCH_RETRIES = 50
_USE = "redis://host:6379/0, rediss://host:6380/0 (TLS) or unix:///path/to/redis.sock?db=0"
_USE_CLUSTER = "redis://host:6379 or rediss://host:6380 (TLS): any node of the cluster"


_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound="RedisClientMixin")
_inside: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "mnemoplug_redis_gates", default=frozenset()
)


def gated(
    fn: Callable[Concatenate[_S, _P], Awaitable[_R]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _R]]:
    """A store operation that, on a cluster, waits for one of the store's
    ``max_connections // 2`` operation slots (re-entrant: an operation calling another holds
    one slot)."""

    @functools.wraps(fn)
    async def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        inside = _inside.get()
        if not self.cluster or id(self) in inside:
            return await fn(self, *args, **kwargs)
        async with self._operation_slots():
            token = _inside.set(inside | {id(self)})
            try:
                return await fn(self, *args, **kwargs)
            finally:
                _inside.reset(token)

    return run


def import_redis(feature: str) -> Any:
    """The ``redis`` package with its asyncio client, retry and exception modules loaded, or
    MissingDependencyError naming the ``redis`` extra."""
    for module in (
        "redis.asyncio",
        "redis.asyncio.cluster",
        "redis.asyncio.retry",
        "redis.backoff",
        "redis.exceptions",
    ):
        import_optional(module, feature=feature, extra="redis", package="redis")
    return importlib.import_module("redis")


class RedisClientMixin:
    """Client, pool, event-loop tracking, scripts and error mapping of a Redis store (see the
    module docstring). Stores call :meth:`_init_client` from their constructor."""

    url: str
    name: ClassVar[str]
    cluster: bool = False

    def _init_client(
        self,
        url: str,
        *,
        feature: str,
        client: Any = None,
        cluster: bool = False,
        max_connections: int = 32,
        socket_timeout: float = 5.0,
        socket_connect_timeout: float = 5.0,
        pool_timeout: float = 10.0,
        retries: int = 1,
        **options: Any,
    ) -> None:
        self._redis = import_redis(feature)  # checked when the store is built
        if not isinstance(cluster, bool):
            raise ConfigurationError(f"cluster must be True or False, got {cluster!r}")
        self.cluster = cluster or isinstance(client, self._redis.asyncio.cluster.RedisCluster)
        if self.cluster and client is None:
            parts = split_url(url, SCHEMES[:2], "Redis Cluster", _USE_CLUSTER)
            if parts.path.strip("/") not in ("", "0"):
                raise ConfigurationError(
                    f"a Redis Cluster has database 0 only, got {redact_url(url)!r}; "
                    f"use {_USE_CLUSTER} (and a key prefix to share it)"
                )
        else:
            split_url(url, SCHEMES, "Redis", _USE)
        self._raw_url = url
        self.url = redact_url(url)
        self.max_connections = positive_int("max_connections", max_connections)
        self.socket_timeout = positive_seconds("socket_timeout", socket_timeout)
        self.socket_connect_timeout = positive_seconds(
            "socket_connect_timeout", socket_connect_timeout
        )
        self.pool_timeout = positive_seconds("pool_timeout", pool_timeout)
        self.retries = non_negative_int("retries", retries)
        if self.cluster and self.max_connections < 2:
            raise ConfigurationError(
                f"on a Redis Cluster max_connections must be at least 2 (an operation may hold "
                f"two connections to a node), got {self.max_connections}"
            )
        self._slots: asyncio.Semaphore | None = None
        if "decode_responses" in options:
            raise ConfigurationError(
                "the Redis stores decode replies themselves; leave decode_responses out"
            )
        self._options = options
        self._client = client
        self._owns_client = client is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts: dict[str, Any] = {}
        if client is None:
            exc_mod = self._redis.exceptions
            try:  # validate the URL and options now (no network): ports, db numbers, keywords
                if self.cluster:
                    self._client = self._make_cluster_client()  # connects on first command
                else:
                    pool = self._make_pool()
                    pool.connection_class(**pool.connection_kwargs)  # not connected yet
            except (ValueError, TypeError, exc_mod.RedisClusterException) as exc:
                raise ConfigurationError(f"bad Redis URL or option for {self.url}: {exc}") from exc

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

    def _make_cluster_client(self) -> Any:
        r = self._redis
        retry = r.asyncio.retry.Retry(
            r.backoff.ExponentialBackoff(cap=0.5, base=0.05), self.retries
        )
        return r.asyncio.cluster.RedisCluster.from_url(
            self._raw_url,
            max_connections=self.max_connections,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_connect_timeout,
            retry=retry,
            decode_responses=False,
            **self._options,
        )

    # -- the client ------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The ``redis.asyncio.Redis`` (or ``RedisCluster``) client (made on first use, and
        again in a new loop)."""
        self._check_loop()
        if self._client is None:
            if self.cluster:
                self._client = self._make_cluster_client()
            else:
                self._client = self._redis.asyncio.Redis(connection_pool=self._make_pool())
        return self._client

    async def _c(self) -> Any:
        """The client, ready for commands (the memory store first checks its schema)."""
        return self.client

    def _check_loop(self) -> None:
        """Connections belong to one event loop: after ``asyncio.run`` started a new one,
        forget the old client (its loop is gone) and connect again."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._loop is not loop:
            if self._loop is not None:
                self._forget_client()
            self._loop = loop

    def _forget_client(self) -> None:
        """Drop what belongs to a finished event loop (stores extend it)."""
        if self._owns_client:
            self._client = None
        self._scripts = {}
        self._slots = None

    def _operation_slots(self) -> asyncio.Semaphore:
        """The cluster operation slots of the current event loop (see :func:`gated`)."""
        self._check_loop()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections // 2)
        return self._slots

    def _script(self, name: str, body: str) -> Any:
        """The Lua script ``body`` registered on the current client (once per client)."""
        client = self.client
        s = self._scripts.get(name)
        if s is None or s.registered_client is not client:
            s = self._scripts[name] = client.register_script(body)
        return s

    async def _watched(self, keys: Sequence[str], body: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``body(pipe)`` with ``keys`` WATCHed (optimistic locking: ``body`` reads, then
        queues its writes after ``pipe.multi()``); retry when another client changed them."""
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

    async def close(self) -> None:
        """Close the client's connections (a client passed in is left open); the store
        connects again on next use."""
        self._scripts = {}
        client = self._client
        if client is None or not self._owns_client:
            return
        self._client = None
        with contextlib.suppress(Exception):
            if self.cluster:
                await client.aclose()
            else:
                await client.aclose(close_connection_pool=True)

    # -- errors ----------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> ProviderUnavailableError:
        reason = (str(exc) or type(exc).__name__).rstrip(".")
        return ProviderUnavailableError(
            f"Redis at {self.url} is not reachable: {reason}. Check that the Redis server"
            f" is running and reachable at that URL, or raise the timeouts "
            f"(socket_connect_timeout={self.socket_connect_timeout:g}s, "
            f"socket_timeout={self.socket_timeout:g}s). The failed call may not have been "
            f"applied; retry it once the server is back.",
            provider=self.name,
            url=self.url,
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Connection failures and timeouts (and a cluster that is down or unreachable) as
        ProviderUnavailableError, other Redis errors as ProviderError; WatchError (optimistic
        locking) and mnemoplug's own errors pass."""
        exc_mod = self._redis.exceptions
        try:
            yield
        except (exc_mod.WatchError, MnemoplugError):
            raise
        except (exc_mod.ConnectionError, exc_mod.TimeoutError, OSError, TimeoutError) as exc:
            raise self._unavailable(exc) from exc
        except (exc_mod.RedisError, exc_mod.RedisClusterException) as exc:
            if isinstance(exc, exc_mod.ClusterDownError) or type(exc).__name__ in (
                "RedisClusterUnreachableError",
                "SlotNotCoveredError",
            ):
                raise self._unavailable(exc) from exc
            raise ProviderError(
                f"Redis at {self.url} failed: {exc}", provider=self.name, url=self.url
            ) from exc
