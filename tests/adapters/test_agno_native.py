"""Agno adapter through the real Agno loop on the offline fake model: ``arun`` awaits memory on
the caller's loop, memory text arrives verbatim, instructions stay as written, and Team and
Workflow runs share one memory (issue 12)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agno")

from agno.agent import Agent
from agno.models.response import ModelResponse
from agno.team import Team
from agno.workflow import Step, Workflow

from mnemoplug import Memory, hook, inject_memory
from mnemoplug.adapters.agno import with_memory

sys.path.insert(0, str(Path(__file__).parent))
from agno_fakes import FakeAgnoModel

BLOCK = "Relevant memories about the user"


@pytest.fixture
async def memory(embedder: Any, tmp_path: Path) -> AsyncIterator[Memory]:
    mem = Memory(f"sqlite:///{tmp_path / 'mem.db'}", embedder=embedder, load_entry_points=False)
    yield mem
    await mem.close()


def agent(model: FakeAgnoModel, **kw: Any) -> Agent:
    kw.setdefault("instructions", "You are a terse assistant.")
    return Agent(model=model, telemetry=False, **kw)


async def test_arun_awaits_memory_on_the_callers_loop(memory: Memory) -> None:
    for user in ("u0", "u1", "u2", "u3", "s"):
        await memory.add(user, f"{user} drinks tea.")
    loops: list[tuple[str, Any]] = []

    @hook("on_memory_search")
    def searched(ctx: Any) -> None:
        loops.append(("read", asyncio.get_running_loop()))

    @hook("on_memory_get")
    def got(ctx: Any) -> None:
        loops.append(("read", asyncio.get_running_loop()))

    @hook("on_memory_add")
    def added(ctx: Any) -> None:
        loops.append(("add", asyncio.get_running_loop()))

    memory.register(searched)
    memory.register(got)
    memory.register(added)
    model = FakeAgnoModel(delay=0.01)
    a = with_memory(agent(model), memory)
    here = asyncio.get_running_loop()
    await asyncio.gather(
        *[a.arun(f"I like tea number {i}.", user_id=f"u{i}") for i in range(4)],
        *[_drain(a.arun("Stream me.", user_id="s", stream=True))],
    )
    kinds = [k for k, _ in loops]
    assert kinds.count("read") >= 5 and "add" in kinds
    assert all(loop is here for _, loop in loops)  # no thread hop, nothing blocked on a portal
    assert await memory.count("u2") == 3 and await memory.count("s") == 3

    loops.clear()
    a.run("Sync run.", user_id="u0")  # the sync API uses the adapter's loop thread instead
    assert loops and all(loop is not here for _, loop in loops)

    clone = a.deep_copy()  # as AgentOS does: after its first run, the copy awaits natively too
    await clone.arun("Clone run.", user_id="u1")
    loops.clear()
    await clone.arun("Clone run again.", user_id="u1")
    assert loops and all(loop is here for _, loop in loops)


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


@pytest.mark.parametrize("mode", ["run", "arun"])
async def test_memory_text_is_verbatim_and_one_instruction_stays_a_string(
    mode: str, memory: Memory
) -> None:
    await memory.add("hana", "Hana's template is Dear {user_name}, you owe $user_id {0}.")
    model = FakeAgnoModel()
    a = agent(
        model, instructions="Address the user as {user_name}.", session_state={"user_name": "Bob"}
    )
    with_memory(a, memory, inject_memory("all", max_memories=None))
    if mode == "run":
        a.run("What is my template?", user_id="hana")
    else:
        await a.arun("What is my template?", user_id="hana")
    system = model.last_system
    assert "\u2060" not in system
    assert "Dear {user_name}, you owe $user_id {0}." in system  # exactly as stored
    assert "Address the user as Bob." in system  # Agno still substitutes the agent's own text
    assert "- Address the user" not in system  # one instruction string: not made a list
    assert a.instructions == "Address the user as {user_name}."


async def test_workflow_steps_share_one_memory(memory: Memory) -> None:
    researcher_model, advisor_model = FakeAgnoModel(reply="Noted."), FakeAgnoModel()
    researcher = with_memory(
        agent(researcher_model, name="Researcher"), memory, inject_memory("all")
    )
    advisor = with_memory(
        agent(advisor_model, name="Advisor"), memory, inject_memory("all", max_memories=None)
    )
    flow = Workflow(
        name="consultant",
        steps=[Step(name="research", agent=researcher), Step(name="advise", agent=advisor)],
        telemetry=False,
    )
    await flow.arun("I am vegetarian and live in Lisbon.", user_id="u1")
    await flow.arun("Where should I eat tonight?", user_id="u1")
    # the advisor's second run saw what the user told the workflow the first time
    assert "I am vegetarian and live in Lisbon." in advisor_model.last_system
    assert await memory.count("u2") == 0
    contents = {r.content for r in await memory.get_all("u1")}
    assert {"I am vegetarian and live in Lisbon.", "Noted."} <= contents


class LeaderModel(FakeAgnoModel):
    """A team leader that delegates the user's message to every member, then answers."""

    def _respond(self, kwargs: dict[str, Any]) -> ModelResponse:
        messages = kwargs["messages"]
        if not any(m.role == "tool" for m in messages):
            self._answer(messages)
            task = [m for m in messages if m.role == "user"][-1].get_content_string()
            call = {
                "id": "call_1",
                "type": "function",
                "function": {
                    "name": "delegate_task_to_members",
                    "arguments": json.dumps({"task": task}),
                },
            }
            return ModelResponse(role="assistant", tool_calls=[call])
        return ModelResponse(role="assistant", content=self._answer(messages))


@pytest.mark.parametrize("mode", ["run", "arun"])
async def test_team_members_share_one_memory(mode: str, memory: Memory) -> None:
    m1, m2 = FakeAgnoModel(reply="Chef here."), FakeAgnoModel(reply="Sommelier here.")
    chef = with_memory(agent(m1, name="Chef"), memory, inject_memory("all", max_memories=None))
    sommelier = with_memory(
        agent(m2, name="Sommelier"), memory, inject_memory("all", max_memories=None)
    )
    team = Team(
        members=[chef, sommelier],
        model=LeaderModel(reply="Team answer."),
        delegate_to_all_members=True,
        telemetry=False,
    )
    for text in ("I am allergic to shellfish.", "Plan my dinner."):
        if mode == "run":
            team.run(text, user_id="u1")
        else:
            await team.arun(text, user_id="u1")
    assert "I am allergic to shellfish." in m1.last_system
    assert "I am allergic to shellfish." in m2.last_system
    contents = {r.content for r in await memory.get_all("u1")}
    assert {"Chef here.", "Sommelier here."} <= contents
