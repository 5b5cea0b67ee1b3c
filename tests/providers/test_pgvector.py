"""The PostgreSQL store's pgvector path, on the session's bundled server (tests.pgvector_server):
the vectors really sit in a ``vector`` column with an HNSW index, unfiltered searches really
rank candidates the database picked with ``<=>``, and they return exactly what the in-process
path (``vector="none"``) returns for the same rows. (The whole contract suite also runs on this
server through tests/stores/backends/pgvector.py.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest

from mnemoplug import Memory
from tests.pgvector_server import drop_tables, require_pgvector_server
from tests.stores.backends.pgvector import unique_table

pytestmark = pytest.mark.server

T0 = 2_000_000_000.0
FACTS = [
    "User prefers dark mode in every editor",
    "User lives in Berlin and works as a nurse",
    "User's dog is called Rex and loves the park",
    "The wifi password is correct-horse-battery",
    "User is allergic to peanuts and shellfish",
    "User plays chess every Sunday with a neighbour",
    "User drinks green tea instead of coffee",
    "User's sister Anna is visiting in June",
    "User is learning Portuguese for a trip to Lisbon",
    "User runs a half marathon each autumn",
    "User keeps a sourdough starter named Bubbles",
    "User's laptop is a ten year old ThinkPad",
]
QUERIES = [
    "Which UI theme does the user like?",
    "what pet does the user have",
    "battery password",
    "food allergies",
    "hot drinks",
    "family visits",
    "languages being studied",
    "sports and running",
    "zq-7731 nothing matches this",
]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Any:
    return require_pgvector_server()


@pytest.fixture
async def table(server: Any) -> AsyncIterator[str]:
    name = unique_table("mp_vec_t")
    yield name
    await drop_tables(server, name)


def store(server: Any, table: str, vector: str) -> Any:
    from mnemoplug.providers.postgres import PostgresMemoryStore

    return PostgresMemoryStore(server.url, table=table, vector=vector)


@contextlib.contextmanager
def sql_log() -> Iterator[list[str]]:
    """Every SQL statement any engine executes inside the block, and every query the pgvector
    search runs on the asyncpg driver directly (``Connection.fetch``)."""
    import asyncpg
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    fetch = asyncpg.Connection.fetch

    async def recorded_fetch(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        seen.append(query)
        return await fetch(self, query, *args, **kw)

    event.listen(Engine, "before_cursor_execute", record)
    asyncpg.Connection.fetch = recorded_fetch  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        asyncpg.Connection.fetch = fetch  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", record)


def parse_vector(text: str) -> np.ndarray:
    return np.array([float(x) for x in text.strip("[]").split(",")], dtype=np.float32)


async def test_vectors_sit_in_a_vector_column_with_an_hnsw_index(
    server: Any, table: str, embedder: Any
) -> None:
    s = store(server, table, "pgvector")
    memory = Memory(s, embedder=embedder, load_entry_points=False)
    try:
        ids = await memory.add("u1", FACTS[:5])
        await memory.update("u1", ids[0], content="User switched to light mode")
        assert s.pgvector is True
        conn = await server.connect()
        try:
            version = await conn.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            )
            coltype = await conn.fetchval(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = $1::regclass AND attname = 'embedding_vec' AND NOT attisdropped",
                table,
            )
            indexes = await conn.fetch(
                "SELECT indexdef FROM pg_indexes WHERE tablename = $1", table
            )
            rows = await conn.fetch(
                f'SELECT id, embedding, embedding_vec::text AS v FROM "{table}" ORDER BY id'
            )
        finally:
            await conn.close()
        assert version is not None and tuple(int(x) for x in version.split(".")[:2]) >= (0, 5)
        assert coltype == f"vector({embedder.dimension})"
        assert any(
            "USING hnsw" in d["indexdef"] and "vector_cosine_ops" in d["indexdef"] for d in indexes
        )
        assert [r["id"] for r in rows] == sorted(ids)
        for r in rows:  # the vector column holds exactly the stored float32 embedding
            assert r["v"] is not None, r["id"]
            stored = np.frombuffer(bytes(r["embedding"]), dtype=np.float32)
            assert np.array_equal(parse_vector(r["v"]), stored), r["id"]
        updated = next(r for r in rows if r["id"] == ids[0])
        want = np.asarray(embedder.embed(["User switched to light mode"])[0], dtype=np.float32)
        assert np.allclose(parse_vector(updated["v"]), want, atol=1e-5)
    finally:
        await memory.close()
    auto = store(server, table, "auto")  # "auto" picks pgvector on this server too
    try:
        await auto.open()
        assert auto.pgvector is True
    finally:
        await auto.close()


@pytest.mark.parametrize("opened_first", ["pgvector", "none"])
async def test_pgvector_search_equals_the_in_process_search(
    server: Any, table: str, embedder: Any, opened_first: str
) -> None:
    """Memories written through a pgvector store and a vector="none" store on one table rank
    the same through both. With ``opened_first="none"`` the vector="none" store opens before
    the pgvector one has added the ``embedding_vec`` column (e.g. a process started earlier):
    what it writes afterwards must still be found by the pgvector search."""
    clock = Clock(T0)
    fast_store, exact_store = store(server, table, "pgvector"), store(server, table, "none")
    fast = Memory(fast_store, embedder=embedder, load_entry_points=False, clock=clock)
    exact = Memory(exact_store, embedder=embedder, load_entry_points=False, clock=clock)
    try:
        for m in (exact, fast) if opened_first == "none" else (fast, exact):
            await m.open()
        # written through both: the vector="none" store keeps the vector column filled too
        for i, fact in enumerate(FACTS):
            clock.now = T0 + 60 * i  # distinct ages: recency takes part in the ranking
            writer = fast if i % 2 else exact
            # metadata JSONB would not give back as written too (2.5e16, -0.0: stored as exact
            # JSON text), decoded for the hits only by the pgvector search
            md = {"i": i, "even": i % 2 == 0, "x": [2.5e16, -0.0, i / 7][i % 3], "n": {"a": [i]}}
            await writer.add("u1", fact, md, agent_id=f"a{i % 3}")
            await writer.add("u2", fact)  # the same facts for another user: never returned
        clock.now = T0 + 3600
        u1_ids = {r.id for r in await exact.get_all("u1")}
        assert len(u1_ids) == len(FACTS)
        assert fast_store.pgvector is True and exact_store.pgvector is False
        everything = {h.id for h in await fast.search("u1", "zq-7731 unrelated words", limit=50)}
        assert everything == u1_ids, (
            f"the pgvector search misses {len(u1_ids - everything)} of the user's "
            f"{len(u1_ids)} memories"
        )
        conn = await server.connect()
        try:
            unvectored = await conn.fetch(
                f'SELECT content FROM "{table}" WHERE embedding_vec IS NULL ORDER BY content'
            )
        finally:
            await conn.close()
        assert [r["content"] for r in unvectored] == []

        async def both(query: str, **kw: Any) -> tuple[list[Any], list[Any], list[str]]:
            with sql_log() as seen:
                got = await fast.search("u1", query, **kw)
            want = await exact.search("u1", query, **kw)
            return got, want, seen

        for q in QUERIES:
            for kw in ({"limit": 3}, {"limit": 50}, {"limit": 50, "min_relevance": 0.3}):
                got, want, seen = await both(q, **kw)
                assert any("<=>" in s for s in seen), "the pgvector path was not taken"
                assert [h.id for h in got] == [h.id for h in want], (q, kw)
                assert [h.metadata for h in got] == [h.metadata for h in want], (q, kw)
                for h in got:
                    assert h.metadata["n"] == {"a": [h.metadata["i"]]}
                    x = h.metadata["x"]
                    assert isinstance(x, float) and repr(x) == repr(
                        [2.5e16, -0.0, x][h.metadata["i"] % 3]
                    )
                assert np.allclose([h.score for h in got], [h.score for h in want]), (q, kw)
                assert np.allclose(
                    [h.similarity for h in got], [h.similarity for h in want], atol=1e-6
                ), (q, kw)
                assert {h.id for h in got} <= u1_ids
            got, want, seen = await both(q, limit=50, agent_id="a1")  # scoped: still SQL
            assert any("<=>" in s for s in seen)
            assert [h.id for h in got] == [h.id for h in want] and got
            assert all(h.agent_id == "a1" for h in got)
            # filtered searches rank in process on both (documented), with the same result
            got, want, seen = await both(q, limit=50, filters={"even": True})
            assert not any("<=>" in s for s in seen)
            assert [h.id for h in got] == [h.id for h in want]
            assert len(got) == len(FACTS) // 2
        # the exact store never asks the database for nearest neighbours
        with sql_log() as seen:
            await exact.search("u1", QUERIES[0])
        assert not any("<=>" in s for s in seen)
        # expiry, with the injected clock, in the SQL candidates too
        doomed = await fast.add("u1", "User prefers a dark theme everywhere", expires_at=T0 + 7200)
        got, want, _ = await both(QUERIES[0], limit=3)
        assert got[0].id == doomed and [h.id for h in got] == [h.id for h in want]
        clock.now = T0 + 7200
        got, want, _ = await both(QUERIES[0], limit=50)
        assert doomed not in {h.id for h in got} and [h.id for h in got] == [h.id for h in want]
    finally:
        await fast.close()
        await exact.close()


async def test_a_search_is_two_statements_with_the_hnsw_options_set_once(
    server: Any, table: str
) -> None:
    """A search runs its nearest-neighbour statement and its full-text statement (one each, no
    BEGIN/ROLLBACK around them); the HNSW options and custom plans are set once per connection
    (session level), not with SET LOCAL around every search, and they are in effect for the
    search statements."""
    from mnemoplug.core.filters import Filter
    from mnemoplug.core.records import Scope, StoredMemory
    from mnemoplug.core.retrieval import RetrievalConfig, SearchRequest

    s = store(server, table, "pgvector")
    vec = np.ones(8, dtype=np.float32) / np.sqrt(8.0)
    try:
        await s.open()
        s._vec.ef_search = 77
        await s.insert(
            [StoredMemory(id=f"m{i}", user_id="u", content=f"fact {i}", created_at=1.0,
                          updated_at=1.0, embedding=vec) for i in range(3)]
        )  # fmt: skip
        req = SearchRequest("fact", vec, 3, Filter(None), 2.0)
        with sql_log() as seen:
            for _ in range(6):
                assert len(await s.search(Scope("u"), req)) == 3
        assert sum("<=>" in x for x in seen) == 6
        assert sum("ts_rank_cd" in x for x in seen) == 6
        assert not any("<=>" in x and "ts_rank_cd" in x for x in seen)
        others = [x for x in seen if "<=>" not in x and "ts_rank_cd" not in x]
        assert all(x.startswith(("SET hnsw.", "SET plan_cache_mode")) for x in others), others
        assert sum(x.startswith("SET hnsw.ef_search") for x in others) <= 4  # once a connection
        # without words (or without a lexical weight) only the nearest neighbours are asked for
        no_words = SearchRequest("fact", vec, 3, Filter(None), 2.0,
                                 config=RetrievalConfig(lexical_weight=0.0))  # fmt: skip
        with sql_log() as seen:
            assert len(await s.search(Scope("u"), no_words)) == 3
        assert [x for x in seen if "<=>" in x or "ts_rank_cd" in x] == [
            x for x in seen if "<=>" in x
        ]
        async with s._conn("check") as conn:  # set at session level: it stays
            await s._vec.configure_search(conn)
            again = (await conn.exec_driver_sql("SHOW hnsw.ef_search")).scalar()
            await s._vec.configure_search(conn)
            assert (await conn.exec_driver_sql("SHOW hnsw.ef_search")).scalar() == again == "77"
            mode = (await conn.exec_driver_sql("SHOW plan_cache_mode")).scalar()
            assert mode == "force_custom_plan"
    finally:
        await s.close()


def unit(i: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(i).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


async def test_each_word_adds_its_newest_full_text_matches_and_a_rare_word_all_of_its(
    server: Any, table: str
) -> None:
    """With ``lexical_candidates`` k, a word matching more than k of the user's memories adds
    only its k newest to the full-text candidates, a rare word every one of its matches, and
    another user's rows never; below k per word it is every match, as one OR query."""
    from mnemoplug.core.filters import Filter
    from mnemoplug.core.records import Scope, StoredMemory
    from mnemoplug.core.retrieval import RetrievalConfig, SearchRequest
    from mnemoplug.providers.postgres.search import search_words

    s = store(server, table, "pgvector")
    texts = [f"User drank coffee on day {i}" for i in range(1, 7)]
    rows = [
        StoredMemory(id=f"m{i}", user_id="u", content=t, created_at=100.0 + i,
                     updated_at=100.0 + i, embedding=unit(i))
        for i, t in enumerate(texts, 1)
    ] + [StoredMemory(id="zebra", user_id="u", content="A zebra, a zebra and a zebra",
                      created_at=50.0, updated_at=50.0, embedding=unit(0)),
         StoredMemory(id="other", user_id="v", content="coffee zebra coffee", created_at=200.0,
                      updated_at=200.0, embedding=unit(9))]  # fmt: skip
    try:
        await s.open()
        await s.insert(rows)

        async def lexical(query: str, k: int) -> dict[str, float]:
            req = SearchRequest(query, unit(1), 3, Filter(None), 300.0,
                                config=RetrievalConfig(lexical_candidates=k))  # fmt: skip
            _dense, lexical_statement = s.pgvector_statements(Scope("u"), req, search_words(query))
            got = await s._fetch(*lexical_statement)
            assert all(r[2] == "u" for r in got)
            return {r[0]: r[-1] for r in got}

        # the oldest memory is the zebra's only match: it stays a candidate (the best one)
        capped = await lexical("coffee and a zebra", 2)
        assert len(capped) == 2 and "zebra" in capped
        assert set(capped) <= {"zebra", "m6", "m5"}, capped  # coffee's 2 newest only
        full = await lexical("coffee and a zebra", 10)
        assert set(full) == {"zebra", *(f"m{i}" for i in range(1, 7))}
        assert capped["zebra"] == pytest.approx(full["zebra"])  # ts_rank_cd of the OR query
        assert full["zebra"] > full["m1"]
        req = SearchRequest("coffee zebra", unit(1), 10, Filter(None), 300.0)
        hits = await s.search(Scope("u"), req)
        assert {h.memory.id for h in hits} == set(full)
    finally:
        await s.close()


