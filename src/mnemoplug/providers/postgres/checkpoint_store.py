"""PostgreSQL checkpoint store (asyncpg; ``pip install "mnemoplug[postgres]"``):
``checkpoint_store_from_url("postgresql+asyncpg://user@host/db", table=...)``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..sql.stores import POSTGRES, SQLCheckpointStore, postgres_url

__all__ = ["PostgresCheckpointStore"]


class PostgresCheckpointStore(SQLCheckpointStore):
    """Checkpoints in one PostgreSQL table (``table`` option, ``pool_size`` 5)."""

    name = "postgres"

    def __init__(
        self, url: str, *, table: str = "mnemoplug_checkpoints", pool_size: int = 5
    ) -> None:
        dsn = postgres_url(url)

        def make() -> AsyncEngine:
            return create_async_engine(dsn, pool_size=pool_size, max_overflow=pool_size)

        super().__init__(dialect=POSTGRES, make_engine=make, url=url, table=table)
