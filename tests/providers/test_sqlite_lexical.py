"""The SQLite store's in-process BM25 gives FTS5's ``bm25()`` scores (the formula the store
used before), from the user's own statistics: on a file holding one user, where FTS5's
whole-file statistics are that user's, scores and rankings are the same as FTS5's."""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory
from mnemoplug.core.retrieval import (
    RetrievalConfig,
    ScoredMemory,
    SearchRequest,
    UserIndex,
    query_terms,
)
from mnemoplug.providers.sqlite import SQLiteMemoryStore
from mnemoplug.providers.sqlite.lexical import FTS5Tokens, UserBM25

# words chosen for what tokenisers disagree on: stems, case, accents, underscores, digits,
# punctuation, apostrophes, non-Latin scripts
_VOCAB = (
    "running runs ran runner Runner RUNNING hiking hikes hiked café cafe Café naïve naive "
    "Straße strasse snake_case snake case x+y C++ e-mail email e.mail don't won't o'clock "
    "2024 3.14 v1.2.3 #tag @alice alice's ALICE Москва москве 東京 tokyo généralement "
    "relational relate conditional conditioning sensibility probate rate organization "
    "agreed feed happy happiness generalization electrical electricity hopeful goodness "
    "coffee tea sister brother berlin lisbon piano"
).split()

QUERIES = [
    "running in the café",
    "snake_case naive Straße",
    "What does Alice think about coffee?",
    "relational organization generalization",
    "hikes C++ 2024",
    "Москва tokyo 東京",
    "don't email o'clock",
    "happiness hopeful goodness electricity",
    "sister's piano in Lisbon",
    "the and of",
]


def _corpus(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(1, 14)))
        + rng.choice(["", ".", "!", " (again)", ", really"])
        for _ in range(n)
    ]


def _fts5_scores(db: Path, query: str) -> dict[str, float]:
    """What the store computed before: FTS5 bm25() over the file, as its MATCH was built."""
    words = query_terms(query)
    if not words:
        return {}
    terms = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT m.id, -bm25(mnemoplug_fts, 1.0, 0.0) FROM mnemoplug_fts f "
            "JOIN mnemoplug_memories m ON m.rowid = f.rowid WHERE mnemoplug_fts MATCH ?",
            (f"content : ({terms})",),
        ).fetchall()
    return {r[0]: float(r[1]) for r in rows}


def _untied(hits: list[ScoredMemory]) -> list[str | None]:
    scores = [round(h.score, 9) for h in hits]
    return [
        h.memory.id if scores.count(s) == 1 else None for h, s in zip(hits, scores, strict=True)
    ]


def test_tokens_are_fts5s_own() -> None:
    tokens = FTS5Tokens()
    texts = _corpus(300)
    with sqlite3.connect(":memory:") as con:
        con.execute("CREATE VIRTUAL TABLE t USING fts5(c, tokenize='porter unicode61')")
        con.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        con.executemany("INSERT INTO t(rowid, c) VALUES (?, ?)", enumerate(texts))
        rows = sorted(con.execute("SELECT doc, offset, term FROM v").fetchall())
    expected: list[list[str]] = [[] for _ in texts]
    for doc, _offset, term in rows:
        expected[doc].append(term)
    assert [tokens.tokens(t) for t in texts] == expected
    assert tokens.tokens("Running CAFÉ snake_case") == ["run", "cafe", "snake", "case"]


async def check_scores(store: SQLiteMemoryStore, db: Path, scope: Scope, n: int) -> UserIndex:
    """The cached index's scores are FTS5's, on both scoring paths, and a cold load agrees."""
    idx = await store._search_index(scope.user_key)
    assert idx is not None and isinstance(idx.bm25, UserBM25)
    fresh = UserBM25.of(idx.records)
    for q in QUERIES:
        expected = _fts5_scores(db, q)
        got = idx.bm25.top(q, 10 * n)  # arrays when there are many matches
        assert got.keys() == expected.keys(), q
        assert expected or q == "the and of", q
        for k, v in expected.items():
            assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-12), q
        assert idx.bm25.scores(q) == pytest.approx(got)  # the dict path
        assert fresh.top(q, 10 * n) == pytest.approx(got)
        best = idx.bm25.top(q, 5)
        assert sorted(best.values(), reverse=True) == pytest.approx(
            sorted(got.values(), reverse=True)[:5]
        )
    return idx


