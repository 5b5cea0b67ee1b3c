"""Ranking never depends on other users' data (issue 11 item 4): on every backend, one user's
search results and scores are identical with and without a large other tenant (and another
user of the same tenant) holding the same words and nearby vectors."""

from __future__ import annotations

import time
import uuid

import numpy as np

from mnemoplug import MemoryStore
from mnemoplug.core.filters import Filter
from mnemoplug.core.records import Scope, StoredMemory
from mnemoplug.core.retrieval import RetrievalConfig, SearchRequest

_WORDS = (
    "coffee tea hiking berlin lisbon piano guitar sister brother dentist friday monday "
    "sushi ramen chess pottery kayak beagle parrot birthday concert deadline project"
).split()

_DIM = 384  # the mem0 backend stores with its own 384-dimensional embedder

QUERIES = [
    "coffee with my sister",
    "hiking in Lisbon on Friday",
    "piano concert deadline",
    "beagle parrot",
    "chess",
]


def _memories(tenant: str, user: str, n: int, seed: int, now: float) -> list[StoredMemory]:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, _DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    out = []
    for i in range(n):
        words = rng.choice(_WORDS, size=int(rng.integers(3, 9)))
        out.append(
            StoredMemory(
                id=uuid.uuid4().hex,
                user_id=user,
                tenant_id=tenant,
                content=f"User said {' '.join(words)} ({i})",
                created_at=now - i,
                updated_at=now - i,
                embedding=vecs[i],
            )
        )
    return out


async def _ranking(
    store: MemoryStore, scope: Scope, now: float
) -> list[list[tuple[str, float, float | None]]]:
    rng = np.random.default_rng(7)
    out = []
    for q in QUERIES:
        vec = rng.standard_normal(_DIM).astype(np.float32)
        vec /= np.linalg.norm(vec)
        for vector, cfg in [
            (vec, RetrievalConfig()),
            (None, RetrievalConfig()),  # lexical only
            (vec, RetrievalConfig(dense_weight=0.2, lexical_weight=1.0)),
        ]:
            hits = await store.search(
                scope, SearchRequest(q, vector, 10, Filter(None), now, config=cfg)
            )
            out.append([(h.memory.id, round(h.score, 12), h.similarity) for h in hits])
    return out


async def test_other_tenants_do_not_move_a_users_scores(memory_store: MemoryStore) -> None:
    now = time.time()
    tenant, user = f"t-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    scope = Scope(user, tenant_id=tenant)
    await memory_store.check_embedder("tenant-ranking-test", _DIM)
    await memory_store.insert(_memories(tenant, user, 40, 1, now))
    alone = await _ranking(memory_store, scope, now)
    assert any(alone), "the queries must find something"
    await memory_store.insert(_memories(f"big-{tenant}", user, 400, 2, now))
    await memory_store.insert(_memories(tenant, f"other-{user}", 200, 3, now))
    assert await _ranking(memory_store, scope, now) == alone
