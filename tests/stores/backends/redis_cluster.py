"""The Redis backend on a Redis Cluster (``cluster=True``) joins the three store contracts: the
session's three-node cluster (tests.redis_cluster_server), a fresh key prefix per test, every key
under it deleted afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from tests.redis_cluster_server import require_redis_cluster


async def drop_prefix(url: str, prefix: str) -> None:
    """Delete every key starting with ``prefix`` on every node of the cluster."""
    from redis.asyncio.cluster import RedisCluster

    client = RedisCluster.from_url(url)
    try:
        async for k in client.scan_iter(match=f"{prefix}*", count=500):
            await client.unlink(k)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    cluster = require_redis_cluster()
    from mnemoplug.providers.redis import RedisMemoryStore

    prefix = options.pop("prefix", f"mnemoplug-test-cluster-{uuid.uuid4().hex[:12]}")
    p = RedisMemoryStore(cluster.url, prefix=prefix, cluster=True, **options)
    try:
        yield p
    finally:
        try:
            await p.drop_all_keys()
        finally:
            await p.close()


@contextlib.asynccontextmanager
async def session_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    cluster = require_redis_cluster()
    from mnemoplug.providers.redis import RedisSessionMemory

    prefix = options.pop("prefix", f"mnemotest:{uuid.uuid4().hex[:12]}:")
    s = RedisSessionMemory(cluster.url, prefix=prefix, cluster=True, **options)
    try:
        yield s
    finally:
        await s.close()
        await drop_prefix(cluster.url, prefix)


@contextlib.asynccontextmanager
async def checkpoint_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    cluster = require_redis_cluster()
    from mnemoplug.providers.redis import RedisCheckpointStore

    prefix = options.pop("prefix", f"mnemotest:{uuid.uuid4().hex[:12]}:")
    s = RedisCheckpointStore(cluster.url, prefix=prefix, cluster=True, **options)
    try:
        yield s
    finally:
        await s.close()
        await drop_prefix(cluster.url, prefix)
