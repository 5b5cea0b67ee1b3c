"""Contract-suite factory for the Redis provider: a fresh, unique key prefix per test in the
test database (tests.conftest.REDIS_URL), every key under it deleted afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from mnemoplug import MemoryStore
from tests.conftest import REDIS_URL, require_server


@contextlib.asynccontextmanager
async def FACTORY(tmp_path: Any) -> AsyncIterator[MemoryStore]:
    require_server(REDIS_URL, "Redis")
    from mnemoplug.providers.redis import RedisMemoryStore

    p = RedisMemoryStore(REDIS_URL, prefix=f"mnemoplug-test-redis-{uuid.uuid4().hex[:12]}")
    try:
        yield p
    finally:
        try:
            await p.drop_all_keys()
        finally:
            await p.close()
