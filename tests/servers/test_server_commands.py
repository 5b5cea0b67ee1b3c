"""``mnemoplug mcp --http`` and ``mnemoplug serve`` as commands (real subprocesses), and the
errors naming the extra when a server's dependency is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import mnemoplug
from mnemoplug import MissingDependencyError

from ._serve import free_port

SRC = str(Path(mnemoplug.__file__).resolve().parents[1])
TOKEN = "cli-token-0123456789abc"


@contextmanager
def _command(*args: str, port: int, tmp: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p),
        "HF_HUB_OFFLINE": "1",
    }
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemoplug", *args, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise AssertionError((tmp / "server.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _token_file(tmp: Path) -> str:
    path = tmp / "tokens.json"
    path.write_text(json.dumps({"tokens": [{"token": TOKEN, "user": "alice"}]}))
    return str(path)


def test_mcp_http_command_serves_the_token_holder(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    args = ("mcp", "--http", "--db", db, "--tokens", _token_file(tmp_path))
    with _command(*args, port=free_port(), tmp=tmp_path) as base:
        assert httpx.post(base + "/mcp", json=init, headers=accept).status_code == 401
        ok = httpx.post(
            base + "/mcp", json=init, headers={**accept, "Authorization": f"Bearer {TOKEN}"}
        )
        assert ok.status_code == 200 and "mnemoplug" in ok.text


def test_serve_command_binds_loopback_and_needs_the_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    args = ("serve", "--db", db, "--tokens", _token_file(tmp_path))
    with _command(*args, port=free_port(), tmp=tmp_path) as base:
        assert httpx.get(base + "/api/me").status_code == 401
        me = httpx.get(base + "/api/me", headers={"Authorization": f"Bearer {TOKEN}"})
        assert me.json() == {"user_id": "alice", "tenant_id": None, "admin": False}
        assert "<title>mnemoplug dashboard</title>" in httpx.get(base + "/").text
    assert "http://127.0.0.1:" in (tmp_path / "server.log").read_text()


@pytest.mark.parametrize(
    ("blocked", "extra"),
    [("mcp.server.mcpserver", "mnemoplug[mcp]"), ("fastapi", "mnemoplug[dashboard]")],
)
def test_a_missing_dependency_names_its_extra(
    blocked: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnemoplug.dashboard import create_dashboard_app
    from mnemoplug.mcp import create_mcp_server

    monkeypatch.setitem(sys.modules, blocked, None)
    build = create_mcp_server if blocked.startswith("mcp") else create_dashboard_app
    with pytest.raises(MissingDependencyError, match=extra.replace("[", r"\[")):
        build(None, None)
