"""A PydanticAI agent that remembers a user across conversations, offline.

    HF_HUB_OFFLINE=1 python examples/pydantic_ai_agent.py

The model is PydanticAI's ``FunctionModel``: a small function standing in for an LLM that
answers from what it is told (its instructions), so the effect of memory is visible. The agent
is an ordinary PydanticAI agent; memory is one line: ``capabilities=[MnemoplugCapability(memory)]``.

1. In a first conversation the user mentions a diet; the capability stores the turn.
2. In a new conversation (a new conversation id, a fresh Agent even) the capability finds that
   memory for the new question and adds it to the instructions; the answer changes.
3. Conversations themselves persist in mnemoplug session memory through
   ``MnemoplugConversationStore`` (PydanticAI's ``ConversationStore``).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pydantic_ai import Agent
from pydantic_ai.conversation import Conversation
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mnemoplug import Memory, inject_memory
from mnemoplug.adapters.pydantic_ai import MnemoplugCapability, MnemoplugConversationStore


@dataclass
class Deps:
    """The app's per-run dependencies; the capability reads ``user_id`` from them."""

    user_id: str


told: list[str] = []


def chef(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A stand-in LLM: suggests a dinner, honouring what its instructions say about the user."""
    request = messages[-1]
    assert isinstance(request, ModelRequest)
    instructions = info.instructions or ""  # what the model receives for this request
    prompt = " ".join(str(p.content) for p in request.parts if isinstance(p, UserPromptPart))
    told.append(instructions)
    if "I am vegetarian" in instructions:
        text = "Try a chickpea and spinach curry (vegetarian, no peanuts)."
    elif "peanut" in prompt:
        text = "Noted, I will keep that in mind."
    else:
        text = "How about a chicken satay with peanut sauce?"
    return ModelResponse(parts=[TextPart(text)])


def make_agent(memory: Memory) -> Agent[Deps, str]:
    return Agent(
        FunctionModel(chef),
        deps_type=Deps,
        instructions="You are a helpful cooking assistant.",
        capabilities=[MnemoplugCapability(memory, strategy=inject_memory("relevant"))],
    )


async def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mnemoplug-example-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # leave nothing behind
    memory = Memory(f"sqlite:///{workdir / 'memory.db'}")
    store = MnemoplugConversationStore(f"sqlite:///{workdir / 'sessions.db'}", user_id="ada")
    question = "What food should I avoid? Suggest a dinner I can eat."
    try:
        # Without memory: another user, nothing known.
        agent = make_agent(memory)
        r0 = await agent.run(question, deps=Deps("someone-else"))
        print("without memory  ->", r0.output)

        # Conversation 1: Ada mentions her diet; the turn is stored after the run.
        r1 = await agent.run(
            "I am vegetarian and allergic to peanuts.",
            deps=Deps("ada"),
            conversation=Conversation(conversation_id="ada-monday"),
        )
        await store.save(r1)
        print("conversation 1  ->", r1.output)

        # Conversation 2, later, with a fresh agent: the memory is injected.
        agent = make_agent(memory)
        r2 = await agent.run(
            question, deps=Deps("ada"), conversation=Conversation(conversation_id="ada-friday")
        )
        await store.save(r2)
        print("conversation 2  ->", r2.output)
        print("the model was told:\n  " + told[-1].replace("\n", "\n  "))
        assert "I am vegetarian" in told[-1] and "vegetarian" in r2.output

        monday = await store.load("ada-monday")
        assert monday is not None and monday.messages == r1.all_messages()
        print(
            f"stored conversations: {[c.conversation_id for c in await store.list_conversations()]}"
        )
    finally:
        await memory.close()
        await store.session.close()


if __name__ == "__main__":
    asyncio.run(main())
