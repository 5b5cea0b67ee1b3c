"""agent_endpoint(durable=True): run ids, checkpoints, resume after a crash, stored results,
per-user isolation and same-run-id concurrency; plus path=/mount(), runnable= and ctx.user."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mnemoplug import ConfigurationError, Memory
from mnemoplug.adapters.endpoint import AgentContext, AgentUser, agent_endpoint


class Req(BaseModel):
    user_id: str
    message: str
    run_id: str | None = None
    tenant: str | None = None


class Out(BaseModel):
    answer: str
    run_id: str | None = None


def durable_memory() -> Memory:
    return Memory("memory://", embedder=None, checkpoints="memory://", load_entry_points=False)


# -- path=, runnable=, ctx.user ---------------------------------------------------------------
def test_path_mount_runnable_and_ctx_user() -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    memory = Memory("memory://", embedder=None, load_entry_points=False)
    agent = object()
    seen: list[AgentContext] = []

    @agent_endpoint(
        path="/chat",
        runnable=agent,
        memory=memory,
        strategy="recent",
        tenant_id_field="tenant",
    )
    async def chat(request: Req, ctx: AgentContext) -> dict[str, str]:
        seen.append(ctx)
        return {"answer": f"hi {ctx.user.id}"}

    assert chat.path == "/chat" and chat.runnable is agent and chat.durable is False
    app = fastapi.FastAPI()
    router = fastapi.APIRouter(prefix="/v1")
    assert chat.mount(router) is router
    app.include_router(router)
    chat.mount(app)  # at path=
    chat.mount(app, "/get-chat", methods=["PUT"])
    app.post("/classic")(chat)  # the plain FastAPI way still works
    with TestClient(app) as client:
        for method, url in [
            ("POST", "/chat"),
            ("POST", "/v1/chat"),
            ("PUT", "/get-chat"),
            ("POST", "/classic"),
        ]:
            r = client.request(method, url, json={"user_id": "ann", "message": "x", "tenant": "t1"})
            assert r.status_code == 200, (url, r.text)
            assert r.json() == {"answer": "hi ann"}
            assert "x-run-id" not in r.headers  # not durable
        assert client.post("/chat", json={"message": "x"}).status_code == 422
    assert len(seen) == 4
    ctx = seen[0]
    assert ctx.runnable is agent
    assert ctx.user == AgentUser("ann", "t1") and ctx.user.id == "ann"
    assert ctx.user.tenant_id == "t1"
    assert ctx.run_id is None and ctx.resumed_state is None and not ctx.resumed


async def test_mount_and_decorator_argument_errors() -> None:
    memory = Memory("memory://", embedder=None, load_entry_points=False)

    @agent_endpoint(memory=memory)
    async def nopath(request: Req, ctx: AgentContext) -> str:
        return await ctx.checkpoint({"x": 1})  # type: ignore[no-any-return]

    with pytest.raises(ConfigurationError, match="no path to mount at"):
        nopath.mount(object())
    with pytest.raises(ConfigurationError, match="FastAPI app or APIRouter"):
        nopath.mount(object(), "/x")
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        agent_endpoint(memory=memory, path="chat")
    with pytest.raises(ConfigurationError, match="durable=True"):
        await nopath(Req(user_id="u", message="m"))  # ctx.checkpoint outside a durable endpoint


def test_durable_without_checkpoint_store_is_a_clear_error() -> None:
    memory = Memory("memory://", embedder=None, load_entry_points=False)
    with pytest.raises(ConfigurationError, match=r'checkpoints="sqlite:///runs\.db"'):
        agent_endpoint(memory=memory, durable=True)


# -- durable, called directly -----------------------------------------------------------------
def make_durable(memory: Memory, log: list[tuple[str, Any]], fail_after: set[int]) -> Any:
    @agent_endpoint(memory=memory, strategy="recent", durable=True)
    async def task(request: Req, ctx: AgentContext) -> Out:
        state = ctx.resumed_state or {"done": []}
        log.append((ctx.user_id, "start", ctx.resumed_state))
        for step in (1, 2, 3):
            if step in state["done"]:
                continue
            log.append((ctx.user_id, step))
            state = {"done": [*state["done"], step]}
            await ctx.checkpoint(state)
            if step in fail_after:
                fail_after.discard(step)
                raise RuntimeError(f"crashed after step {step}")
        return Out(answer=f"{request.message}: {state['done']}")

    return task


async def test_durable_resume_after_failure_then_replay_stored_result() -> None:
    memory = durable_memory()
    log: list[tuple[str, Any]] = []
    task = make_durable(memory, log, fail_after={2})
    with pytest.raises(RuntimeError, match="after step 2"):
        await task(Req(user_id="ann", message="go", run_id="run-1"))
    assert await memory.count("ann") == 0  # a failed call stores no turn
    out = await task(Req(user_id="ann", message="go", run_id="run-1"))
    assert isinstance(out, Out) and out.answer == "go: [1, 2, 3]" and out.run_id == "run-1"
    assert log == [
        ("ann", "start", None),
        ("ann", 1),
        ("ann", 2),
        ("ann", "start", {"done": [1, 2]}),  # resumed from the last checkpoint
        ("ann", 3),
    ]
    before = list(log)
    again = await task(Req(user_id="ann", message="go", run_id="run-1"))
    assert again == out and log == before  # the stored result; the function did not run
    assert sorted(m.content for m in await memory.get_all("ann")) == ["go", "go: [1, 2, 3]"]
    cps = await memory.checkpoints.list(user_id="ann", run_id="run-1")
    assert cps[0].metadata["mnemoplug_run"] == "finished" and cps[0].metadata["turn_stored"]
    assert [c.metadata.get("step") for c in cps[1:]] == [3, 2, 1]


async def test_generated_run_ids_are_time_ordered_and_returned() -> None:
    memory = durable_memory()

    @agent_endpoint(memory=memory, durable=True)
    async def echo(user_id: str, message: str, ctx: AgentContext) -> dict[str, Any]:
        await ctx.checkpoint(b"\x00raw bytes")
        return {"answer": message, "resumed": ctx.resumed, "ctx_run": ctx.run_id}

    first = await echo("ann", "one")
    await asyncio.sleep(0.002)
    second = await echo("ann", "two")
    assert first["run_id"] == first["ctx_run"] and second["run_id"] == second["ctx_run"]
    assert first["run_id"] != second["run_id"] and first["run_id"] < second["run_id"]
    (cp,) = [
        c
        for c in await memory.checkpoints.list(user_id="ann", run_id=first["run_id"])
        if c.metadata.get("mnemoplug_run") == "progress"
    ]
    assert cp.state == b"\x00raw bytes"


async def test_another_user_with_the_same_run_id_gets_a_fresh_run() -> None:
    memory = durable_memory()
    log: list[tuple[str, Any]] = []
    task = make_durable(memory, log, fail_after={2})
    with pytest.raises(RuntimeError):
        await task(Req(user_id="ann", message="secret plan", run_id="shared"))
    bob = await task(Req(user_id="bob", message="bob's", run_id="shared"))
    assert bob.answer == "bob's: [1, 2, 3]"
    assert ("bob", "start", None) in log  # never ann's state
    ann = await task(Req(user_id="ann", message="secret plan", run_id="shared"))
    assert ann.answer == "secret plan: [1, 2, 3]"  # ann resumes her own run, not bob's result
    assert log[-2:] == [("ann", "start", {"done": [1, 2]}), ("ann", 3)]
    assert [m.content for m in await memory.get_all("bob")].count("secret plan") == 0


async def test_same_run_id_concurrently_runs_once() -> None:
    memory = durable_memory()
    active = 0
    peak = 0
    runs = 0
    release = asyncio.Event()

    @agent_endpoint(memory=memory, durable=True)
    async def slow(request: Req, ctx: AgentContext) -> dict[str, int]:
        nonlocal active, peak, runs
        active += 1
        runs += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1
        return {"n": runs}

    req = Req(user_id="ann", message="m", run_id="r1")
    other = Req(user_id="ann", message="m", run_id="r2")
    calls = [asyncio.create_task(slow(r)) for r in (req, req, other)]
    await asyncio.sleep(0.05)
    assert peak == 2  # r1 and r2 run side by side; the second r1 waits
    release.set()
    a, b, c = await asyncio.gather(*calls)
    assert a == b and a["run_id"] == "r1" and c["run_id"] == "r2"
    assert runs == 2
    assert await memory.count("ann") == 3  # r1 once, r2 once; r2 repeats r1's message


def test_fastapi_durable_headers_and_openapi() -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    log: list[tuple[str, Any]] = []
    task = make_durable(durable_memory(), log, fail_after=set())
    app = fastapi.FastAPI()
    app.post("/task")(task)
    with TestClient(app) as client:
        r = client.post("/task", json={"user_id": "ann", "message": "go"})
        assert r.status_code == 200, r.text
        run_id = r.headers["x-run-id"]
        assert r.headers["x-run-status"] == "new" and r.json()["run_id"] == run_id
        # the run id may come in the X-Run-Id header when the body has none
        again = client.post(
            "/task", json={"user_id": "ann", "message": "go"}, headers={"X-Run-Id": run_id}
        )
        assert again.headers["x-run-status"] == "replayed" and again.json() == r.json()
        op = client.get("/openapi.json").json()["paths"]["/task"]["post"]
        assert "parameters" not in op  # the injected Request/Response are not parameters
    assert len([e for e in log if e[1] == "start"]) == 1


# -- a real crash: the process dies mid-run, a new process resumes ------------------------------
SERVER = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from fastapi import FastAPI
    from pydantic import BaseModel
    from mnemoplug import Memory
    from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint

    work = Path(os.environ["WORK"])
    memory = Memory(
        f"sqlite:///{work / 'memory.db'}",
        embedder=None,
        checkpoints=f"sqlite:///{work / 'runs.db'}",
        load_entry_points=False,
    )

    class Req(BaseModel):
        user_id: str
        message: str
        run_id: str | None = None

    @agent_endpoint(path="/task", memory=memory, strategy="recent", durable=True)
    async def task(request: Req, ctx: AgentContext) -> dict:
        calls = work / "calls.txt"
        calls.write_text(str(int(calls.read_text() if calls.exists() else 0) + 1))
        state = ctx.resumed_state or {"done": []}
        with open(work / "steps.log", "a") as log:
            log.write(json.dumps([ctx.user.id, "start", ctx.resumed_state]) + "\\n")
        for step in (1, 2, 3):
            if step in state["done"]:
                continue
            with open(work / "steps.log", "a") as log:
                log.write(json.dumps([ctx.user.id, step]) + "\\n")
            state = {"done": state["done"] + [step]}
            await ctx.checkpoint(state)
            if step == 2 and os.environ.get("CRASH_AFTER_STEP_2"):
                os._exit(1)  # the process dies: no cleanup, no response
        return {"answer": f"{request.message}: {state['done']}"}

    app = FastAPI()
    task.mount(app)

    if __name__ == "__main__" and sys.argv[1] == "serve":
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    elif __name__ == "__main__":
        from fastapi.testclient import TestClient

        with TestClient(app) as client:
            r = client.post("/task", json=json.loads(sys.argv[1]))
            print(json.dumps({"status": r.status_code, "body": r.json(),
                              "run_id": r.headers.get("x-run-id"),
                              "run_status": r.headers.get("x-run-status")}))
    """
)


