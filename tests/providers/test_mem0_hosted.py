"""Hosted Mem0 (``Mem0Provider(api_key=...)``) against a LOCAL STAND-IN for the Mem0 platform.

No Mem0 service is reachable here, so :class:`FakeMem0` (served by ``_standin.serve`` on
127.0.0.1) answers the HTTP requests mem0ai's real ``AsyncMemoryClient`` sends — ping, add,
list, search, get, update, delete, delete-all — from an in-memory store, checking the
``Authorization: Token <key>`` header (401 otherwise). It is a stand-in, not Mem0: it stores
each message as one memory (no LLM extraction) and scores search by word overlap. The real
SDK client is driven against it via ``host=``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mnemoplug import Memory
from mnemoplug.core.errors import ConfigurationError, ProviderUnavailableError
from mnemoplug.providers.mem0 import HostedMem0Provider, Mem0MemoryStore, Mem0Provider

from ._standin import free_port, serve

KEY = "m0-test-secret-key-123"


class FakeMem0:
    """The part of the Mem0 platform API that the SDK's AsyncMemoryClient uses."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.memories: dict[str, dict[str, Any]] = {}
        self.seen_params: list[dict[str, str]] = []
        self.clock = 0

    def __call__(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Token {self.key}":
            return 401, {"detail": "Invalid API key"}
        self.seen_params.append(query)
        if method == "GET" and path == "/v1/ping/":
            return 200, {"status": "ok", "org_id": "org-1", "project_id": "proj-1",
                         "user_email": None}  # fmt: skip
        if method == "POST" and path == "/v3/memories/add/":
            return 200, {"results": self._add(body)}
        if method == "POST" and path == "/v3/memories/":
            rows = self._select(body.get("filters") or {})
            size = int(query.get("page_size", 100))
            return 200, {"count": len(rows), "next": None, "previous": None,
                         "results": rows[:size]}  # fmt: skip
        if method == "POST" and path == "/v3/memories/search/":
            words = set(re.findall(r"\w+", body["query"].lower()))
            hits = []
            for m in self._select(body.get("filters") or {}):
                mine = set(re.findall(r"\w+", m["memory"].lower()))
                score = len(words & mine) / max(1, len(words))
                if score > 0:
                    hits.append({**m, "score": score})
            hits.sort(key=lambda m: -m["score"])
            return 200, {"results": hits[: int(body.get("top_k") or 10)]}
        if method == "DELETE" and path == "/v1/memories/":
            want = {k: query[k] for k in ("user_id", "agent_id", "run_id") if k in query}
            gone = [
                i for i, m in self.memories.items() if all(m.get(k) == v for k, v in want.items())
            ]
            for i in gone:
                del self.memories[i]
            return 200, {"message": "Memories deleted successfully!"}
        match = re.fullmatch(r"/v1/memories/([^/]+)/", path)
        if match:
            found = self.memories.get(match.group(1))
            if found is None:
                return 404, {"detail": "Memory not found"}
            m = found
            if method == "GET":
                return 200, m
            if method == "PUT":
                if body.get("text") is not None:
                    m["memory"] = body["text"]
                if body.get("metadata") is not None:
                    m["metadata"] = body["metadata"]
                return 200, m
            if method == "DELETE":
                del self.memories[m["id"]]
                return 200, {"message": "Memory deleted successfully!"}
        return 404, {"detail": f"no route {method} {path}"}

    def _add(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        ents = body.get("filters") or {}
        out = []
        for msg in body["messages"]:
            if msg.get("role") == "system":
                continue
            self.clock += 1
            m = {
                "id": str(uuid.uuid4()),
                "memory": msg["content"],
                "user_id": ents.get("user_id"),
                "agent_id": ents.get("agent_id"),
                "run_id": ents.get("run_id"),
                "metadata": body.get("metadata"),
                "created_at": f"2025-01-01T00:00:{self.clock:02d}Z",
                "updated_at": f"2025-01-01T00:00:{self.clock:02d}Z",
            }
            self.memories[m["id"]] = m
            out.append({"id": m["id"], "memory": m["memory"], "event": "ADD"})
        return out

    def _select(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        rows = [m for m in self.memories.values() if all(m.get(k) == v for k, v in filters.items())]
        return sorted(rows, key=lambda m: m["created_at"], reverse=True)


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEM0_API_KEY", raising=False)
    monkeypatch.setenv("MEM0_TELEMETRY", "False")


@pytest.fixture
def fake() -> FakeMem0:
    return FakeMem0()


@pytest.fixture
def host(fake: FakeMem0) -> Iterator[str]:
    with serve(fake) as url:
        yield url


async def test_seed_usage_add_search_get_all_get_delete(host: str, fake: FakeMem0) -> None:
    memory = Mem0Provider(api_key=KEY, org_id="org-1", project_id="proj-1", host=host)
    assert isinstance(memory, Memory) and isinstance(memory.provider, HostedMem0Provider)
    assert memory.hosted and memory.store is None
    async with memory:
        ids = await memory.add(
            user_id="u1",
            messages=[
                {"role": "user", "content": "I prefer dark mode"},
                {"role": "assistant", "content": "Noted, dark mode it is"},
            ],
        )
        assert len(ids) == 2
        one = await memory.add("u1", "User lives in Lisbon", {"category": "geo"})
        memories = await memory.search(user_id="u1", query="Where does the user live?", limit=5)
        texts = [m["memory"] for m in memories]
        assert texts[0] == "User lives in Lisbon"
        assert memories[0]["id"] == one and memories[0].score is not None
        everything = await memory.get_all(user_id="u1")
        assert [m["memory"] for m in everything] == [
            "User lives in Lisbon",
            "Noted, dark mode it is",
            "I prefer dark mode",
        ]
        got = await memory.get("u1", one)
        assert got is not None and got["content"] == "User lives in Lisbon"
        assert got.metadata == {"category": "geo"}
        updated = await memory.update("u1", one, content="User lives in Porto")
        assert updated.content == "User lives in Porto"
        assert await memory.delete("u1", one) is True
        assert await memory.get("u1", one) is None
        assert await memory.delete("u1", one) is False
        assert await memory.delete_all("u1") == 2
        assert await memory.get_all("u1") == []
    # org and project travel with every request the async client sends
    assert {"org_id": "org-1", "project_id": "proj-1"} in fake.seen_params


async def test_user_isolation_and_scope_mapping(host: str, fake: FakeMem0) -> None:
    async with Mem0Provider(api_key=KEY, url=host) as memory:
        a = await memory.add("alice", "alice likes tea", agent_id="bot", session_id="s1")
        b = await memory.add("bob", "bob likes tea")
        t = await memory.add("alice", "acme alice likes tea", tenant_id="acme")
        assert fake.memories[a]["agent_id"] == "bot" and fake.memories[a]["run_id"] == "s1"
        assert fake.memories[t]["user_id"] == "acme/alice"
        assert [m.id for m in await memory.search("alice", "tea")] == [a]
        assert [m.id for m in await memory.get_all("bob")] == [b]
        assert await memory.get("bob", a) is None  # another user's id
        assert await memory.delete("bob", a) is False and a in fake.memories
        rec = await memory.get("alice", a)
        assert rec is not None and rec.agent_id == "bot" and rec.session_id == "s1"
        assert [m.id for m in await memory.get_all("alice", agent_id="other")] == []
        assert [m.id for m in await memory.get_all("alice", tenant_id="acme")] == [t]
        assert await memory.delete_all("alice") == 1
        assert set(fake.memories) == {b, t}


async def test_api_key_from_environment(
    host: str, fake: FakeMem0, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEM0_API_KEY", KEY)
    memory = Mem0Provider(host=host)
    assert isinstance(memory.provider, HostedMem0Provider)
    async with memory:
        mid = await memory.add("u", "from the environment")
        assert (await memory.get("u", mid)) is not None
    # with only the variable set, Mem0Provider() goes to the hosted platform too
    assert isinstance(Mem0Provider().provider, HostedMem0Provider)


async def test_wrong_key_is_a_configuration_error_without_the_key(host: str) -> None:
    secret = "wrong-secret-key-987"
    memory = Mem0Provider(api_key=secret, host=host)
    with pytest.raises(ConfigurationError, match="rejected the API key") as info:
        await memory.add("u", "hello")
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert secret not in repr(memory) and secret not in repr(memory.provider)


async def test_key_revoked_after_connect_is_a_configuration_error(
    host: str, fake: FakeMem0
) -> None:
    async with Mem0Provider(api_key=KEY, host=host) as memory:
        await memory.add("u", "hello")
        fake.key = "rotated"
        with pytest.raises(ConfigurationError, match="HTTP 401") as info:
            await memory.search("u", "hello")
        assert KEY not in str(info.value)


async def test_server_down_is_provider_unavailable() -> None:
    memory = Mem0Provider(api_key=KEY, host=f"http://127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(ProviderUnavailableError) as info:
        await memory.search("u", "anything")
    assert KEY not in str(info.value)


async def test_server_goes_down_after_connect() -> None:
    fake = FakeMem0()
    with serve(fake) as url:
        memory = Mem0Provider(api_key=KEY, host=url, timeout=5)
        await memory.add("u", "hello")
    with pytest.raises(ProviderUnavailableError):
        await memory.get_all("u")
    await memory.close()


def test_missing_key_and_conflicting_options(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError, match="MEM0_API_KEY"):
        HostedMem0Provider()
    with pytest.raises(ConfigurationError, match="exclude each other"):
        Mem0Provider(api_key=KEY, path=tmp_path / "m0")
    with pytest.raises(ConfigurationError, match="takes"):
        Mem0Provider(api_key=KEY, bogus=1)


def test_self_hosted_still_builds_the_mem0_store(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEM0_API_KEY", KEY)  # ignored: path= means self-hosted
    memory = Mem0Provider(path=tmp_path / "m0", embedder=None)
    assert isinstance(memory, Memory) and isinstance(memory.store, Mem0MemoryStore)
    assert not memory.hosted
