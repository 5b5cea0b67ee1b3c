"""The Agno adapter, through the real Agno Agent loop on an offline fake model."""

from __future__ import annotations

import asyncio
import importlib
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agno")

from agno.agent import Agent
from agno.db.schemas.memory import UserMemory
from agno.memory import MemoryManager
from agno.run.agent import RunErrorEvent, RunOutput
from agno.run.base import RunStatus

from mnemoplug.adapters.agno import (
    MnemoplugAgno,
    MnemoplugAgnoDb,
    escape_agno_text,
    with_memory,
)
from mnemoplug.core.errors import (
    ConfigurationError,
    MemoryRejectedError,
    MissingDependencyError,
)
from mnemoplug.core.memory import Memory
from mnemoplug.core.plugins import hook
from mnemoplug.core.strategies import inject_memory
from mnemoplug.core.sync import SyncMemory

sys.path.insert(0, str(Path(__file__).parent))
from agno_fakes import FakeAgnoModel

MODES = ["run", "arun", "stream", "astream"]
BLOCK = "Relevant memories about the user"


async def ask(agent: Agent, mode: str, text: str, **kw: Any) -> Any:
    """Run ``agent`` one way; return the final RunOutput (a RunErrorEvent for failed streams)."""
    if mode == "run":  # the sync API, called from inside a running event loop
        return agent.run(text, **kw)
    if mode == "arun":
        return await agent.arun(text, **kw)
    last: Any = None
    if mode == "stream":
        for event in agent.run(text, stream=True, yield_run_output=True, **kw):
            last = event
    else:
        async for event in agent.arun(text, stream=True, yield_run_output=True, **kw):
            last = event
    assert isinstance(last, RunOutput | RunErrorEvent), last  # the final item of the stream
    return last


@pytest.fixture
async def memory(embedder: Any, tmp_path: Path) -> AsyncIterator[Memory]:
    mem = Memory(f"sqlite:///{tmp_path / 'mem.db'}", embedder=embedder, load_entry_points=False)
    yield mem
    await mem.close()


@pytest.fixture
def model() -> FakeAgnoModel:
    return FakeAgnoModel()


def make_agent(model: FakeAgnoModel, **kw: Any) -> Agent:
    kw.setdefault("instructions", "You are a terse assistant.")
    return Agent(model=model, telemetry=False, **kw)


def system_of(model: FakeAgnoModel, i: int = -1) -> str:
    return next(m["content"] for m in model.requests[i] if m["role"] == "system")


@pytest.mark.parametrize("mode", MODES)
async def test_memory_of_an_earlier_run_reaches_the_model(
    mode: str, memory: Memory, model: FakeAgnoModel
) -> None:
    agent = with_memory(make_agent(model), memory, strategy=inject_memory("relevant"))
    await ask(agent, mode, "My favourite colour is teal.", user_id="alice", session_id="s1")
    assert BLOCK not in system_of(model)  # nothing remembered yet
    stored = await memory.get_all("alice")
    assert sorted((m.role, m.content) for m in stored) == [
        ("assistant", "echo: My favourite colour is teal."),
        ("user", "My favourite colour is teal."),
    ]
    assert {m.session_id for m in stored} == {"s1"}

    out = await ask(agent, mode, "Which colour do I like?", user_id="alice", session_id="s2")
    system = system_of(model)
    assert "You are a terse assistant." in system  # the agent's own instructions stay
    assert BLOCK in system and "My favourite colour is teal." in system
    assert out is not None and out.status == RunStatus.completed
    assert out.content == "echo: Which colour do I like?"
    # the memories were added for that run only: the agent's instructions are unchanged
    assert agent.instructions == "You are a terse assistant."
    assert str(agent.additional_context) == ""  # what Agno saves in its config: no memories
    assert len(await memory.get_all("alice")) == 3  # the question itself is not kept


async def test_two_users_through_one_agent_never_see_each_other(
    memory: Memory, model: FakeAgnoModel
) -> None:
    agent = with_memory(make_agent(model), memory)
    await ask(agent, "arun", "My passport number is X123 and I love sushi.", user_id="alice")
    await ask(agent, "run", "I love sushi too, what do you know about me?", user_id="bob")
    assert "X123" not in system_of(model) and BLOCK not in system_of(model)
    await ask(agent, "arun", "What food do I love?", user_id="alice")
    assert "X123" in system_of(model)
    await ask(agent, "run", "What food do I love?", user_id="bob")
    bob_sees = system_of(model)
    assert "X123" not in bob_sees and "I love sushi too" in bob_sees
    assert all(m.user_id == "bob" for m in await memory.get_all("bob"))
    assert not [m for m in await memory.get_all("bob") if "X123" in m.content]


