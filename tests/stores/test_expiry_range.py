"""Expiry input out of range (issue 11, item 1) is refused before anything is written, on every
store: the user's later reads keep working and nothing was stored or changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mnemoplug import Memory, MemoryStore, MemoryValidationError

BAD_EXPIRY: list[dict[str, Any]] = [
    {"expires_at": datetime.max},
    {"expires_at": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)},
    {"expires_at": datetime.min},
    {"expires_at": 1e300},
    {"expires_at": float("nan")},
    {"expires_at": float("inf")},
    {"expires_at": -1.0},
    {"expires_at": 10**400},
    {"expires_at": "10000-01-01"},
    {"ttl": 1e12},
    {"ttl": float("inf")},
    {"ttl": float("nan")},
    {"ttl": 2**64},
    {"ttl": 10**400},
    {"ttl": timedelta.max},
    {"ttl": True},
    {"ttl": "3600"},
]


@pytest.fixture
async def lexical(memory_store: MemoryStore) -> AsyncIterator[Memory]:
    m = Memory(memory_store, embedder=None, load_entry_points=False)
    yield m
    await m.close()


async def test_out_of_range_expiry_is_refused_and_stores_nothing(lexical: Memory) -> None:
    mid = await lexical.add("u", "dentist appointment on friday", {"tags": ["a"]})
    before = await lexical.get_all("u")
    for bad in BAD_EXPIRY:
        with pytest.raises(MemoryValidationError):
            await lexical.add("u", "should not be stored", **bad)
        with pytest.raises(MemoryValidationError):
            await lexical.update("u", mid, content="changed", **bad)
    after = await lexical.get_all("u")
    assert after == before
    assert await lexical.count("u") == 1


async def test_the_documented_extremes_are_accepted_and_read_back(lexical: Memory) -> None:
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    mid = await lexical.add("u", "kept until the year 9999", expires_at=last)
    rec = await lexical.get("u", mid)
    assert rec is not None and rec.expires_at == last
    await lexical.update("u", mid, ttl=timedelta(days=365 * 100))
    assert (await lexical.get_all("u"))[0].id == mid
    gone = await lexical.add("u", "expired at the epoch", expires_at=0)
    assert await lexical.get("u", gone) is None
