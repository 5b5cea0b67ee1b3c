"""Retrieval internals: tokenising, BM25, common-term pruning, fusion."""

from __future__ import annotations

import math

import numpy as np

from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory
from mnemoplug.core.retrieval import (
    BM25Index,
    RetrievalConfig,
    SearchRequest,
    UserIndex,
    fts5_query,
    query_terms,
    tokenize,
)


def test_tokenize_and_query_terms() -> None:
    assert tokenize("Running runs RAN") == ["run", "run", "ran"]
    assert query_terms("What is the user's favourite food?") == ["user", "favourite", "food"]
    assert fts5_query('a "quoted" word') == '"quoted" OR "word"'
    assert fts5_query("the and of") is None


def test_bm25_matches_the_formula() -> None:
    idx = BM25Index()
    docs = {"a": "cats like milk", "b": "dogs like bones", "c": "cats and dogs"}
    for k, v in docs.items():
        idx.add(k, v)
    s = idx.scores("cats")
    n, df, avgdl = 3, 2, (3 + 3 + 3) / 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = idf * 1 * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * 3 / avgdl))
    assert set(s) == {"a", "c"} and math.isclose(s["a"], expected)
    idx.remove("a")
    assert set(idx.scores("cats")) == {"c"}
    idx.add("c", "only birds now")  # re-adding replaces
    assert idx.scores("cats") == {} and set(idx.scores("birds")) == {"c"}


def test_common_terms_are_pruned_but_the_rarest_is_kept() -> None:
    idx = BM25Index()
    for i in range(1200):
        idx.add(f"d{i}", f"user note {i}" + (" zebra" if i == 7 else ""))
    everything = idx.scores("user zebra")
    assert len(everything) == 1200
    pruned = idx.scores("user zebra", common_term_ratio=0.05)
    assert set(pruned) == {"d7"}
    only_common = idx.scores("user", common_term_ratio=0.05)
    assert len(only_common) == 1200  # the rarest (only) term stays
    small = BM25Index()
    for i in range(50):
        small.add(str(i), "user note")
    assert len(small.scores("user", common_term_ratio=0.05)) == 50


def _index(vectors: list[list[float]], texts: list[str]) -> UserIndex:
    ui = UserIndex()
    for i, (v, t) in enumerate(zip(vectors, texts, strict=True)):
        vec = np.asarray(v, dtype=np.float32)
        ui.upsert(
            StoredMemory(
                id=f"m{i}",
                user_id="u",
                content=t,
                created_at=1000.0 + i,
                updated_at=1000.0 + i,
                embedding=vec / np.linalg.norm(vec),
            )
        )
    return ui


def _req(query: str, vec: list[float] | None, now: float = 5000.0, **cfg: object) -> SearchRequest:
    v = None if vec is None else np.asarray(vec, dtype=np.float32) / np.linalg.norm(vec)
    return SearchRequest(
        query=query,
        vector=v,
        limit=10,
        filters=Filter(None),
        now=now,
        config=RetrievalConfig(**cfg),
    )  # type: ignore[arg-type]


def test_no_lexical_credit_without_a_match_keeps_dense_order() -> None:
    ui = _index([[1, 0], [0.9, 0.1], [0.5, 0.5]], ["alpha", "beta", "gamma"])
    hits = ui.search(Scope("u"), _req("nothing matches", [1, 0]))
    assert [h.memory.id for h in hits] == ["m0", "m1", "m2"]
    assert all(0 <= h.score <= 1 for h in hits)
    assert math.isclose(hits[0].score, 1.0 / 1.5, rel_tol=1e-5)  # dense only, weights normalised


def test_lexical_match_lifts_a_weaker_dense_hit() -> None:
    ui = _index([[1, 0], [0.8, 0.6]], ["alpha", "the zebra code"])
    hits = ui.search(Scope("u"), _req("zebra", [1, 0]))
    assert hits[0].memory.id == "m1" and hits[0].similarity is not None
    dense_only = ui.search(Scope("u"), _req("zebra", [1, 0], lexical_weight=0.0))
    assert dense_only[0].memory.id == "m0"


def test_recency_and_min_relevance() -> None:
    ui = _index([[1, 0], [1, 0]], ["old", "new"])
    hits = ui.search(
        Scope("u"), _req("q", [1, 0], now=1002.0, recency_weight=1.0, recency_half_life_hours=0.01)
    )
    assert hits[0].memory.id == "m1"  # created later
    none = ui.search(
        Scope("u"),
        SearchRequest(
            "q", np.array([0, 1], np.float32), 10, Filter(None), 5000.0, min_relevance=0.5
        ),
    )
    assert none == []


