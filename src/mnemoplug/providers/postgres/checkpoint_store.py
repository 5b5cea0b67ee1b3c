"""PostgreSQL checkpoint store (asyncpg; ``pip install "mnemoplug[postgres]"``):
``checkpoint_store_from_url("postgresql+asyncpg://user@host/db", table=...)``. Table: see
:mod:`mnemoplug.providers.sql.stores`."""

from __future__ import annotations

from ..sql.stores import POSTGRES, SQLCheckpointStore
from .store_connection import StoreConnection

__all__ = ["PostgresCheckpointStore"]


class PostgresCheckpointStore(SQLCheckpointStore):
    """Checkpoints in one PostgreSQL table (``url``, ``pool_size``, ``connect_timeout``,
    ``command_timeout`` and ``application_name`` as for
    :class:`~mnemoplug.providers.postgres.PostgresSessionMemory`; ``table`` option). Saving
    with a ``checkpoint_id`` is idempotent: a retry after an error that says the write may
    have been applied replaces, never doubles."""

    name = "postgres"

    def __init__(
        self,
        url: str | None = None,
        *,
        table: str = "mnemoplug_checkpoints",
        pool_size: int = 5,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        application_name: str = "mnemoplug",
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
        super().__init__(dialect=POSTGRES, make_engine=pg.make_engine, url=pg.url, table=table)
