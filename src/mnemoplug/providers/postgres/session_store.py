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

from ...core.session import Summarizer
from .._sessions import session_ttl
from ..sql.stores import POSTGRES, SQLSessionMemory
from .store_connection import StoreConnection

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
        connect_timeout: seconds to open a connection (5.0).
        command_timeout: seconds one statement may take (30.0).
        application_name: shown in ``pg_stat_activity`` (``"mnemoplug"``).
        summarizer: see :class:`~mnemoplug.core.session.SessionMemory`.

    An unreachable server raises :class:`~mnemoplug.ProviderUnavailableError` naming it
    within those timeouts, and the store recovers by itself once the server is back. Appends
    are idempotent per message id: a retry of messages (same ids) that were stored after all
    stores nothing twice.
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
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        application_name: str = "mnemoplug",
        summarizer: Summarizer | None = None,
    ) -> None:
        pg = StoreConnection(
            url,
            name=self.name,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            application_name=application_name,
        )
        self._pg_errors = pg.errors
        super().__init__(
            dialect=POSTGRES,
            make_engine=pg.make_engine,
            url=pg.url,
            table=table,
            max_messages=max_messages,
            ttl=session_ttl(ttl, ttl_seconds),
            summarizer=summarizer,
        )