@pytest.mark.parametrize("n", [400, 1500])
async def test_scores_and_ranking_match_fts5_bm25(tmp_path: Path, n: int) -> None:
    db = tmp_path / "one-user.db"
    store = SQLiteMemoryStore(path=db)
    now = time.time()
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((n, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    scope = Scope("u")
    mems = [
        StoredMemory(
            id=uuid.uuid4().hex,
            user_id="u",
            content=c,
            created_at=now - i,
            updated_at=now - i,
            embedding=vecs[i],
        )
        for i, c in enumerate(_corpus(n))
    ]
    try:
        await store.check_embedder("lexical-test", 16)
        half = n - 40
        await store.insert(mems[:half])
        await store.search(scope, SearchRequest("x", None, 1, Filter(None), now))  # cache u
        for m in mems[half:]:  # the rest one at a time: the cached index is updated in place
            await store.insert([m])
        gone = mems[3]
        assert await store.delete(scope, gone.id)
        updated = await store.update(
            scope,
            mems[4].id,
            content="Runner runs to the café",
            metadata=None,
            embedding=vecs[4],
            updated_at=now,
        )
        assert updated is not None
        await check_scores(store, db, scope, n)
        # writes after the queries: cached per-term arrays must follow (and slots be reused)
        for m in mems[10:15]:
            assert await store.delete(scope, m.id)
        extra = _corpus(8, seed=9)
        for i, c in enumerate(extra):
            new = StoredMemory(id=uuid.uuid4().hex, user_id="u", content=c, created_at=now + i,
                               updated_at=now + i, embedding=vecs[i])  # fmt: skip
            await store.insert([new])
        idx = await check_scores(store, db, scope, n)
        # every match a candidate: which of several equal scores make a cut is arbitrary
        cfg = RetrievalConfig(common_term_ratio=None, lexical_candidates=10 * n)
        for q in QUERIES:
            expected = _fts5_scores(db, q)
            # the store's fused ranking is the one FTS5's scores give
            for vector in (vecs[7], None):
                req = SearchRequest(q, vector, 10, Filter(None), now, config=cfg)
                hits = await store.search(scope, req)
                ref = idx.search(
                    scope,
                    req,
                    lexical=expected,
                )
                # same scores in the same order; ids too, up to ties (any order, as from FTS5)
                assert [h.score for h in hits] == pytest.approx([h.score for h in ref], rel=1e-9)
                assert _untied(hits) == _untied(ref), q
    finally:
        await store.close()


def _state(idx: UserBM25) -> tuple[object, ...]:
    n = len(idx._slot_ids)
    return (
        [(t, list(p.items())) for t, p in idx._postings.items()],
        list(idx._doc_len.items()),
        list(idx._doc_terms.items()),
        idx._total_len,
        list(idx._texts.items()),
        list(idx._slot.items()),
        list(idx._slot_ids),
        idx._lens[:n].tolist(),
    )


@pytest.mark.parametrize("repeat", [False, True])
def test_a_built_index_is_the_index_of_one_add_at_a_time(repeat: bool) -> None:
    texts = _corpus(600, seed=9)
    mems = [StoredMemory(id=f"m{i}", user_id="u", content=t) for i, t in enumerate(texts)]
    if repeat:  # the same id twice: the later memory replaces the first, as add does
        mems.append(StoredMemory(id="m3", user_id="u", content="coffee in Lisbon"))
    one_by_one = UserBM25()
    for m in mems:
        one_by_one.add(m.id, m.indexed_text)
    built = UserBM25.of(mems)
    assert _state(built) == _state(one_by_one)
    for q in QUERIES:
        assert built.top(q, 50) == one_by_one.top(q, 50)
    built.add("new", "coffee and tea")  # it keeps growing like any index
    one_by_one.add("new", "coffee and tea")
    assert _state(built) == _state(one_by_one)