async def test_a_user_vector_index_is_built_used_for_the_user_and_dropped_on_erasure(
    server: Any, table: str
) -> None:
    """``create_user_vector_index`` builds a partial HNSW index over one user's rows (names
    with quotes and percent signs included), the planner takes it for that user's vector
    search, results stay the same, and erasing the user drops it (an agent's rows do not)."""
    from mnemoplug.core.errors import ConfigurationError
    from mnemoplug.core.filters import Filter
    from mnemoplug.core.records import Scope, StoredMemory
    from mnemoplug.core.retrieval import SearchRequest
    from mnemoplug.providers.postgres.search import search_words

    user, tenant = 'o\'brien %s \\ "x"', "t'1"
    scope = Scope(user, tenant_id=tenant)
    s = store(server, table, "pgvector")
    try:
        await s.open()
        with pytest.raises(ConfigurationError, match="no vectors yet"):
            await s.create_user_vector_index(user, tenant_id=tenant)
        await s.insert(
            [StoredMemory(id=f"{u}{i}", tenant_id=t, user_id=u, agent_id=f"a{i % 2}",
                          content=f"fact {i}", created_at=1.0 + i, updated_at=1.0,
                          embedding=unit(i)) for i in range(40)
             for t, u in ((tenant, user), ("", "other"))]
        )  # fmt: skip
        req = SearchRequest("fact", unit(3), 5, Filter(None), 99.0)
        before = [h.memory.id for h in await s.search(scope, req)]
        assert await s.create_user_vector_index(user, tenant_id=tenant) is True
        assert await s.create_user_vector_index(user, tenant_id=tenant) is False
        name = s._user_vectors.name(tenant, user)
        conn = await server.connect()
        try:
            idx = await conn.fetchrow(
                "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1", name
            )  # fmt: skip
        finally:
            await conn.close()
        assert idx is not None and idx["indisvalid"]
        assert "USING hnsw" in idx["def"] and "o''brien %s" in idx["def"]
        assert [h.memory.id for h in await s.search(scope, req)] == before
        sql, p = s.pgvector_statements(scope, req, search_words(req.query))[0]
        async with s._conn("plan", autocommit=False) as c:  # rolled back: SET LOCAL ends
            await s._vec.configure_search(c)
            await c.exec_driver_sql("SET LOCAL enable_seqscan = off")  # 80 rows: force indexes
            await c.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            from sqlalchemy import text

            plan = "\n".join(r[0] for r in (await c.execute(text("EXPLAIN " + sql), p)).all())
        assert name in plan, plan

        async def index_exists() -> bool:
            conn = await server.connect()
            try:
                return bool(
                    await conn.fetchval("SELECT count(*) FROM pg_class WHERE relname = $1", name)
                )
            finally:
                await conn.close()

        assert await s.delete_all(Scope(user, tenant_id=tenant, agent_id="a0")) == 20
        assert await index_exists()
        assert await s.delete_all(scope) == 20
        assert not await index_exists()
        assert [h.memory.user_id for h in await s.search(Scope("other"), req)] == ["other"] * 5
    finally:
        await s.close()


