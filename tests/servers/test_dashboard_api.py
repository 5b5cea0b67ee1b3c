"""``mnemoplug serve``: the JSON API over a real uvicorn server and a real SQLite store (with
sessions, checkpoints, an audit log and the real embedding model), called with httpx."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from mnemoplug import Memory
from mnemoplug.auth import TokenMap
from mnemoplug.cli import main
from mnemoplug.dashboard import create_dashboard_app
from mnemoplug.dashboard.command import build_serve_app
from mnemoplug.plugins import AuditLog

from ._serve import serving

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789xx"
GLOBEX = "globex-alice-token-0123"
ADMIN = "acme-admin-token-012345"
TOKENS = {
    "tokens": [
        {"token": ALICE, "user": "alice", "tenant": "acme"},
        {"token": BOB, "user": "bob", "tenant": "acme"},
        {"token": GLOBEX, "user": "alice", "tenant": "globex"},
        {"token": ADMIN, "user": "*", "tenant": "acme"},
    ]
}


@dataclass
class Site:
    base: str
    ids: dict[str, str]
    db: str

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)


def _urls(tmp: Path) -> dict[str, Any]:
    return {
        "db": f"sqlite:///{tmp / 'm.db'}",
        "session": f"sqlite:///{tmp / 's.db'}",
        "checkpoints": f"sqlite:///{tmp / 'c.db'}",
        "audit": tmp / "audit.jsonl",
    }


async def _seed(urls: dict[str, Any], embedder: Any) -> dict[str, str]:
    memory = Memory.from_url(
        urls["db"],
        embedder=embedder,
        session=urls["session"],
        checkpoints=urls["checkpoints"],
        plugins=[AuditLog(urls["audit"])],
    )
    async with memory:
        ids = {
            "dark": await memory.add(
                "alice", "Alice prefers dark mode in every app", {"k": "ui"}, tenant_id="acme"
            ),
            "peanuts": await memory.add("alice", "Alice is allergic to peanuts", tenant_id="acme"),
            "bob": await memory.add("bob", "Bob plays chess every Sunday", tenant_id="acme"),
            "globex": await memory.add("alice", "Globex Alice likes tea", tenant_id="globex"),
        }
        await memory.session.add_message(
            "chat-1", {"role": "user", "content": "Book a table"}, user_id="alice", tenant_id="acme"
        )
        await memory.session.add_message(
            "chat-b", {"role": "user", "content": "Bob's chat"}, user_id="bob", tenant_id="acme"
        )
        await memory.checkpoints.save("run-1", {"step": 3}, user_id="alice", tenant_id="acme")
        await memory.search("bob", "chess", tenant_id="acme")  # an audit entry of bob's
    return ids


@pytest.fixture
async def site(tmp_path: Path, embedder: Any) -> Iterator[Site]:
    urls = _urls(tmp_path)
    ids = await _seed(urls, embedder)
    memory = Memory.from_url(
        urls["db"],
        embedder=embedder,
        session=urls["session"],
        checkpoints=urls["checkpoints"],
        plugins=[AuditLog(urls["audit"])],
    )
    app = create_dashboard_app(memory, TokenMap.from_mapping(TOKENS))
    with serving(app) as base:
        yield Site(base, ids, urls["db"])


def test_no_token_no_data_but_the_page_and_openapi_load(site: Site) -> None:
    with site.client(None) as anon, site.client("wrong-token-0123456789") as wrong:
        for path in ("/api/me", "/api/memories", "/api/search?q=x", "/api/audit", "/api/metrics"):
            for client in (anon, wrong):
                r = client.get(path)
                assert r.status_code == 401, path
                assert r.headers["www-authenticate"].startswith("Bearer")
        page = anon.get("/")
        assert page.status_code == 200 and "<title>mnemoplug dashboard</title>" in page.text
        spec = anon.get("/openapi.json").json()
        assert {"/api/memories", "/api/search", "/api/forget", "/api/sessions"} <= set(
            spec["paths"]
        )
        assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_a_user_token_sees_only_that_user(site: Site) -> None:
    with site.client(ALICE) as alice:
        assert alice.get("/api/me").json() == {
            "user_id": "alice",
            "tenant_id": "acme",
            "admin": False,
        }
        assert alice.get("/api/users").json() == [{"user_id": "alice", "tenant_id": "acme"}]
        listed = alice.get("/api/memories").json()["memories"]
        assert {m["id"] for m in listed} == {site.ids["dark"], site.ids["peanuts"]}
        hits = alice.get("/api/search", params={"q": "Which UI theme does she like?"}).json()[
            "memories"
        ]
        assert hits[0]["id"] == site.ids["dark"]
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        assert hits[0]["similarity"] > hits[-1]["similarity"]
        for params in (
            {"user_id": "bob"},
            {"tenant_id": "globex"},
            {"user_id": "bob", "tenant_id": "acme"},
        ):
            assert alice.get("/api/memories", params=params).status_code == 403, params
            assert alice.get("/api/search", params={**params, "q": "chess"}).status_code == 403
        assert alice.get(f"/api/memories/{site.ids['bob']}").status_code == 404
        assert alice.delete(f"/api/memories/{site.ids['bob']}").status_code == 404
        assert (
            alice.patch(f"/api/memories/{site.ids['bob']}", json={"content": "x"}).status_code
            == 404
        )
    with site.client(GLOBEX) as globex:
        assert [m["content"] for m in globex.get("/api/memories").json()["memories"]] == [
            "Globex Alice likes tea"
        ]


def test_edit_and_delete_a_memory(site: Site) -> None:
    dark = site.ids["dark"]
    with site.client(ALICE) as alice:
        r = alice.patch(f"/api/memories/{dark}", json={"content": "Alice prefers light mode"})
        assert r.status_code == 200 and r.json()["content"] == "Alice prefers light mode"
        assert alice.get(f"/api/memories/{dark}").json()["metadata"] == {"k": "ui"}
        bad = alice.patch(f"/api/memories/{dark}", json={})
        assert bad.status_code == 400 and "needs content" in bad.json()["detail"]
        assert alice.patch(f"/api/memories/{dark}", json={"content": ""}).status_code == 400
        assert alice.get(f"/api/memories/{dark}").json()["content"] == "Alice prefers light mode"
        assert alice.delete(f"/api/memories/{dark}").json() == {"deleted": 1}
        assert alice.delete(f"/api/memories/{dark}").status_code == 404
        assert alice.get(f"/api/memories/{dark}").status_code == 404


def test_sessions_checkpoints_audit_and_metrics(site: Site) -> None:
    with site.client(ALICE) as alice:
        sessions = alice.get("/api/sessions").json()
        assert sessions["configured"] and [s["session_id"] for s in sessions["sessions"]] == [
            "chat-1"
        ]
        messages = alice.get("/api/sessions/chat-1/messages").json()["messages"]
        assert [m["content"] for m in messages] == ["Book a table"]
        assert alice.get("/api/sessions/chat-b/messages").json()["messages"] == []  # bob's
        cps = alice.get("/api/checkpoints").json()
        assert cps["configured"] and cps["checkpoints"][0]["state"] == {"step": 3}
        alice.get("/api/search", params={"q": "peanuts"})
        entries = alice.get("/api/audit").json()["entries"]
        assert entries and entries[0]["operation"] == "search"  # newest first
        assert {e["scope"]["user_id"] for e in entries} == {"alice"}
        assert all(e["scope"].get("tenant_id") == "acme" for e in entries)
        metrics = alice.get("/api/metrics").json()
        assert metrics["available"]
        searches = [o for o in metrics["operations"] if o["operation"] == "search"]
        assert searches and searches[0]["count"] >= 1 and searches[0]["mean_ms"] > 0


def test_forget_needs_confirmation_and_touches_only_that_user(site: Site) -> None:
    with site.client(ALICE) as alice, site.client(BOB) as bob:
        refused = alice.post(
            "/api/forget", json={"user_id": "alice", "tenant_id": "acme", "confirm": "al"}
        )
        assert refused.status_code == 400 and "confirm" in refused.json()["detail"]
        assert len(alice.get("/api/memories").json()["memories"]) == 2
        other = alice.post(
            "/api/forget", json={"user_id": "bob", "tenant_id": "acme", "confirm": "bob"}
        )
        assert other.status_code == 403
        done = alice.post(
            "/api/forget", json={"user_id": "alice", "tenant_id": "acme", "confirm": "alice"}
        )
        assert done.status_code == 200
        counts = done.json()
        assert counts["memories"] == 2 and counts["sessions"] == 1 and counts["checkpoints"] == 1
        assert alice.get("/api/memories").json()["memories"] == []
        assert len(bob.get("/api/memories").json()["memories"]) == 1
        assert bob.get("/api/sessions").json()["sessions"] != []
    with site.client(GLOBEX) as globex:
        assert len(globex.get("/api/memories").json()["memories"]) == 1


def test_an_admin_token_picks_any_user_of_its_tenant(site: Site) -> None:
    with site.client(ADMIN) as admin:
        assert admin.get("/api/me").json()["admin"] is True
        assert admin.get("/api/users").json() == [
            {"user_id": "alice", "tenant_id": "acme"},
            {"user_id": "bob", "tenant_id": "acme"},
        ]
        assert admin.get("/api/memories").status_code == 400  # must name the user
        bob = admin.get("/api/memories", params={"user_id": "bob"}).json()["memories"]
        assert [m["content"] for m in bob] == ["Bob plays chess every Sunday"]
        assert (
            admin.get(
                "/api/memories", params={"user_id": "alice", "tenant_id": "globex"}
            ).status_code
            == 403
        )
        users = {e["scope"]["user_id"] for e in admin.get("/api/audit").json()["entries"]}
        assert users == {"alice", "bob"}


def test_serve_command_wiring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MNEMOPLUG_TOKEN_FILE", raising=False)
    monkeypatch.delenv("MNEMOPLUG_TOKENS", raising=False)
    db = tmp_path / "never.db"
    assert main(["serve", "--db", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert "no bearer tokens configured" in err and err.count("\n") == 1
    assert not db.exists()
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    urls = _urls(tmp_path)
    args = argparse.Namespace(
        db=urls["db"],
        sessions=urls["session"],
        checkpoints=urls["checkpoints"],
        audit=str(urls["audit"]),
        tokens=str(tokens),
        host="127.0.0.1",
        port=0,
    )
    app = build_serve_app(args)
    assert app.state.audit is not None and app.state.audit.path == urls["audit"]
    assert app.state.memory.session is not None and app.state.memory.checkpoints is not None
    assert len(app.state.tokens) == 4
