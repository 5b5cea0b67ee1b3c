"""agent_endpoint: called directly and mounted on FastAPI, with a real Memory and embedder."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from pydantic import BaseModel

from mnemoplug import ConfigurationError, Memory, MemoryRejectedError, hook, inject_memory
from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint


class ChatRequest(BaseModel):
    user_id: str
    message: str
    session_id: str | None = None


class ChatResponse(BaseModel):
    answer: str
    told: str


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


def make_chat(memory: Memory, **opts: Any) -> Any:
    """An agent function whose 'model' echoes what it was told, so tests can see it."""
    calls: list[AgentContext] = []

    @agent_endpoint(memory=inject_memory(provider=memory, strategy="relevant"), **opts)
    async def chat(request: ChatRequest, ctx: AgentContext) -> ChatResponse:
        calls.append(ctx)
        if request.message == "boom":
            raise RuntimeError("model down")
        return ChatResponse(answer=f"Noted: {request.message}", told=ctx.memory_text)

    chat.calls = calls  # type: ignore[attr-defined]
    return chat


async def test_direct_call_injects_memories_and_stores_the_turn(memory: Memory) -> None:
    await memory.add("alice", "User prefers the dark UI theme")
    await memory.add("bob", "User prefers the light UI theme")
    chat = make_chat(memory)
    out = await chat(ChatRequest(user_id="alice", message="Which UI theme do I like?"))
    assert isinstance(out, ChatResponse)
    assert "User prefers the dark UI theme" in out.told
    assert "light" not in out.told
    (ctx,) = chat.calls
    assert ctx.memory is memory and ctx.user_id == "alice"
    assert [m.content for m in ctx.memories] == ["User prefers the dark UI theme"]
    stored = {(m.role, m.content) for m in await memory.get_all("alice")}
    assert ("user", "Which UI theme do I like?") not in stored  # a question is not kept
    assert ("assistant", "Noted: Which UI theme do I like?") in stored
    assert await memory.count("bob") == 1


async def test_exception_stores_nothing(memory: Memory) -> None:
    chat = make_chat(memory)
    with pytest.raises(RuntimeError, match="model down"):
        await chat(ChatRequest(user_id="alice", message="boom"))
    assert await memory.count("alice") == 0


async def test_keyword_fields_session_and_plain_string_answers(memory: Memory) -> None:
    @agent_endpoint(memory=memory, strategy="recent")
    async def reply(ctx: AgentContext, user_id: str, message: str, session_id: str) -> str:
        return f"{len(ctx.memories)} memories"

    assert await reply(user_id="carol", message="I live in Oslo", session_id="s1") == "0 memories"
    assert await reply("carol", "Where do I live?", "s2") == "2 memories"
    assert await memory.count("carol", session_id="s1") == 2
    assert await memory.count("carol", session_id="s2") == 1  # the answer, not the question


async def test_ctx_store_false_and_custom_fields(memory: Memory) -> None:
    @agent_endpoint(memory=memory, user_id_field="account", message_field="text")
    async def quiet(body: dict[str, str], ctx: AgentContext) -> dict[str, str]:
        ctx.store = body.get("store") != "no"
        return {"reply": "ok"}

    await quiet({"account": "dave", "text": "hello there", "store": "no"})
    assert await memory.count("dave") == 0
    await quiet({"account": "dave", "text": "hello there"})
    assert {m.content for m in await memory.get_all("dave")} == {"hello there", "ok"}


async def test_rejected_write_is_logged_unless_strict(
    memory: Memory, caplog: pytest.LogCaptureFixture
) -> None:
    @hook("on_memory_add")
    def no_secrets(ctx: Any) -> None:
        if "password" in ctx.memory_content:
            raise MemoryRejectedError("contains a password")

    memory.register(no_secrets)
    chat = make_chat(memory)
    with caplog.at_level(logging.WARNING, logger="mnemoplug.adapters.endpoint"):
        out = await chat(ChatRequest(user_id="alice", message="my password is hunter2"))
    assert out.answer.startswith("Noted")
    assert "contains a password" in caplog.text
    strict = make_chat(memory, raise_on_store_error=True)
    with pytest.raises(MemoryRejectedError):
        await strict(ChatRequest(user_id="alice", message="my password is hunter2"))
    assert await memory.count("alice") == 0


async def test_configuration_errors(memory: Memory) -> None:
    with pytest.raises(ConfigurationError, match="needs a Memory"):
        agent_endpoint(memory=inject_memory())
    with pytest.raises(ConfigurationError, match="AgentContext"):

        @agent_endpoint(memory=memory)
        async def no_ctx(request: ChatRequest) -> str:
            return ""

    with pytest.raises(ConfigurationError, match="async"):

        @agent_endpoint(memory=memory)
        def sync(request: ChatRequest, ctx: AgentContext) -> str:  # type: ignore[type-var]
            return ""

    chat = make_chat(memory)
    with pytest.raises(ConfigurationError, match="no user id"):
        await chat({"message": "hi"})


# -- FastAPI ----------------------------------------------------------------------------------
def test_fastapi_route_validates_injects_per_user_and_stores(memory: Memory) -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    chat = make_chat(memory)
    app = fastapi.FastAPI()
    app.post("/chat")(chat)
    with TestClient(app) as client:
        bad = client.post("/chat", json={"message": "no user"})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "user_id"]
        assert chat.calls == []  # the function never ran

        r = client.post("/chat", json={"user_id": "alice", "message": "I prefer the dark UI theme"})
        assert r.status_code == 200, r.text
        assert r.json() == {"answer": "Noted: I prefer the dark UI theme", "told": ""}
        r = client.post("/chat", json={"user_id": "bob", "message": "I prefer the light UI theme"})
        assert r.status_code == 200

        later = client.post(
            "/chat", json={"user_id": "alice", "message": "Which UI theme do I like?"}
        )
        told = later.json()["told"]
        assert "I prefer the dark UI theme" in told
        assert "light" not in told  # never bob's
        bob = client.post("/chat", json={"user_id": "bob", "message": "Which UI theme do I like?"})
        assert "light UI theme" in bob.json()["told"] and "dark" not in bob.json()["told"]

        with pytest.raises(RuntimeError, match="model down"):
            client.post("/chat", json={"user_id": "erin", "message": "boom"})
        # the OpenAPI schema shows the request model and no ctx parameter
        schema = client.get("/openapi.json").json()
        body = schema["paths"]["/chat"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"].endswith("/ChatRequest")
        assert "parameters" not in schema["paths"]["/chat"]["post"]

    alice = SyncView(memory).contents("alice")
    assert (
        "Noted: Which UI theme do I like?" in alice and "I prefer the light UI theme" not in alice
    )
    assert SyncView(memory).contents("erin") == []


class SyncView:
    """Read a Memory from sync test code (the TestClient ran the app on its own loop)."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    def contents(self, user_id: str) -> list[str]:
        import asyncio

        return [m.content for m in asyncio.run(self.memory.get_all(user_id))]


def test_missing_fastapi_is_named() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["fastapi"] = None
        import mnemoplug
        from mnemoplug.adapters.endpoint import agent_endpoint, require_fastapi
        assert "fastapi" not in sys.modules or sys.modules["fastapi"] is None
        try:
            require_fastapi()
        except mnemoplug.MissingDependencyError as exc:
            assert 'pip install "mnemoplug[fastapi]"' in str(exc), str(exc)
            print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
