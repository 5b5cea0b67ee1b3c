"""Contract-suite factory for the PostgreSQL provider with pgvector (``vector="pgvector"``), on
the session's bundled server (tests.pgvector_server): a fresh table per test, dropped after."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from tests.pgvector_server import drop_tables, require_pgvector_server


def unique_table(prefix: str = "mp_vec") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    server = require_pgvector_server()
    from mnemoplug.providers.postgres import PostgresMemoryStore

    table = unique_table()
    p = PostgresMemoryStore(server.url, table=table, vector="pgvector", **options)
    try:
        await p.open()  # creates the extension and the embedding_vec column (or refuses)
        if not p.pgvector:
            raise AssertionError(f"{p!r} opened without pgvector on the pgvector server")
        yield p
    finally:
        await p.close()
        await drop_tables(server, table)
