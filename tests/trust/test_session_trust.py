"""Session memory trust (issue 11, item 8): searching across sessions names a user (or opts in
to every user explicitly); keyed conversation ids cannot be guessed from a user id; the audit
log records only session writes that were stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mnemoplug import (
    InvalidMessageError,
    Memory,
    SessionOwnershipError,
    conversation_id_for,
)
from mnemoplug.plugins import AuditLog


async def test_search_across_sessions_needs_a_user_or_an_explicit_opt_in(
    session_store: Any,
) -> None:
    await session_store.add_message("a1", {"role": "user", "content": "my dog Rex"}, user_id="a")
    await session_store.add_message("b1", {"role": "user", "content": "my dog Max"}, user_id="b")
    with pytest.raises(InvalidMessageError, match="all_users=True"):
        await session_store.search("dog")
    with pytest.raises(InvalidMessageError, match="all_users=True"):
        await session_store.search("dog", tenant_id="t")
    assert [m.content for m in await session_store.search("dog", user_id="a")] == ["my dog Rex"]
    everyone = await session_store.search("dog", all_users=True)
    assert sorted(m.content for m in everyone) == ["my dog Max", "my dog Rex"]
    # one named session stays readable by its id (the id is the capability)
    assert [m.content for m in await session_store.search("dog", session_id="b1")] == ["my dog Max"]


def test_keyed_conversation_ids_are_not_computable_without_the_key() -> None:
    plain = conversation_id_for("alice")
    key = b"k" * 32
    keyed = conversation_id_for("alice", key=key)
    assert keyed.startswith("convk-") and keyed != plain
    assert keyed == conversation_id_for("alice", key=key)  # stable across processes
    assert keyed != conversation_id_for("alice", key=b"x" * 32)
    assert keyed != conversation_id_for("bob", key=key)
    assert conversation_id_for("alice", key="s" * 16) == conversation_id_for("alice", key=b"s" * 16)
    assert conversation_id_for("a:b", channel="c", key=key) != conversation_id_for(
        "a", channel="b:c", key=key
    )
    for bad in (b"short", "", 123):
        with pytest.raises(InvalidMessageError, match="16 bytes"):
            conversation_id_for("alice", key=bad)  # type: ignore[arg-type]


async def test_audit_does_not_record_a_refused_session_write(
    session_store: Any, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    memory = Memory(
        "memory://",
        embedder=None,
        session=session_store,
        plugins=[audit],
        load_entry_points=False,
    )
    await session_store.add_message("s", {"role": "user", "content": "hi"}, user_id="owner")
    with pytest.raises(SessionOwnershipError):
        await session_store.add_message("s", {"role": "user", "content": "x"}, user_id="intruder")
    entries = [e for e in audit.entries() if e["operation"] == "session_message"]
    assert [e["scope"]["user_id"] for e in entries] == ["owner"]
    await memory.close()
