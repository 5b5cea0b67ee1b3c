"""What the API returns never shares mutable parts with what a store keeps (issue 11, item 3):
changing a returned record's nested metadata, or the dict passed in, or what a hook saw, does
not change what the next read returns — on every store, and for session messages and
checkpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mnemoplug import Memory, MemoryStore


@pytest.fixture
async def lexical(memory_store: MemoryStore) -> AsyncIterator[Memory]:
    m = Memory(memory_store, embedder=None, load_entry_points=False)
    seen: list[Any] = []

    @m.hook("on_memory_add")
    def keep(ctx: Any) -> None:  # a hook that keeps (and later changes) what it saw
        seen.append(ctx)

    m.seen = seen  # type: ignore[attr-defined]
    yield m
    await m.close()


def _scribble(meta: dict[str, Any]) -> None:
    meta["tags"].append("scribbled")
    meta["nested"]["k"] = "scribbled"
    meta["new"] = 1


async def test_returned_records_are_independent_copies(lexical: Memory) -> None:
    given = {"tags": ["a"], "nested": {"k": "v"}}
    mid = await lexical.add("u", "dentist appointment on friday", given)
    _scribble(given)
    for ctx in lexical.seen:  # type: ignore[attr-defined]
        if isinstance(ctx.metadata, dict) and "tags" in ctx.metadata:
            _scribble(ctx.metadata)
    expected = {"tags": ["a"], "nested": {"k": "v"}}
    reads = [
        lambda: lexical.get_all("u"),
        lambda: lexical.search("u", "dentist"),
        lambda: _one(lexical.get("u", mid)),
    ]
    for read in reads:
        for rec in await read():
            assert rec.metadata == expected
            _scribble(rec.metadata)
    for read in reads:
        assert [r.metadata for r in await read()] == [expected]
    updated = await lexical.update("u", mid, metadata={"tags": ["b"], "nested": {"k": "w"}})
    _scribble(updated.metadata)
    assert [r.metadata for r in await lexical.get_all("u")] == [
        {"tags": ["b"], "nested": {"k": "w"}}
    ]


async def _one(coro: Any) -> list[Any]:
    rec = await coro
    return [] if rec is None else [rec]


async def test_session_messages_and_checkpoints_are_copies(
    session_store: Any, checkpoint_store: Any
) -> None:
    meta = {"tags": ["a"], "nested": {"k": "v"}}
    stored = await session_store.add_message(
        "s", {"role": "user", "content": "hello", "metadata": meta}, user_id="u"
    )
    _scribble(meta)
    _scribble(stored.metadata)
    got = await session_store.get_messages("s", user_id="u")
    _scribble(got[0].metadata)
    again = await session_store.get_messages("s", user_id="u")
    assert again[0].metadata == {"tags": ["a"], "nested": {"k": "v"}}

    meta = {"tags": ["a"], "nested": {"k": "v"}}
    cp = await checkpoint_store.save("r", {"step": [1]}, user_id="u", metadata=meta)
    _scribble(meta)
    _scribble(cp.metadata)
    loaded = await checkpoint_store.load("r", user_id="u")
    _scribble(loaded.metadata)
    loaded.state["step"].append(2)
    final = await checkpoint_store.load("r", user_id="u")
    assert final.metadata == {"tags": ["a"], "nested": {"k": "v"}}
    assert final.state == {"step": [1]}
