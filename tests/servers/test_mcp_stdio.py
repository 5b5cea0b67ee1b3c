"""``mnemoplug mcp`` on stdio, driven by the MCP SDK's own client over a real subprocess,
on a real SQLite store with the real embedding model."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters

import mnemoplug
from mnemoplug import Memory
from mnemoplug.cli import main

SRC = str(Path(mnemoplug.__file__).resolve().parents[1])
TOOLS = {"add", "search", "list", "get", "update", "delete", "delete_all", "forget"}


def _params(db: str, *args: str) -> StdioServerParameters:
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p),
        "HF_HUB_OFFLINE": "1",
        "MNEMOPLUG_METRICS": "0",
    }
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mnemoplug", "mcp", "--db", db, *args], env=env
    )


def _memories(result: Any) -> list[dict[str, Any]]:
    assert not result.is_error, result.content
    return list(result.structured_content["memories"])


@pytest.mark.slow
async def test_stdio_session_covers_every_tool_resource_and_prompt(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    async with Memory.from_url(db) as seed:  # another user's memory, in the same store
        bob_id = await seed.add("bob", "Bob is allergic to peanuts")

    async with Client(_params(db, "--user", "alice", "--tenant", "acme")) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():  # a model can use them: described, typed inputs
            assert tool.description and len(tool.description) > 20, tool.name
            for name, prop in tool.input_schema.get("properties", {}).items():
                assert prop.get("description"), (tool.name, name)
        assert tools["search"].input_schema["required"] == ["query"]
        assert tools["forget"].annotations.destructive_hint is True
        assert tools["search"].annotations.read_only_hint is True

        added = await client.call_tool(
            "add", {"content": "Alice prefers dark mode in every app", "metadata": {"k": "ui"}}
        )
        dark = added.structured_content["id"]
        await client.call_tool("add", {"content": "Alice is planning a trip to Lisbon in May"})
        hits = _memories(await client.call_tool("search", {"query": "Which theme does she like?"}))
        assert hits[0]["id"] == dark and 0 < hits[0]["score"] <= 1
        assert hits[0]["similarity"] is not None
        assert all("Bob" not in h["content"] for h in hits)

        one = await client.call_tool("get", {"memory_id": dark})
        assert one.structured_content["metadata"] == {"k": "ui"}
        # another user's id reads as absent (no existence leak)
        missing = await client.call_tool("get", {"memory_id": bob_id})
        assert missing.is_error and "no memory" in missing.content[0].text

        upd = await client.call_tool(
            "update", {"memory_id": dark, "content": "Alice likes light mode"}
        )
        assert upd.structured_content["content"] == "Alice likes light mode"
        bad = await client.call_tool("update", {"memory_id": bob_id, "content": "hijacked"})
        assert bad.is_error
        invalid = await client.call_tool("search", {"query": "x", "limit": 0})
        assert invalid.is_error  # schema-checked input, nothing run

        listed = _memories(await client.call_tool("list", {"limit": 10}))
        assert [m["content"] for m in listed][::-1] == [
            "Alice likes light mode",
            "Alice is planning a trip to Lisbon in May",
        ]

        resources = (await client.list_resources()).resources
        assert [str(r.uri) for r in resources] == ["memory://memories"]
        text = (await client.read_resource("memory://memories")).contents[0].text
        assert "Lisbon" in text and "Bob" not in text
        one_text = (await client.read_resource(f"memory://memories/{dark}")).contents[0].text
        assert "light mode" in one_text

        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert "inject_memories" in prompts
        got = await client.get_prompt(
            "inject_memories", {"query": "travel plans", "max_memories": "1"}
        )
        rendered = got.messages[0].content.text
        assert "Lisbon" in rendered and "light mode" not in rendered
        recent = await client.get_prompt("inject_memories", {"strategy": "recent"})
        assert "light mode" in recent.messages[0].content.text

        deleted = await client.call_tool("delete", {"memory_id": dark})
        assert deleted.structured_content == {"deleted": 1}
        assert (await client.call_tool("delete", {"memory_id": dark})).structured_content == {
            "deleted": 0
        }
        gone = await client.call_tool("delete_all", {})
        assert gone.structured_content == {"deleted": 1}
        await client.call_tool("add", {"content": "Alice is new here"})
        forgotten = await client.call_tool("forget", {})
        assert forgotten.structured_content["memories"] == 1

    async with Memory.from_url(db, embedder=None) as check:
        assert await check.count("alice", tenant_id="acme") == 0
        assert [r.id for r in await check.get_all("bob")] == [bob_id]  # untouched


def test_stdio_without_user_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "--db", "memory://"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--user" in err


def test_http_rejects_stdio_scope_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "--http", "--user", "alice"]) == 2
    assert "token" in capsys.readouterr().err
