"""MnemoplugCheckpointer against langgraph-checkpoint-conformance and a real agent thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.conformance")

from langgraph.checkpoint.conformance import checkpointer_test, validate

from mnemoplug.adapters.langchain import MnemoplugCheckpointer
from mnemoplug.core.checkpoints import checkpoint_store_from_url

ALL = {
    "put",
    "put_writes",
    "get_tuple",
    "list",
    "delete_thread",  # base
    "delete_for_runs",
    "copy_thread",
    "prune",  # extended
}


def _assert_conformant(report: Any) -> None:
    failures = {name: res.failures for name, res in report.results.items() if res.passed is False}
    assert not failures, failures
    for cap in ALL:
        res = report.results[cap]
        assert res.detected and res.passed, (cap, res)
        assert res.tests_passed > 0
    assert report.conformance_level() == "FULL"


async def test_conformance_in_memory_store() -> None:
    @checkpointer_test(name="MnemoplugCheckpointer[memory]")
    async def factory() -> AsyncIterator[MnemoplugCheckpointer]:
        yield MnemoplugCheckpointer(checkpoint_store_from_url("memory://"))

    _assert_conformant(await validate(factory))


async def test_conformance_sqlite_store(tmp_path: Path) -> None:
    n = 0

    @checkpointer_test(name="MnemoplugCheckpointer[sqlite]")
    async def factory() -> AsyncIterator[MnemoplugCheckpointer]:
        nonlocal n
        n += 1
        store = checkpoint_store_from_url(f"sqlite:///{tmp_path / f'cp{n}.db'}")
        yield MnemoplugCheckpointer(store)
        await store.close()

    _assert_conformant(await validate(factory))


def test_agent_thread_persists_and_users_are_separate(embedder: Any, tmp_path: Path) -> None:
    """A real create_agent with MnemoplugCheckpointer (SQLite) and MnemoplugMiddleware."""
    from langchain.agents import create_agent

    from mnemoplug import Memory, SyncMemory
    from mnemoplug.adapters.langchain import MnemoplugMiddleware

    from .test_langchain_middleware import RecordingModel, replies, user_msg

    sm = SyncMemory(
        memory=Memory(
            "memory://",
            embedder=embedder,
            load_entry_points=False,
            checkpoints=checkpoint_store_from_url(f"sqlite:///{tmp_path / 'cp.db'}"),
        )
    )
    try:
        saver = MnemoplugCheckpointer(sm)
        model = RecordingModel(messages=replies("Hi Ana.", "You are Ana."))
        agent = create_agent(model, middleware=[MnemoplugMiddleware(sm)], checkpointer=saver)
        c1 = {"configurable": {"thread_id": "t1", "user_id": "ana"}}
        agent.invoke(user_msg("I am Ana."), c1)
        agent.invoke(user_msg("Who am I?"), c1)
        # the second run's model call saw the thread restored from the checkpoint store
        texts = [m.text for m in model.received[1]]
        assert texts[-3:] == ["I am Ana.", "Hi Ana.", "Who am I?"]
        # the long-term turn store did not duplicate the first turn (nor keep the question)
        assert sorted(r.content for r in sm.get_all("ana")) == sorted(
            ["I am Ana.", "Hi Ana.", "You are Ana."]
        )
        # checkpoints are owned by the config's user: same thread id, another user = empty
        assert saver.get_tuple({"configurable": {"thread_id": "t1", "user_id": "bob"}}) is None
        state = agent.get_state(c1)
        assert len(state.values["messages"]) == 4
        cps = sm.run(sm.memory.checkpoints.list(user_id="ana", limit=1000))
        assert cps and all(cp.user_id == "ana" for cp in cps)
        saver.delete_thread("t1")
        assert saver.get_tuple(c1) is None
    finally:
        sm.close()