async def test_concurrent_runs_of_two_users_stay_apart(memory: Memory) -> None:
    await memory.add("alice", "Alice's secret word is avocado.")
    await memory.add("bob", "Bob's secret word is zeppelin.")

    async def instructions(run_context: Any) -> str:  # awaits: the runs interleave here
        await asyncio.sleep(0.02)
        return f"You are a terse assistant for {run_context.user_id}."

    model = FakeAgnoModel(delay=0.05)
    agent = with_memory(make_agent(model, instructions=instructions), memory, inject_memory("all"))
    users = ["alice", "bob"] * 3
    outs = await asyncio.gather(
        *(
            ask(agent, "arun" if i % 2 else "astream", f"my word, {u}?", user_id=u)
            for i, u in enumerate(users)
        )
    )
    assert all(o.status == RunStatus.completed for o in outs)
    assert len(model.requests) == 6
    for req in model.requests:
        system, user = req[0]["content"], req[-1]["content"]
        if user.endswith("alice?"):
            assert "terse assistant for alice." in system
            assert "avocado" in system and "zeppelin" not in system
        else:
            assert "zeppelin" in system and "avocado" not in system


async def test_injection_does_not_leak_into_the_next_run(
    memory: Memory, model: FakeAgnoModel
) -> None:
    await memory.add("alice", "Alice's cat is called Miso.")
    agent = with_memory(make_agent(model), memory, strategy=inject_memory("all"))
    await ask(agent, "run", "Tell me about my cat", user_id="alice")
    assert "Miso" in system_of(model)
    await ask(agent, "run", "hello", user_id="carol")
    assert "Miso" not in system_of(model) and BLOCK not in system_of(model)
    await ask(agent, "run", "hello")  # no user at all: no memory, nothing stored
    assert BLOCK not in system_of(model)


async def test_agent_keeps_model_tools_and_callable_instructions(
    memory: Memory, model: FakeAgnoModel
) -> None:
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    def instructions(run_context: Any) -> list[str]:
        return [f"Greet {run_context.user_id} warmly."]

    agent = make_agent(model, instructions=instructions, tools=[get_weather])
    await memory.add("dave", "Dave lives in Oslo.")
    assert MnemoplugAgno(memory, inject_memory("all")).attach(agent) is agent
    assert agent.model is model and agent.tools == [get_weather]
    await ask(agent, "arun", "weather?", user_id="dave")
    system = system_of(model)
    assert "Greet dave warmly." in system and "Dave lives in Oslo." in system
    adapter = MnemoplugAgno.attached_to(agent)
    assert adapter is not None and adapter.attach(agent) is agent  # idempotent
    with pytest.raises(ConfigurationError, match="already has"):
        MnemoplugAgno(memory).attach(agent)
    assert len(agent.pre_hooks or []) == 1 and len(agent.post_hooks or []) == 1

    clone = agent.deep_copy()  # as AgentOS does per request: the copy keeps the memory
    assert MnemoplugAgno.attached_to(clone) is adapter
    await ask(clone, "run", "weather?", user_id="dave")
    assert "Dave lives in Oslo." in system_of(model)


@pytest.mark.parametrize("mode", MODES)
async def test_model_failure_stores_nothing(
    mode: str, memory: Memory, model: FakeAgnoModel
) -> None:
    agent = with_memory(make_agent(model), memory)
    model.fail = True
    out = await ask(agent, mode, "I was born in 1990.", user_id="erin")
    assert isinstance(out, RunErrorEvent) or out.status == RunStatus.error
    assert model.requests  # the model was really called
    assert await memory.count("erin") == 0


def _rejecting_memory(embedder: Any) -> Memory:
    @hook("on_memory_add")
    def reject(ctx: Any) -> None:
        raise MemoryRejectedError("no storing today", hook="reject")

    return Memory("memory://", embedder=embedder, plugins=[reject], load_entry_points=False)


@pytest.mark.parametrize("mode", MODES)
async def test_rejected_write_does_not_crash_the_run(
    mode: str, embedder: Any, model: FakeAgnoModel, caplog: pytest.LogCaptureFixture
) -> None:
    memory = _rejecting_memory(embedder)
    agent = with_memory(make_agent(model), memory)
    with caplog.at_level(logging.WARNING, logger="mnemoplug.adapters.agno"):
        out = await ask(agent, mode, "Remember my PIN 1234", user_id="frank")
    assert out.status == RunStatus.completed and out.content == "echo: Remember my PIN 1234"
    assert await memory.count("frank") == 0
    assert "no storing today" in caplog.text


