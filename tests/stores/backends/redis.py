"""The Redis backend joins the three store contracts: a fresh key prefix per test in the test
database (``tests.conftest.REDIS_URL``), every key under it deleted afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from tests.conftest import REDIS_URL, require_server


async def drop_prefix(prefix: str) -> None:
    """Delete every key starting with ``prefix`` in the test database."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    require_server(REDIS_URL, "Redis")
    from mnemoplug.providers.redis import RedisMemoryStore

    prefix = options.pop("prefix", f"mnemoplug-test-redis-{uuid.uuid4().hex[:12]}")
    p = RedisMemoryStore(REDIS_URL, prefix=prefix, **options)
    try:
        yield p
    finally:
        try:
            await p.drop_all_keys()
        finally:
            await p.close()


@contextlib.asynccontextmanager
async def session_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    require_server(REDIS_URL, "Redis")
    from mnemoplug.providers.redis import RedisSessionMemory

    prefix = options.pop("prefix", f"mnemotest:{uuid.uuid4().hex[:12]}:")
    s = RedisSessionMemory(REDIS_URL, prefix=prefix, **options)
    try:
        yield s
    finally:
        await s.close()
        await drop_prefix(prefix)


@contextlib.asynccontextmanager
async def checkpoint_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    require_server(REDIS_URL, "Redis")
    from mnemoplug.providers.redis import RedisCheckpointStore

    prefix = options.pop("prefix", f"mnemotest:{uuid.uuid4().hex[:12]}:")
    s = RedisCheckpointStore(REDIS_URL, prefix=prefix, **options)
    try:
        yield s
    finally:
        await s.close()
        await drop_prefix(prefix)
