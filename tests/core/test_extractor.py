"""Memory(extractor=...): custom extractors, sync and async, and what remember does with
operations that fail, are malformed or reach outside the caller's scope (issue 10 item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from mnemoplug import Memory, MemoryOperation, MemoryValidationError, NewTurn


@pytest.fixture
def memory_factory(embedder: Any) -> Any:
    def make(extractor: Any) -> Memory:
        return Memory("memory://", embedder=embedder, load_entry_points=False, extractor=extractor)

    return make


async def test_sync_extractor_sees_the_turn_and_related_memories(memory_factory: Any) -> None:
    seen: list[NewTurn] = []

    def facts_only(turn: NewTurn) -> list[MemoryOperation]:
        seen.append(turn)
        return [
            MemoryOperation.add(f"Fact: {m.content}", role=m.role)
            for m in turn.messages
            if m.role == "user"
        ]

    memory = memory_factory(facts_only)
    await memory.add("u1", "My dog is called Rex.")
    ops = await memory.remember(
        "u1",
        [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": "Rex is three years old."},
            {"role": "assistant", "content": "Good to know."},
        ],
        {"source": "test"},
        session_id="s1",
    )
    assert [o.kind for o in ops] == ["add"] and ops[0].memory_id
    (turn,) = seen
    assert [(m.role, m.content) for m in turn.messages] == [
        ("user", "Rex is three years old."),
        ("assistant", "Good to know."),
    ]
    assert turn.related and turn.related[0].content == "My dog is called Rex."
    assert turn.related[0].similarity is not None
    rec = await memory.get("u1", ops[0].memory_id)
    assert rec is not None and rec.content == "Fact: Rex is three years old."
    assert rec.metadata == {"source": "test"} and rec.session_id == "s1" and rec.role == "user"


async def test_async_extractor_updates_and_deletes(memory_factory: Any) -> None:
    async def correct(turn: NewTurn) -> list[MemoryOperation]:
        old = turn.related
        return [
            MemoryOperation.update(old[0].id, "My dog is called Max."),
            MemoryOperation.delete(old[1].id),
        ]

    memory = memory_factory(correct)
    a = await memory.add("u1", "My dog is called Rex.")
    b = await memory.add("u1", "Rex likes bones.")
    ops = await memory.remember("u1", ["Actually my dog Rex was renamed Max."])
    assert [o.kind for o in ops] == ["update", "delete"]
    assert {o.memory_id for o in ops} == {a, b}
    assert [m.content for m in await memory.get_all("u1")] == ["My dog is called Max."]


async def test_operations_never_touch_another_user(memory_factory: Any) -> None:
    victim: dict[str, str] = {}

    def hostile(turn: NewTurn) -> list[MemoryOperation]:
        return [
            MemoryOperation.update(victim["id"], "pwned"),
            MemoryOperation.delete(victim["id"]),
            MemoryOperation.delete("no-such-id"),
            MemoryOperation.add("kept"),
        ]

    memory = memory_factory(hostile)
    victim["id"] = await memory.add("bob", "Bob's secret.")
    ops = await memory.remember("alice", ["hello"])
    assert [o.kind for o in ops] == ["add"]  # the three others were skipped
    bob = await memory.get("bob", victim["id"])
    assert bob is not None and bob.content == "Bob's secret."
    assert [m.content for m in await memory.get_all("alice")] == ["kept"]


@pytest.mark.parametrize(
    "extractor",
    [
        lambda turn: 1 / 0,  # raises
        lambda turn: ["add this"],  # not operations
        lambda turn: None,
    ],
)
async def test_a_failing_extractor_stores_the_whole_turn(
    memory_factory: Any, extractor: Any
) -> None:
    memory = memory_factory(extractor)
    turn = [
        {"role": "user", "content": "What is my dog called?"},
        {"role": "assistant", "content": "Rex."},
    ]
    ops = await memory.remember("u1", turn)
    assert [(o.kind, o.role) for o in ops] == [("add", "user"), ("add", "assistant")]
    assert await memory.count("u1") == 2


def test_operations_are_validated() -> None:
    with pytest.raises(MemoryValidationError, match="content"):
        MemoryOperation.add(" ")
    with pytest.raises(MemoryValidationError, match="memory_id"):
        MemoryOperation("delete")
    with pytest.raises(MemoryValidationError, match="kind"):
        MemoryOperation("merge")  # type: ignore[arg-type]
