"""MnemoplugAgnoDb keeps Agno's sessions and runs in mnemoplug's session store: a new process
(a new db over the same files) continues the conversation, through the real Agno loop on the
offline fake model (issue 12)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agno")

from agno.agent import Agent

from mnemoplug import SyncMemory
from mnemoplug.adapters.agno import MnemoplugAgnoDb

sys.path.insert(0, str(Path(__file__).parent))
from agno_fakes import FakeAgnoModel


def process(tmp_path: Path, embedder: Any) -> SyncMemory:
    """What one process opens: memories and sessions in SQLite files."""
    return SyncMemory(
        f"sqlite:///{tmp_path / 'mem.db'}",
        embedder=embedder,
        load_entry_points=False,
        session=f"sqlite:///{tmp_path / 'sessions.db'}",
    )


def agent(db: MnemoplugAgnoDb, model: FakeAgnoModel) -> Agent:
    return Agent(model=model, db=db, add_history_to_context=True, telemetry=False)


def test_sessions_survive_a_restart(tmp_path: Path, embedder: Any) -> None:
    first = process(tmp_path, embedder)
    try:
        a = agent(MnemoplugAgnoDb(first), FakeAgnoModel())
        a.run("My name is Ana.", user_id="ana", session_id="s1")
        a.run("I live in Porto.", user_id="ana", session_id="s1")
        a.run("Other session.", user_id="bob", session_id="s2")
    finally:
        first.close()

    second = process(tmp_path, embedder)  # a new process: nothing in memory yet
    try:
        db = MnemoplugAgnoDb(second)
        model = FakeAgnoModel()
        b = agent(db, model)
        b.run("What is my name?", user_id="ana", session_id="s1")
        sent = [m["content"] for m in model.requests[-1]]
        assert "My name is Ana." in sent and "echo: I live in Porto." in sent  # the history
        assert "Other session." not in sent
        session = db.get_session("s1", user_id="ana")
        assert session is not None and len(session.runs or []) == 3
        assert {s.session_id for s in db.get_sessions()} == {"s1", "s2"}
        # the session store holds the runs as readable text, owned by the session's user
        stored = second.run(second.memory.session.get_messages("s1", user_id="ana"))
        assert "user: My name is Ana.\nassistant: echo: My name is Ana." in [
            m.content for m in stored
        ]
        db.delete_session("s2")
    finally:
        second.close()

    third = process(tmp_path, embedder)
    try:
        db = MnemoplugAgnoDb(third)
        assert db.get_session("s2") is None
        assert {s.session_id for s in db.get_sessions()} == {"s1"}
    finally:
        third.close()
