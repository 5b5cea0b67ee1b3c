"""The int8 first pass (core/dense_scan.py, core/fusion.py): its error bound holds, and a search
that uses it returns exactly what the float32 scan returns, whatever the index went through."""

from __future__ import annotations

import random

import numpy as np
import pytest

import mnemoplug.core.retrieval as retrieval
from mnemoplug.core import dense_scan
from mnemoplug.core.dense_scan import Int8Sketch, sketch_available
from mnemoplug.core.filters import compile_filters
from mnemoplug.core.fusion import best_rows, kth_largest
from mnemoplug.core.records import Scope, StoredMemory
from mnemoplug.core.retrieval import RetrievalConfig, SearchRequest, UserIndex

pytestmark = pytest.mark.skipif(not sketch_available(), reason="simsimd is not importable")

WORDS = "coffee tea hiking paris berlin dog cat piano chess sushi pasta rust python garden".split()


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _clustered(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    """Vectors in a few tight clusters, with exact duplicates: many near-ties and ties."""
    centres = _unit(rng, 6, dim)
    v = centres[rng.integers(0, 6, n)] + 0.05 * rng.standard_normal((n, dim)).astype(np.float32)
    v[rng.random(n) < 0.05] = v[0]
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("dim", [3, 64, 384, 1536])
def test_bound_holds_for_every_row(dim: int) -> None:
    rng = np.random.default_rng(dim)
    rows = rng.standard_normal((500, dim)).astype(np.float32) * rng.uniform(0.01, 50, (500, 1))
    rows[7] = 0.0  # a memory without a vector
    rows[8, :] = 0.0
    rows[8, 0] = 1e-30
    sketch = Int8Sketch.of(rows.astype(np.float32), 600)
    for q in [*rng.standard_normal((20, dim)).astype(np.float32), rows[3], -rows[4]]:
        approx, bound = sketch.scan(q, len(rows))
        exact = np.einsum("ij,j->i", rows, q)
        assert np.all(np.abs(exact.astype(np.float64) - approx) <= bound), dim
        assert approx[7] == 0.0


def test_kth_largest_and_best_rows_match_a_sort() -> None:
    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(1, 5000))
        values = rng.integers(0, max(2, n // 7), n).astype(np.float64)  # many ties
        if trial % 3 == 0:
            values[rng.random(n) < 0.6] = -np.inf
        k = int(rng.integers(1, n + 3))
        ordered = sorted(range(n), key=lambda i: (-values[i], i))
        assert kth_largest(values, k) == values[ordered[min(k, n) - 1]]
        assert sorted(best_rows(values, k).tolist()) == sorted(ordered[:k])


def _memories(rng: np.random.Generator, n: int, dim: int) -> list[StoredMemory]:
    vectors = _clustered(rng, n, dim)
    pick = random.Random(int(rng.integers(1 << 30)))
    out = []
    for i in range(n):
        text = " ".join(pick.sample(WORDS, 3))
        out.append(
            StoredMemory(
                id=f"m{i:05d}",
                user_id="u",
                content=text,
                agent_id=pick.choice(["a1", "a2"]),
                session_id=f"s{i // 25}",
                seq=i % 25,
                speaker=pick.choice(["Ann", "Bob"]),
                created_at=1_700_000_000 + 3600 * i,
                occurred_at=1_700_000_000 + 86_400 * (i // 25),
                embedding=vectors[i],
            )
        )
    return out


def _results(idx: UserIndex, scope: Scope, req: SearchRequest) -> list[tuple[str, float, float]]:
    return [(r.memory.id, r.score, r.similarity or 0.0) for r in idx.search(scope, req)]


CONFIGS = [
    RetrievalConfig(),
    RetrievalConfig(neighbour_weight=0, session_weight=0, speaker_weight=0, date_weight=0),
    RetrievalConfig(recency_weight=0.3, recency_half_life_hours=500),
    RetrievalConfig(dense_weight=2.5, lexical_weight=0.0, structure_candidates=40),
]


def test_search_with_the_sketch_equals_the_float32_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    dim = 48
    mems = _memories(rng, 3_000, dim)
    fast, exact = UserIndex(), UserIndex()
    for m in mems:
        fast.upsert(m)
        exact.upsert(m)
    broken = np.full(dim, np.nan, dtype=np.float32)
    queries = [*_clustered(rng, 12, dim), mems[5].embedding, broken, np.zeros(dim, np.float32)]
    filters = compile_filters(None)
    speaker_query = "what did Ann say about coffee on 14 November 2023"

    def compare(step: str) -> None:
        for cfg in CONFIGS:
            for q in queries:
                for scope, limit, min_rel in [
                    (Scope(user_id="u"), 10, None),
                    (Scope(user_id="u", agent_id="a1"), 25, None),
                    (Scope(user_id="u", session_id="s3"), 5, None),
                    (Scope(user_id="u"), 7, 0.8),
                    (Scope(user_id="u"), 500, None),
                ]:
                    req = SearchRequest(
                        query=speaker_query,
                        vector=q,
                        limit=limit,
                        filters=filters,
                        now=1_700_000_000 + 3600 * 4000,
                        min_relevance=min_rel,
                        config=cfg,
                    )
                    monkeypatch.setattr(retrieval, "SKETCH_MIN_ROWS", 10**9)
                    want = _results(exact, scope, req)
                    monkeypatch.setattr(retrieval, "SKETCH_MIN_ROWS", 100)
                    got = _results(fast, scope, req)
                    assert got == want, (step, cfg, scope, limit, min_rel)
        assert fast._sketch is not None and exact._sketch is None

    compare("built")
    # the sketch follows every change: updates (new vector, no vector), removals, appends
    for i in rng.choice(3_000, 300, replace=False).tolist():
        m = mems[i].copy(embedding=_clustered(rng, 1, dim)[0] if i % 2 else None)
        fast.upsert(m)
        exact.upsert(m)
    for i in rng.choice(3_000, 400, replace=False).tolist():
        assert fast.remove(mems[i].id) is not None
        exact.remove(mems[i].id)
    # vectors an embedder got wrong: ruled out by the exact scan alike
    for i, bad in ((11, np.nan), (12, np.inf)):
        m = mems[i].copy(embedding=np.full(dim, bad, dtype=np.float32))
        fast.upsert(m)
        exact.upsert(m)
    extra = _memories(rng, 700, dim)
    extra = [m.copy(id="x" + m.id) for m in extra]
    fast.extend(extra[:500])
    exact.extend(extra[:500])
    for m in extra[500:]:
        fast.upsert(m)
        exact.upsert(m)
    compare("changed")


def test_without_simsimd_the_float32_scan_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    mems = _memories(rng, 2_500, 32)
    idx = UserIndex()
    idx.extend(mems)
    monkeypatch.setattr(dense_scan, "_kernels", lambda: None)
    req = SearchRequest(
        query="coffee", vector=mems[0].embedding, limit=5, filters=compile_filters(None), now=2e9
    )
    hits = idx.search(Scope(user_id="u"), req)
    assert idx._sketch is None
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_exact_dots_score_each_row_alone_and_match_float64() -> None:
    rng = np.random.default_rng(11)
    rows, q = _unit(rng, 1_000, 384), _unit(rng, 1, 384)[0]
    every = dense_scan.exact_dots(rows, q)
    picked = np.array([999, 3, 500, 3, 0])
    assert every.dtype == np.float32 and every.shape == (1_000,)
    # a row's score does not depend on which rows are scored with it (the sketch path relies
    # on it to equal the full scan)
    assert np.array_equal(dense_scan.exact_dots(np.take(rows, picked, axis=0), q), every[picked])
    want = rows.astype(np.float64) @ q.astype(np.float64)
    assert np.max(np.abs(every - want)) < 1e-6
    assert dense_scan.exact_dots(rows[:0], q).shape == (0,)


def test_exact_dots_without_simsimd(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(12)
    rows, q = _unit(rng, 50, 16), _unit(rng, 1, 16)[0]
    fast = dense_scan.exact_dots(rows, q)
    monkeypatch.setattr(dense_scan, "_kernels", lambda: None)
    plain = dense_scan.exact_dots(rows, q)
    assert plain.dtype == np.float32
    assert np.max(np.abs(plain - fast)) < 1e-6
