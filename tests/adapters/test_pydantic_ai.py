"""MnemoplugCapability on the real PydanticAI agent loop (FunctionModel), with a real Memory."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.conversation import Conversation
from pydantic_ai.conversation_store import ConversationConflict
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mnemoplug import (
    ConfigurationError,
    Memory,
    MemoryRejectedError,
    hook,
    inject_memory,
)
from mnemoplug.adapters.pydantic_ai import (
    MnemoplugCapability,
    MnemoplugConversationStore,
)
from mnemoplug.core.session import session_memory_from_url


@dataclass
class Deps:
    user_id: str


class Recorder:
    """A FunctionModel body that records every request and answers with a fixed text (after
    optional tool calls)."""

    def __init__(self, answer: str = "Noted.", tool_calls: list[ToolCallPart] | None = None):
        self.answer = answer
        self.tool_calls = list(tool_calls or [])
        self.requests: list[ModelRequest] = []
        self.tools: list[list[str]] = []
        self.told: list[str] = []  # the instructions the model received, request by request

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        self.requests.append(last)
        self.told.append(info.instructions or "")
        self.tools.append([t.name for t in info.function_tools])
        if self.tool_calls:
            return ModelResponse(parts=[self.tool_calls.pop(0)])
        return ModelResponse(parts=[TextPart(self.answer)])

    @property
    def instructions(self) -> list[str]:
        return self.told


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


async def seed(memory: Memory) -> None:
    await memory.add("alice", "User prefers dark UI theme")
    await memory.add("alice", "User is allergic to peanuts")
    await memory.add("bob", "User prefers light UI theme")


async def test_injects_the_users_memories_and_keeps_the_agent(memory: Memory) -> None:
    await seed(memory)
    rec = Recorder("You like dark UI theme.")
    agent = Agent(
        FunctionModel(rec),
        instructions="You are a concise assistant.",
        deps_type=Deps,
        capabilities=[MnemoplugCapability(memory)],
    )

    @agent.tool_plain
    def clock() -> str:
        """The time."""
        return "noon"

    result = await agent.run("Which UI theme do I like?", deps=Deps("alice"))
    assert result.output == "You like dark UI theme."
    (instr,) = rec.instructions
    assert "You are a concise assistant." in instr
    assert "User prefers dark UI theme" in instr
    assert "light UI theme" not in instr  # never bob's
    assert rec.tools == [["clock"]]  # the agent's own tools, and no memory tools by default


async def test_retrieves_once_per_run_across_model_requests(memory: Memory) -> None:
    await seed(memory)
    searches: list[str] = []

    @hook("on_memory_search")
    def count(ctx: Any) -> None:
        searches.append(ctx.memory_query)

    memory.register(count)
    rec = Recorder("done", tool_calls=[ToolCallPart("clock", {}), ToolCallPart("clock", {})])
    agent = Agent(FunctionModel(rec), deps_type=Deps, capabilities=[MnemoplugCapability(memory)])

    @agent.tool_plain
    def clock() -> str:
        """The time."""
        return "noon"

    await agent.run("Which UI theme do I like?", deps=Deps("alice"))
    assert len(rec.requests) == 3
    assert all("User prefers dark UI theme" in i for i in rec.instructions)
    assert searches == ["Which UI theme do I like?"]  # storing the turn searches no more


async def test_stores_the_turn_and_a_later_conversation_sees_it(memory: Memory) -> None:
    rec = Recorder("Teal is a lovely colour; I will remember it.")
    agent = Agent(FunctionModel(rec), deps_type=Deps, capabilities=[MnemoplugCapability(memory)])
    first = await agent.run("My favourite colour is teal.", deps=Deps("alice"))
    assert rec.instructions == [""]  # nothing known yet

    stored = await memory.get_all("alice")
    assert sorted((m.role, m.content) for m in stored) == [
        ("assistant", "Teal is a lovely colour; I will remember it."),
        ("user", "My favourite colour is teal."),
    ]
    assert {m.session_id for m in stored} == {first.conversation_id}
    assert await memory.count("bob") == 0

    second = await agent.run("What colour do I like?", deps=Deps("alice"))
    assert second.conversation_id != first.conversation_id
    assert "My favourite colour is teal." in rec.instructions[-1]
    # bob, same agent, learns nothing of alice
    await agent.run("What colour do I like?", deps=Deps("bob"))
    assert "teal" not in rec.instructions[-1]


async def test_model_error_stores_nothing(memory: Memory) -> None:
    def broken(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise RuntimeError("model down")

    agent = Agent(FunctionModel(broken), deps_type=Deps, capabilities=[MnemoplugCapability(memory)])
    with pytest.raises(RuntimeError, match="model down"):
        await agent.run("Remember that I live in Oslo.", deps=Deps("alice"))
    assert await memory.count("alice") == 0


async def test_rejected_write_does_not_crash_the_run(
    memory: Memory, caplog: pytest.LogCaptureFixture
) -> None:
    @hook("on_memory_add")
    def no_secrets(ctx: Any) -> None:
        if "password" in ctx.memory_content:
            raise MemoryRejectedError("contains a password")

    memory.register(no_secrets)
    rec = Recorder("OK.")
    agent = Agent(FunctionModel(rec), deps_type=Deps, capabilities=[MnemoplugCapability(memory)])
    with caplog.at_level(logging.WARNING, logger="mnemoplug.adapters.pydantic_ai"):
        result = await agent.run("My password is hunter2.", deps=Deps("alice"))
    assert result.output == "OK."
    assert await memory.count("alice") == 0  # not even the assistant half
    assert "contains a password" in caplog.text

    strict = Agent(
        FunctionModel(rec),
        deps_type=Deps,
        capabilities=[MnemoplugCapability(memory, raise_on_store_error=True)],
    )
    with pytest.raises(MemoryRejectedError):
        await strict.run("My password is hunter2.", deps=Deps("alice"))
    assert await memory.count("alice") == 0


async def test_added_at_run_time_to_an_existing_agent(memory: Memory) -> None:
    await seed(memory)
    rec = Recorder("Dark.")
    agent = Agent(FunctionModel(rec), instructions="Base instructions.")
    cap = MnemoplugCapability(memory)
    await agent.run("Which UI theme do I like?", capabilities=[cap], metadata={"user_id": "alice"})
    assert "Base instructions." in rec.instructions[0]
    assert "User prefers dark UI theme" in rec.instructions[0]
    await agent.run("Which UI theme do I like?")  # without the capability: no memory, no store
    assert "dark UI theme" not in rec.instructions[1]
    assert await memory.count("alice") == 3  # 2 seeded + the answer (a question is not kept)


async def test_user_id_sources(memory: Memory) -> None:
    await seed(memory)
    rec = Recorder("ok")
    q = "Which UI theme do I like?"
    fixed = Agent(FunctionModel(rec), capabilities=[MnemoplugCapability(memory, user_id="bob")])
    await fixed.run(q)
    assert "light UI theme" in rec.instructions[-1]

    by_fn = Agent(
        FunctionModel(rec),
        deps_type=dict,
        capabilities=[MnemoplugCapability(memory, user_id=lambda ctx: ctx.deps["account"])],
    )
    await by_fn.run(q, deps={"account": "alice"})
    assert "dark UI theme" in rec.instructions[-1]

    mapping = Agent(FunctionModel(rec), deps_type=dict, capabilities=[MnemoplugCapability(memory)])
    await mapping.run(q, deps={"user_id": "bob"})
    assert "light UI theme" in rec.instructions[-1]

    before = len(rec.requests)
    with pytest.raises(ConfigurationError, match="no user id"):
        await mapping.run(q, deps={})
    assert len(rec.requests) == before  # the model was never called


async def test_explicit_session_id_tags_turns_but_does_not_narrow_recall(memory: Memory) -> None:
    await memory.add("alice", "User prefers dark UI theme", session_id="old-session")
    rec = Recorder("ok")
    cap = MnemoplugCapability(memory, session_id=lambda ctx: ctx.metadata["chat"])
    agent = Agent(FunctionModel(rec), deps_type=Deps, capabilities=[cap])
    await agent.run("Which UI theme do I like?", deps=Deps("alice"), metadata={"chat": "s-42"})
    assert "User prefers dark UI theme" in rec.instructions[0]
    assert await memory.count("alice", session_id="s-42") == 1  # the answer


async def test_memory_tools(memory: Memory) -> None:
    await seed(memory)
    rec = Recorder(
        "Saved.",
        tool_calls=[
            ToolCallPart("save_memory", {"content": "User's dog is called Rex"}),
            ToolCallPart("search_memory", {"query": "what is my dog's name"}),
        ],
    )
    agent = Agent(
        FunctionModel(rec),
        deps_type=Deps,
        capabilities=[MnemoplugCapability(memory, tools=True, store_turns=False)],
    )
    await agent.run("My dog is called Rex, remember it.", deps=Deps("alice"))
    assert set(rec.tools[0]) == {"search_memory", "save_memory"}
    returns = [p for r in rec.requests for p in r.parts if isinstance(p, ToolReturnPart)]
    assert returns[0].tool_name == "save_memory" and str(returns[0].content).startswith("saved")
    assert returns[1].tool_name == "search_memory"
    assert returns[1].content[0] == "User's dog is called Rex"
    assert "light UI theme" not in str(returns[1].content)
    contents = [m.content for m in await memory.get_all("alice")]
    assert "User's dog is called Rex" in contents
    assert "My dog is called Rex, remember it." not in contents  # store_turns=False
    assert await memory.count("bob") == 1


async def test_concurrent_runs_do_not_share_memories(memory: Memory) -> None:
    await seed(memory)
    seen: dict[str, list[str]] = {}

    async def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        first = messages[0]
        assert isinstance(first, ModelRequest)
        who = next(str(p.content) for p in first.parts if isinstance(p, UserPromptPart))
        seen.setdefault(who, []).append(info.instructions or "")
        await asyncio.sleep(0.05)  # let the other run start between this run's requests
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("clock", {})])
        return ModelResponse(parts=[TextPart("ok")])

    agent = Agent(FunctionModel(model), deps_type=Deps, capabilities=[MnemoplugCapability(memory)])

    @agent.tool_plain
    async def clock() -> str:
        """The time."""
        await asyncio.sleep(0.05)
        return "noon"

    await asyncio.gather(
        agent.run("alice: which UI theme do I like?", deps=Deps("alice")),
        agent.run("bob: which UI theme do I like?", deps=Deps("bob")),
    )
    alice, bob = seen["alice: which UI theme do I like?"], seen["bob: which UI theme do I like?"]
    assert len(alice) == len(bob) == 2
    assert all("dark UI theme" in i and "light" not in i for i in alice)
    assert all("light UI theme" in i and "dark" not in i for i in bob)


async def test_recent_strategy_and_sqlite(tmp_path: Any, embedder: Any) -> None:
    mem = Memory(f"sqlite:///{tmp_path / 'm.db'}", embedder=embedder, load_entry_points=False)
    try:
        await mem.add("alice", "User lives in Oslo")
        rec = Recorder("ok")
        cap = MnemoplugCapability(mem, strategy=inject_memory("recent", max_memories=1))
        agent = Agent(FunctionModel(rec), deps_type=Deps, capabilities=[cap])
        await agent.run("Unrelated question about cooking pasta", deps=Deps("alice"))
        assert "User lives in Oslo" in rec.instructions[0]
        assert await mem.count("alice") == 3
    finally:
        await mem.close()


async def test_streamed_run_and_structured_output(memory: Memory) -> None:
    from pydantic import BaseModel
    from pydantic_ai.models.test import TestModel

    agent = Agent(
        TestModel(custom_output_text="Streamed answer."),
        capabilities=[MnemoplugCapability(memory, user_id="alice")],
    )
    async with agent.run_stream("Tell me something, streamed.") as stream:
        assert await stream.get_output() == "Streamed answer."
    contents = {m.content for m in await memory.get_all("alice")}
    assert contents == {"Streamed answer."}  # a request carrying no statement is not kept

    class Dish(BaseModel):
        name: str

    typed = Agent(
        TestModel(custom_output_args={"name": "curry"}),
        output_type=Dish,
        capabilities=[MnemoplugCapability(memory, user_id="bob")],
    )
    result = await typed.run("Pick a dish.")
    assert result.output == Dish(name="curry")
    assert '{"name":"curry"}' in {m.content for m in await memory.get_all("bob")}


def test_configuration_errors(memory: Memory) -> None:
    with pytest.raises(ConfigurationError, match="needs a Memory"):
        MnemoplugCapability()
    with pytest.raises(ConfigurationError, match="unknown strategy"):
        MnemoplugCapability(memory, strategy="loudest")
    cap = MnemoplugCapability(strategy=inject_memory(provider=memory))
    assert cap.memory is memory


def test_import_is_lazy_and_missing_extra_is_named() -> None:
    code = textwrap.dedent(
        """
        import sys
        import mnemoplug
        assert "pydantic_ai" not in sys.modules and "fastapi" not in sys.modules
        sys.modules["pydantic_ai"] = None  # simulate the extra not being installed
        try:
            import mnemoplug.adapters.pydantic_ai
        except mnemoplug.MissingDependencyError as exc:
            assert 'pip install "mnemoplug[pydantic-ai]"' in str(exc), str(exc)
            print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- MnemoplugConversationStore ---------------------------------------------------------------