def test_a_candidate_row_makes_the_same_memory_as_the_shared_row_reader() -> None:
    """``memory_of`` builds memories positionally (fast): it must agree with the shared
    reader field by field (a reordered StoredMemory would fail here), metadata left to
    ``with_metadata``, which unwraps exact JSON."""
    import dataclasses

    from mnemoplug.core.records import StoredMemory
    from mnemoplug.core.retrieval import ScoredMemory
    from mnemoplug.providers.postgres.candidates import Candidates, memory_of, with_metadata
    from mnemoplug.providers.postgres.rows import memory_from_row, metadata_json

    v = unit(3)
    md = {"x": 2.5e16, "z": -0.0, "k": [1, "b"]}
    text = metadata_json(md)
    row = ("id1", "t", "u", "a", "s", "user", "said", text, v.tobytes(), 1.5, 2.5, 9.5, 0.5,
           "Ann", 3)  # fmt: skip
    got, want = memory_of(row), memory_from_row(row)
    for f in dataclasses.fields(StoredMemory):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if f.name == "embedding":
            assert np.array_equal(a, b)
        elif f.name == "metadata":
            assert a == {} and b == md
        else:
            assert a == b and type(a) is type(b), f.name
    plain = memory_of(("id2", "", "u", None, None, None, "c", None, None, 1.0, 1.0, None,
                       None, None, None))  # fmt: skip
    assert plain.embedding is None and plain.seq == 0 and plain.expires_at is None
    cands = Candidates([row], [(*row[:6], "lexical copy", *row[7:], 0.25)])
    assert [m.content for m in cands.memories] == ["said"]  # the dense row wins, one an id
    assert cands.lexical == {"id1": 0.25}
    hits = with_metadata([ScoredMemory(cands.memories[0], 1.0, 1.0)], cands.metadata)
    assert hits[0].memory.metadata == md
    assert repr(hits[0].memory.metadata["z"]) == "-0.0"


