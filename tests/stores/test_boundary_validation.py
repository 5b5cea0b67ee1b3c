"""Bad input at the public API raises a typed mnemoplug error, on every store, and changes
nothing (issue 11, item 2): the cases the audit's fuzzing found escaping untyped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mnemoplug import (
    ConfigurationError,
    InvalidFilterError,
    InvalidMetadataError,
    Memory,
    MemoryStore,
    MemoryValidationError,
)


def _self_ref() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


def _nested(n: int) -> dict[str, Any]:
    f: dict[str, Any] = {"x": 1}
    for _ in range(n):
        f = {"$and": [f]}
    return f


def _deep(n: int) -> Any:
    v: Any = "leaf"
    for _ in range(n):
        v = [v]
    return {"k": v}


LONE = "caf\udce9"  # a lone surrogate, as os.fsdecode leaves undecodable bytes

BAD_FILTERS: list[Any] = [
    [("x", 1)],
    "topic",
    1,
    {"n": {"$gt": 10**400}},
    {"n": {"$lt": float("nan")}},
    {"n": {"$in": [10**400]}},
    {"created_at": {"$gt": 10**400}},
    _nested(400),
    {"tags": {"$eq": _self_ref()}},
]
BAD_METADATA: list[Any] = [
    _self_ref(),
    _deep(400),
    {"k": LONE},
    {LONE: 1},
    {"n": 10**400},
    {"n": 2**64},
    {"big": "x" * 1_100_000},
    [("a", 1)],
]


@pytest.fixture
async def lexical(memory_store: MemoryStore) -> AsyncIterator[Memory]:
    m = Memory(memory_store, embedder=None, load_entry_points=False)
    yield m
    await m.close()


async def test_bad_input_raises_typed_errors_and_changes_nothing(lexical: Memory) -> None:
    mid = await lexical.add("u", "dentist appointment on friday", {"tags": ["a"], "n": 3})
    before = await lexical.get_all("u")
    for f in BAD_FILTERS:
        with pytest.raises(InvalidFilterError):
            await lexical.get_all("u", filters=f)
        with pytest.raises(InvalidFilterError):
            await lexical.search("u", "dentist", filters=f)
    for meta in BAD_METADATA:
        with pytest.raises(InvalidMetadataError):
            await lexical.add("u", "should not be stored", meta)
        with pytest.raises(InvalidMetadataError):
            await lexical.update("u", mid, metadata=meta)
    for call in (
        lambda: lexical.add("u", f"text with {LONE}"),
        lambda: lexical.add(LONE, "text"),
        lambda: lexical.add("u", "text", tenant_id=LONE),
        lambda: lexical.add("u", [{"role": "user", "content": LONE}]),
        lambda: lexical.search("u", LONE),
        lambda: lexical.get("u", LONE),
        lambda: lexical.update("u", LONE, content="x"),
        lambda: lexical.update("u", mid, content=LONE),
        lambda: lexical.delete("u", LONE),
        lambda: lexical.update("u", 12345, content="x"),  # type: ignore[arg-type]
        lambda: lexical.update("u", 2**70, content="x"),  # type: ignore[arg-type]
        lambda: lexical.update("u", b"id", content="x"),  # type: ignore[arg-type]
        lambda: lexical.update("u", "x" * 10_000, content="x"),
        lambda: lexical.get_all("u", offset=2**70),
        lambda: lexical.search("u", "dentist", min_relevance=float("nan")),
        lambda: lexical.search("u", "dentist", min_relevance="high"),  # type: ignore[arg-type]
        lambda: lexical.search("u", "dentist", retrieval="fast"),  # type: ignore[arg-type]
    ):
        with pytest.raises(MemoryValidationError):
            await call()
    assert await lexical.get_all("u") == before
    assert await lexical.count("u") == 1


@pytest.mark.parametrize("url", ["sqlite:///%00x.db", "sqlite:///a%00/x.db", "sqlite:////tmp/%00"])
def test_a_file_name_the_file_system_cannot_take_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="NUL"):
        Memory(url, embedder=None, load_entry_points=False)


def test_metadata_limits_are_documented_and_enforced() -> None:
    from mnemoplug.core.validation import MAX_METADATA_DEPTH, check_metadata

    check_metadata(_deep(MAX_METADATA_DEPTH - 1))
    with pytest.raises(InvalidMetadataError, match="nested"):
        check_metadata(_deep(MAX_METADATA_DEPTH))


async def test_session_and_checkpoint_input_is_checked_at_the_boundary(
    session_store: Any, checkpoint_store: Any
) -> None:
    from mnemoplug import InvalidCheckpointError, InvalidMessageError

    await session_store.add_message("s1", {"role": "user", "content": "hello"}, user_id="u")
    for bad in (
        lambda: session_store.add_message("s1", {"role": "user", "content": LONE}, user_id="u"),
        lambda: session_store.add_message(
            "s1", {"role": "user", "content": "x", "id": LONE}, user_id="u"
        ),
        lambda: session_store.add_message(
            "s1", {"role": "user", "content": "x", "metadata": _self_ref()}, user_id="u"
        ),
        lambda: session_store.add_message(
            "s1", {"role": "user", "content": "x", "timestamp": 1e300}, user_id="u"
        ),
        lambda: session_store.add_message(LONE, {"role": "user", "content": "x"}, user_id="u"),
        lambda: session_store.get_messages("s1", limit=2**70),
        lambda: session_store.clear_old_sessions(float("nan")),
    ):
        with pytest.raises(InvalidMessageError):
            await bad()
    with pytest.raises(MemoryValidationError):
        await session_store.add_message("s1", {"role": "user", "content": "x"}, user_id=LONE)
    assert [m.content for m in await session_store.get_messages("s1")] == ["hello"]

    await checkpoint_store.save("r", {"step": 1}, user_id="u")
    for bad in (
        lambda: checkpoint_store.save("r", {"s": LONE}, user_id="u"),
        lambda: checkpoint_store.save("r", {LONE: 1}, user_id="u"),
        lambda: checkpoint_store.save("r", _self_ref(), user_id="u"),
        lambda: checkpoint_store.save("r", {"n": 10**400}, user_id="u"),
        lambda: checkpoint_store.save(LONE, {}, user_id="u"),
        lambda: checkpoint_store.save("r", {}, user_id="u", checkpoint_id=LONE),
        lambda: checkpoint_store.list(user_id="u", limit=2**70),
    ):
        with pytest.raises(InvalidCheckpointError):
            await bad()
    loaded = await checkpoint_store.load("r", user_id="u")
    assert loaded is not None and loaded.state == {"step": 1}
    assert len(await checkpoint_store.list(user_id="u")) == 1
