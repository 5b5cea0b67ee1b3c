"""Audit log: JSON lines with time, operation, scope, query, ids; never content."""

from __future__ import annotations

import json
from datetime import datetime

from mnemoplug import Memory
from mnemoplug.plugins import AuditLog, PIIRedactor


async def test_audit_records_every_operation_without_content(tmp_path, embedder) -> None:
    path = tmp_path / "audit" / "log.jsonl"
    audit = AuditLog(path)
    m = Memory(
        "memory://", embedder=embedder, plugins=[PIIRedactor(), audit], load_entry_points=False
    )
    secret = "User's secret project is codenamed Bluebird"
    mid = await m.add("alice", secret, tenant_id="acme")
    hits = await m.search("alice", "what is the project codename? mail x@y.com", tenant_id="acme")
    await m.get("alice", mid, tenant_id="acme")
    await m.update("alice", mid, metadata={"k": 1}, tenant_id="acme")
    await m.delete("alice", mid, tenant_id="acme")
    await m.delete_all("alice", tenant_id="acme")
    raw = path.read_text()
    assert "Bluebird" not in raw and "secret" not in raw
    entries = [json.loads(line) for line in raw.splitlines()]
    assert [e["operation"] for e in entries] == [
        "add",
        "search",
        "get",
        "update",
        "delete",
        "delete_all",
    ]
    for e in entries:
        datetime.fromisoformat(e["time"])
        assert e["scope"] == {"user_id": "alice", "tenant_id": "acme"}
    assert entries[0]["result_ids"] == [mid]
    assert entries[1]["query"] == "what is the project codename? mail [EMAIL]"
    assert entries[1]["result_ids"] == [h.id for h in hits] == [mid]
    assert entries[3]["changed"] == ["metadata"]
    assert entries[5]["count"] == 0
    assert audit.entries() == entries


async def test_scrub_user_removes_queries_of_that_user_only(tmp_path) -> None:
    audit = AuditLog(tmp_path / "a.jsonl")
    m = Memory("memory://", embedder=None, plugins=[audit], load_entry_points=False)
    await m.add("alice", "x")
    await m.search("alice", "alice private question")
    await m.search("bob", "bob question")
    assert audit.scrub_user("alice") == 2
    text = (tmp_path / "a.jsonl").read_text()
    assert "alice" not in text and "bob question" in text


async def test_sink_callable() -> None:
    got = []
    m = Memory(
        "memory://", embedder=None, plugins=[AuditLog(sink=got.append)], load_entry_points=False
    )
    await m.add("u", "x")
    assert got[0]["operation"] == "add" and "x" not in json.dumps(got[0]["scope"])
