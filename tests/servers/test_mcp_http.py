"""``mnemoplug mcp --http``: streamable HTTP behind bearer tokens, driven by the MCP SDK's
client over a real uvicorn server, on a real SQLite store with the real embedding model.
One user's token never reaches another user's memories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mcp")

from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mnemoplug import Memory
from mnemoplug.auth import TokenMap
from mnemoplug.cli import main
from mnemoplug.mcp import create_mcp_http_app

from ._serve import serving

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789xx"
ALICE_OTHER_TENANT = "alice-globex-token-0123"
ADMIN = "admin-token-0123456789"
TOKENS = TokenMap.from_mapping(
    {
        "tokens": [
            {"token": ALICE, "user": "alice", "tenant": "acme"},
            {"token": BOB, "user": "bob", "tenant": "acme"},
            {"token": ALICE_OTHER_TENANT, "user": "alice", "tenant": "globex"},
            {"token": ADMIN, "user": "*", "tenant": "*"},
        ]
    }
)
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[tuple[str, str]]:
    db = f"sqlite:///{tmp_path_factory.mktemp('mcp-http') / 'm.db'}"
    app = create_mcp_http_app(Memory.from_url(db, embedder=embedder), TOKENS)
    with serving(app) as base:
        yield base + "/mcp", db


class _Session:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    async def __aenter__(self) -> Client:
        self.http = create_mcp_http_client(headers={"Authorization": f"Bearer {self.token}"})
        await self.http.__aenter__()
        self.client = Client(streamable_http_client(self.url, http_client=self.http))
        return await self.client.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)
        await self.http.__aexit__(*exc)


def _contents(result: Any) -> list[str]:
    assert not result.is_error, result.content
    return [m["content"] for m in result.structured_content["memories"]]


async def test_each_token_sees_only_its_own_user(server: tuple[str, str]) -> None:
    url, db = server
    async with _Session(url, ALICE) as alice:
        secret = await alice.call_tool("add", {"content": "Alice's locker code is 4512"})
        secret_id = secret.structured_content["id"]
        await alice.call_tool("add", {"content": "Alice prefers window seats"})
    async with _Session(url, ALICE_OTHER_TENANT) as alice2:
        await alice2.call_tool("add", {"content": "Globex Alice drinks green tea"})
    async with _Session(url, BOB) as bob:
        await bob.call_tool("add", {"content": "Bob prefers aisle seats"})
        assert _contents(await bob.call_tool("list", {})) == ["Bob prefers aisle seats"]
        hits = _contents(await bob.call_tool("search", {"query": "What is the locker code?"}))
        assert hits == ["Bob prefers aisle seats"]
        assert (await bob.call_tool("get", {"memory_id": secret_id})).is_error
        upd = await bob.call_tool("update", {"memory_id": secret_id, "content": "pwned"})
        assert upd.is_error
        assert (await bob.call_tool("delete", {"memory_id": secret_id})).structured_content == {
            "deleted": 0
        }
        text = (await bob.read_resource("memory://memories")).contents[0].text
        assert "Bob" in text and "Alice" not in text
        with pytest.raises(MCPError, match="no memory"):
            await bob.read_resource(f"memory://memories/{secret_id}")
        prompt = await bob.get_prompt("inject_memories", {"strategy": "all"})
        assert "Alice" not in prompt.messages[0].content.text
        assert (await bob.call_tool("forget", {})).structured_content["memories"] == 1
    async with _Session(url, ALICE) as alice:
        assert sorted(_contents(await alice.call_tool("list", {}))) == [
            "Alice prefers window seats",
            "Alice's locker code is 4512",
        ]
        hits = _contents(await alice.call_tool("search", {"query": "locker code", "limit": 1}))
        assert hits == ["Alice's locker code is 4512"]
    async with Memory.from_url(db, embedder=None) as check:
        assert await check.count("alice", tenant_id="globex") == 1
        assert await check.count("bob", tenant_id="acme") == 0


async def test_no_token_or_an_unknown_one_gets_401(server: tuple[str, str]) -> None:
    url, _ = server
    async with httpx.AsyncClient() as http:
        for headers in (
            {},
            {"Authorization": "Bearer nope-nope-nope-nope"},
            {"Authorization": f"Basic {ALICE}"},
        ):
            r = await http.post(url, json=INIT, headers={**ACCEPT, **headers})
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert "bearer token" in r.json()["error_description"]
        r = await http.get(url.replace("/mcp", "/anything"))
        assert r.status_code == 401


async def test_a_session_cannot_be_reused_with_another_token(server: tuple[str, str]) -> None:
    url, _ = server
    async with httpx.AsyncClient() as http:
        r = await http.post(url, json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {ALICE}"})
        assert r.status_code == 200
        session = r.headers["mcp-session-id"]
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "list", "arguments": {}},
        }
        for token in (BOB, ALICE_OTHER_TENANT):
            hijack = await http.post(
                url,
                json=call,
                headers={**ACCEPT, "Authorization": f"Bearer {token}", "mcp-session-id": session},
            )
            assert hijack.status_code == 404 and "Alice" not in hijack.text
        anon = await http.post(url, json=call, headers={**ACCEPT, "mcp-session-id": session})
        assert anon.status_code == 401


async def test_an_admin_token_is_refused_by_the_tools(server: tuple[str, str]) -> None:
    url, _ = server
    async with _Session(url, ADMIN) as admin:
        result = await admin.call_tool("list", {})
        assert result.is_error and "administrator token" in result.content[0].text
        with pytest.raises(MCPError, match="administrator token"):
            await admin.read_resource("memory://memories")


def test_http_without_tokens_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("MNEMOPLUG_TOKEN_FILE", raising=False)
    monkeypatch.delenv("MNEMOPLUG_TOKENS", raising=False)
    assert main(["mcp", "--http", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    err = capsys.readouterr().err
    assert "no bearer tokens configured" in err and err.count("\n") == 1
    assert not (tmp_path / "x.db").exists()