@pytest.mark.parametrize("seed", range(40))
def test_candidates_rank_exactly_as_a_user_index_of_them(seed: int) -> None:
    """``Candidates.rank`` (arrays straight from the rows, numpy threads) returns what
    ``UserIndex.search`` returns for the same candidates: ids, scores and similarities to the
    bit, metadata decoded; with conversation structure (sessions, add calls sharing a
    ``created_at``, speakers and a date the question names), expired rows, lexical ties, and
    the plain fusion, rows without vectors and other configurations too."""
    import random

    from mnemoplug.core.filters import Filter
    from mnemoplug.core.records import Scope
    from mnemoplug.core.retrieval import RetrievalConfig, SearchRequest, UserIndex
    from mnemoplug.providers.postgres.candidates import Candidates, memory_of, with_metadata
    from mnemoplug.providers.postgres.rows import metadata_json

    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    dim, now = 16, T0 + 86_400 * 30
    n = rnd.choice([1, 2, 7, 60, 300])
    may8 = 1_683_504_000.0  # 2023-05-08 00:00 UTC
    rows = []
    for i in range(n):
        session = rnd.choice([None, None, "s1", "s2", "s3"])
        created = T0 + 3600 * rnd.randrange(0, 40)  # ties: one add call, one created_at
        occurred = rnd.choice([None, created - 60, may8 + 3600 * rnd.randrange(0, 48)])
        expires = rnd.choice([None, None, None, now - 1.0, now + 10.0])
        vec = rng.standard_normal(dim).astype(np.float32)
        vec /= np.linalg.norm(vec)
        raw = None if seed % 10 == 9 and i == n // 2 else vec.tobytes()
        rows.append((f"m{rnd.randrange(10**6):06d}-{i}", "t", "u", rnd.choice([None, "a1"]),
                     session, "user", f"fact {i}", metadata_json({"i": i}), raw, created,
                     created, expires, occurred, rnd.choice([None, "Ann", "Bob Ray"]),
                     rnd.randrange(0, 4) or None))  # fmt: skip
    lexical_ids = rnd.sample(range(n), k=rnd.randrange(0, n + 1))
    lexical = [(*rows[i], rnd.choice([0.1, 0.2, 0.2, 0.35])) for i in lexical_ids]
    dense = [rows[i] for i in range(n) if i not in lexical_ids or rnd.random() < 0.5]
    configs = [RetrievalConfig(), RetrievalConfig(neighbour_weight=0.0, session_weight=0.0,
               speaker_weight=0.0, date_weight=0.0), RetrievalConfig(recency_weight=0.0),
               RetrievalConfig(lexical_weight=0.0, structure_candidates=5)]  # fmt: skip
    query = rnd.choice(["what did Ann say on 8 May 2023?", "bob ray and coffee", "coffee"])
    req = SearchRequest(query, rng.standard_normal(dim).astype(np.float32), rnd.choice([1, 5, 50]),
                        Filter(None), now, rnd.choice([None, None, 0.2]),
                        configs[seed % len(configs)])  # fmt: skip
    assert req.vector is not None
    req.vector /= np.linalg.norm(req.vector)
    cands = Candidates(dense, lexical)
    got = cands.rank(Scope("u", tenant_id="t"), req)
    idx = UserIndex(lexical=False)
    idx.extend(memory_of(r) for r in cands.rows)
    want = with_metadata(
        idx.search(Scope("u", tenant_id="t"), req, lexical=cands.lexical), cands.metadata
    )
    assert [(h.memory.id, h.score, h.similarity) for h in got] == [
        (h.memory.id, h.score, h.similarity) for h in want
    ]
    for a, b in zip(got, want, strict=True):
        assert a.memory.copy(embedding=None) == b.memory.copy(embedding=None)
        assert a.memory.metadata == {"i": int(a.memory.content.split()[1])}
        if b.memory.embedding is None:  # the one row without its vector (seeds 9, 19, …)
            assert a.memory.embedding is None and seed % 10 == 9
        else:
            assert np.array_equal(a.memory.embedding, b.memory.embedding)
    if n > 1 and seed % len(configs) == 0:
        assert got, "no hits: the comparison above proves little"


