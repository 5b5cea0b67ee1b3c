"""PostgreSQL checkpoint store (asyncpg; ``pip install "mnemoplug[postgres]"``):
``checkpoint_store_from_url("postgresql+asyncpg://user@host/db", table=...)``. Table: see
:mod:`mnemoplug.providers.sql.stores`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .._options import positive_int
from ..sql.stores import POSTGRES, SQLCheckpointStore
from .url import driver_url, import_asyncpg, shown_url

__all__ = ["PostgresCheckpointStore"]


class PostgresCheckpointStore(SQLCheckpointStore):
    """Checkpoints in one PostgreSQL table (``url`` as for
    :class:`~mnemoplug.providers.postgres.PostgresSessionMemory`; ``table`` option,
    ``pool_size`` 5)."""

    name = "postgres"

    def __init__(
        self, url: str | None = None, *, table: str = "mnemoplug_checkpoints", pool_size: int = 5
    ) -> None:
        import_asyncpg("PostgreSQL session/checkpoint stores")
        dsn = driver_url(url)
        pool = positive_int("pool_size", pool_size)

        def make() -> AsyncEngine:
            return create_async_engine(dsn, pool_size=pool, max_overflow=pool)

        super().__init__(dialect=POSTGRES, make_engine=make, url=shown_url(dsn), table=table)