def tool_agent() -> tuple[Agent[None, str], Recorder]:
    rec = Recorder("It is noon.", tool_calls=[ToolCallPart("clock", {"tz": "UTC"})])
    agent: Agent[None, str] = Agent(FunctionModel(rec), instructions="Be brief.")

    @agent.tool_plain
    def clock(tz: str) -> str:
        """The time in a time zone."""
        return f"noon {tz}"

    return agent, rec


async def test_conversation_store_round_trips_losslessly_and_continues() -> None:
    session = session_memory_from_url("memory://")
    store = MnemoplugConversationStore(session, user_id="alice")
    agent, rec = tool_agent()
    result = await agent.run("What time is it?", conversation=Conversation(conversation_id="c1"))
    entries = await store.save(result)
    assert len(entries) == 4  # request, tool call, tool return, answer

    loaded = await MnemoplugConversationStore(session, user_id="alice").load("c1")
    assert loaded is not None
    assert loaded.messages == result.all_messages()  # lossless, timestamps and all
    assert loaded.usage == result.usage

    rec.tool_calls = []
    rec.answer = "Still noon."
    second = await agent.run("And now?", conversation=loaded)
    await store.save(second)
    again = await store.load("c1")
    assert again is not None and again.messages == second.all_messages()
    # the model was sent the stored history
    assert any(
        isinstance(p, UserPromptPart) and p.content == "What time is it?"
        for m in again.messages[:1]
        for p in m.parts
    )

    # session memory holds readable messages too
    stored = await session.get_messages("c1", user_id="alice")
    texts = [(m.role, m.content) for m in stored if m.role != "system"]
    assert texts[0] == ("user", "What time is it?")
    assert ("assistant", "It is noon.") in texts
    assert any(r == "tool" and "noon UTC" in c for r, c in texts)
    assert [m.content for m in await session.search("noon", user_id="alice")]