def _facts(user: str, n: int, tenant: str = "") -> list[Any]:
    from mnemoplug.core.records import StoredMemory

    words = ["coffee", "zebra", "lisbon", "parrot", "novel", "chess"]
    return [
        StoredMemory(id=f"{tenant}:{user}:{i}", tenant_id=tenant, user_id=user,
                     agent_id=f"a{i % 2}", content=f"{user} fact {i} {words[i % 6]}",
                     metadata={"user": user, "i": i}, created_at=1.0 + i, updated_at=1.0 + i,
                     embedding=unit(i)) for i in range(n)
    ]  # fmt: skip


async def test_concurrent_searches_on_a_one_connection_pool_stay_in_their_scope(
    server: Any, table: str
) -> None:
    """A search takes its two connections one after the other, never holding one while waiting
    for the other: many searches at once on a pool of one connection all finish, each with
    exactly what it returns alone, inside its own user's (and agent's) scope; the same user id
    in another tenant is another user."""
    from mnemoplug.core.filters import Filter
    from mnemoplug.core.records import Scope
    from mnemoplug.core.retrieval import SearchRequest
    from mnemoplug.providers.postgres import PostgresMemoryStore

    writer = store(server, table, "pgvector")
    s = PostgresMemoryStore(server.url, table=table, vector="pgvector", pool_size=1,
                            max_overflow=0, command_timeout=10)  # fmt: skip
    try:
        await writer.open()
        await writer.insert(
            _facts("alice", 60) + _facts("bob", 40) + _facts("alice", 30, tenant="t2")
        )
        await writer.create_user_vector_index("alice")  # the HNSW path for one of them
        scopes = [Scope("alice"), Scope("bob"), Scope("alice", tenant_id="t2"),
                  Scope("alice", agent_id="a1"), Scope("nobody")]  # fmt: skip
        queries = ["coffee zebra", "lisbon parrot novel", "chess", "the of and", "fact 7"]
        cases = [(sc, SearchRequest(q, unit(k), 8, Filter(None), 99.0))
                 for k, (sc, q) in enumerate((sc, q) for sc in scopes for q in queries)]  # fmt: skip
        alone = [await s.search(sc, req) for sc, req in cases]
        together = await asyncio.wait_for(
            asyncio.gather(*(s.search(sc, req) for sc, req in cases * 3)), timeout=60
        )
        for (sc, _), want, got in zip(cases * 3, alone * 3, together, strict=True):
            assert [(h.memory.id, h.score) for h in got] == [(h.memory.id, h.score) for h in want]
            assert all(sc.owns(h.memory) for h in got), sc
            assert all(h.memory.metadata == {"user": sc.user_id, "i": int(h.memory.id.rsplit(":", 1)[1])}
                       for h in got)  # fmt: skip
        assert alone[0] and alone[len(queries)] and alone[2 * len(queries)]
        assert {h.memory.tenant_id for h in alone[2 * len(queries)]} == {"t2"}
        assert not any(alone[4 * len(queries) + j] for j in range(len(queries)))  # nobody
        assert s._engine.pool.checkedout() == 0
    finally:
        await s.close()
        await writer.close()


