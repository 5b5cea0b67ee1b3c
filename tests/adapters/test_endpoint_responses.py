"""``@agent_endpoint`` functions that return a FastAPI ``Response``: the stored answer is the
body (a JSON body by its answer field), a streamed body once it has been sent; never a repr.
Through a real FastAPI app (httpx ASGI transport) with a real Memory (issue 12)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

pytest.importorskip("fastapi")

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from mnemoplug import Memory
from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint


class ChatRequest(BaseModel):
    user_id: str
    message: str


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


async def stored(memory: Memory, user: str = "u1") -> list[tuple[str, str]]:
    return sorted((r.role or "", r.content) for r in await memory.get_all(user))


async def post(app: FastAPI, message: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/chat", json={"user_id": "u1", "message": message})


async def test_json_response_body_is_stored(memory: Memory) -> None:
    @agent_endpoint(memory, path="/chat")
    async def chat(request: ChatRequest, ctx: AgentContext) -> JSONResponse:
        return JSONResponse({"answer": "Tea, no sugar.", "confidence": 0.9}, status_code=201)

    app = FastAPI()
    chat.mount(app)
    res = await post(app, "How do I take my tea?")
    assert res.status_code == 201
    assert await stored(memory) == [("assistant", "Tea, no sugar.")]  # a question is not kept


async def test_json_response_without_answer_field_and_plain_text(memory: Memory) -> None:
    @agent_endpoint(memory, path="/chat")
    async def chat(request: ChatRequest, ctx: AgentContext) -> Any:
        if request.message == "json":
            return JSONResponse({"city": "Oslo", "celsius": 21})
        return PlainTextResponse("Plain answer.")

    app = FastAPI()
    chat.mount(app)
    await post(app, "json")
    await post(app, "text")
    answers = [c for role, c in await stored(memory) if role == "assistant"]
    assert sorted(answers) == ["Plain answer.", '{"city": "Oslo", "celsius": 21}']
    assert not any("Response" in a for a in answers)  # never a repr


async def test_streamed_response_is_stored_once_sent(memory: Memory) -> None:
    sent: list[str] = []

    @agent_endpoint(memory, path="/chat")
    async def chat(request: ChatRequest, ctx: AgentContext) -> StreamingResponse:
        async def tokens() -> AsyncIterator[str]:
            for t in ("Sunny ", "in ", "Oslo."):
                sent.append(t)
                yield t

        return StreamingResponse(tokens(), media_type="text/plain")

    app = FastAPI()
    chat.mount(app)
    res = await post(app, "Weather?")
    assert res.text == "Sunny in Oslo."
    assert await stored(memory) == [("assistant", "Sunny in Oslo.")]  # a question is not kept


async def test_server_sent_events_are_stored_as_their_data(memory: Memory) -> None:
    @agent_endpoint(memory, path="/chat")
    async def chat(request: ChatRequest, ctx: AgentContext) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            for t in ("Hel", "lo!"):
                yield f"data: {t}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app = FastAPI()
    chat.mount(app)
    await post(app, "Hi")
    assert await stored(memory) == [("assistant", "Hello!"), ("user", "Hi")]


async def test_abandoned_stream_stores_nothing(memory: Memory) -> None:
    @agent_endpoint(memory)
    async def chat(request: ChatRequest, ctx: AgentContext) -> StreamingResponse:
        async def tokens() -> AsyncIterator[str]:
            yield "part one, "
            yield "part two"

        return StreamingResponse(tokens(), media_type="text/plain")

    response = await chat(ChatRequest(user_id="u1", message="Tell me"))
    assert await stored(memory) == []  # nothing sent yet: nothing stored
    it = response.body_iterator
    assert await it.__anext__() == "part one, "
    await it.aclose()  # the client went away
    assert await stored(memory) == []
