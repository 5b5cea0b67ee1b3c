"""Metadata reads back exactly as written on every store (issue 11, item 8): floats stay floats
(``2.5e16``, ``1e308``), ``-0.0`` keeps its sign, large integers stay integers — after add and
after update, through the cache and from a fresh store."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mnemoplug import Memory, MemoryStore

NUMBERS: dict[str, Any] = {
    "big_float": 2.5e16,
    "max_float": 1e308,
    "neg_zero": -0.0,
    "tiny": 5e-324,
    "small": 1e-7,
    "one": 1.0,
    "third": 1 / 3,
    "big_int": 2**63 - 1,
    "neg_int": -(2**63),
    "nested": {"list": [2.5e16, -0.0, 3, 1e-300], "deep": {"x": 1.5e300}},
}


def exact(value: Any) -> Any:
    """``value`` with each float as (type, repr, sign), so 0.0 != -0.0 and 1 != 1.0."""
    if isinstance(value, float):
        return ("float", repr(value), math.copysign(1.0, value))
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    return (type(value).__name__, value)


@pytest.fixture
async def lexical(memory_store: MemoryStore) -> AsyncIterator[Memory]:
    m = Memory(memory_store, embedder=None, load_entry_points=False)
    yield m
    await m.close()


async def test_numbers_round_trip_exactly(lexical: Memory) -> None:
    mid = await lexical.add("u", "a memory with awkward numbers", NUMBERS)
    other = await lexical.add("u", "a memory updated to awkward numbers", {"n": 1})
    await lexical.update("u", other, metadata=NUMBERS)
    for _ in range(2):  # the second time from the cache, where the store has one
        for rec in await lexical.get_all("u"):
            assert exact(rec.metadata) == exact(NUMBERS), rec.id
        got = await lexical.get("u", mid)
        assert got is not None and exact(got.metadata) == exact(NUMBERS)
        hits = await lexical.search("u", "awkward numbers")
        assert [exact(h.metadata) for h in hits] == [exact(NUMBERS)] * 2
    assert json.dumps(got.metadata) == json.dumps(NUMBERS)


async def test_the_exact_text_key_itself_round_trips(lexical: Memory) -> None:
    from mnemoplug.providers.postgres.rows import EXACT_KEY

    for meta in ({EXACT_KEY: "{}"}, {EXACT_KEY: '{"a": 1}', "b": 2}, {EXACT_KEY: 1}):
        mid = await lexical.add("u", "a memory using the reserved key", meta)
        got = await lexical.get("u", mid)
        assert got is not None and got.metadata == meta