@pytest.mark.parametrize("mode", MODES)
async def test_rejected_write_fails_the_run_when_configured(
    mode: str, embedder: Any, model: FakeAgnoModel
) -> None:
    memory = _rejecting_memory(embedder)
    agent = with_memory(make_agent(model), memory, raise_on_store_error=True)
    out = await ask(agent, mode, "Remember my PIN 1234", user_id="frank")
    if isinstance(out, RunErrorEvent):  # streams end with Agno's error event
        assert "memory store failed: memory write rejected" in str(out.content)
    else:  # Agno never raises from run(): the run ends with status error
        assert out.status == RunStatus.error
    assert await memory.count("frank") == 0


async def test_failing_lookup_injects_nothing_and_is_logged(
    memory: Memory, model: FakeAgnoModel, caplog: pytest.LogCaptureFixture
) -> None:
    await memory.add("gina", "Gina is allergic to peanuts.")
    calls = {"n": 0}

    def selector(ctx: Any, memories: list[Any]) -> list[Any]:
        calls["n"] += 1
        if calls["n"] > 1:
            raise ConnectionError("vector store down")
        return memories

    agent = with_memory(make_agent(model), memory, inject_memory("custom", selector=selector))
    await ask(agent, "run", "What am I allergic to?", user_id="gina")
    assert "peanuts" in system_of(model)
    with caplog.at_level(logging.WARNING, logger="mnemoplug.adapters.agno"):
        out = await ask(agent, "arun", "What am I allergic to?", user_id="gina")
    assert out.status == RunStatus.completed
    assert "peanuts" not in system_of(model) and BLOCK not in system_of(model)
    assert "vector store down" in caplog.text

    strict = with_memory(
        make_agent(FakeAgnoModel()),
        memory,
        inject_memory("custom", selector=selector),
        raise_on_lookup_error=True,
    )
    out = await ask(strict, "arun", "What am I allergic to?", user_id="gina")
    assert out.status == RunStatus.error
    assert strict.model.requests == []  # type: ignore[union-attr]


async def test_braces_and_dollars_in_memories_reach_the_model_verbatim(
    memory: Memory, model: FakeAgnoModel
) -> None:
    await memory.add("hana", "Hana's template is Dear {user_name}, you owe $user_id {0}.")
    agent = make_agent(
        model, instructions="Address the user as {user_name}.", session_state={"user_name": "Bob"}
    )
    with_memory(agent, memory, inject_memory("all"))
    await ask(agent, "run", "What is my template?", user_id="hana")
    system = system_of(model)
    assert "Address the user as Bob." in system  # Agno still substitutes the agent's own text
    visible = system.replace("\u2060", "")
    assert "Dear {user_name}, you owe $user_id {0}." in visible
    assert "Dear Bob" not in visible and "owe hana" not in visible


def test_escape_agno_text() -> None:
    assert escape_agno_text("a {b} $c") == "a {\u2060b} $$c"
    assert escape_agno_text("a {b} $c", resolve_in_context=False) == "a {b} $c"


def test_sync_memory_and_plain_sync_run(embedder: Any, model: FakeAgnoModel) -> None:
    with SyncMemory("memory://", embedder=embedder, load_entry_points=False) as mem:
        mem.add("ivan", "Ivan prefers metric units.")
        agent = with_memory(make_agent(model), mem)
        out = agent.run("Which units should you use for me?", user_id="ivan")
        assert out.status == RunStatus.completed
        assert "Ivan prefers metric units." in system_of(model)
        assert mem.count("ivan") == 1  # the question and its echo are not kept


def test_missing_agno_raises_a_helpful_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "agno" or name.startswith("agno."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "mnemoplug.adapters.agno")
    with pytest.raises(MissingDependencyError, match=r'pip install "mnemoplug\[agno\]"'):
        importlib.import_module("mnemoplug.adapters.agno")


def test_importing_mnemoplug_does_not_import_agno() -> None:
    code = "import sys, mnemoplug; assert 'agno' not in sys.modules, 'agno imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- the drop-in for Agno's user-memory storage ---------------------------------------------
