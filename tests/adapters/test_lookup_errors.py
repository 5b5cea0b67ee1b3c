"""One policy for a failing memory lookup in every adapter, through each framework's real loop
on its fake model: the run goes on without memories and the cause is logged;
``raise_on_lookup_error=True`` fails the run instead (issue 12)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from mnemoplug import Memory, inject_memory

sys.path.insert(0, str(Path(__file__).parent))


class LookupDown(ConnectionError):
    pass


def broken_strategy() -> Any:
    def selector(ctx: Any, memories: list[Any]) -> list[Any]:
        raise LookupDown("vector store down")

    return inject_memory("custom", selector=selector)


@pytest.fixture
async def memory(embedder: Any) -> Memory:
    mem = Memory("memory://", embedder=embedder, load_entry_points=False)
    await mem.add("u1", "User likes green tea.")
    return mem


async def run_langchain(memory: Memory, strict: bool) -> tuple[str, Any]:
    pytest.importorskip("langchain.agents")
    from langchain.agents import create_agent

    from mnemoplug.adapters.langchain import MnemoplugMiddleware

    from .test_langchain_middleware import RecordingModel, replies

    model = RecordingModel(messages=replies("Answer."))
    mw = MnemoplugMiddleware(memory, broken_strategy(), raise_on_lookup_error=strict)
    agent = create_agent(model, system_prompt="Be brief.", middleware=[mw])
    out = await agent.ainvoke(
        {"messages": [{"role": "user", "content": "What do I like?"}]}, context={"user_id": "u1"}
    )
    return model.system_texts()[0], out["messages"][-1].text


async def run_pydantic_ai(memory: Memory, strict: bool) -> tuple[str, Any]:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel

    from mnemoplug.adapters.pydantic_ai import MnemoplugCapability

    from .test_pydantic_ai import Recorder

    rec = Recorder("Answer.")
    cap = MnemoplugCapability(memory, broken_strategy(), user_id="u1", raise_on_lookup_error=strict)
    agent = Agent(FunctionModel(rec), instructions="Be brief.", capabilities=[cap])
    result = await agent.run("What do I like?")
    return rec.instructions[0], result.output


async def run_endpoint(memory: Memory, strict: bool) -> tuple[str, Any]:
    from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint

    told: list[str] = []

    @agent_endpoint(memory, strategy=broken_strategy(), raise_on_lookup_error=strict)
    async def chat(user_id: str, message: str, ctx: AgentContext) -> str:
        told.append(ctx.memory_text)
        return "Answer."

    out = await chat(user_id="u1", message="What do I like?")
    return told[0], out


async def run_agno(memory: Memory, strict: bool) -> tuple[str, Any]:
    pytest.importorskip("agno")
    from agno.agent import Agent
    from agno.run.base import RunStatus
    from agno_fakes import FakeAgnoModel

    from mnemoplug.adapters.agno import with_memory

    model = FakeAgnoModel(reply="Answer.")
    agent = Agent(model=model, instructions="Be brief.", telemetry=False)
    with_memory(agent, memory, broken_strategy(), raise_on_lookup_error=strict)
    out = await agent.arun("What do I like?", user_id="u1")
    if out.status == RunStatus.error:  # Agno reports a failed check in the run, not by raising
        raise LookupDown(str(out.content))
    return model.last_system, out.content


RUNNERS = {
    "agno": (run_agno, "mnemoplug.adapters.agno"),
    "endpoint": (run_endpoint, "mnemoplug.adapters.endpoint"),
    "langchain": (run_langchain, "mnemoplug.adapters.langchain"),
    "pydantic_ai": (run_pydantic_ai, "mnemoplug.adapters.pydantic_ai"),
}


@pytest.mark.parametrize("adapter", sorted(RUNNERS))
async def test_failing_lookup_runs_without_memories_and_logs_the_cause(
    adapter: str, memory: Memory, caplog: pytest.LogCaptureFixture
) -> None:
    run, logger_name = RUNNERS[adapter]
    with caplog.at_level(logging.WARNING, logger=logger_name):
        told, answer = await run(memory, False)
    assert answer == "Answer."
    assert "green tea" not in told
    records = [r for r in caplog.records if r.name == logger_name]
    assert any("vector store down" in r.getMessage() for r in records)
    assert any(r.exc_info and r.exc_info[0] is LookupDown for r in records)  # the cause


@pytest.mark.parametrize("adapter", sorted(RUNNERS))
async def test_raise_on_lookup_error_fails_the_run(adapter: str, memory: Memory) -> None:
    run, _ = RUNNERS[adapter]
    with pytest.raises(LookupDown, match="vector store down"):
        await run(memory, True)