def test_user_index_cache_versions_own_writes_and_lru() -> None:
    from mnemoplug.core.retrieval import UserIndexCache

    def idx(n: int) -> UserIndex:
        ui = UserIndex()
        for i in range(n):
            ui.upsert(StoredMemory(id=f"{n}-{i}", user_id="u", content="x"))
        return ui

    cache = UserIndexCache(max_records=5)
    a = idx(2)
    cache.put("a", 1, a)
    assert cache.get("a", 1) is a and cache.get("a", 2) is None
    # our own write at generation 2: applied in place
    cache.after_write(
        {"a": 2}, lambda k, i: i.upsert(StoredMemory(id="new", user_id="u", content="y"))
    )
    assert cache.get("a", 2) is a and len(a) == 3 and cache.records == 3
    # someone else wrote (4 is not 2 + 1): the entry is dropped, never served stale
    cache.after_write({"a": 4}, lambda k, i: None)
    assert "a" not in cache and cache.records == 0
    cache.put("a", 1, idx(2))
    cache.put("b", 1, idx(2))
    cache.get("a", 1)  # a is now the most recently used
    cache.put("c", 1, idx(2))  # 6 records > 5: the least recently used (b) goes
    assert "b" not in cache and "a" in cache and "c" in cache and cache.records == 4
    cache.advance("c", "other-token", "t2", lambda k, i: None)
    assert "c" not in cache


def test_extend_at_once_equals_one_upsert_at_a_time() -> None:
    """UserIndex.extend appends vector-carrying memories in one go: the same index state and
    the same ranking (conversation structure included) as upserting them one by one; batches
    it cannot take that way (a repeated id, an id already held, a memory without a vector)
    still end up the same."""
    rng = np.random.default_rng(3)

    def mem(i: int, *, vector: bool = True, content: str | None = None) -> StoredMemory:
        v = rng.standard_normal(8).astype(np.float32)
        return StoredMemory(
            id=f"m{i}", user_id="u", content=content or f"fact {i} about coffee" * (i % 3 + 1),
            created_at=100.0 + i, updated_at=100.0 + i, embedding=v / np.linalg.norm(v) if vector else None,
            expires_at=150.0 if i % 7 == 0 else None, session_id=f"s{i % 4}", seq=i % 3,
            speaker="Ann" if i % 2 else None,
        )  # fmt: skip

    batches = [
        [mem(i) for i in range(40)],
        [mem(40), mem(41), mem(40, content="again")],  # a repeated id
        [mem(5, content="changed"), mem(42)],  # an id held already
        [mem(43, vector=False), mem(44)],  # one without a vector
        [mem(i) for i in range(45, 60)],
    ]
    bulk, single = UserIndex(lexical=False), UserIndex(lexical=False)
    for batch in batches:
        bulk.extend(batch)
        for m in batch:
            single.upsert(m)
        n = len(single)
        assert len(bulk) == n and bulk.pos == single.pos
        assert [m.id for m in bulk.records] == [m.id for m in single.records]
        assert bulk._matrix is not None and single._matrix is not None
        assert np.array_equal(bulk._matrix[:n], single._matrix[:n])
        assert np.array_equal(bulk._created[:n], single._created[:n])
        assert np.array_equal(bulk._expires[:n], single._expires[:n])
    q = rng.standard_normal(8).astype(np.float32)
    req = SearchRequest("what did Ann say about coffee", q, 10, Filter(None), 120.0)
    lexical = {f"m{i}": float(i % 5) for i in range(0, 60, 3)}
    got = bulk.search(Scope("u"), req, lexical=lexical)
    want = single.search(Scope("u"), req, lexical=lexical)
    assert [(h.memory.id, h.score, h.similarity) for h in got] == [
        (h.memory.id, h.score, h.similarity) for h in want
    ]


def test_lexical_arrays_give_exactly_the_dict_scores_through_changes() -> None:
    """UserIndex ranks with BM25Index.term_scores (arrays, cached per term and row) instead of
    the dict of BM25Index.scores: same sums, bit for bit, after adds, updates and removals."""
    import random

    rng = random.Random(5)
    words = ["tea", "coffee", "paris", "dog", "hiking", "piano", "user", "likes", "rust"]
    idx = UserIndex()

    def put(i: int) -> None:
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        idx.upsert(StoredMemory(id=f"m{i}", user_id="u", content=text))

    def check() -> None:
        assert idx.bm25 is not None
        queries = ["tea", "user likes coffee", "dog piano rust hiking", "nothing", "zebra tea"]
        for q in queries:
            for ratio in (None, 0.3):
                rows, got = idx._own_lexical_rows(q, ratio)
                want = idx.bm25.scores(q, ratio)
                assert {
                    idx.records[r].id: s for r, s in zip(rows.tolist(), got.tolist(), strict=True)
                } == want

    for i in range(1500):
        put(i)
    check()
    for i in rng.sample(range(1500), 300):  # rows move
        idx.remove(f"m{i}")
    check()
    for i in range(1500, 1700):  # new documents, terms' lists change
        put(i)
    for i in rng.sample(range(1500, 1700), 50):  # updates in place
        put(i)
    check()
    # the last rows match a term that the removals below never touch: they move to the freed
    # rows while that term's document list stays the same
    for i in range(1700, 1800):
        idx.upsert(StoredMemory(id=f"m{i}", user_id="u", content="zebra"))
    check()
    for i in rng.sample(range(1500, 1700), 60):
        idx.remove(f"m{i}")
    check()
