"""Providers side by side (issue 3): search latency and batched add throughput at scale.

For each provider — SQLite (the embedded default), in-process memory, Redis, PostgreSQL and
Qdrant local mode — ``--users`` × ``--per-user`` memories (1,000 × 100 = 100,000 by default)
are inserted through ``provider.insert`` in batches, then one user at a time is searched with a
precomputed query vector (random unit vectors; the embedding is the same for every provider
and is left out) and a real-text query for the lexical part.

Reported per provider: add throughput (memories/s, batched, embedding excluded), the first
search of a user (a cold per-user cache), and warm search p50/p95.

    HF_HUB_OFFLINE=1 python benchmarks/providers.py                         # full: 100k memories
    HF_HUB_OFFLINE=1 python benchmarks/providers.py --users 100 --per-user 100 --queries 50
    HF_HUB_OFFLINE=1 python benchmarks/providers.py --providers sqlite,memory

Servers: Redis at ``--redis-url`` (redis://127.0.0.1:6379/15; a unique key prefix, deleted
afterwards), PostgreSQL at ``--postgres-url`` (a unique table, dropped afterwards). A provider
whose module or server is missing is skipped with a note in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import random
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import env_line, make_corpus, make_queries, stats_ms, write_result

ALL = ("sqlite", "memory", "redis", "postgres", "qdrant")


@contextlib.asynccontextmanager
async def make_provider(name: str, tmp: Path, args: argparse.Namespace) -> AsyncIterator[Any]:
    if name == "sqlite":
        from mnemoplug.providers.sqlite import SQLiteMemoryStore

        p = SQLiteMemoryStore(path=tmp / "bench.db")
        try:
            yield p
        finally:
            await p.close()
    elif name == "memory":
        from mnemoplug.providers.inprocess import InProcessMemoryStore

        yield InProcessMemoryStore()
    elif name == "redis":
        from mnemoplug.providers.redis import RedisMemoryStore

        p = RedisMemoryStore(args.redis_url, prefix=f"mnemoplug-bench-{uuid.uuid4().hex[:10]}")
        try:
            yield p
        finally:
            try:
                await p.drop_all_keys()
            finally:
                await p.close()
    elif name == "postgres":
        from mnemoplug.providers.postgres import PostgresMemoryStore

        table = f"mp_bench_{uuid.uuid4().hex[:10]}"
        p = PostgresMemoryStore(args.postgres_url, table=table)
        try:
            yield p
        finally:
            await p.close()
            import asyncpg

            conn = await asyncpg.connect(args.postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1))
            try:
                for suffix in ("", "_users", "_meta"):
                    await conn.execute(f'DROP TABLE IF EXISTS "{table}{suffix}"')
            finally:
                await conn.close()
    elif name == "qdrant":
        from mnemoplug.providers.qdrant import QdrantMemoryStore

        p = QdrantMemoryStore(path=tmp / "qdrant", collection="bench")
        try:
            yield p
        finally:
            await p.close()
    else:
        raise ValueError(name)


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


async def bench_one(name: str, args: argparse.Namespace, corpus: list[str], vecs: np.ndarray,
                    queries: list[str], qvecs: np.ndarray) -> dict[str, Any]:
    from mnemoplug.core.filters import compile_filters
    from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
    from mnemoplug.core.retrieval import RetrievalConfig, SearchRequest

    n_q = args.qdrant_queries if name == "qdrant" else args.queries
    tmp = Path(tempfile.mkdtemp(prefix=f"mnemoplug-prov-{name}-"))
    out: dict[str, Any] = {"provider": name}
    async with make_provider(name, tmp, args) as p:
        await p.open()
        await p.check_embedder("bench-random", vecs.shape[1])
        now = time.time()
        users = [f"user-{i:05d}" for i in range(args.users)]
        # memories in user order, inserted in batches of --batch (a batch spans users)
        recs = []
        k = 0
        for u in users:
            for _ in range(args.per_user):
                recs.append(StoredMemory(id=new_memory_id(), user_id=u, content=corpus[k],
                                         metadata={"i": k % 7}, created_at=now, updated_at=now,
                                         embedding=vecs[k]))
                k += 1
        t0 = time.perf_counter()
        for i in range(0, len(recs), args.batch):
            await p.insert(recs[i: i + args.batch])
        dt = time.perf_counter() - t0
        out["add_per_s"] = len(recs) / dt
        out["add_s"] = dt
        rng = random.Random(3)
        targets = rng.sample(users, min(args.target_users, len(users)))
        filt = compile_filters(None)
        cfg = RetrievalConfig()

        def req(i: int) -> SearchRequest:
            return SearchRequest(query=queries[i % len(queries)], vector=qvecs[i % len(qvecs)], limit=10,
                                 filters=filt, now=time.time(), config=cfg)

        firsts = []
        for j, u in enumerate(targets[: max(1, min(len(targets), n_q))]):
            t = time.perf_counter()
            hits = await p.search(Scope(user_id=u), req(j))
            firsts.append(time.perf_counter() - t)
            assert all(h.memory.user_id == u for h in hits)
        lat = []
        for i in range(n_q):
            u = targets[i % len(targets)]
            r = req(i + 1)
            t = time.perf_counter()
            await p.search(Scope(user_id=u), r)
            lat.append(time.perf_counter() - t)
        out["first_p50"], _ = stats_ms(firsts)
        out["p50"], out["p95"] = stats_ms(lat)
        out["queries"] = n_q
    return out


async def run(args: argparse.Namespace) -> str:
    total = args.users * args.per_user
    corpus = make_corpus(total, seed=5)
    vecs = unit_vectors(total, args.dim, 1)
    queries = make_queries(max(args.queries, 50), seed=9)
    qvecs = unit_vectors(len(queries), args.dim, 2)
    rows = []
    for name in args.providers.split(","):
        name = name.strip()
        if name not in ALL:
            raise SystemExit(f"unknown provider {name!r}; choose from {', '.join(ALL)}")
        try:
            importlib.import_module(f"mnemoplug.providers.{'inprocess' if name == 'memory' else name}")
        except ImportError as exc:
            rows.append((name, f"skipped: module not importable ({exc})"))
            continue
        print(f"[{name}] inserting {total:,} memories …", file=sys.stderr, flush=True)
        try:
            res = await bench_one(name, args, corpus, vecs, queries, qvecs)
        except Exception as exc:  # a missing server, a provider bug: note it, go on
            traceback.print_exc()
            rows.append((name, f"skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"))
            continue
        print(f"[{name}] {res}", file=sys.stderr, flush=True)
        rows.append((name, res))
    base = next((r for n, r in rows if n == "sqlite" and isinstance(r, dict)), None)
    lines = [
        f"# Providers: {args.users:,} users × {args.per_user:,} memories = {total:,}, one user's search",
        "",
        f"Machine: {env_line()}. Vectors: random unit vectors (dim {args.dim}); contents: synthetic "
        f"sentences (real text for the lexical part). Embedding excluded everywhere. Search = "
        f"`provider.search` with limit 10, fused dense + lexical; users drawn from {args.target_users} "
        f"random users. Add = `provider.insert` in batches of {args.batch}.",
        "",
        "| provider | add (memories/s) | first search of a user (ms, p50) | search p50 (ms) | search p95 (ms) "
        "| p50 vs SQLite | queries |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        if isinstance(r, str):
            lines.append(f"| {name} | {r} | | | | | |")
            continue
        ratio = f"{r['p50'] / base['p50']:.1f}×" if base else ""
        lines.append(f"| {name} | {r['add_per_s']:,.0f} | {r['first_p50']:.1f} | {r['p50']:.2f} | "
                     f"{r['p95']:.2f} | {ratio} | {r['queries']} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--per-user", type=int, default=100)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--batch", type=int, default=1000, help="memories per insert call (1000)")
    ap.add_argument("--queries", type=int, default=200, help="timed searches per provider (200)")
    ap.add_argument("--qdrant-queries", type=int, default=10, help="timed searches for Qdrant local mode (10)")
    ap.add_argument("--target-users", type=int, default=20, help="distinct users searched (20)")
    ap.add_argument("--providers", default=",".join(ALL))
    ap.add_argument("--redis-url", default=os.environ.get("MNEMOPLUG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    ap.add_argument("--postgres-url", default=os.environ.get(
        "MNEMOPLUG_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--out", default="providers")
    args = ap.parse_args(argv)
    table = asyncio.run(run(args))
    print(table)
    print(f"written to {write_result(args.out, table)}", file=sys.stderr)


if __name__ == "__main__":
    main()
