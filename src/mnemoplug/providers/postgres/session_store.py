"""PostgreSQL session memory (SQLAlchemy 2 async + asyncpg; ``pip install
"mnemoplug[postgres]"``): ``session_memory_from_url("postgresql+asyncpg://user@host/db")`` or
``PostgresSessionMemory(url=..., ttl_seconds=3600, max_messages=50)``.

Tables (``table`` option, default ``mnemoplug_sessions``): see
:mod:`mnemoplug.providers.sql.stores`. An append locks the session row (``SELECT … FOR
UPDATE``), so concurrent writers from many processes keep each writer's order and the owner
check is atomic.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ...core.session import Summarizer
from .._options import positive_int
from .._sessions import session_ttl
from ..sql.stores import POSTGRES, SQLSessionMemory
from .url import driver_url, import_asyncpg, shown_url

__all__ = ["PostgresSessionMemory"]


class PostgresSessionMemory(SQLSessionMemory):
    """Session memory in PostgreSQL.

    Args:
        url: ``postgresql+asyncpg://user:password@host:5432/db`` (``postgresql://`` works);
            default ``$MNEMOPLUG_POSTGRES_URL``, else ``postgres@localhost:5432/postgres``.
        table: table name (messages go to ``<table>_messages``).
        ttl_seconds: a session not written for this long (seconds or a timedelta) reads as
            absent and is deleted lazily; None = never. ``ttl`` is the older name.
        max_messages: keep the last N messages per session; None = all.
        pool_size: connections in the pool (5).
        summarizer: see :class:`~mnemoplug.core.session.SessionMemory`.
    """

    name = "postgres"

    def __init__(
        self,
        url: str | None = None,
        *,
        table: str = "mnemoplug_sessions",
        ttl_seconds: float | timedelta | None = None,
        ttl: float | timedelta | None = None,
        max_messages: int | None = None,
        pool_size: int = 5,
        summarizer: Summarizer | None = None,
    ) -> None:
        import_asyncpg("PostgreSQL session/checkpoint stores")
        dsn = driver_url(url)
        pool = positive_int("pool_size", pool_size)

        def make() -> AsyncEngine:
            return create_async_engine(dsn, pool_size=pool, max_overflow=pool)

        super().__init__(
            dialect=POSTGRES,
            make_engine=make,
            url=shown_url(dsn),
            table=table,
            max_messages=max_messages,
            ttl=session_ttl(ttl, ttl_seconds),
            summarizer=summarizer,
        )
