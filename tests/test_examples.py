"""The README's demo and every example run as a user would run them (offline, fake models),
and each shows a remembered fact reaching the agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}


def left_behind(tmp: Path) -> list[Path]:
    """What a run left in its TMPDIR (onnxruntime's own session-id file ``.ses`` aside)."""
    return [p for p in tmp.iterdir() if p.name != ".ses"]


EXAMPLES = {
    "agno_agent.py": ["vegetarian"],
    "langchain_agent.py": ["vegetarian"],
    "pydantic_ai_agent.py": ["I am vegetarian and allergic to peanuts."],
    "endpoint_fastapi.py": ["My name is Ada."],
    "plain_library.py": [
        "Alice prefers dark mode",
        "after update: ['Alice switched to light mode']",
        "deleted 3 of alice's; bob still has 1",
    ],
    "hooks.py": [
        "stored: Reach Alice at [EMAIL] {'source': 'hooks-example'}",
        "rejected: memory write rejected: looks like a password",
        "[hook] search by 'alice' found 1",
        "audit operations: ['add', 'get', 'search']",
    ],
    "sessions_checkpoints.py": [
        "user: Book a table for two on Friday",
        "bob reads: []",
        "resume from: {'step': 2, 'done': ['intro']}",
    ],
    "forget.py": [
        "forgot alice: {'memories': 1, 'sessions': 1, 'checkpoints': 1, 'audit_entries':",
        "alice left: 0",
        "alice in tenant acme left: 1",
        "bob left: 1",
    ],
    "migration.py": [
        "migrated 2 memories of 2 users (success=True)",
        "same id in the new store: True",
        "search in the new store: Alice prefers window seats",
    ],
    "custom_provider.py": [
        "search: [('Alice is allergic to peanuts', 0.6)]",
        "Relevant memories about the user",
    ],
    "custom_embedder.py": [
        "object embedder:   alice keeps bees in her garden",
        "registered by name: hashing-256",
        "plain callable:     carol bakes sourdough bread",
    ],
}


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_and_shows_the_memory(script: str, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**ENV, "TMPDIR": str(tmp)},
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for expected in EXAMPLES[script]:
        assert expected in out.stdout, (expected, out.stdout)
    assert left_behind(tmp) == []  # no temporary folder left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]  # nor files in the cwd


def test_cli_demo(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "mnemoplug", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**ENV, "TMPDIR": str(tmp)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "Alice's email is [EMAIL] and her phone is [PHONE]" in text
    assert "Bob's card number is [CARD]" in text
    assert "Alice prefers dark mode in every app" in text.split("Semantic search")[1]
    assert '"operation":"search"' in text and "alice@example.com" not in text.split("Audit hook")[1]
    assert "delete_all('bob') removed 3; alice still has 6." in text
    assert "Loading weights" not in out.stderr
    assert "Recent memories about the user" in text
    assert left_behind(tmp) == []  # the demo's folder is gone


def test_cli_demo_on_a_core_install_says_lexical_only(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['sentence_transformers'] = sys.modules['onnxruntime'] = None\n"
        "from mnemoplug.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    env = {**ENV, "TMPDIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code, "demo"], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "runs lexical (BM25) search only" in out.stdout
    assert 'pip install "mnemoplug[embeddings]"' in out.stdout
    lexical = out.stdout.split("Lexical search")[1].split("What an agent")[0]
    assert "Alice prefers dark mode in every app" in lexical
    assert "Alice is allergic to peanuts" in lexical
    assert "Semantic search" not in out.stdout and "LexicalOnlyWarning" not in out.stderr
    as_json = subprocess.run(
        [sys.executable, "-c", code, "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    report = json.loads(as_json.stdout)
    assert report["lexical_only"] is True and report["stored"] == {"alice": 6, "bob": 3}
    assert all(s["hits"] for s in report["searches"])
    assert left_behind(tmp_path) == []


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