async def test_agno_memory_manager_stores_in_mnemoplug(memory: Memory) -> None:
    db = MnemoplugAgnoDb(memory)
    mm = MemoryManager(db=db)
    mid = mm.add_user_memory(UserMemory(memory="Likes hiking", topics=["hobbies"]), user_id="jo")
    mm.add_user_memory(UserMemory(memory="Works as a nurse", topics=["work"]), user_id="jo")
    mm.add_user_memory(UserMemory(memory="Plays chess"), user_id="kim")

    assert mid is not None
    got = mm.get_user_memories(user_id="jo")
    assert got is not None and sorted(m.memory for m in got) == ["Likes hiking", "Works as a nurse"]
    assert all(m.user_id == "jo" for m in got)
    assert [m.memory for m in mm.get_user_memories(user_id="kim") or []] == ["Plays chess"]
    # they are real mnemoplug memories of the right user
    assert sorted(m.content for m in await memory.get_all("jo")) == [
        "Likes hiking",
        "Works as a nurse",
    ]
    assert await memory.count("kim") == 1

    one = mm.get_user_memory(mid, user_id="jo")
    assert one is not None and one.memory == "Likes hiking" and one.topics == ["hobbies"]
    assert db.get_user_memory(mid, user_id="kim") is None  # another user's id
    assert db.get_all_memory_topics(user_id="jo") == ["hobbies", "work"]
    page = db.get_user_memories(user_id="jo", limit=1, page=2, deserialize=False)
    assert isinstance(page, tuple) and page[1] == 2 and len(page[0]) == 1
    found = db.get_user_memories(search_content="chess")
    assert isinstance(found, list) and [r.memory for r in found] == ["Plays chess"]
    stats, n = db.get_user_memory_stats()
    assert n == 2 and {s["user_id"]: s["total_memories"] for s in stats} == {"jo": 2, "kim": 1}

    mm.replace_user_memory(mid, UserMemory(memory="Likes climbing", topics=["hobbies"]), "jo")
    assert {m.memory for m in mm.get_user_memories(user_id="jo") or []} == {
        "Likes climbing",
        "Works as a nurse",
    }
    assert await memory.count("jo") == 2  # updated in place, not duplicated

    mm.delete_user_memory(mid, user_id="kim")  # not kim's: nothing happens
    assert await memory.count("jo") == 2
    mm.delete_user_memory(mid, user_id="jo")
    assert [m.content for m in await memory.get_all("jo")] == ["Works as a nurse"]

    await memory.add("kim", "a conversation turn, not an Agno user memory")
    mm.clear()
    assert await memory.count("jo") == 0
    assert [m.content for m in await memory.get_all("kim")] == [
        "a conversation turn, not an Agno user memory"
    ]


async def test_agno_user_memories_are_injected_by_the_adapter(
    memory: Memory, model: FakeAgnoModel
) -> None:
    db = MnemoplugAgnoDb(memory)
    agent = make_agent(model, db=db)
    with_memory(agent, memory, store_turns=False)
    MemoryManager(db=db).add_user_memory(UserMemory(memory="Prefers window seats"), user_id="lee")
    assert [m.memory for m in agent.get_user_memories(user_id="lee") or []] == [
        "Prefers window seats"
    ]
    await ask(agent, "arun", "Book me a seat on the plane", user_id="lee")
    assert "Prefers window seats" in system_of(model)
    assert await memory.count("lee") == 1  # store_turns=False


@pytest.mark.parametrize("mode", ["run", "arun"])
async def test_agent_update_memory_on_run_lands_in_mnemoplug(
    mode: str, memory: Memory, model: FakeAgnoModel
) -> None:
    """Agno's own memory pipeline (MemoryManager + the model's add_memory tool call)."""
    agent = make_agent(model, db=MnemoplugAgnoDb(memory), update_memory_on_run=True)
    out = await ask(agent, mode, "I live in Lisbon", user_id="zoe")
    assert out.status == RunStatus.completed
    stored = await memory.get_all("zoe")
    assert [(m.content, m.metadata["kind"]) for m in stored] == [
        ("The user said: I live in Lisbon", "agno_user_memory")
    ]
    assert await memory.count("yan") == 0

    def main_system() -> str:  # the agent's own request (the memory task also uses the model)
        req = [r for r in model.requests if "You are a terse assistant." in r[0]["content"]]
        return str(req[-1][0]["content"])

    await ask(agent, mode, "Where do I live?", user_id="zoe")  # Agno adds its memories
    assert "The user said: I live in Lisbon" in main_system()
    await ask(agent, mode, "Where do I live?", user_id="yan")
    assert "Lisbon" not in main_system()
