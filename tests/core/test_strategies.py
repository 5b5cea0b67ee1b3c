"""inject_memory strategies: selection semantics and rendering."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mnemoplug import ConfigurationError, Memory, inject_memory
from mnemoplug.core.records import StoredMemory


@pytest.fixture
async def memory(embedder):
    m = Memory("memory://", embedder=embedder, load_entry_points=False)
    await m.add("u", "User prefers dark mode", {"category": "preferences"})
    await asyncio.sleep(0.002)
    await m.add("u", "User's sister is called Anna")
    await asyncio.sleep(0.002)
    await m.add("u", "User is training for a marathon in April", {"category": "goals"})
    await m.add("other", "Other user prefers light mode")
    yield m
    await m.close()


async def test_relevant_uses_query_and_calibrated_floor(memory: Memory) -> None:
    s = inject_memory("relevant", max_memories=5)
    got = await s.select(memory, user_id="u", query="Which UI theme does the user like?")
    assert [m.content for m in got] == ["User prefers dark mode"]  # the others fall under the floor
    assert all(m.user_id == "u" for m in got)
    loose = inject_memory("relevant", max_memories=2, min_relevance=-1.0)
    got2 = await loose.select(memory, user_id="u", query="Which UI theme does the user like?")
    assert len(got2) == 2 and got2[0].content == "User prefers dark mode"


async def test_relevant_without_query_falls_back_to_recent(memory: Memory) -> None:
    got = await inject_memory("relevant", max_memories=1).select(memory, user_id="u", query=None)
    assert [m.content for m in got] == ["User is training for a marathon in April"]


async def test_recent_newest_first_and_window(memory: Memory) -> None:
    got = await inject_memory("recent", max_memories=2).select(memory, user_id="u")
    assert [m.content for m in got] == [
        "User is training for a marathon in April",
        "User's sister is called Anna",
    ]
    old = StoredMemory(
        id="old-1", user_id="u", content="ancient fact", created_at=1000.0, updated_at=1000.0
    )
    await memory.store.upsert([old])
    windowed = await inject_memory("recent", max_memories=10, time_window_hours=1).select(
        memory, user_id="u"
    )
    assert "ancient fact" not in [m.content for m in windowed] and len(windowed) == 3
    everything = await inject_memory("all", max_memories=None).select(memory, user_id="u")
    assert len(everything) == 4 and everything[-1].content == "ancient fact"


async def test_custom_selector_sync_and_async(memory: Memory) -> None:
    seen = {}

    def pick(ctx, memories):
        seen["ctx"] = ctx
        return [m for m in memories if m.category == "goals"]

    got = await inject_memory("custom", selector=pick).select(memory, user_id="u", query="hi")
    assert [m.content for m in got] == ["User is training for a marathon in April"]
    assert seen["ctx"].user_id == "u" and seen["ctx"].query == "hi" and seen["ctx"].memory is memory

    async def apick(ctx, memories):
        return memories[::-1]

    got2 = await inject_memory("custom", selector=apick, max_memories=1).select(memory, user_id="u")
    assert [m.content for m in got2] == ["User prefers dark mode"]


async def test_provider_bound_strategy_and_render(memory: Memory) -> None:
    s = inject_memory(
        "recent",
        provider=memory,
        max_memories=3,
        template="Known:\n{memories}",
        item_template="* {content} ({category})",
    )
    got = await s.select(user_id="u")
    text = s.render(got)
    assert text.startswith("Known:\n* User is training for a marathon in April (goals)")
    assert "Other user" not in text
    assert s.render([]) == ""
    assert inject_memory(template=lambda ms: f"{len(ms)} memories").render(got) == "3 memories"
    assert "- plain" in inject_memory().render(["plain"])


def test_bad_strategy_configs() -> None:
    with pytest.raises(ConfigurationError, match="unknown strategy"):
        inject_memory("clever")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="selector"):
        inject_memory("custom")
    with pytest.raises(ConfigurationError, match="max_memories"):
        inject_memory(max_memories=0)
    with pytest.raises(ConfigurationError, match=r"\{memories\}"):
        inject_memory(template="no placeholder")


async def test_select_without_memory_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="no Memory"):
        await inject_memory().select(user_id="u", query="q")


def test_time_window_filter_uses_created_at() -> None:
    s = inject_memory("recent", time_window_hours=2)
    f = s._filters()
    assert f is not None and f["created_at"]["$gte"] > datetime.now(UTC) - timedelta(
        hours=2, seconds=5
    )


def test_default_headings_say_what_was_selected() -> None:
    from mnemoplug.core.records import MemoryRecord

    now = datetime.now(UTC)
    rec = MemoryRecord(
        id="1", content="User likes tea", user_id="u", created_at=now, updated_at=now
    )
    assert inject_memory("recent").render([rec]).startswith("Recent memories about the user")
    assert "Relevant" not in inject_memory("recent").render([rec])
    assert inject_memory("relevant").render([rec]).startswith("Relevant memories about the user")
    custom = inject_memory("recent", template="Known:\n{memories}").render([rec])
    assert custom == "Known:\n- User likes tea"
