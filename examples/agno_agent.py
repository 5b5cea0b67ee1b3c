"""An Agno agent that remembers users across sessions — offline, on a fake model.

    HF_HUB_OFFLINE=1 python examples/agno_agent.py

Session 1: Alice tells the agent she is vegetarian. Session 2 (a new session, same user): the
agent is asked for a dinner idea, and the system prompt the model receives now carries the
remembered fact. Bob, on the same agent, gets none of Alice's memories. One line adds memory
to the existing agent: ``with_memory(agent, memory, strategy=inject_memory("relevant"))``.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from agno.agent import Agent
from agno.models.base import Model
from agno.models.response import ModelResponse

from mnemoplug.adapters.agno import with_memory
from mnemoplug.core.memory import Memory
from mnemoplug.core.strategies import inject_memory


@dataclass
class ScriptedModel(Model):
    """A stand-in for a real LLM: remembers the system prompt it got and answers politely."""

    id: str = "scripted"
    name: str = "ScriptedModel"
    provider: str = "example"
    system_prompts: list[str] = field(default_factory=list)

    def _reply(self, messages: list[Any]) -> ModelResponse:
        system = next((m.get_content_string() for m in messages if m.role == "system"), "")
        self.system_prompts.append(system)
        user = [m.get_content_string() for m in messages if m.role == "user"][-1]
        if "vegetarian" in system.lower() and "dinner" in user.lower():
            text = "How about a mushroom risotto? (no meat, as you're vegetarian)"
        elif "dinner" in user.lower():
            text = "How about a steak with pepper sauce?"
        else:
            text = "Noted, thanks for telling me!"
        return ModelResponse(role="assistant", content=text)

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._reply(kwargs["messages"])

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._reply(kwargs["messages"])

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponse]:
        yield self._reply(kwargs["messages"])

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        yield self._reply(kwargs["messages"])

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="mnemoplug-agno-")
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # leave nothing behind
    db_path = Path(workdir) / "memory.db"
    memory = Memory(f"sqlite:///{db_path}")  # all-MiniLM-L6-v2 embeddings, offline

    model = ScriptedModel()
    agent = Agent(
        model=model, instructions="You are a friendly cooking assistant.", telemetry=False
    )
    agent = with_memory(agent, memory, strategy=inject_memory("relevant", max_memories=3))

    print("== session 1 (alice)")
    print("alice: I'm vegetarian, by the way.")
    out = agent.run("I'm vegetarian, by the way.", user_id="alice", session_id="monday")
    print("agent:", out.content)

    print("\n== session 2 (alice, a new session)")
    print("alice: What should I cook for dinner?")
    out = agent.run("What should I cook for dinner?", user_id="alice", session_id="tuesday")
    print("agent:", out.content)
    print("\n-- system prompt the model received --")
    print(model.system_prompts[-1].strip())
    assert "vegetarian" in model.system_prompts[-1]

    print("\n== bob (same agent, another user)")
    print("bob: What should I cook for dinner?")
    out = agent.run("What should I cook for dinner?", user_id="bob", session_id="tuesday-bob")
    print("agent:", out.content)
    assert "vegetarian" not in model.system_prompts[-1]
    print(f"\n(memories stored in {db_path})")
    asyncio.run(memory.close())


if __name__ == "__main__":
    main()
