"""A FastAPI chat endpoint with long-term memory, exercised offline with TestClient.

    HF_HUB_OFFLINE=1 python examples/endpoint_fastapi.py

``@agent_endpoint`` gives a plain async function ``ctx.memories`` / ``ctx.memory_text`` (the
user's memories relevant to this message) and stores the turn after it returns. FastAPI still
validates the request body (a bad body gets 422). ``path=`` + ``chat.mount(app)`` adds the route.
``durable=True`` makes each call a run: progress saved with ``ctx.checkpoint(...)`` survives a
crash, and a finished run's id returns its stored answer (``X-Run-Id`` / ``X-Run-Status``
headers). To serve it for real: ``uvicorn examples.endpoint_fastapi:app``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from mnemoplug import Memory, inject_memory
from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint

work = Path(tempfile.mkdtemp(prefix="mnemoplug-example-"))
atexit.register(shutil.rmtree, work, ignore_errors=True)  # leave nothing behind
memory = Memory(f"sqlite:///{work / 'memory.db'}", checkpoints=f"sqlite:///{work / 'runs.db'}")


class ChatRequest(BaseModel):
    user_id: str
    message: str
    session_id: str | None = None
    run_id: str | None = None  # durable endpoints: send it again to resume or replay


class ChatResponse(BaseModel):
    answer: str
    prompt: str


async def fake_llm(prompt: str) -> str:
    """Stands in for a model call: answers from what the prompt says about the user."""
    if "My name is Ada" in prompt and "name" in prompt.rsplit("User:", 1)[-1]:
        return "You are Ada."
    if "My name is" in prompt.rsplit("User:", 1)[-1]:
        return "Nice to meet you!"
    return "I don't know yet; tell me!"


@agent_endpoint(
    path="/chat", memory=inject_memory(provider=memory, strategy="relevant", max_memories=3)
)
async def chat(request: ChatRequest, ctx: AgentContext) -> ChatResponse:
    """The agent: build the prompt with the user's memories, call the model."""
    prompt = "\n\n".join(p for p in (ctx.memory_text, f"User: {request.message}") if p)
    return ChatResponse(answer=await fake_llm(prompt), prompt=prompt)


@agent_endpoint(path="/report", memory=memory, strategy="recent", durable=True)
async def report(request: ChatRequest, ctx: AgentContext) -> dict[str, object]:
    """A long task: each step is checkpointed, so a crashed run resumes where it stopped."""
    done: list[str] = list((ctx.resumed_state or {}).get("done", []))
    for step in ("gather", "draft", "polish"):
        if step not in done:
            done.append(step)
            await ctx.checkpoint({"done": done})
    return {"answer": f"report on {request.message!r}: {', '.join(done)}"}


app = FastAPI()
chat.mount(app)  # same as app.post("/chat")(chat)
report.mount(app)


def main() -> None:
    with TestClient(app) as client:
        bad = client.post("/chat", json={"message": "no user id"})
        print("bad body         ->", bad.status_code)

        client.post(
            "/chat",
            json={"user_id": "ada", "message": "My name is Ada.", "session_id": "monday"},
        )
        later = client.post(
            "/chat",
            json={"user_id": "ada", "message": "What is my name?", "session_id": "friday"},
        ).json()
        print("a later session  ->", later["answer"])
        print("the model was told:\n  " + later["prompt"].replace("\n", "\n  "))
        other = client.post("/chat", json={"user_id": "bob", "message": "What is my name?"})
        print("another user     ->", other.json()["answer"])
        first = client.post("/report", json={"user_id": "ada", "message": "Q3"})
        run_id = first.headers["X-Run-Id"]
        again = client.post("/report", json={"user_id": "ada", "message": "Q3", "run_id": run_id})
        print(
            "durable run      ->",
            first.headers["X-Run-Status"],
            "then",
            again.headers["X-Run-Status"],
            "-",
            again.json()["answer"],
        )
        assert again.headers["X-Run-Status"] == "replayed" and again.json() == first.json()
        assert bad.status_code == 422
        assert later["answer"] == "You are Ada." and "My name is Ada." in later["prompt"]
        assert other.json()["answer"] != "You are Ada."


if __name__ == "__main__":
    main()
