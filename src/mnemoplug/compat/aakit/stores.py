"""AA Kit's in-process and Redis backends."""

from __future__ import annotations

from typing import Any

from ...core.errors import ConfigurationError
from .base import _StoreBackend


class InMemoryBackend(_StoreBackend):
    """Sessions in this process's memory (nothing persisted).

    Args:
        max_sessions: at most this many sessions; the least recently used is evicted.
        max_messages_per_session: keep the last N messages of each session.
        ttl: seconds after its last write that a session expires; None = never.
    """

    backend_name = "memory"

    def __init__(
        self,
        max_sessions: int = 1000,
        max_messages_per_session: int = 1000,
        ttl: int | None = None,
    ) -> None:
        from ...providers.inprocess import InMemorySessionMemory

        store = InMemorySessionMemory(
            max_sessions=max_sessions, max_messages_per_session=max_messages_per_session, ttl=ttl
        )
        super().__init__(
            store,
            {
                "max_sessions": max_sessions,
                "max_messages_per_session": max_messages_per_session,
                "ttl": ttl,
            },
        )


_SYNC_REDIS_KEYS = (
    "username",
    "password",
    "socket_timeout",
    "socket_connect_timeout",
    "health_check_interval",
    "client_name",
    "ssl_keyfile",
    "ssl_certfile",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_ca_data",
    "ssl_check_hostname",
)
_CLIENT_FIX = (
    "pass url='redis://host:6379/0' (with password=... etc. as keywords) or "
    "client=redis.asyncio.Redis(...)"
)


def _from_sync_redis(client: Any) -> tuple[str, dict[str, Any]]:
    """The URL and connection options of a synchronous ``redis.Redis``, for an async client
    of our own (the sync client is never used for I/O)."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        raise ConfigurationError(
            f"cannot read the connection settings of this {type(client).__name__}; {_CLIENT_FIX}"
        )
    if kwargs.get("credential_provider") is not None:
        raise ConfigurationError(
            "a synchronous redis.Redis with a credential_provider cannot be translated to an "
            f"async client; {_CLIENT_FIX}"
        )
    cls_name = type(pool).__name__ if pool is not None else ""
    conn_cls = getattr(getattr(pool, "connection_class", None), "__name__", "Connection")
    if "Sentinel" in cls_name or "Sentinel" in conn_cls:
        raise ConfigurationError(f"Sentinel-managed clients are not supported; {_CLIENT_FIX}")
    db = int(kwargs.get("db") or 0)
    if conn_cls == "UnixDomainSocketConnection":
        url = f"unix://{kwargs.get('path')}?db={db}"
    else:
        scheme = "rediss" if conn_cls == "SSLConnection" else "redis"
        host = kwargs.get("host") or "localhost"
        if ":" in str(host):  # IPv6 literal
            host = f"[{host}]"
        url = f"{scheme}://{host}:{int(kwargs.get('port') or 6379)}/{db}"
    options = {k: kwargs[k] for k in _SYNC_REDIS_KEYS if kwargs.get(k) is not None}
    if not (conn_cls == "SSLConnection"):
        options = {k: v for k, v in options.items() if not k.startswith("ssl_")}
    if kwargs.get("health_check_interval") == 0:
        options.pop("health_check_interval", None)
    max_conn = getattr(pool, "max_connections", None)
    if isinstance(max_conn, int) and 0 < max_conn < 2**31:
        options["max_connections"] = max_conn
    return url, options


class RedisBackend(_StoreBackend):
    """Sessions in Redis, shared by every process using the same server and ``prefix``.

    Args:
        client: an existing ``redis.asyncio.Redis`` (used as is, never closed by the backend)
            or a synchronous ``redis.Redis``, whose connection settings are copied into an
            async client this backend owns (see the module docstring).
        url: ``redis://host:6379/0`` (``rediss://`` for TLS); ignored with ``client``.
        prefix: key prefix of this backend's sessions.
        ttl: seconds a session lives after its last write; None = forever.
        max_messages: keep the last N messages of each session (trimmed atomically).
        compression: zlib-compress message payloads.
    """

    backend_name = "redis"

    def __init__(
        self,
        client: Any = None,
        url: str | None = None,
        prefix: str = "agentz:sessions:",
        ttl: int | None = 86400,
        max_messages: int = 1000,
        compression: bool = True,
    ) -> None:
        from ...providers.redis import RedisSessionMemory

        options: dict[str, Any] = {}
        target = url
        use_client: Any = None
        if client is not None:
            from ...providers.redis.client import import_redis

            redis = import_redis("RedisBackend")
            if isinstance(client, redis.asyncio.Redis):
                pool_kwargs = getattr(client.connection_pool, "connection_kwargs", {})
                if pool_kwargs.get("decode_responses"):
                    raise ConfigurationError(
                        "the redis.asyncio.Redis client has decode_responses=True; mnemoplug "
                        "decodes replies itself: pass a client made with decode_responses=False"
                    )
                use_client = client
            elif isinstance(client, redis.Redis):
                target, options = _from_sync_redis(client)
            else:
                raise ConfigurationError(
                    f"client must be a redis.asyncio.Redis or redis.Redis, got "
                    f"{type(client).__name__}; {_CLIENT_FIX}"
                )
        if target is None and use_client is None:
            target = "redis://localhost:6379/0"
        store = RedisSessionMemory(
            url=target or "redis://localhost:6379/0",
            prefix=prefix,
            ttl_seconds=ttl,
            max_messages=max_messages,
            compress=compression,
            client=use_client,
            **options,
        )
        super().__init__(
            store,
            {
                "url": store.url,
                "prefix": prefix,
                "ttl": ttl,
                "max_messages": max_messages,
                "compression": compression,
            },
        )
