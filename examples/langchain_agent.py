"""A LangChain 1.x agent that remembers users across sessions — offline, on a fake chat model.

    HF_HUB_OFFLINE=1 python examples/langchain_agent.py

Session 1 (thread "monday"): Alice tells the agent she is vegetarian. Session 2 (a new thread,
same user): she asks for a dinner idea, and the system message the model receives now carries
the remembered fact after the agent's own prompt. Bob, on the same agent, gets none of
Alice's memories. One middleware adds memory to an existing ``create_agent`` agent:
``middleware=[MnemoplugMiddleware(memory, inject_memory("relevant"))]``; the user comes from
``context={"user_id": ...}`` (or ``config["configurable"]["user_id"]``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import Field

from mnemoplug import SyncMemory, inject_memory
from mnemoplug.adapters.langchain import MnemoplugMiddleware


class ScriptedModel(GenericFakeChatModel):
    """A stand-in for a real LLM: replies from a script and keeps the system message it got."""

    system_messages: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
        return self  # fake models have no tool calling; the agent binds its tools anyway

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        system = next((m.text for m in messages if isinstance(m, SystemMessage)), "")
        self.system_messages.append(system)
        return super()._generate(messages, *args, **kwargs)


def script() -> Iterator[AIMessage]:
    yield AIMessage(content="Noted — no meat for you, Alice.")
    yield AIMessage(content="How about a mushroom risotto?")
    yield AIMessage(content="Try a grilled steak!")


@tool
def todays_specials() -> str:
    """Today's specials at the restaurant."""
    return "risotto, steak, salad"


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="mnemoplug-langchain-")
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # leave nothing behind
    db = Path(workdir) / "memory.db"
    # SyncMemory: the agent is driven by sync invoke here; its loop runs on a helper thread.
    memory = SyncMemory(f"sqlite:///{db}")
    model = ScriptedModel(messages=script())
    agent = create_agent(
        model,
        tools=[todays_specials],
        system_prompt="You are a friendly restaurant assistant.",
        middleware=[MnemoplugMiddleware(memory, inject_memory("relevant", max_memories=3))],
        checkpointer=InMemorySaver(),
    )

    def ask(user: str, thread: str, text: str) -> str:
        out = agent.invoke(
            {"messages": [{"role": "user", "content": text}]},
            {"configurable": {"thread_id": thread}},
            context={"user_id": user},
        )
        return str(out["messages"][-1].text)

    print("session 1 (alice):", ask("alice", "monday", "I'm vegetarian, by the way."))
    print("  system message the model got:", repr(model.system_messages[-1]))

    print("\nsession 2 (alice):", ask("alice", "friday", "What should I have for dinner?"))
    print("  system message the model got:")
    print("    " + model.system_messages[-1].replace("\n", "\n    "))
    assert "I'm vegetarian, by the way." in model.system_messages[-1]

    print("\nsession 2 (bob):", ask("bob", "friday-bob", "What should I have for dinner?"))
    print("  system message the model got:", repr(model.system_messages[-1]))
    assert "vegetarian" not in model.system_messages[-1]

    print("\nalice's memories:", [r.content for r in memory.get_all("alice")])
    memory.close()


if __name__ == "__main__":
    main()
