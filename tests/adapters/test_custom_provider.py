"""A user's own seed-style MemoryProvider (only the seven methods) through every integration:
inject_memory, agent_endpoint, Agno, LangChain middleware/retriever/stores, PydanticAI and
migrate_memory. Every test checks what the provider itself stored or returned."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mnemoplug import (
    ConfigurationError,
    Memory,
    MemoryProvider,
    MemoryRecord,
    inject_memory,
    migrate_memory,
)
from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint

BLOCK = "Relevant memories about the user"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class SeedProvider(MemoryProvider):
    """What a user writes from the seeds' docs: a dict per user, naive word-overlap search,
    dict results. No count/forget/list_users, no scope parameters."""

    name = "seed"

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []  # (method, user_id)
        self._next = 0

    def _put(
        self, user_id: str, content: str, metadata: Mapping[str, Any] | None, role: Any
    ) -> str:
        self._next += 1
        mid = f"m{self._next}"
        rec = {"id": mid, "content": content, "metadata": dict(metadata or {})}
        if role:
            rec["role"] = role
        self.data.setdefault(user_id, {})[mid] = rec
        return mid

    async def add(
        self,
        user_id: str,
        content: str | Sequence[Any],
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        self.calls.append(("add", user_id))
        if isinstance(content, str):
            return self._put(user_id, content, metadata, None)
        return [self._put(user_id, m["content"], metadata, m.get("role")) for m in content]

    async def search(
        self,
        user_id: str,
        query: str,
        limit: int = 10,
        filters: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        self.calls.append(("search", user_id))
        q = _words(query)
        hits = []
        for rec in self.data.get(user_id, {}).values():
            overlap = len(q & _words(rec["content"]))
            if overlap:
                hits.append({**rec, "score": overlap / len(q)})
        hits.sort(key=lambda r: -r["score"])
        return hits[:limit]

    async def get(self, user_id: str, memory_id: str) -> dict[str, Any] | None:
        self.calls.append(("get", user_id))
        rec = self.data.get(user_id, {}).get(memory_id)
        return dict(rec) if rec else None

    async def get_all(self, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        self.calls.append(("get_all", user_id))
        return [dict(r) for r in reversed(self.data.get(user_id, {}).values())][:limit]

    async def update(
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.calls.append(("update", user_id))
        rec = self.data[user_id][memory_id]
        if content is not None:
            rec["content"] = content
        if metadata is not None:
            rec["metadata"] = dict(metadata)
        return dict(rec)

    async def delete(self, user_id: str, memory_id: str) -> bool:
        self.calls.append(("delete", user_id))
        return self.data.get(user_id, {}).pop(memory_id, None) is not None

    async def delete_all(self, user_id: str) -> int:
        self.calls.append(("delete_all", user_id))
        return len(self.data.pop(user_id, {}))

    # what the tests read
    def contents(self, user_id: str) -> list[str]:
        return [r["content"] for r in self.data.get(user_id, {}).values()]

    def turns(self, user_id: str) -> list[tuple[str | None, str]]:
        return [(r.get("role"), r["content"]) for r in self.data.get(user_id, {}).values()]

    def called(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


@pytest.fixture
def custom() -> SeedProvider:
    return SeedProvider()


async def seed(custom: SeedProvider) -> None:
    await custom.add("alice", "User prefers the dark UI theme", {"category": "ui"})
    await custom.add("alice", "User is allergic to peanuts", {"category": "health"})
    await custom.add("bob", "User prefers the light UI theme", {"category": "ui"})


def _wraps(memory: Any, custom: SeedProvider) -> bool:
    return isinstance(memory, Memory) and memory.provider is custom


# -- inject_memory ------------------------------------------------------------------------------
async def test_inject_memory_selects_with_the_providers_own_search(custom: SeedProvider) -> None:
    await seed(custom)
    strategy = inject_memory("relevant", provider=custom)
    assert _wraps(strategy.memory, custom)
    found = await strategy.select(user_id="alice", query="which UI theme do I like")
    assert custom.called("search") == 1  # the provider's search, not mnemoplug's retrieval
    assert [m.content for m in found] == ["User prefers the dark UI theme"]
    assert all(isinstance(m, MemoryRecord) for m in found)
    assert found[0].id in custom.data["alice"] and found[0].metadata == {"category": "ui"}
    assert found[0].score == pytest.approx(2 / 6)  # the provider's score, kept
    text = strategy.render(found)
    assert text.startswith(BLOCK) and "- User prefers the dark UI theme" in text
    assert "light" not in text and "peanuts" not in text

    # min_relevance applies to the provider's scores; filters to its metadata
    strict = inject_memory("relevant", provider=custom, min_relevance=0.5)
    assert await strict.select(user_id="alice", query="which UI theme do I like") == []
    health = inject_memory("relevant", provider=custom, filters={"category": "health"})
    assert [m.content for m in await health.select(user_id="alice", query="theme peanuts")] == [
        "User is allergic to peanuts"
    ]

    recent = inject_memory("recent", provider=custom, max_memories=1)
    (newest,) = await recent.select(user_id="alice", query=None)
    assert newest.content == "User is allergic to peanuts"  # the provider's get_all order
    assert [
        m.content for m in await inject_memory("all", provider=custom).select(user_id="alice")
    ] == ["User is allergic to peanuts", "User prefers the dark UI theme"]


async def test_select_given_the_raw_provider_wraps_it_once(custom: SeedProvider) -> None:
    await seed(custom)
    strategy = inject_memory("relevant")
    first = await strategy.select(custom, user_id="bob", query="light theme")
    assert [m.content for m in first] == ["User prefers the light UI theme"]
    assert strategy._memory_for(custom) is strategy._memory_for(custom)

    def pick(ctx: Any, memories: list[MemoryRecord]) -> list[MemoryRecord]:
        assert _wraps(ctx.memory, custom)
        return [m for m in memories if "peanuts" in m.content]

    chosen = await inject_memory("custom", selector=pick).select(custom, user_id="alice")
    assert [m.content for m in chosen] == ["User is allergic to peanuts"]


# -- agent_endpoint -----------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["provider", "strategy"])
async def test_agent_endpoint_stores_turns_in_the_provider(custom: SeedProvider, how: str) -> None:
    seen: list[AgentContext] = []
    memory = custom if how == "provider" else inject_memory("relevant", provider=custom)

    @agent_endpoint(memory=memory)
    async def chat(user_id: str, message: str, ctx: AgentContext) -> str:
        seen.append(ctx)
        return f"Noted: {message}"

    assert await chat(user_id="alice", message="My favourite colour is teal") == (
        "Noted: My favourite colour is teal"
    )
    assert seen[0].memories == [] and seen[0].memory_text == ""
    assert _wraps(seen[0].memory, custom)
    # the turn is in the provider's own storage, with roles and the endpoint's metadata
    assert custom.turns("alice") == [
        ("user", "My favourite colour is teal"),
        ("assistant", "Noted: My favourite colour is teal"),
    ]
    assert all(r["metadata"] == {"source": "agent_endpoint"} for r in custom.data["alice"].values())

    await chat(user_id="alice", message="Which colour is my favourite")
    contents = [m.content for m in seen[1].memories]
    assert "My favourite colour is teal" in contents
    assert all(m.id in custom.data["alice"] for m in seen[1].memories)
    assert "My favourite colour is teal" in seen[1].memory_text
    await chat(user_id="bob", message="Which colour is my favourite")
    assert seen[2].memories == []  # never alice's
    assert len(custom.data["alice"]) == 3 and len(custom.data["bob"]) == 1  # no questions


# -- Agno -----------------------------------------------------------------------------------------
def _agno() -> Any:
    pytest.importorskip("agno")
    sys.path.insert(0, str(Path(__file__).parent))
    from agno_fakes import FakeAgnoModel

    return FakeAgnoModel


@pytest.mark.parametrize("mode", ["run", "arun"])
async def test_agno_agent_loop_with_a_custom_provider(custom: SeedProvider, mode: str) -> None:
    fake_model = _agno()
    from agno.agent import Agent

    from mnemoplug.adapters.agno import MnemoplugAgno, with_memory

    model = fake_model()
    agent = with_memory(Agent(model=model, telemetry=False, instructions="Be terse."), custom)
    adapter = MnemoplugAgno.attached_to(agent)
    assert adapter is not None and _wraps(adapter.memory, custom)

    async def ask(text: str, user: str) -> Any:
        if mode == "run":
            return agent.run(text, user_id=user, session_id="s1")
        return await agent.arun(text, user_id=user, session_id="s1")

    await ask("My favourite colour is teal.", "alice")
    assert custom.turns("alice") == [
        ("user", "My favourite colour is teal."),
        ("assistant", "echo: My favourite colour is teal."),
    ]
    meta = next(iter(custom.data["alice"].values()))["metadata"]
    assert meta["source"] == "agno" and meta["agno_run_id"]
    out = await ask("Which colour do I like?", "alice")
    assert out.content == "echo: Which colour do I like?"
    system = model.last_system
    assert "Be terse." in system and BLOCK in system and "My favourite colour is teal." in system
    await ask("Which colour do I like?", "bob")
    assert "teal" not in model.last_system
    assert len(custom.data["alice"]) == 3 and len(custom.data["bob"]) == 1  # no questions


def test_agno_db_over_a_custom_provider(custom: SeedProvider) -> None:
    _agno()
    from agno.db.schemas.memory import UserMemory
    from agno.memory import MemoryManager

    from mnemoplug.adapters.agno import MnemoplugAgnoDb

    mm = MemoryManager(db=MnemoplugAgnoDb(custom))
    mid = mm.add_user_memory(UserMemory(memory="Likes hiking", topics=["hobbies"]), user_id="jo")
    assert mid is not None
    (rec,) = custom.data["jo"].values()
    assert rec["content"] == "Likes hiking"
    assert rec["metadata"]["kind"] == "agno_user_memory" and rec["metadata"]["topics"] == [
        "hobbies"
    ]
    got = mm.get_user_memories(user_id="jo")
    assert [m.memory for m in got or []] == ["Likes hiking"]
    mm.replace_user_memory(mid, UserMemory(memory="Likes climbing", topics=["hobbies"]), "jo")
    assert custom.contents("jo") == ["Likes climbing"]
    mm.delete_user_memory(mid, user_id="jo")
    assert custom.contents("jo") == []


def test_agno_rejects_what_is_not_a_memory() -> None:
    _agno()
    from mnemoplug.adapters.agno import MnemoplugAgno

    with pytest.raises(ConfigurationError, match="MemoryProvider"):
        MnemoplugAgno(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="inject_memory"):
        MnemoplugAgno(SeedProvider(), strategy="relevant")  # type: ignore[arg-type]


# -- LangChain middleware ------------------------------------------------------------------------
def _recording_model(*texts: str) -> Any:
    pytest.importorskip("langchain.agents")
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
    from pydantic import Field

    class RecordingModel(GenericFakeChatModel):
        received: list[list[BaseMessage]] = Field(default_factory=list)

        def bind_tools(self, tools: Any, **kwargs: Any) -> RecordingModel:  # type: ignore[override]
            return self

        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
            self.received.append(list(messages))
            return super()._generate(messages, *args, **kwargs)

        def last_system(self) -> str:
            sys_msgs = [m for m in self.received[-1] if isinstance(m, SystemMessage)]
            return sys_msgs[0].text if sys_msgs else ""

    def replies() -> Iterator[AIMessage]:
        for t in texts:
            yield AIMessage(content=t)
        while True:
            yield AIMessage(content="ok")

    return RecordingModel(messages=replies())


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_langchain_middleware_with_a_custom_provider(custom: SeedProvider, mode: str) -> None:
    model = _recording_model("Noted, dark mode it is.", "You like dark mode.")
    from langchain.agents import create_agent

    from mnemoplug.adapters.langchain import MnemoplugMiddleware

    mw = MnemoplugMiddleware(custom)
    assert _wraps(mw.memory, custom)
    agent = create_agent(model, tools=[], system_prompt="You are helpful.", middleware=[mw])

    async def run(text: str, user: str) -> Any:
        inp = {"messages": [{"role": "user", "content": text}]}
        if mode == "invoke":
            return agent.invoke(inp, context={"user_id": user})
        return await agent.ainvoke(inp, context={"user_id": user})

    await run("I prefer dark mode in every app.", "u1")
    assert custom.turns("u1") == [
        ("user", "I prefer dark mode in every app."),
        ("assistant", "Noted, dark mode it is."),
    ]
    assert all(r["metadata"] == {"source": "langchain"} for r in custom.data["u1"].values())
    out = await run("Which mode do I prefer?", "u1")
    assert out["messages"][-1].content == "You like dark mode."
    system = model.last_system()
    assert system.startswith("You are helpful.") and "I prefer dark mode in every app." in system
    await run("Which mode do I prefer?", "u2")
    assert "dark mode" not in model.last_system()
    assert len(custom.data["u1"]) == 3 and len(custom.data["u2"]) == 1  # no questions


def test_langchain_runner_rejects_what_is_not_a_memory() -> None:
    pytest.importorskip("langchain.agents")
    from mnemoplug.adapters.langchain import MnemoplugMiddleware

    with pytest.raises(ConfigurationError, match="MemoryProvider"):
        MnemoplugMiddleware(object())


# -- LangChain retriever and stores ---------------------------------------------------------------
async def test_langchain_retriever_over_a_custom_provider(custom: SeedProvider) -> None:
    pytest.importorskip("langchain_core")
    from mnemoplug.adapters.langchain import MnemoplugRetriever

    await seed(custom)
    r = MnemoplugRetriever(memory=custom, user_id="alice", k=5)
    docs = r.invoke("dark UI theme")  # sync path, from inside a running loop
    assert [d.page_content for d in docs] == ["User prefers the dark UI theme"]
    assert docs[0].id in custom.data["alice"]
    assert docs[0].metadata["score"] == pytest.approx(1.0)
    assert docs[0].metadata["metadata"] == {"category": "ui"}
    # mnemoplug's filters and min_relevance apply on top of the provider's own search
    docs = await r.ainvoke("UI theme or peanuts", filters={"category": "health"})
    assert [d.page_content for d in docs] == ["User is allergic to peanuts"]
    docs = await r.ainvoke("the dark UI theme or peanuts", min_relevance=0.5)
    assert [d.page_content for d in docs] == ["User prefers the dark UI theme"]
    assert await r.ainvoke("the peanuts", min_relevance=0.9) == []
    assert custom.called("search") == 4


def test_langgraph_store_over_a_custom_provider(custom: SeedProvider) -> None:
    pytest.importorskip("langgraph.store.base")
    from mnemoplug.adapters.langchain import MnemoplugKVStore, MnemoplugStore

    store = MnemoplugStore(custom, index_fields=["text"])
    store.put(("u1", "prefs"), "theme", {"text": "User prefers dark mode", "level": 3})
    store.put(("u1", "prefs"), "food", {"text": "User loves sushi"})
    (rec, _) = custom.data["u1"].values()
    assert rec["content"] == "User prefers dark mode"
    assert rec["metadata"]["lg_key"] == "theme" and rec["metadata"]["lg_value"]["level"] == 3
    item = store.get(("u1", "prefs"), "theme")
    assert item is not None and item.value == {"text": "User prefers dark mode", "level": 3}
    store.put(("u1", "prefs"), "theme", {"text": "User prefers light mode", "level": 4})
    assert custom.contents("u1") == ["User prefers light mode", "User loves sushi"]  # in place
    hits = store.search(("u1", "prefs"), query="which mode")
    assert [h.key for h in hits] == ["theme"] and hits[0].score == pytest.approx(0.5)
    assert store.get(("u2", "prefs"), "theme") is None
    store.delete(("u1", "prefs"), "theme")
    assert custom.contents("u1") == ["User loves sushi"]

    kv = MnemoplugKVStore(custom, user_id="u9", namespace="docs")
    kv.mset([("a", {"x": 1}), ("b", b"\x00raw")])
    assert kv.mget(["a", "b", "c"]) == [{"x": 1}, b"\x00raw", None]
    assert sorted(custom.contents("u9")) == ["a", "b"]
    kv.mset([("a", {"x": 2})])
    assert kv.mget(["a"]) == [{"x": 2}] and len(custom.data["u9"]) == 2
    kv.mdelete(["a"])
    assert custom.contents("u9") == ["b"]


def test_langchain_history_and_checkpointer_over_a_memory_with_a_custom_provider(
    custom: SeedProvider,
) -> None:
    pytest.importorskip("langgraph.checkpoint.base")
    from langchain_core.messages import AIMessage, HumanMessage

    from mnemoplug.adapters.langchain import MnemoplugChatMessageHistory, MnemoplugCheckpointer

    # a raw provider holds no sessions or checkpoints: a clear error
    with pytest.raises(ConfigurationError, match="session"):
        MnemoplugChatMessageHistory(custom, "c1")
    with pytest.raises(ConfigurationError, match="CheckpointStore"):
        MnemoplugCheckpointer(custom)
    # Memory(provider=custom, session=..., checkpoints=...) gives both next to the provider
    mem = Memory(provider=custom, session="memory://", checkpoints="memory://")
    history = MnemoplugChatMessageHistory(mem, "c1", user_id="u1")
    history.add_messages([HumanMessage("hi"), AIMessage("hello")])
    assert [m.content for m in history.messages] == ["hi", "hello"]
    saver = MnemoplugCheckpointer(mem)
    assert saver.store is mem.checkpoints
    assert custom.data == {}  # long-term memory untouched


# -- PydanticAI -----------------------------------------------------------------------------------
@dataclass
class Deps:
    user_id: str


async def test_pydantic_ai_capability_with_a_custom_provider(custom: SeedProvider) -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    from mnemoplug.adapters.pydantic_ai import MnemoplugCapability

    instructions: list[str] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        instructions.append(info.instructions or "")  # what this model request was given
        return ModelResponse(parts=[TextPart("Noted.")])

    cap = MnemoplugCapability(custom)
    assert _wraps(cap.memory, custom)
    agent = Agent(FunctionModel(answer), deps_type=Deps, capabilities=[cap])
    await agent.run("I prefer the dark UI theme", deps=Deps("alice"))
    assert custom.turns("alice") == [
        ("user", "I prefer the dark UI theme"),
        ("assistant", "Noted."),
    ]
    assert BLOCK not in instructions[-1]
    await agent.run("Which UI theme do I prefer?", deps=Deps("alice"))
    assert "I prefer the dark UI theme" in instructions[-1]
    await agent.run("Which UI theme do I prefer?", deps=Deps("bob"))
    assert "dark" not in instructions[-1]


async def test_pydantic_ai_memory_tools_with_a_custom_provider(custom: SeedProvider) -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.messages import (
        ModelMessage,
        ModelRequest,
        ModelResponse,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
    )
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    from mnemoplug.adapters.pydantic_ai import MnemoplugCapability

    await seed(custom)
    script = [
        ToolCallPart("save_memory", {"content": "User drinks green tea"}),
        ToolCallPart("search_memory", {"query": "green tea"}),
    ]
    returns: list[Any] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        if isinstance(last, ModelRequest):
            returns.extend(p.content for p in last.parts if isinstance(p, ToolReturnPart))
        if script:
            return ModelResponse(parts=[script.pop(0)])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(
        FunctionModel(model),
        deps_type=Deps,
        capabilities=[MnemoplugCapability(custom, tools=True, store_turns=False)],
    )
    await agent.run("remember my tea", deps=Deps("alice"))
    saved_id = next(
        k for k, r in custom.data["alice"].items() if r["content"] == "User drinks green tea"
    )
    assert returns[0] == f"saved (id {saved_id})"
    assert returns[1] == ["User drinks green tea"]


# -- migrate_memory -------------------------------------------------------------------------------
async def test_migrate_from_and_to_a_custom_provider(custom: SeedProvider) -> None:
    await seed(custom)
    target = Memory("memory://", embedder=None, load_entry_points=False)
    res = await migrate_memory(custom, target, user_ids=["alice"], progress=False)
    assert res.success, res.errors
    assert res.total_users == 1 and res.migrated == 2
    assert sorted(m.content for m in await target.get_all("alice")) == [
        "User is allergic to peanuts",
        "User prefers the dark UI theme",
    ]
    assert {m.metadata["category"] for m in await target.get_all("alice")} == {"ui", "health"}
    assert await target.count("bob") == 0  # only the users asked for

    source = Memory("memory://", embedder=None, load_entry_points=False)
    await source.add("carol", "User lives in Lisbon", {"category": "home"})
    await source.add("carol", "User works as a nurse")
    back = SeedProvider()
    res = await migrate_memory(source, back, progress=False)
    assert res.success, res.errors
    assert res.migrated == 2
    assert sorted(back.contents("carol")) == ["User lives in Lisbon", "User works as a nurse"]
    lisbon = next(r for r in back.data["carol"].values() if r["content"] == "User lives in Lisbon")
    assert lisbon["metadata"].get("category") == "home"


def test_a_duck_typed_memory_still_passes_through_unchanged() -> None:
    pytest.importorskip("langchain.agents")
    from mnemoplug.adapters.langchain._runner import MemoryRunner
    from mnemoplug.core.strategies import as_memory

    class Duck:
        async def add(self, *a: Any, **k: Any) -> None: ...
        async def search(self, *a: Any, **k: Any) -> list[Any]:
            return []

        async def get_all(self, *a: Any, **k: Any) -> list[Any]:
            return []

        async def delete(self, *a: Any, **k: Any) -> None: ...

    duck = Duck()
    assert MemoryRunner(duck).memory is duck
    assert as_memory(duck) is duck
    assert asyncio.run(inject_memory("relevant").select(duck, user_id="u", query="x")) == []
