"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (no browser
download: ``executable_path`` is /usr/bin/chromium), on a real server and SQLite store with the
real embedding model. Covers sign-in, search (scores shown), delete, edit and forget; saves a
screenshot in the test's tmp_path."""

from __future__ import annotations

import asyncio
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")

from mnemoplug import Memory  # noqa: E402
from mnemoplug.auth import TokenMap  # noqa: E402
from mnemoplug.dashboard import create_dashboard_app  # noqa: E402
from mnemoplug.plugins import AuditLog  # noqa: E402

from ._serve import serving  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ALICE = "alice-token-0123456789"


def _run(coro: Any) -> Any:
    """Run a coroutine on its own loop in a thread (Playwright's sync API holds this one's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _need_chromium() -> None:
    if Path(CHROMIUM).is_file():
        return
    msg = f"{CHROMIUM} is missing (Debian packages chromium, chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(msg + "; CI requires it (scripts/setup.sh installs it as root)")
    pytest.skip(msg)


def _memory(tmp: Path, embedder: Any) -> Memory:
    return Memory.from_url(
        f"sqlite:///{tmp / 'm.db'}",
        embedder=embedder,
        session=f"sqlite:///{tmp / 's.db'}",
        checkpoints=f"sqlite:///{tmp / 'c.db'}",
        plugins=[AuditLog(tmp / "audit.jsonl")],
    )


async def _seed(memory: Memory) -> dict[str, str]:
    async with memory:
        assert memory.session is not None and memory.checkpoints is not None
        await memory.session.add_message(
            "chat-1", {"role": "user", "content": "Book a table"}, user_id="alice", tenant_id="acme"
        )
        await memory.checkpoints.save("run-7", {"step": 2}, user_id="alice", tenant_id="acme")
        return {
            "dark": await memory.add(
                "alice", "Alice prefers dark mode in every app", tenant_id="acme"
            ),
            "peanuts": await memory.add("alice", "Alice is allergic to peanuts", tenant_id="acme"),
            "lisbon": await memory.add(
                "alice", "Alice is planning a trip to Lisbon in May", tenant_id="acme"
            ),
            "bob": await memory.add("bob", "Bob prefers dark mode too", tenant_id="acme"),
        }


async def _contents(db: str, user: str) -> list[str]:
    async with Memory.from_url(db, embedder=None) as memory:
        return sorted(r.content for r in await memory.get_all(user, tenant_id="acme"))


@pytest.mark.slow
def test_search_delete_and_forget_in_chromium(tmp_path: Path, embedder: Any) -> None:
    _need_chromium()
    db = f"sqlite:///{tmp_path / 'm.db'}"
    _run(_seed(_memory(tmp_path, embedder)))
    tokens = TokenMap.single(ALICE, "alice", "acme")
    app = create_dashboard_app(_memory(tmp_path, embedder), tokens)
    with serving(app) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # generous waits: on a loaded CI machine a search (a real embedding) can take seconds
            page.set_default_timeout(30_000)
            expect = sync_api.expect
            expect.set_options(timeout=30_000)
            page.goto(base + "/")
            page.fill("#token", ALICE)
            page.click("#signin")
            rows = page.locator("#memories tbody tr")
            expect(rows).to_have_count(3)
            expect(page.locator("#whoami")).to_contain_text("signed in as alice")
            expect(page.locator("#memories")).not_to_contain_text("Bob")
            expect(page.locator("#sessions")).to_contain_text("chat-1")
            expect(page.locator("#checkpoints")).to_contain_text("run-7")
            expect(page.locator("#audit")).to_contain_text("add")
            page.click("#sessions a")
            expect(page.locator("#messages")).to_have_text("user: Book a table")

            # search: the semantic match first, with its score shown
            page.fill("#q", "Which UI theme does she like?")
            page.click("#search-btn")
            expect(page.locator("#status")).to_contain_text("results for")
            expect(rows.first.locator("td.content")).to_have_text(
                "Alice prefers dark mode in every app"
            )
            expect(rows.first.locator("td.score")).to_have_text(re.compile(r"^0\.\d{3}$|^1\.000$"))
            page.screenshot(path=str(tmp_path / "dashboard-search.png"), full_page=True)

            # delete the first hit (confirmed in the browser's dialog)
            page.once("dialog", lambda dialog: dialog.accept())
            rows.first.locator("button.delete").click()
            expect(page.locator("#status")).to_have_text("Memory deleted.")
            expect(page.locator("#memories")).not_to_contain_text("dark mode")
            page.click("#clear-search")
            expect(rows).to_have_count(2)
            assert _run(_contents(db, "alice")) == [
                "Alice is allergic to peanuts",
                "Alice is planning a trip to Lisbon in May",
            ]

            # edit: the prompt's text replaces the memory's content
            lisbon = rows.filter(has_text="Lisbon")
            page.once("dialog", lambda dialog: dialog.accept("Alice is planning a trip to Porto"))
            lisbon.locator("button.edit").click()
            expect(page.locator("#status")).to_have_text("Memory updated.")
            expect(page.locator("#memories")).to_contain_text("trip to Porto")

            # forget: a wrong confirmation changes nothing, the user id forgets everything
            page.once("dialog", lambda dialog: dialog.accept("alic"))
            page.click("#forget")
            expect(page.locator("#status")).to_contain_text("Not forgotten")
            expect(rows).to_have_count(2)
            page.once("dialog", lambda dialog: dialog.accept("alice"))
            page.click("#forget")
            expect(page.locator("#status")).to_contain_text(
                "Forgot alice: 2 memories, 1 sessions, 1 checkpoints"
            )
            expect(page.locator("#memories-empty")).to_be_visible()
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    assert _run(_contents(db, "alice")) == []
    assert _run(_contents(db, "bob")) == ["Bob prefers dark mode too"]
