"""The SQL session and checkpoint stores work from every event loop: a second
``asyncio.run`` (a CLI or a test calling it twice) reopens them there, as the memory providers
do. Each scenario runs concurrent calls in two loops, through the real framework adapters."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from mnemoplug.core.checkpoints import checkpoint_store_from_url
from mnemoplug.core.session import session_memory_from_url

from ..conftest import POSTGRES_URL, require_server


class Stores:
    """Session and checkpoint stores of one backend (unique PostgreSQL tables)."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend, self.tmp_path = backend, tmp_path
        self.run = uuid.uuid4().hex[:10]  # fresh tables: nothing from an interrupted earlier run

    def _url(self, kind: str) -> tuple[str, dict[str, Any]]:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{kind}.db'}", {}
        return POSTGRES_URL, {"table": f"mnemoplug_loops_{kind}_{self.run}"}

    def session(self, kind: str = "sessions") -> Any:
        url, opts = self._url(kind)
        return session_memory_from_url(url, **opts)

    def checkpoints(self, kind: str = "checkpoints") -> Any:
        url, opts = self._url(kind)
        return checkpoint_store_from_url(url, **opts)


@pytest.fixture(params=["postgres", "sqlite"])
def stores(request: Any, tmp_path: Path) -> Stores:
    if request.param == "postgres":
        require_server(POSTGRES_URL, "PostgreSQL")
    return Stores(request.param, tmp_path)


def test_session_and_checkpoint_stores_in_two_loops(stores: Stores) -> None:
    sessions = stores.session()
    checkpoints = stores.checkpoints()
    user = f"u-{uuid.uuid4().hex[:8]}"  # PostgreSQL tables outlive a test run

    async def run(n: int) -> None:
        await sessions.clear_all(user_id=user)
        await asyncio.gather(
            *[
                sessions.add_messages(
                    f"{user}-s{i}", [{"role": "user", "content": f"m{n}"}], user_id=user
                )
                for i in range(4)
            ]
        )
        await asyncio.gather(
            *[checkpoints.save(f"run{n}", {"i": i}, user_id=user) for i in range(4)]
        )
        assert len(await checkpoints.list(run_id=f"run{n}", user_id=user, limit=10)) == 4

    async def cleanup() -> None:
        await sessions.clear_all(user_id=user)
        await checkpoints.delete_user(user)
        await sessions.close()
        await checkpoints.close()

    asyncio.run(run(1))
    asyncio.run(run(2))  # a new event loop: used to fail with "bound to a different event loop"
    asyncio.run(cleanup())


def test_langgraph_checkpointer_over_memory_in_two_loops(stores: Stores, embedder: Any) -> None:
    """The issue's scenario: MnemoplugCheckpointer(Memory(..., checkpoints=url)), a real
    create_agent thread resumed in a second ``asyncio.run``."""
    pytest.importorskip("langchain.agents")
    from langchain.agents import create_agent

    from mnemoplug import Memory
    from mnemoplug.adapters.langchain import MnemoplugCheckpointer

    from .test_langchain_middleware import RecordingModel, replies, user_msg

    memory = Memory(
        "memory://",
        embedder=embedder,
        load_entry_points=False,
        checkpoints=stores.checkpoints("cp"),
    )
    saver = MnemoplugCheckpointer(memory)
    model = RecordingModel(messages=replies("Hi Ana.", "You are Ana.", "a", "b"))
    agent = create_agent(model, checkpointer=saver)
    t1, t2 = f"loops-{uuid.uuid4().hex[:8]}", f"loops-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": t1}}

    async def turn(text: str) -> None:
        await asyncio.gather(
            agent.ainvoke(user_msg(text), cfg),
            agent.ainvoke(user_msg(text), {"configurable": {"thread_id": t2}}),
        )

    async def cleanup() -> None:
        await saver.adelete_thread(t1)
        await saver.adelete_thread(t2)
        await memory.close()

    asyncio.run(turn("I am Ana."))
    asyncio.run(turn("Who am I?"))
    texts = [m.text for m in model.received[-1]]
    assert "I am Ana." in texts and "Who am I?" in texts  # the thread was restored
    asyncio.run(cleanup())


def test_conversation_store_in_two_loops(stores: Stores) -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.conversation_store import Conversation
    from pydantic_ai.models.test import TestModel

    from mnemoplug.adapters.pydantic_ai import MnemoplugConversationStore

    store = MnemoplugConversationStore(stores.session("conv"), user_id="u1")
    cid = f"loops-{uuid.uuid4().hex[:8]}"
    agent = Agent(TestModel(custom_output_text="ok"))

    async def turn(cid: str) -> None:
        async def one(c: str) -> None:
            conversation = await store.load(c) or Conversation(conversation_id=c)
            await store.save(await agent.run("hi", conversation=conversation))

        await asyncio.gather(one(cid), one(cid + "b"))

    async def check_and_cleanup() -> None:
        loaded = await store.load(cid)
        assert loaded is not None and len(loaded.messages) == 4
        for c in (cid, cid + "b"):
            conv = await store.load(c)
            if conv is not None:
                await store.delete(c)

    asyncio.run(turn(cid))
    asyncio.run(turn(cid))
    asyncio.run(check_and_cleanup())
