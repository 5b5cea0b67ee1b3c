"""MnemoplugCheckpointer thread semantics through a real LangGraph agent (issue 12):
``thread_id`` alone names a thread, per-user ownership holds, and ``delete_thread`` deletes a
thread another saver instance (another process) saved for its configured ``user_id``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain.agents")

from langchain.agents import create_agent

from mnemoplug.adapters.langchain import MnemoplugCheckpointer
from mnemoplug.adapters.langchain._runner import shared_portal
from mnemoplug.core.checkpoints import checkpoint_store_from_url

from .test_langchain_middleware import RecordingModel, replies, user_msg

_opened: list[Any] = []


def saver(path: Path, **kw: Any) -> MnemoplugCheckpointer:
    """A new saver over the same file: what another process would open."""
    store = checkpoint_store_from_url(f"sqlite:///{path}")
    _opened.append(store)
    return MnemoplugCheckpointer(store, **kw)


@pytest.fixture(autouse=True)
def _close_the_stores() -> Iterator[None]:
    """Each saver's store is closed on the loop its connections live on (the adapter's
    portal): left to the garbage collector, its aiosqlite connections would be closed after
    that loop's work is gone, in whichever later test the collector runs."""
    yield
    while _opened:
        shared_portal().call(_opened.pop().close())


def test_thread_id_alone_names_the_thread_and_owners_stay_apart(tmp_path: Path) -> None:
    db = tmp_path / "cp.db"
    model = RecordingModel(messages=replies("Hi Ana.", "Hi again."))
    writer = create_agent(model, checkpointer=saver(db))
    writer.invoke(user_msg("I am Ana."), {"configurable": {"thread_id": "t1", "user_id": "ana"}})

    reader = create_agent(model, checkpointer=saver(db))  # another process, no user_id
    state = reader.get_state({"configurable": {"thread_id": "t1"}})
    assert [m.text for m in state.values["messages"]] == ["I am Ana.", "Hi Ana."]
    # continuing by thread id alone keeps the thread (and its owner)
    reader.invoke(user_msg("Still me."), {"configurable": {"thread_id": "t1"}})
    owned = writer.get_state({"configurable": {"thread_id": "t1", "user_id": "ana"}})
    assert len(owned.values["messages"]) == 4
    # per-user ownership: bob's config does not reach ana's thread
    other = reader.get_state({"configurable": {"thread_id": "t1", "user_id": "bob"}})
    assert not other.values


def test_delete_thread_from_another_instance(tmp_path: Path) -> None:
    db = tmp_path / "cp.db"
    model = RecordingModel(messages=replies())
    agent = create_agent(model, checkpointer=saver(db, user_id="ana"))
    agent.invoke(user_msg("Thread one."), {"configurable": {"thread_id": "t1"}})
    agent.invoke(user_msg("Thread two."), {"configurable": {"thread_id": "t2"}})

    other = saver(db)  # default user "langgraph": never wrote for "ana"
    other.delete_thread("t1")
    fresh = saver(db, user_id="ana")
    assert fresh.get_tuple({"configurable": {"thread_id": "t1"}}) is None
    assert fresh.get_tuple({"configurable": {"thread_id": "t2"}}) is not None
