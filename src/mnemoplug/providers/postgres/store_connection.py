"""The connection pool and error mapping of the PostgreSQL session and checkpoint stores: the
same as the memory store's (bounded connect and statement times, pings before use so the pool
recovers by itself once the server is back, errors typed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._options import positive_int, positive_seconds
from .errors import PostgresErrors
from .url import driver_url, import_asyncpg, pooled_engine, shown_url

__all__ = ["StoreConnection"]


class StoreConnection:
    """What a session or checkpoint store needs to reach PostgreSQL: the URL shown in
    messages, an engine factory and the error mapping."""

    def __init__(
        self,
        url: str | None,
        *,
        name: str,
        pool_size: Any,
        connect_timeout: Any,
        command_timeout: Any,
        application_name: str,
    ) -> None:
        import_asyncpg("PostgreSQL session/checkpoint stores")
        dsn = driver_url(url)
        pool = positive_int("pool_size", pool_size)
        self.connect_timeout = positive_seconds("connect_timeout", connect_timeout)
        self.command_timeout = positive_seconds("command_timeout", command_timeout)
        self.url = shown_url(dsn)
        self.errors = PostgresErrors(
            name=name,
            url=self.url,
            connect_timeout=self.connect_timeout,
            command_timeout=self.command_timeout,
        )

        def make() -> Any:
            return pooled_engine(
                dsn,
                pool_size=pool,
                max_overflow=pool,
                connect_timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                application_name=str(application_name)[:63],
            )

        self.make_engine: Callable[[], Any] = make