async def test_a_failing_candidate_statement_raises_a_provider_error_and_frees_both_connections(
    server: Any, table: str
) -> None:
    """When one of a search's two statements fails (here the full-text one: a text search
    configuration the server does not know), the search raises a ProviderError naming the
    cause after the other statement finished, and both connections are back in the pool."""
    from mnemoplug.core.errors import ProviderError
    from mnemoplug.core.filters import Filter
    from mnemoplug.core.records import Scope
    from mnemoplug.core.retrieval import SearchRequest
    from mnemoplug.providers.postgres import PostgresMemoryStore

    writer = store(server, table, "pgvector")
    bad = PostgresMemoryStore(server.url, table=table, vector="pgvector",
                              text_search_config="no_such_config")  # fmt: skip
    try:
        await writer.open()
        await writer.insert(_facts("alice", 10))
        await bad.open()
        req = SearchRequest("coffee", unit(1), 3, Filter(None), 99.0)
        for _ in range(3):
            with pytest.raises(ProviderError, match="no_such_config"):
                await bad.search(Scope("alice"), req)
            assert bad._engine.pool.checkedout() == 0
        no_words = SearchRequest("the", unit(1), 3, Filter(None), 99.0)  # only the vector part
        assert len(await bad.search(Scope("alice"), no_words)) == 3
    finally:
        await bad.close()
        await writer.close()


