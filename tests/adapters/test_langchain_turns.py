"""What MnemoplugMiddleware stores after a run, through the real ``create_agent`` loop on
LangChain's fake chat model: only the new turn, only the final answer (issue 12)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("langchain.agents")

from langchain.agents import create_agent
from langchain.agents.structured_output import ToolStrategy
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from mnemoplug import Memory
from mnemoplug.adapters.langchain import MnemoplugMiddleware

from .test_langchain_middleware import RecordingModel, replies


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


async def stored(memory: Memory, user: str = "u1") -> list[tuple[str, str]]:
    """The user's memories as sorted ``(role, content)`` pairs."""
    return sorted((r.role or "", r.content) for r in await memory.get_all(user))


def tool_call(name: str, args: dict[str, Any], call_id: str, text: str = "") -> AIMessage:
    return AIMessage(
        content=text, tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


@tool
def weather(city: str) -> str:
    """Weather in a city."""
    return f"Sunny in {city}"


async def test_text_beside_a_tool_call_is_not_stored(memory: Memory) -> None:
    model = RecordingModel(
        messages=iter(
            [
                tool_call("weather", {"city": "Oslo"}, "c1", text="Let me check the weather."),
                AIMessage(content="Sunny in Oslo."),
            ]
        )
    )
    agent = create_agent(model, tools=[weather], middleware=[MnemoplugMiddleware(memory)])
    out = await agent.ainvoke(
        {"messages": [{"role": "user", "content": "Weather in Oslo?"}]},
        context={"user_id": "u1"},
    )
    assert out["messages"][1].text == "Let me check the weather."  # the model did say it
    assert await stored(memory) == [("assistant", "Sunny in Oslo.")]  # a question is not kept


def test_resent_history_without_checkpointer_stores_only_the_new_turn(memory: Memory) -> None:
    model = RecordingModel(messages=replies("A1", "A2", "A3"))
    agent = create_agent(model, middleware=[MnemoplugMiddleware(memory)])
    history: list[Any] = []
    for q in ("Q1", "Q2", "Q3"):
        history.append(HumanMessage(q))
        out = agent.invoke({"messages": list(history)}, {"configurable": {"user_id": "u1"}})
        history.append(out["messages"][-1])
    # 3 turns, 6 memories (the client resent the whole history each time)
    expected = [
        (role, ("Q" if role == "user" else "A") + str(n))
        for n in (1, 2, 3)
        for role in ("user", "assistant")
    ]
    assert asyncio.run(stored(memory)) == sorted(expected)


class Forecast(BaseModel):
    city: str
    answer: str


class Reading(BaseModel):
    city: str
    celsius: float


async def test_structured_output_answer_is_stored(memory: Memory) -> None:
    model = RecordingModel(
        messages=iter([tool_call("Forecast", {"city": "Oslo", "answer": "Sunny, 21°C."}, "s1")])
    )
    agent = create_agent(
        model, response_format=ToolStrategy(Forecast), middleware=[MnemoplugMiddleware(memory)]
    )
    out = await agent.ainvoke(
        {"messages": [{"role": "user", "content": "Forecast for Oslo?"}]},
        context={"user_id": "u1"},
    )
    assert out["structured_response"] == Forecast(city="Oslo", answer="Sunny, 21°C.")
    assert await stored(memory) == [("assistant", "Sunny, 21°C.")]  # a question is not kept


async def test_structured_output_without_answer_field_is_stored_as_json(memory: Memory) -> None:
    model = RecordingModel(
        messages=iter([tool_call("Reading", {"city": "Oslo", "celsius": 21.5}, "s1")])
    )
    agent = create_agent(
        model, response_format=ToolStrategy(Reading), middleware=[MnemoplugMiddleware(memory)]
    )
    await agent.ainvoke(
        {"messages": [{"role": "user", "content": "Temperature in Oslo?"}]},
        context={"user_id": "u1"},
    )
    assert await stored(memory) == [("assistant", '{"city":"Oslo","celsius":21.5}')]