def test_crash_mid_run_then_resume_then_replay_in_new_processes(tmp_path: Path) -> None:
    """Each call runs the FastAPI app in a fresh process (TestClient: the ASGI stack, no server
    needed); the first process dies with os._exit(1) after checkpointing steps 1 and 2."""
    pytest.importorskip("fastapi")
    script = tmp_path / "server.py"
    script.write_text(SERVER)

    def call(body: dict[str, Any], crash: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WORK": str(tmp_path), "HF_HUB_OFFLINE": "1"}
        if crash:
            env["CRASH_AFTER_STEP_2"] = "1"
        return subprocess.run(
            [sys.executable, str(script), json.dumps(body)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )

    def steps() -> list[Any]:
        return [json.loads(line) for line in (tmp_path / "steps.log").read_text().splitlines()]

    ann = {"user_id": "ann", "message": "go", "run_id": "run-42"}
    crashed = call(ann, crash=True)
    assert crashed.returncode == 1 and crashed.stdout == "", crashed.stderr[-2000:]
    assert steps() == [["ann", "start", None], ["ann", 1], ["ann", 2]]

    resumed = call(ann)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out = json.loads(resumed.stdout)
    assert out["status"] == 200 and out["run_status"] == "resumed" and out["run_id"] == "run-42"
    assert out["body"] == {"answer": "go: [1, 2, 3]", "run_id": "run-42"}
    assert steps()[3:] == [["ann", "start", {"done": [1, 2]}], ["ann", 3]]  # only step 3 ran
    assert (tmp_path / "calls.txt").read_text() == "2"

    replayed = call(ann)
    out3 = json.loads(replayed.stdout)
    assert out3["run_status"] == "replayed" and out3["body"] == out["body"]
    assert (tmp_path / "calls.txt").read_text() == "2"  # the function did not run again
    assert len(steps()) == 5

    bob = call({"user_id": "bob", "message": "mine", "run_id": "run-42"})
    out4 = json.loads(bob.stdout)
    assert out4["run_status"] == "new" and out4["body"]["answer"] == "mine: [1, 2, 3]"
    assert steps()[5:] == [["bob", "start", None], ["bob", 1], ["bob", 2], ["bob", 3]]

    memory = Memory(f"sqlite:///{tmp_path / 'memory.db'}", embedder=None, load_entry_points=False)

    async def contents(user: str) -> list[str]:
        try:
            return sorted(m.content for m in await memory.get_all(user))
        finally:
            await memory.close()

    assert asyncio.run(contents("ann")) == ["go", "go: [1, 2, 3]"]  # the turn, stored once
    assert asyncio.run(contents("bob")) == ["mine", "mine: [1, 2, 3]"]


def test_real_http_server_killed_mid_run_resumes_after_restart(tmp_path: Path) -> None:
    """The same over real HTTP: uvicorn in a subprocess on an ephemeral port; the server
    process dies mid-run, a restarted server resumes the run."""
    pytest.importorskip("uvicorn")
    import socket
    import time

    import httpx

    script = tmp_path / "server.py"
    script.write_text(SERVER)

    def start(crash: bool) -> tuple[subprocess.Popen[bytes], str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "WORK": str(tmp_path), "HF_HUB_OFFLINE": "1"}
        if crash:
            env["CRASH_AFTER_STEP_2"] = "1"
        proc = subprocess.Popen([sys.executable, str(script), "serve", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                return proc, base
            except httpx.TransportError:
                assert proc.poll() is None, "the server did not start"
                time.sleep(0.1)
        proc.kill()
        raise AssertionError("the server did not start in time")

    ann = {"user_id": "ann", "message": "go", "run_id": "http-run"}
    proc, base = start(crash=True)
    try:
        with pytest.raises(httpx.TransportError):  # the server died mid-request
            httpx.post(f"{base}/task", json=ann, timeout=30)
        assert proc.wait(timeout=30) == 1
    finally:
        proc.kill()
    proc, base = start(crash=False)
    try:
        r = httpx.post(f"{base}/task", json=ann, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["x-run-status"] == "resumed" and r.headers["x-run-id"] == "http-run"
        assert r.json() == {"answer": "go: [1, 2, 3]", "run_id": "http-run"}
        again = httpx.post(f"{base}/task", json=ann, timeout=30)
        assert again.headers["x-run-status"] == "replayed" and again.json() == r.json()
        bob = httpx.post(f"{base}/task", json={**ann, "user_id": "bob"}, timeout=30)
        assert bob.headers["x-run-status"] == "new"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    lines = [json.loads(x) for x in (tmp_path / "steps.log").read_text().splitlines()]
    assert lines[:5] == [
        ["ann", "start", None],
        ["ann", 1],
        ["ann", 2],
        ["ann", "start", {"done": [1, 2]}],
        ["ann", 3],
    ]
    assert lines[5] == ["bob", "start", None]
    assert (tmp_path / "calls.txt").read_text() == "3"  # ann twice (crash, resume), bob once
