"""PostgreSQL session memory (SQLAlchemy 2 async + asyncpg; ``pip install
"mnemoplug[postgres]"``): ``session_memory_from_url("postgresql+asyncpg://user@host/db")``.

Tables (``table`` option, default ``mnemoplug_sessions``): see
:mod:`mnemoplug.providers._sql_stores`. An append locks the session row (``SELECT … FOR
UPDATE``), so concurrent writers from many processes keep each writer's order and the owner
check is atomic.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ...core.session import Summarizer
from ..sql.stores import POSTGRES, SQLSessionMemory, postgres_url

__all__ = ["PostgresSessionMemory"]


class PostgresSessionMemory(SQLSessionMemory):
    """Session memory in PostgreSQL.

    Args:
        url: ``postgresql+asyncpg://user:password@host:5432/db`` (``postgresql://`` works).
        table: table name (messages go to ``<table>_messages``).
        max_messages: keep the last N messages per session; None = all.
        pool_size: connections in the pool (5).
        summarizer: see :class:`~mnemoplug.core.session.SessionMemory`.
    """

    name = "postgres"

    def __init__(
        self,
        url: str,
        *,
        table: str = "mnemoplug_sessions",
        max_messages: int | None = None,
        pool_size: int = 5,
        summarizer: Summarizer | None = None,
    ) -> None:
        dsn = postgres_url(url)

        def make() -> AsyncEngine:
            return create_async_engine(dsn, pool_size=pool_size, max_overflow=pool_size)

        super().__init__(
            dialect=POSTGRES, make_engine=make, url=url, table=table,
            max_messages=max_messages, summarizer=summarizer,
        )