async def test_a_search_skips_the_ping_of_a_connection_that_just_answered_and_survives_its_end(
    server: Any, table: str
) -> None:
    """The pool pings a connection before a search takes it unless it answered a moment ago
    (writes and other reads always ping). When the server ends such a connection before the
    process noticed (here: while the event loop was busy), the search runs its statement again
    on a pinged or new connection: it succeeds, with the same hits."""
    import threading
    import time

    import asyncpg

    from mnemoplug.core.filters import Filter
    from mnemoplug.core.records import Scope
    from mnemoplug.core.retrieval import SearchRequest
    from mnemoplug.providers.postgres import PostgresMemoryStore

    app = f"mp-fresh-{table}"
    s = PostgresMemoryStore(server.url, table=table, vector="pgvector", application_name=app)
    req = SearchRequest("coffee zebra", unit(1), 5, Filter(None), 99.0)
    sent: list[str] = []
    fetchrow = asyncpg.Connection.fetchrow

    async def spy_fetchrow(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        sent.append(query)
        return await fetchrow(self, query, *args, **kw)

    def end_connections_while_busy() -> None:
        """pg_terminate_backend from another thread while this thread's loop waits (so it
        cannot see the connections close), then time for the backends to exit."""

        async def terminate() -> int:
            conn = await server.connect()
            try:
                n = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                    "WHERE application_name = $1",
                    app,
                )
                return int(n)
            finally:
                await conn.close()

        ended: list[int] = []
        t = threading.Thread(target=lambda: ended.append(asyncio.run(terminate())))
        t.start()
        t.join()
        assert ended and ended[0] >= 1
        time.sleep(0.2)

    try:
        await s.open()
        await s.insert(_facts("alice", 12))
        want = [h.memory.id for h in await s.search(Scope("alice"), req)]
        assert len(want) == 5
        asyncpg.Connection.fetchrow = spy_fetchrow  # type: ignore[method-assign]
        try:
            assert [h.memory.id for h in await s.search(Scope("alice"), req)] == want
            assert sent == []  # both connections answered a moment ago: no ping
            assert await s.count(Scope("alice"), 99.0) == 12
            assert sent == [";"]  # other calls ping
            sent.clear()
            assert [h.memory.id for h in await s.search(Scope("alice"), req)] == want
            end_connections_while_busy()
            assert [h.memory.id for h in await s.search(Scope("alice"), req)] == want
        finally:
            asyncpg.Connection.fetchrow = fetchrow  # type: ignore[method-assign]
        assert s._engine.pool.checkedout() == 0
        assert await s.count(Scope("alice"), 99.0) == 12
    finally:
        await s.close()


async def test_a_test_server_that_died_is_replaced_with_its_log_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fixture's own safety net: one outside fault (the bundled server killed, out of disk)
    must not fail every later pgvector test, and the cause must reach the test output."""
    import os
    import signal

    first = require_pgvector_server()
    pid = int((first.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):  # the postmaster is not our child: wait until it is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    second = require_pgvector_server()
    assert second.data_dir != first.data_dir
    assert "is not running; starting a new one" in capsys.readouterr().err
    conn = await second.connect()
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
