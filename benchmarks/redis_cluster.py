"""The Redis memory store on one server and on a three-node Redis Cluster (issue 13 item 5).

Single server: ``$MNEMOPLUG_TEST_REDIS_URL`` or ``redis://127.0.0.1:6379/15``. Cluster: three
local masters started as the tests start them (``tests/redis_cluster_server.py``; needs
``redis-server`` and ``redis-cli``). Each store gets ``--users`` users with ``--per-user``
memories (random unit vectors, no embedder), then the table gives the median and p95 of
``insert`` (one memory), ``get``, ``update``, ``search`` of a user not cached (one Lua load of
``--per-user`` memories) and ``purge_expired`` over all users with nothing due (the walk over
the users set that replaced the store-wide expiry set), and the schema 1 -> 2 migration of
``--migrate`` memories on the single server.

    python benchmarks/redis_cluster.py                      # 200 users x 50, 2,000 migrated
    python benchmarks/redis_cluster.py --users 1000 --per-user 20 --n 300
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))
from harness import Table, ameasure, machine_line, ms, write_result  # noqa: E402

from mnemoplug.core.filters import Filter  # noqa: E402
from mnemoplug.core.records import Scope, StoredMemory, new_memory_id  # noqa: E402
from mnemoplug.core.retrieval import SearchRequest  # noqa: E402
from mnemoplug.providers.redis import RedisMemoryStore  # noqa: E402

NOW = time.time()
_rng = np.random.default_rng(13)


def _mem(user: str, i: int) -> StoredMemory:
    v = _rng.standard_normal(384).astype(np.float32)
    return StoredMemory(
        id=new_memory_id(),
        user_id=user,
        content=f"fact {i} of {user}: coffee on friday, piano on monday",
        created_at=NOW,
        updated_at=NOW,
        embedding=v / np.linalg.norm(v),
        expires_at=NOW + 10**6,
    )


async def _fill(store: RedisMemoryStore, users: list[str], per_user: int) -> None:
    for u in users:
        await store.insert([_mem(u, i) for i in range(per_user)])


async def _measure_store(store: RedisMemoryStore, args: Any, table: Table, label: str) -> None:
    users = [f"user-{i}" for i in range(args.users)]
    await _fill(store, users, args.per_user)
    ids = {u: [m.id for m in await store.list(Scope(u), limit=10**6, offset=0,
                                              filters=Filter(None), now=NOW)] for u in users}  # fmt: skip
    n = args.n

    async def insert(i: int) -> None:
        await store.insert([_mem(users[i % len(users)], 10**6 + i)])

    async def get(i: int) -> None:
        u = users[i % len(users)]
        await store.get(Scope(u), ids[u][0], NOW)

    async def update(i: int) -> None:
        u = users[i % len(users)]
        await store.update(
            Scope(u), ids[u][1], content=None, metadata={"i": i}, embedding=None, updated_at=NOW
        )

    query = _rng.standard_normal(384).astype(np.float32)

    async def search_cold(i: int) -> None:
        store._cache.clear()  # the user's memories load again (one Lua call)
        req = SearchRequest(query="coffee", vector=query, limit=10, filters=Filter(None), now=NOW)
        await store.search(Scope(users[i % len(users)]), req)

    async def purge(i: int) -> None:
        await store.purge_expired(NOW)

    for name, fn, count in (
        ("insert (1 memory)", insert, n),
        ("get", get, n),
        ("update", update, n),
        (f"search, not cached ({args.per_user} memories)", search_cold, n),
        (f"purge_expired, {len(users)} users, none due", purge, max(5, n // 20)),
    ):
        lat = await ameasure(fn, count)
        table.row(label, name, ms(lat.p50, 3), ms(lat.p95, 3), count)


async def _migration(url: str, count: int) -> tuple[float, int]:
    """Seconds to open a schema 1 store of ``count`` memories (10 per user), and keys moved."""
    import redis.asyncio as redis

    from mnemoplug.providers.redis.codec import encode_memory
    from mnemoplug.providers.redis.keys import member

    prefix = f"bench-mig-{uuid.uuid4().hex[:8]}"
    raw = redis.Redis.from_url(url)
    await raw.hset(f"{prefix}:meta", mapping={"schema": "1"})
    async with raw.pipeline(transaction=False) as pipe:
        for i in range(count):
            m = _mem(f"user-{i // 10}", i)
            u = member((m.tenant_id, m.user_id))
            pipe.hset(f"{prefix}:m:{m.id}", mapping=encode_memory(m))
            pipe.zadd(f"{prefix}:exp", {m.id: m.expires_at or 0.0})
            pipe.sadd(f"{prefix}:u:{u}:ids", m.id)
            pipe.sadd(f"{prefix}:users", u)
            pipe.incr(f"{prefix}:u:{u}:gen")
        await pipe.execute()
    store = RedisMemoryStore(url, prefix=prefix)
    t = time.perf_counter()
    await store.open()
    seconds = time.perf_counter() - t
    keys = len([k async for k in raw.scan_iter(match=f"{prefix}:{{*", count=1000)])
    await store.drop_all_keys()
    await store.close()
    await raw.aclose()
    return seconds, keys


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--per-user", type=int, default=50)
    ap.add_argument("--n", type=int, default=200, help="timed calls per operation")
    ap.add_argument("--migrate", type=int, default=2000)
    args = ap.parse_args()
    from tests.redis_cluster_server import _start

    single_url = os.environ.get("MNEMOPLUG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    cluster = _start()
    table = Table("deployment", "operation", "p50", "p95", "calls")
    try:
        for label, store in (
            ("single server", RedisMemoryStore(single_url, prefix=f"bench-{uuid.uuid4().hex}")),
            (
                "cluster, 3 masters",
                RedisMemoryStore(cluster.url, prefix=f"bench-{uuid.uuid4().hex}", cluster=True),
            ),
        ):
            try:
                await _measure_store(store, args, table, label)
            finally:
                await store.drop_all_keys()
                await store.close()
        seconds, moved = await _migration(single_url, args.migrate)
    finally:
        cluster.stop()
    out = "\n".join(
        [
            "# Redis: single server and Redis Cluster",
            "",
            machine_line(),
            "",
            f"{args.users} users x {args.per_user} memories (384-d vectors), local servers.",
            "",
            table.render(),
            "",
            f"Schema 1 -> 2 migration on open, {args.migrate} memories of {args.migrate // 10} "
            f"users: {seconds:.2f} s ({moved} keys in the new layout).",
            "",
        ]
    )
    print(out)
    write_result("redis_cluster", out)


if __name__ == "__main__":
    asyncio.run(main())
