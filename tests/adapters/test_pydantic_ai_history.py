"""MnemoplugCapability injects memories into the model request only: they never reach
``result.all_messages()``, ``message_history`` or a conversation store (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.conversation_store import Conversation
from pydantic_ai.messages import ModelRequest
from pydantic_ai.models.function import FunctionModel

from mnemoplug import ConfigurationError, Memory, SyncMemory
from mnemoplug.adapters.pydantic_ai import MnemoplugCapability, MnemoplugConversationStore
from mnemoplug.core.session import session_memory_from_url

from .test_pydantic_ai import Recorder


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


def persisted_text(messages: list[Any]) -> str:
    return "\n".join(
        str(getattr(m, "instructions", None) or "")
        + "".join(str(getattr(p, "content", "")) for p in m.parts)
        for m in messages
    )


async def test_memories_reach_the_model_but_not_the_history(memory: Memory) -> None:
    await memory.add("alice", "Alice is allergic to peanuts.")
    rec = Recorder("Avoid peanuts.")
    agent = Agent(
        FunctionModel(rec),
        instructions="Be brief.",
        capabilities=[MnemoplugCapability(memory, "all", user_id="alice")],
    )
    first = await agent.run("What should I avoid eating?")
    assert "Alice is allergic to peanuts." in rec.told[0] and "Be brief." in rec.told[0]
    assert "peanuts" not in persisted_text(first.all_messages()).replace("Avoid peanuts.", "")
    requests = [m for m in first.all_messages() if isinstance(m, ModelRequest)]
    assert requests[0].instructions == "Be brief."

    # the next turn, continued from message_history, is told the memories afresh, once
    second = await agent.run("And for dessert?", message_history=first.all_messages())
    assert rec.told[1].count("Alice is allergic to peanuts.") == 1
    assert "Alice is allergic" not in persisted_text(second.all_messages())

    # a conversation store keeps the conversation without them
    store = MnemoplugConversationStore(session_memory_from_url("memory://"), user_id="alice")
    run = await agent.run("Hi", conversation=Conversation(conversation_id="c1"))
    await store.save(run)
    loaded = await store.load("c1")
    assert loaded is not None and "Alice is allergic" not in persisted_text(loaded.messages)


def test_capability_refuses_a_sync_memory(embedder: Any) -> None:
    with SyncMemory("memory://", embedder=embedder, load_entry_points=False) as sm:
        with pytest.raises(ConfigurationError, match="async Memory"):
            MnemoplugCapability(sm)
