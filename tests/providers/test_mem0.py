"""mem0-specific behaviour (the shared contract runs through factory_mem0.py)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from mnemoplug import Memory
from mnemoplug.core.errors import ConfigurationError
from mnemoplug.providers.mem0 import Mem0MemoryStore


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuse every non-loopback connection (PostHog, model hubs) and record the attempts."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("::1", "localhost")):
            attempts.append(address)
            raise OSError(f"network disabled in this test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def test_urls(tmp_path: Any) -> None:
    p = Mem0MemoryStore(f"mem0://{tmp_path}/store")
    assert p.path == tmp_path / "store" and p.url == f"mem0://{tmp_path}/store"
    for bad in ("mem0://host/x", "mem0://", "mem0:///"):
        with pytest.raises(ConfigurationError, match="mem0:///"):
            Mem0MemoryStore(bad)
    with pytest.raises(ConfigurationError, match="path="):
        Mem0MemoryStore()
    assert isinstance(Memory.from_url(f"mem0://{tmp_path}/m", embedder=None).store, Mem0MemoryStore)


async def test_mem0_and_mnemoplug_see_the_same_store(
    tmp_path: Any, embedder: Any, no_network: list[Any]
) -> None:
    import mem0.memory.telemetry as telemetry

    p = Mem0MemoryStore(path=tmp_path / "m0", collection="shared")
    async with Memory(p, embedder=embedder, load_entry_points=False) as m:
        assert telemetry.MEM0_TELEMETRY is False
        mid = await m.add("u", "User prefers dark mode", {"category": "ui"}, agent_id="a1",
                          session_id="s1")  # fmt: skip
        other = await m.add("u", "acme-only fact", tenant_id="acme")
        # mem0's own API sees what mnemoplug wrote (under its own id, with our fields)
        seen = (await p.mem0.get_all(filters={"user_id": "u"}))["results"]
        assert [r["memory"] for r in seen] == ["User prefers dark mode"]
        assert seen[0]["metadata"]["mnemoplug_id"] == mid
        assert seen[0]["agent_id"] == "a1" and seen[0]["run_id"] == "s1"
        acme = (await p.mem0.get_all(filters={"user_id": "acme/u"}))["results"]
        assert [r["metadata"]["mnemoplug_id"] for r in acme] == [other]
        # and mnemoplug sees what mem0 wrote by itself (infer=False: no LLM)
        res = await p.mem0.add("I live in Lisbon", user_id="u", metadata={"src": "mem0"},
                               infer=False)  # fmt: skip
        native = res["results"][0]["id"]
        p.invalidate("u")  # mem0 wrote behind our back: forget the cached index
        rec = await m.get("u", native)
        assert rec is not None and rec.content == "I live in Lisbon"
        assert rec.metadata == {"src": "mem0"} and rec.role == "user"
        hits = await m.search("u", "Which UI theme does the user like?", limit=2)
        assert hits[0].id == mid and hits[0].metadata == {"category": "ui"}
        assert (await m.search("u", "Where does the user live?", limit=1))[0].id == native
        # updates and deletes go through mem0 (its history records them)
        await m.update("u", mid, content="User prefers light mode")
        hist = await p.mem0.history(seen[0]["id"])
        assert [h["event"] for h in hist] == ["ADD", "UPDATE"]
        assert await m.delete("u", mid) is True
        assert await p.mem0.get(seen[0]["id"]) is None
        assert await m.get("u", other) is None and await m.get("u", other, tenant_id="acme")
        assert await m.delete_all("u") == 1  # the mem0-native one; acme untouched
        assert await m.count("u", tenant_id="acme") == 1
    assert no_network == []


async def test_reopen_keeps_ids_and_times(tmp_path: Any, embedder: Any) -> None:
    path = tmp_path / "persist"
    async with Memory(Mem0MemoryStore(path=path), embedder=embedder, load_entry_points=False) as m:
        mid = await m.add("u", "User's dog is called Rex", {"k": [1, 2]})
        before = await m.get("u", mid)
    async with Memory(f"mem0://{path}", embedder=embedder, load_entry_points=False) as m2:
        after = await m2.get("u", mid)
        assert after is not None and before is not None
        assert after.model_dump() == before.model_dump()
