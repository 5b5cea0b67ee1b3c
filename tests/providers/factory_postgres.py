"""Contract-suite factory for the PostgreSQL provider: a fresh table per test, dropped after."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from tests.conftest import POSTGRES_URL, require_server


async def drop_tables(table: str, schema: str | None = None) -> None:
    """Drop the memories table and its companions (``_users``, ``_meta``)."""
    import asyncpg

    url = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url, timeout=5)
    try:
        q = f'"{schema}".' if schema else ""
        for suffix in ("", "_users", "_meta"):
            await conn.execute(f'DROP TABLE IF EXISTS {q}"{table}{suffix}"')
        if schema:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def unique_table(prefix: str = "mp_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def FACTORY(tmp_path: Any) -> AsyncIterator[Any]:
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug.providers.postgres import PostgresMemoryStore

    table = unique_table()
    p = PostgresMemoryStore(POSTGRES_URL, table=table)
    try:
        await p.open()  # schema creation outside the tests' timed windows (ttl)
        yield p
    finally:
        await p.close()
        await drop_tables(table)
