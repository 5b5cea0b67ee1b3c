"""``ZepProvider`` against a LOCAL STAND-IN for the Zep API (v4).

No Zep service is reachable here, so :class:`FakeZep` (served by ``_standin.serve`` on
127.0.0.1) answers the HTTP requests zep-cloud's real ``AsyncZep`` sends — user lookup/create/
delete, episode add/list/get/update/delete, episode search — from an in-memory store, checking
``Authorization: Api-Key <key>`` (401 otherwise). It is a stand-in, not Zep: no graph
extraction, search scores by word overlap. The real SDK client is driven against it via
``url=`` (the client's ``base_url``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mnemoplug import Memory
from mnemoplug.core.errors import (
    ConfigurationError,
    InvalidMetadataError,
    ProviderUnavailableError,
)
from mnemoplug.providers.zep import ZepMemoryProvider, ZepProvider
from mnemoplug.providers.zep.provider import ZepUnsupportedError

from ._standin import free_port, serve

KEY = "zep-test-secret-key-456"


def _err(status: int, message: str) -> tuple[int, Any]:
    return status, {"error": {"code": str(status), "message": message}}


class FakeZep:
    """The part of Zep's v4 API that ZepMemoryProvider uses."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.users: dict[str, dict[str, Any]] = {}  # uuid -> user
        self.episodes: dict[str, dict[str, Any]] = {}  # uuid -> episode
        self.clock = 0

    def __call__(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Api-Key {self.key}":
            return _err(401, "unauthorized")
        p = path.removeprefix("/api/v4")
        if method == "POST" and p == "/users/lookup":
            for u in self.users.values():
                if u["user_id"] == body["user_id"]:
                    return 200, u
            return _err(404, "user not found")
        if method == "POST" and p == "/users":
            u = {"uuid": str(uuid.uuid4()), "graph_uuid": str(uuid.uuid4()),
                 "user_id": body["user_id"]}  # fmt: skip
            self.users[u["uuid"]] = u
            return 201, u
        m = re.fullmatch(r"/users/([^/]+)", p)
        if m and method == "DELETE":
            gone = self.users.pop(m.group(1), None)
            if gone is None:
                return _err(404, "user not found")
            for k in [k for k, e in self.episodes.items() if e["graph_uuid"] == gone["graph_uuid"]]:
                del self.episodes[k]
            return 202, {"task": None}
        m = re.fullmatch(r"/graphs/([^/]+)/(episodes|episodes/list|search/episodes)", p)
        if m and method == "POST":
            graph = m.group(1)
            if graph not in {u["graph_uuid"] for u in self.users.values()}:
                return _err(404, "graph not found")
            if m.group(2) == "episodes":
                self.clock += 1
                ep = {"uuid": str(uuid.uuid4()), "graph_uuid": graph, "content": body["data"],
                      "source": body.get("type", "text"), "metadata": body.get("metadata"),
                      "created_at": f"2025-01-01T00:00:{self.clock:02d}Z"}  # fmt: skip
                self.episodes[ep["uuid"]] = ep
                return 202, {"episode": ep, "task": None}
            rows = sorted(
                (e for e in self.episodes.values() if e["graph_uuid"] == graph),
                key=lambda e: e["created_at"],
                reverse=query.get("order") != "asc",
            )
            size = int(query.get("page_size", 50))
            if m.group(2) == "episodes/list":
                return 200, {"items": rows[:size], "next_cursor": None, "total_size": len(rows)}
            words = set(re.findall(r"\w+", body["query"].lower()))
            hits = []
            for e in rows:
                score = len(words & set(re.findall(r"\w+", e["content"].lower()))) / len(words)
                if score:
                    hits.append({**e, "score": score})
            hits.sort(key=lambda e: -e["score"])
            return 200, {"items": hits[:size], "next_cursor": None}
        m = re.fullmatch(r"/graphs/([^/]+)/episodes/([^/]+)", p)
        if m:
            found = self.episodes.get(m.group(2))
            if found is None or found["graph_uuid"] != m.group(1):
                return _err(404, "episode not found")
            ep = found
            if method == "GET":
                return 200, ep
            if method == "PATCH":
                meta = dict(ep.get("metadata") or {})
                for k, v in (body.get("metadata") or {}).items():
                    if v is None:
                        meta.pop(k, None)
                    else:
                        meta[k] = v
                ep["metadata"] = meta
                return 200, ep
            if method == "DELETE":
                del self.episodes[ep["uuid"]]
                return 202, {"task": None}
        return _err(404, f"no route {method} {path}")


@pytest.fixture
def fake() -> FakeZep:
    return FakeZep()


@pytest.fixture
def url(fake: FakeZep) -> Iterator[str]:
    with serve(fake) as base:
        yield f"{base}/api/v4"


async def test_seed_usage_add_search_get_all_get_delete(url: str, fake: FakeZep) -> None:
    memory = ZepProvider(api_key=KEY, url=url, auto_summarize=True)
    assert isinstance(memory, Memory) and isinstance(memory.provider, ZepMemoryProvider)
    async with memory:
        ids = await memory.add(
            user_id="u1",
            messages=[
                {"role": "user", "content": "I prefer dark mode"},
                {"role": "assistant", "content": "Noted, dark mode it is"},
            ],
        )
        assert len(ids) == 2 and len(fake.users) == 1  # the Zep user was created on first use
        assert [fake.episodes[i]["source"] for i in ids] == ["message", "message"]
        assert fake.episodes[ids[0]]["content"] == "user: I prefer dark mode"
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
        assert [m.role for m in everything] == [None, "assistant", "user"]
        got = await memory.get("u1", one)
        assert got is not None and got.metadata == {"category": "geo"}
        # metadata can change; content cannot (Zep episodes are immutable)
        assert (await memory.update("u1", one, metadata={"category": "home"})).metadata == {
            "category": "home"
        }
        with pytest.raises(ZepUnsupportedError, match="cannot change a memory's content"):
            await memory.update("u1", one, content="User lives in Porto")
        assert await memory.delete("u1", one) is True
        assert await memory.get("u1", one) is None
        assert await memory.delete("u1", one) is False
        assert await memory.delete_all("u1") == 2
        assert await memory.get_all("u1") == [] and fake.users == {}


async def test_user_isolation_and_scopes(url: str, fake: FakeZep) -> None:
    async with ZepProvider(api_key=KEY, url=url) as memory:
        a = await memory.add("alice", "alice likes tea", agent_id="bot", session_id="s1")
        b = await memory.add("bob", "bob likes tea")
        t = await memory.add("alice", "acme alice likes tea", tenant_id="acme")
        assert {u["user_id"] for u in fake.users.values()} == {"alice", "bob", "acme/alice"}
        assert [m.id for m in await memory.search("alice", "tea")] == [a]
        assert [m.id for m in await memory.get_all("bob")] == [b]
        assert await memory.get("bob", a) is None and await memory.delete("bob", a) is False
        rec = await memory.get("alice", a)
        assert rec is not None and rec.agent_id == "bot" and rec.session_id == "s1"
        assert rec.metadata == {}
        assert await memory.get_all("alice", session_id="other") == []
        assert [m.id for m in await memory.get_all("alice", tenant_id="acme")] == [t]
        assert await memory.get_all("nobody") == [] and len(fake.users) == 3  # reads never create
        assert await memory.delete_all("alice") == 1
        assert set(fake.episodes) == {b, t}
        with pytest.raises(InvalidMetadataError, match="scalars"):
            await memory.add("alice", "x", {"nested": {"a": 1}})


async def test_wrong_key_is_a_configuration_error_without_the_key(url: str) -> None:
    secret = "wrong-zep-secret-321"
    memory = ZepProvider(api_key=secret, url=url)
    with pytest.raises(ConfigurationError, match="rejected the API key") as info:
        await memory.add("u", "hello")
    assert secret not in str(info.value) and secret not in repr(memory.provider)
    await memory.close()


async def test_server_down_is_provider_unavailable() -> None:
    memory = ZepProvider(api_key=KEY, url=f"http://127.0.0.1:{free_port()}/api/v4", max_retries=0)
    with pytest.raises(ProviderUnavailableError) as info:
        await memory.get_all("u")
    assert KEY not in str(info.value)
    await memory.close()


def test_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEP_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ZEP_API_KEY"):
        ZepProvider()
    monkeypatch.setenv("ZEP_API_KEY", KEY)
    assert isinstance(ZepProvider().provider, ZepMemoryProvider)
