"""The PostgreSQL backend joins the three store contracts: a fresh table per test on the local
server (``tests.conftest.POSTGRES_URL``), dropped afterwards."""

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


async def drop_plain_tables(*tables: str) -> None:
    """Drop session/checkpoint tables (``DROP TABLE IF EXISTS`` each)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    eng = create_async_engine(POSTGRES_URL)
    try:
        async with eng.begin() as conn:
            for t in tables:
                await conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
    finally:
        await eng.dispose()


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug.providers.postgres import PostgresMemoryStore

    table = options.pop("table", unique_table())
    p = PostgresMemoryStore(POSTGRES_URL, table=table, **options)
    try:
        await p.open()  # schema creation outside the tests' timed windows (ttl)
        yield p
    finally:
        await p.close()
        await drop_tables(table)


@contextlib.asynccontextmanager
async def session_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug.providers.postgres import PostgresSessionMemory

    table = options.pop("table", f"t_sess_{uuid.uuid4().hex[:12]}")
    s = PostgresSessionMemory(POSTGRES_URL, table=table, **options)
    try:
        yield s
    finally:
        await s.close()
        await drop_plain_tables(table, f"{table}_messages")


@contextlib.asynccontextmanager
async def checkpoint_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    require_server(POSTGRES_URL, "PostgreSQL")
    from mnemoplug.providers.postgres import PostgresCheckpointStore

    table = options.pop("table", f"t_ckpt_{uuid.uuid4().hex[:12]}")
    s = PostgresCheckpointStore(POSTGRES_URL, table=table, **options)
    try:
        yield s
    finally:
        await s.close()
        await drop_plain_tables(table)
