"""forget(memory, user_id): long-term memories, sessions, checkpoints and the audit log of one
user are gone; every other user (and the same user id in another tenant) is intact."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from mnemoplug.core.errors import InvalidScopeError
from mnemoplug.core.forget import forget
from mnemoplug.core.memory import Memory
from mnemoplug.plugins.audit import AuditLog
from mnemoplug.providers.sqlite import SQLiteMemoryStore
from tests.stores.test_checkpoint_store_contract import make_checkpoints
from tests.stores.test_session_store_contract import make_store


@pytest.mark.parametrize("kind", ["inprocess", "sqlite", "redis", "postgres"])
async def test_forget_everywhere_leaves_others_intact(
    kind: str, tmp_path: Path, embedder: Any
) -> None:
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    audit = AuditLog(tmp_path / "audit.jsonl")
    async with make_store(kind, tmp_path) as session, make_checkpoints(kind, tmp_path) as cps:
        memory = Memory(
            SQLiteMemoryStore(path=tmp_path / "mem.db"),
            embedder=embedder,
            session=session,
            checkpoints=cps,
            plugins=[audit],
            load_entry_points=False,
        )
        session.bind_hooks(memory.hooks)
        try:
            for who in (alice, bob):
                await memory.add(
                    who, [f"{who} likes green tea", f"{who} lives in Lyon", f"{who} has a cat"]
                )
                await memory.search(who, "what does the user drink privately")
                for s in range(2):
                    await session.add_messages(
                        f"{who}-s{s}",
                        [
                            {"role": "user", "content": f"hello from {who}"},
                            {"role": "assistant", "content": "hi"},
                        ],
                        user_id=who,
                    )
                for i in range(4):
                    await cps.save(f"{who}-run{i % 2}", {"step": i}, user_id=who)
            # the same user id in another tenant is another person
            await memory.add(alice, "tenant alice memory", tenant_id="acme")
            await session.add_message(
                "acme-s", {"role": "user", "content": "x"}, user_id=alice, tenant_id="acme"
            )
            await cps.save("acme-run", {"x": 1}, user_id=alice, tenant_id="acme")

            alice_entries = [
                e
                for e in audit.entries()
                if e["scope"]["user_id"] == alice and "tenant_id" not in e["scope"]
            ]
            assert len(alice_entries) == 3 + 1 + 4  # adds, one search, session messages
            counts = await forget(memory, alice)
            # + 2: the delete_all and forget entries forget itself wrote are scrubbed too
            assert counts == {
                "memories": 3,
                "sessions": 2,
                "checkpoints": 4,
                "audit_entries": len(alice_entries) + 2,
            }
            # the audit log no longer names alice or holds her queries (checked before the
            # reads below, which are audited again)
            scope_users = [
                e["scope"]["user_id"] for e in audit.entries() if "tenant_id" not in e["scope"]
            ]
            assert alice not in scope_users and bob in scope_users
            scrubbed = [e for e in audit.entries() if e.get("scrubbed")]
            assert len(scrubbed) == len(alice_entries) + 2
            assert all("query" not in e for e in scrubbed)
            (record,) = [e for e in audit.entries() if e["operation"] == "forget"]
            assert record["count"] == 3 + 2 + 4 and record["scope"]["user_id"] == "[forgotten]"

            # alice (default tenant) is gone everywhere
            assert await memory.get_all(alice) == []
            assert await session.list_sessions(user_id=alice) == []
            assert await session.get_messages(f"{alice}-s0") == []
            assert await cps.list(user_id=alice) == []
            assert await cps.load(f"{alice}-run0", user_id=alice) is None

            # bob is intact: memories, sessions, checkpoints, audit queries
            assert await memory.count(bob) == 3
            assert len(await session.list_sessions(user_id=bob)) == 2
            assert [m.content for m in await session.get_messages(f"{bob}-s1", user_id=bob)] == [
                f"hello from {bob}",
                "hi",
            ]
            assert len(await cps.list(user_id=bob)) == 4
            bob_queries = [
                e
                for e in audit.entries()
                if e["scope"]["user_id"] == bob and e["operation"] == "search"
            ]
            assert len(bob_queries) == 1 and "drink" in bob_queries[0]["query"]
            # alice in tenant acme is intact too
            assert await memory.count(alice, tenant_id="acme") == 1
            assert len(await session.list_sessions(user_id=alice, tenant_id="acme")) == 1
            assert len(await cps.list(user_id=alice, tenant_id="acme")) == 1

            # forgetting again finds nothing; bad ids delete nothing
            again = await forget(memory, alice)
            # (audit_entries: the read above, this delete_all and this forget were audited)
            assert again == {"memories": 0, "sessions": 0, "checkpoints": 0, "audit_entries": 3}
            with pytest.raises(InvalidScopeError):
                await forget(memory, "")
            assert await memory.count(bob) == 3
            # tenant forget
            t = await forget(memory, alice, tenant_id="acme")
            assert t["memories"] == 1 and t["sessions"] == 1 and t["checkpoints"] == 1
            assert t["audit_entries"] == 4  # add, session message, delete_all, forget
        finally:
            await memory.store.close()


async def test_forget_without_optional_stores(tmp_path: Path) -> None:
    class Scrubber:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str | None]] = []

        async def scrub_user(self, user_id: str, tenant_id: str | None) -> int:
            self.calls.append((user_id, tenant_id))
            return 7

    scrubber = Scrubber()
    memory = Memory("memory://", embedder=None, plugins=[scrubber], load_entry_points=False)
    await memory.add("u1", "a fact")
    await memory.add("u2", "another fact")
    counts = await forget(memory, "u1", tenant_id=None)
    assert counts == {"memories": 1, "sessions": 0, "checkpoints": 0, "audit_entries": 7}
    assert scrubber.calls == [("u1", None)]
    assert await memory.count("u2") == 1
