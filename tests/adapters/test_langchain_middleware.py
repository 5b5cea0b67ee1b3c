"""MnemoplugMiddleware through the real ``create_agent`` loop on LangChain's fake chat models."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain.agents")

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import Field

from mnemoplug import (
    ConfigurationError,
    Memory,
    MemoryRejectedError,
    MissingDependencyError,
    SyncMemory,
    hook,
    inject_memory,
)
from mnemoplug.adapters.langchain import MnemoplugMiddleware

PROMPT = "You are a helpful assistant."


class RecordingModel(GenericFakeChatModel):
    """A fake chat model that records what it was sent and tolerates ``bind_tools``."""

    received: list[list[BaseMessage]] = Field(default_factory=list)
    fail: bool = False

    def bind_tools(self, tools: Any, **kwargs: Any) -> RecordingModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.received.append(list(messages))
        if self.fail:
            raise RuntimeError("model is down")
        return super()._generate(messages, *args, **kwargs)

    def system_texts(self) -> list[str]:
        """The system message text of every call received so far."""
        out = []
        for msgs in self.received:
            sys_msgs = [m for m in msgs if isinstance(m, SystemMessage)]
            out.append(sys_msgs[0].text if sys_msgs else "")
        return out


def replies(*texts: str) -> Iterator[AIMessage]:
    """Fresh AIMessages (a shared object would get one id and be merged by add_messages)."""
    for t in texts:
        yield AIMessage(content=t)
    while True:
        yield AIMessage(content="ok")


def make_agent(memory: Any, model: RecordingModel, **kw: Any) -> Any:
    checkpointer = kw.pop("checkpointer", None)
    tools = kw.pop("tools", [])
    mw = MnemoplugMiddleware(memory, **kw)
    return create_agent(
        model, tools=tools, system_prompt=PROMPT, middleware=[mw], checkpointer=checkpointer
    )


def user_msg(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def cfg(user_id: str, thread_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"user_id": user_id}
    if thread_id:
        conf["thread_id"] = thread_id
    return {"configurable": conf}


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


def contents(records: list[Any]) -> list[str]:
    return sorted(r.content for r in records)


async def test_memory_from_earlier_run_reaches_model_async(memory: Memory) -> None:
    model = RecordingModel(messages=replies("Noted, dark mode it is."))
    agent = make_agent(memory, model)
    await agent.ainvoke(user_msg("I prefer dark mode in every app."), context={"user_id": "u1"})
    first = model.system_texts()[0]
    assert first == PROMPT  # nothing remembered yet: the prompt is untouched
    assert contents(await memory.get_all("u1")) == [
        "I prefer dark mode in every app.",
        "Noted, dark mode it is.",
    ]
    await agent.ainvoke(user_msg("Which UI theme do I like?"), context={"user_id": "u1"})
    second = model.system_texts()[1]
    assert second.startswith(PROMPT)  # existing system prompt kept, first
    assert "I prefer dark mode in every app." in second


def test_memory_from_earlier_run_reaches_model_sync(memory: Memory) -> None:
    model = RecordingModel(messages=replies())
    agent = make_agent(memory, model)
    agent.invoke(user_msg("My dog is called Rex."), cfg("u1"))
    agent.invoke(user_msg("What is my dog's name?"), cfg("u1"))
    assert "My dog is called Rex." in model.system_texts()[1]
    assert len(model.received[1]) == 2  # system + this run's question: no history injected


def test_two_users_never_see_each_other(memory: Memory) -> None:
    model = RecordingModel(messages=replies())
    agent = make_agent(memory, model)
    agent.invoke(user_msg("My dog is called Rex."), cfg("alice"))
    agent.invoke(user_msg("My cat is called Tom."), cfg("bob"))
    agent.invoke(user_msg("What is my pet called?"), cfg("bob"))
    agent.invoke(user_msg("What is my pet called?"), cfg("alice"))
    bob_sys, alice_sys = model.system_texts()[2:4]
    assert "Tom" in bob_sys and "Rex" not in bob_sys
    assert "Rex" in alice_sys and "Tom" not in alice_sys


def test_retrieves_once_per_run_in_a_tool_loop(memory: Memory) -> None:
    searches: list[str] = []

    @hook("on_memory_search")
    def count(ctx: Any) -> None:
        searches.append(ctx.memory_query)

    memory.register(count)
    asyncio.run(memory.add("u1", "User lives in Lisbon", {"category": "profile"}))

    @tool
    def weather(city: str) -> str:
        """Weather in a city."""
        return f"Sunny in {city}"

    model = RecordingModel(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": "weather",
                            "args": {"city": "Lisbon"},
                            "id": "c1",
                            "type": "tool_call",
                        }
                    ],
                ),
                AIMessage(content="It is sunny in Lisbon."),
            ]
        )
    )
    agent = make_agent(
        memory, model, tools=[weather], strategy=inject_memory("relevant", min_relevance=0.1)
    )
    out = agent.invoke(user_msg("What's the weather where I live?"), cfg("u1"))
    assert out["messages"][-1].content == "It is sunny in Lisbon."
    assert len(model.received) == 2 and len(searches) == 1
    assert all("User lives in Lisbon" in s for s in model.system_texts())
    stored = contents(await_(memory.get_all("u1")))
    # the turn: the final answer (a question is not kept); no tool call, no tool result
    assert stored == ["It is sunny in Lisbon.", "User lives in Lisbon"]


def await_(coro: Any) -> Any:
    return asyncio.run(coro)


async def test_model_exception_stores_nothing(memory: Memory) -> None:
    model = RecordingModel(messages=replies(), fail=True)
    agent = make_agent(memory, model)
    with pytest.raises(RuntimeError, match="model is down"):
        await agent.ainvoke(user_msg("Remember that I like tea."), context={"user_id": "u1"})
    assert await memory.count("u1") == 0


def test_model_exception_stores_nothing_sync(memory: Memory) -> None:
    model = RecordingModel(messages=replies(), fail=True)
    agent = make_agent(memory, model)
    with pytest.raises(RuntimeError):
        agent.invoke(user_msg("Remember that I like tea."), cfg("u1"))
    assert asyncio.run(memory.count("u1")) == 0


def _reject_memory(memory: Memory) -> None:
    @hook("on_memory_add")
    def reject(ctx: Any) -> None:
        raise MemoryRejectedError("contains a secret", hook="reject")

    memory.register(reject)


async def test_rejecting_hook_does_not_crash_the_run(memory: Memory) -> None:
    _reject_memory(memory)
    model = RecordingModel(messages=replies("Fine."))
    agent = make_agent(memory, model)
    out = await agent.ainvoke(user_msg("My password is hunter2"), context={"user_id": "u1"})
    assert out["messages"][-1].content == "Fine."
    assert await memory.count("u1") == 0


async def test_rejecting_hook_raises_when_configured(memory: Memory) -> None:
    _reject_memory(memory)
    agent = make_agent(memory, RecordingModel(messages=replies()), raise_on_store_error=True)
    with pytest.raises(MemoryRejectedError):
        await agent.ainvoke(user_msg("My password is hunter2"), context={"user_id": "u1"})


def test_rejecting_hook_sync_raises_when_configured(memory: Memory) -> None:
    _reject_memory(memory)
    agent = make_agent(memory, RecordingModel(messages=replies()), raise_on_store_error=True)
    with pytest.raises(MemoryRejectedError):
        agent.invoke(user_msg("My password is hunter2"), cfg("u1"))


async def test_checkpointer_thread_turns_not_stored_twice(memory: Memory) -> None:
    model = RecordingModel(messages=replies("one", "two", "three"))
    agent = make_agent(memory, model, checkpointer=InMemorySaver())
    c = cfg("u1", "thread-1")
    for q in ("I live in Porto.", "I work as a nurse.", "I like jazz."):
        await agent.ainvoke(user_msg(q), c)
    # the third run saw the whole thread (6 messages) in state...
    assert len(model.received[2]) == 1 + 5
    recs = await memory.get_all("u1")
    # ...but each message is stored exactly once, with the thread as session
    assert contents(recs) == sorted(
        ["I live in Porto.", "one", "I work as a nurse.", "two", "I like jazz.", "three"]
    )
    assert {r.session_id for r in recs} == {"thread-1"}
    assert {r.metadata["source"] for r in recs} == {"langchain"}


def test_checkpointer_sync_dedupe(memory: Memory) -> None:
    agent = make_agent(memory, RecordingModel(messages=replies()), checkpointer=InMemorySaver())
    c = cfg("u1", "t")
    agent.invoke(user_msg("first"), c)
    agent.invoke(user_msg("second"), c)
    assert contents(asyncio.run(memory.get_all("u1"))) == [
        "first",
        "ok",
        "second",
    ]  # "ok" again: no row


def test_missing_user_id_is_a_clear_error(memory: Memory) -> None:
    agent = make_agent(memory, RecordingModel(messages=replies()))
    with pytest.raises(ConfigurationError, match="user id"):
        agent.invoke(user_msg("hi"))


def test_default_user_id_and_strategy(memory: Memory) -> None:
    asyncio.run(memory.add("solo", "User's favourite colour is green"))
    model = RecordingModel(messages=replies())
    agent = make_agent(
        memory,
        model,
        user_id="solo",
        strategy=inject_memory("recent", template="Known facts:\n{memories}"),
    )
    agent.invoke(user_msg("Hello"))
    expected = PROMPT + "\n\nKnown facts:\n- User's favourite colour is green"
    assert model.system_texts()[0] == expected


async def test_sqlite_syncmemory_invoke_and_ainvoke_no_deadlock(
    embedder: Any, tmp_path: Any
) -> None:
    """One agent over SQLite driven by ainvoke, and by invoke from inside a running loop."""
    sm = SyncMemory(f"sqlite:///{tmp_path / 'm.db'}", embedder=embedder, load_entry_points=False)
    try:
        model = RecordingModel(messages=replies())
        agent = make_agent(sm, model)
        await agent.ainvoke(user_msg("I am allergic to peanuts."), context={"user_id": "u1"})
        # sync invoke called on this (running) loop's thread: runs on the portal, no deadlock
        agent.invoke(user_msg("What am I allergic to?"), cfg("u1"))
        assert "I am allergic to peanuts." in model.system_texts()[1]
        await asyncio.wait_for(
            agent.ainvoke(user_msg("Any allergies?"), context={"user_id": "u1"}), 30
        )
        assert sm.count("u1") == 2  # the statement and "ok" once: no questions, no repeats
    finally:
        sm.close()


async def test_sync_invoke_in_worker_thread(memory: Memory) -> None:
    model = RecordingModel(messages=replies())
    agent = make_agent(memory, model)
    await asyncio.to_thread(agent.invoke, user_msg("I collect stamps."), cfg("u1"))
    assert await memory.count("u1") == 2


def test_system_message_with_content_blocks(memory: Memory) -> None:
    asyncio.run(memory.add("u1", "User speaks Portuguese"))
    model = RecordingModel(messages=replies())
    mw = MnemoplugMiddleware(memory, inject_memory("recent"))
    agent = create_agent(
        model,
        system_prompt=SystemMessage(content=[{"type": "text", "text": "Block prompt."}]),
        middleware=[mw],
    )
    agent.invoke(user_msg("Hi"), cfg("u1"))
    sent = next(m for m in model.received[0] if isinstance(m, SystemMessage))
    assert isinstance(sent.content, list)
    assert sent.content[0] == {"type": "text", "text": "Block prompt."}
    assert "User speaks Portuguese" in sent.text


def test_import_mnemoplug_does_not_import_langchain() -> None:
    code = (
        "import sys, mnemoplug; "
        "assert not any(m.split('.')[0] in ('langchain', 'langgraph', 'langchain_core') "
        "for m in sys.modules), sorted(m for m in sys.modules if 'lang' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_extra_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.startswith("mnemoplug.adapters.langchain"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "langgraph", None)  # type: ignore[arg-type]
    with pytest.raises(MissingDependencyError, match=r'pip install "mnemoplug\[langchain\]"'):
        import mnemoplug.adapters.langchain  # noqa: F401


def test_adapter_all_is_sorted_and_exported() -> None:
    import mnemoplug.adapters.langchain as lc

    assert list(lc.__all__) == sorted(lc.__all__)
    for name in lc.__all__:
        assert getattr(lc, name) is not None


def test_not_a_memory_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="Memory"):
        MnemoplugMiddleware(object())


def test_session_scoped_reads_and_agent_scope(memory: Memory) -> None:
    model = RecordingModel(messages=replies())
    agent = make_agent(
        memory,
        model,
        session_scoped=True,
        agent_id="chef",
        strategy=inject_memory("recent"),
        checkpointer=InMemorySaver(),
    )
    agent.invoke(user_msg("I like olives."), cfg("u1", "t1"))
    agent.invoke(user_msg("Hello again"), cfg("u1", "t2"))  # another thread: nothing injected
    assert "olives" not in model.system_texts()[1]
    agent.invoke(user_msg("And now?"), cfg("u1", "t1"))  # same thread: injected
    assert "I like olives." in model.system_texts()[2]
    recs = asyncio.run(memory.get_all("u1"))
    assert {r.agent_id for r in recs} == {"chef"}
    assert asyncio.run(memory.count("u1", agent_id="other")) == 0
