"""MnemoplugChatMessageHistory over mnemoplug session memory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from mnemoplug import Memory
from mnemoplug.adapters.langchain import MnemoplugChatMessageHistory
from mnemoplug.core.session import SessionOwnershipError, session_memory_from_url


def _conversation() -> list[Any]:
    return [
        SystemMessage(content="Be brief."),
        HumanMessage(content="Weather in Lisbon?", id="h1"),
        AIMessage(
            content="",
            tool_calls=[{"name": "weather", "args": {"city": "Lisbon"}, "id": "c1"}],
            id="a1",
        ),
        ToolMessage(content="Sunny", tool_call_id="c1", id="t1"),
        AIMessage(content=[{"type": "text", "text": "Sunny in Lisbon."}], id="a2"),
    ]


def test_round_trip_sync() -> None:
    store = session_memory_from_url("memory://")
    h = MnemoplugChatMessageHistory(store, "c1", user_id="u1")
    assert h.messages == []
    h.add_messages(_conversation())
    got = h.messages
    assert [type(m) for m in got] == [type(m) for m in _conversation()]
    assert got[2].tool_calls[0]["name"] == "weather"  # type: ignore[attr-defined]
    assert got[3].tool_call_id == "c1"  # type: ignore[attr-defined]
    assert got[4].text == "Sunny in Lisbon." and got[1].id == "h1"
    # what session memory holds: roles and plain text, searchable by other tools
    raw = asyncio.run(store.get_messages("c1"))
    assert [m.role for m in raw] == ["system", "user", "assistant", "tool", "assistant"]
    assert raw[2].content == "[tool call: weather]"
    h.clear()
    assert h.messages == []


async def test_async_and_user_isolation(tmp_path: Path) -> None:
    store = session_memory_from_url(f"sqlite:///{tmp_path / 's.db'}")
    try:
        mine = MnemoplugChatMessageHistory(store, "c1", user_id="u1")
        await mine.aadd_messages([HumanMessage(content="hi"), AIMessage(content="hello")])
        assert [m.text for m in await mine.aget_messages()] == ["hi", "hello"]
        theirs = MnemoplugChatMessageHistory(store, "c1", user_id="u2")
        assert await theirs.aget_messages() == []  # another user's session reads as empty
        with pytest.raises(SessionOwnershipError):
            await theirs.aadd_messages([HumanMessage(content="let me in")])
        await theirs.aclear()
        assert len(await mine.aget_messages()) == 2
    finally:
        await store.close()


def test_from_memory_with_session_and_limit() -> None:
    mem = Memory(
        "memory://",
        embedder=None,
        session=session_memory_from_url("memory://"),
        load_entry_points=False,
    )
    h = MnemoplugChatMessageHistory(mem, "c", user_id="u1", limit=2)
    for i in range(4):
        h.add_user_message(f"m{i}")
    assert [m.text for m in h.messages] == ["m2", "m3"]


def test_memory_without_session_is_a_clear_error() -> None:
    from mnemoplug import ConfigurationError

    mem = Memory("memory://", embedder=None, load_entry_points=False)
    with pytest.raises(ConfigurationError, match="session"):
        MnemoplugChatMessageHistory(mem, "c")
