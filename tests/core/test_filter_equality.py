"""Filter equality follows JSON, not Python: ``true`` is not ``1``; times compare as times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mnemoplug import InvalidFilterError, Memory


async def test_booleans_and_numbers_are_different_values() -> None:
    m = Memory("memory://", embedder=None)
    one = await m.add("u", "one", {"n": 1})
    true = await m.add("u", "true", {"n": True})
    zero = await m.add("u", "zero", {"n": 0})
    false = await m.add("u", "false", {"n": False})

    async def ids(f: dict) -> set[str]:
        return {r.id for r in await m.get_all("u", filters=f)}

    assert await ids({"n": 1}) == {one}
    assert await ids({"n": True}) == {true}
    assert await ids({"n": 0}) == {zero}
    assert await ids({"n": {"$in": [False]}}) == {false}
    assert await ids({"n": {"$ne": 1}}) == {true, zero, false}
    assert await ids({"n": {"$gte": 1}}) == {one}  # comparisons take numbers, never booleans


async def test_equality_on_record_times() -> None:
    now = [1_700_000_000.0]
    m = Memory("memory://", embedder=None, clock=lambda: now[0])
    first = await m.add("u", "first")
    now[0] += 60
    await m.add("u", "second", expires_at=now[0] + 3600)
    at = datetime.fromtimestamp(1_700_000_000.0, UTC)
    for spelled in (at, at.isoformat(), 1_700_000_000.0, at.replace(tzinfo=None)):
        assert [r.id for r in await m.get_all("u", filters={"created_at": spelled})] == [first]
    assert [r.id for r in await m.get_all("u", filters={"expires_at": None})] == [first]
    with pytest.raises(InvalidFilterError, match="created_at"):
        await m.get_all("u", filters={"created_at": "yesterday"})