async def test_conversation_store_conflicts_and_owners() -> None:
    session = session_memory_from_url("memory://")
    alice = MnemoplugConversationStore(session, user_id="alice")
    bob = MnemoplugConversationStore(session, user_id="bob")
    agent, _ = tool_agent()
    await alice.save(await agent.run("hi", conversation=Conversation(conversation_id="c1")))

    a1 = await alice.load("c1")
    a2 = await alice.load("c1")
    assert a1 is not None and a2 is not None
    await alice.save(await agent.run("one", conversation=a1))
    with pytest.raises(ConversationConflict):
        await alice.save(await agent.run("two", conversation=a2))

    assert await bob.load("c1") is None  # another owner's conversation reads as absent
    with pytest.raises(ConversationConflict):  # and its id cannot be taken over
        await bob.save(await agent.run("mine", conversation=Conversation(conversation_id="c1")))
    assert [r.conversation_id for r in await alice.list_conversations()] == ["c1"]
    assert await bob.list_conversations() == []


async def test_conversation_store_fork_branch_delete(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    session = session_memory_from_url(url)
    store = MnemoplugConversationStore(session)
    agent, rec = tool_agent()
    first = await agent.run("What time is it?", conversation=Conversation(conversation_id="c1"))
    await store.save(first, scope="alice")

    fork = await store.fork("c1", at=1, new_conversation_id="c2")
    assert fork.messages == first.all_messages()[:1]
    listed = await store.list_conversations(scope="alice")
    assert {r.conversation_id for r in listed} == {"c1", "c2"}

    await store.delete("c1")
    assert await store.load("c1") is None
    assert await session.get_messages("c1") == []  # erased, not only unlisted
    kept = await store.load("c2")  # the fork keeps its own copy
    assert kept is not None and kept.messages == first.all_messages()[:1]

    rec.tool_calls, rec.answer = [], "Hello again."
    cont = await agent.run("Hi", conversation=kept)
    await store.save(cont)
    c2 = await store.load("c2")
    assert c2 is not None
    branched = await store.branch("c2", at=1, expected_revision=c2.revision)
    assert branched.messages == first.all_messages()[:1]
    await session.close()

    reopened = MnemoplugConversationStore(session_memory_from_url(url))
    again = await reopened.load("c2")
    assert again is not None and again.messages == first.all_messages()[:1]
    record = await reopened.read_record("c2")
    assert record is not None and record.scope == "alice" and record.branches


def test_conversation_store_configuration() -> None:
    with pytest.raises(ConfigurationError, match="SessionMemory"):
        MnemoplugConversationStore(42)
    assert MnemoplugConversationStore("memory://").session.name
