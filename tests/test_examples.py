"""The README's demo and every example run as a user would run them (offline, fake models),
and each shows a remembered fact reaching the agent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}

EXAMPLES = {
    "agno_agent.py": "vegetarian",
    "langchain_agent.py": "vegetarian",
    "pydantic_ai_agent.py": "I am vegetarian and allergic to peanuts.",
    "endpoint_fastapi.py": "My name is Ada.",
}


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_and_shows_the_memory(script: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert EXAMPLES[script] in out.stdout


def test_cli_demo(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mnemoplug", "demo", "--db", f"sqlite:///{tmp_path}/demo.db"],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "Alice's email is [EMAIL] and her phone is [PHONE]" in text
    assert "Bob's card number is [CARD]" in text
    assert "Alice prefers dark mode in every app" in text.split("Semantic search")[1]
    assert '"operation":"search"' in text and "alice@example.com" not in text.split("Audit hook")[1]
    assert "delete_all('bob') removed 3; alice still has 6." in text
    assert "Loading weights" not in out.stderr


def test_cli_add_search_list(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"

    def cli(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "mnemoplug", *args, "--db", db],
            capture_output=True,
            text=True,
            timeout=300,
            env=ENV,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    mid = cli("add", "u1", "User prefers dark mode").strip()
    assert mid in cli("search", "u1", "Which UI theme does the user like?")
    assert "User prefers dark mode" in cli("list", "u1")
    assert cli("list", "u2").strip() == ""
    bad = subprocess.run(
        [sys.executable, "-m", "mnemoplug", "add", " ", "x", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert bad.returncode == 2 and "user_id" in bad.stderr
