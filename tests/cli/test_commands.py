"""The ``mnemoplug`` command on real SQLite files: in process through ``main(argv)`` (the
CLI runner) and, where the exit path matters (tracebacks, files created), as a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mnemoplug
from mnemoplug.cli import build_parser, main
from mnemoplug.providers.sqlite.memory_store import SQLiteMemoryStore

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def subprocess_cli(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mnemoplug", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        input=stdin,
    )


def test_every_command_and_option_has_help_and_json() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert set(helps) == set(sub.choices)
    servers = {"mcp", "serve"}  # they speak MCP / HTTP until stopped: no output to format
    assert servers <= set(sub.choices)
    for name, p in sub.choices.items():
        assert helps[name], name
        options = {s for a in p._actions for s in a.option_strings}
        assert ("--json" in options) != (name in servers), name
        for action in p._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
    for name in ("add", "search", "list", "get", "delete", "delete-all", "count"):
        options = {s for a in sub.choices[name]._actions for s in a.option_strings}
        assert {"--db", "--tenant", "--agent", "--session"} <= options, name


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mnemoplug {mnemoplug.__version__}"


def test_add_get_list_count_search_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/m.db"]
    tea = cli(
        capsys,
        "add",
        "u1",
        "User drinks green tea every morning",
        *db,
        "--metadata",
        '{"topic": "food"}',
    ).strip()
    added = json.loads(
        cli(
            capsys,
            "add",
            "u1",
            "User's meeting notes for the launch",
            *db,
            "--session",
            "s1",
            "--agent",
            "a1",
            "--ttl",
            "2h",
            "--json",
        )
    )
    cli(capsys, "add", "u1", "Tenant copy of the user", *db, "--tenant", "acme")
    cli(capsys, "add", "u2", "Bob drinks black coffee", *db)

    got = json.loads(cli(capsys, "get", "u1", added["id"], *db, "--json"))
    assert got["session_id"] == "s1" and got["agent_id"] == "a1" and "expires_at" in got
    assert "User drinks green tea" in cli(capsys, "get", "u1", tea, *db)

    rows = json.loads(cli(capsys, "list", "u1", *db, "--json"))
    assert [r["id"] for r in rows] == [added["id"], tea]  # newest first, default tenant only
    assert (
        json.loads(cli(capsys, "list", "u1", *db, "--session", "s1", "--json"))[0]["id"]
        == added["id"]
    )
    assert (
        json.loads(cli(capsys, "list", "u1", *db, "--filter", '{"topic": "food"}', "--json"))[0][
            "id"
        ]
        == tea
    )
    assert cli(capsys, "count", "u1", *db).strip() == "2"
    assert json.loads(cli(capsys, "count", "u1", *db, "--tenant", "acme", "--json")) == {"count": 1}
    users = json.loads(cli(capsys, "users", *db, "--json"))
    assert sorted((u["tenant_id"], u["user_id"]) for u in users) == [
        ("", "u1"),
        ("", "u2"),
        ("acme", "u1"),
    ]
    assert sorted(cli(capsys, "users", *db, "--tenant", "acme").splitlines()) == ["acme\tu1"]

    hits = json.loads(cli(capsys, "search", "u1", "What does the user drink?", *db, "--json"))
    assert hits[0]["id"] == tea and 0 <= hits[0]["score"] <= 1
    assert all(h["user_id"] == "u1" for h in hits)
    assert cli(capsys, "search", "u1", "drink", *db, "--filter", '{"topic": "none"}') == ""

    code, _, err = run(capsys, "delete", "u2", tea, *db)  # another user's memory: not found
    assert code == 1 and "no memory" in err
    assert json.loads(cli(capsys, "delete", "u1", tea, *db, "--json")) == {"deleted": 1}
    assert json.loads(cli(capsys, "delete-all", "u1", *db, "--json")) == {"deleted": 1}
    assert cli(capsys, "count", "u1", *db, "--tenant", "acme").strip() == "1"
    assert cli(capsys, "count", "u2", *db).strip() == "1"


def test_update(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/m.db"]
    mid = cli(capsys, "add", "u1", "old text", *db).strip()
    rec = json.loads(cli(capsys, "update", "u1", mid, *db, "--metadata", '{"k": 2}', "--json"))
    assert rec["content"] == "old text" and rec["metadata"] == {"k": 2}
    code, _, err = run(capsys, "update", "u1", mid, *db)
    assert code == 2 and "needs TEXT" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["add", "u1", "x", "--metadata", "{bad"], "--metadata is not valid JSON"),
        (["search", "u1", "x", "--filter", "[1]"], "--filter must be a JSON object"),
        (["list", "u1", "--filter", '{"a": {"$nope": 1}}'], "$nope"),
        (["add", " ", "x"], "user_id"),
        (["add", "u1", "x", "--ttl", "soon"], "invalid TTL"),
        (["list"], "the following arguments are required: user"),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    db = tmp_path / "m.db"
    SQLiteMemoryStore(f"sqlite:///{db}")  # nothing opened: no file either
    if argv[0] == "list":
        subprocess_cli("add", "u1", "seed", "--db", f"sqlite:///{db}")
    out = subprocess_cli(*argv, "--db", f"sqlite:///{db}")
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_reading_commands_never_create_files(tmp_path: Path) -> None:
    missing = tmp_path / "sub" / "missing.db"
    url = f"sqlite:///{missing}"
    for argv in (
        ["list", "u1"],
        ["search", "u1", "q"],
        ["get", "u1", "some-id"],
        ["count", "u1"],
        ["users"],
        ["export"],
        ["delete-all", "u1"],
        ["forget", "u1"],
    ):
        out = subprocess_cli(*argv, "--db", url)
        assert out.returncode == 1, (argv, out.stdout)
        assert (
            out.stderr.strip()
            == f"mnemoplug: no database at {missing} (nothing is stored there; check the URL)"
        )
    migrate = subprocess_cli("migrate", url, f"sqlite:///{tmp_path}/target.db")
    assert migrate.returncode == 1 and "no source database" in migrate.stderr
    assert list(tmp_path.iterdir()) == []


def test_default_db_path_is_not_created_by_list(tmp_path: Path) -> None:
    env = {**ENV, "MNEMOPLUG_DB_PATH": str(tmp_path / "default.db")}
    out = subprocess.run(
        [sys.executable, "-m", "mnemoplug", "list", "u1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 1 and "no database" in out.stderr
    assert not (tmp_path / "default.db").exists()


async def _seed(db: Path) -> dict[str, object]:
    mem = mnemoplug.Memory(f"sqlite:///{db}", embedder="default", load_entry_points=False)
    async with mem:
        a = await mem.add("u1", "User likes sailing", {"k": [1, 2]}, ttl=3600, session_id="s1")
        await mem.add("u1", "User lives in Porto", tenant_id="acme", agent_id="bot")
        await mem.add("u2", "Bob plays chess")
    return {"id": a}


def _rows(db: Path) -> dict[str, tuple[object, ...]]:
    import asyncio

    async def read() -> dict[str, tuple[object, ...]]:
        store = SQLiteMemoryStore(f"sqlite:///{db}")
        out: dict[str, tuple[object, ...]] = {}
        async with store:
            for tenant, user in await store.list_users():
                async for batch in store.export(tenant, user, 100):
                    for m in batch:
                        vec = None if m.embedding is None else np.asarray(m.embedding).tobytes()
                        out[m.id] = (
                            m.user_id, m.tenant_id, m.agent_id, m.session_id, m.role, m.content,
                            m.metadata, m.created_at, m.updated_at, m.expires_at, vec,
                        )  # fmt: skip
        return out

    return asyncio.run(read())


def test_export_import_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    src = tmp_path / "src.db"
    asyncio.run(_seed(src))
    before = _rows(src)
    assert len(before) == 3 and all(r[-1] is not None for r in before.values())

    dump = cli(capsys, "export", "--db", f"sqlite:///{src}")
    assert len(dump.splitlines()) == 3
    only_u1 = cli(capsys, "export", "--db", f"sqlite:///{src}", "--user", "u1")
    assert {json.loads(line)["user_id"] for line in only_u1.splitlines()} == {"u1"}
    assert len(only_u1.splitlines()) == 2

    out_file = tmp_path / "dump.jsonl"
    summary = json.loads(
        cli(capsys, "export", "--db", f"sqlite:///{src}", "--output", str(out_file), "--json")
    )
    assert summary == {"users": 3, "memories": 3} and out_file.read_text() == dump

    dst = tmp_path / "dst.db"
    code, out, err = run(capsys, "import", str(out_file), "--db", f"sqlite:///{dst}", "--json")
    assert code == 0, err
    assert json.loads(out) == {"users": 3, "memories": 3}
    assert "importing: 3/3 memories" in err
    assert _rows(dst) == before  # ids, scopes, timestamps, expiry, vectors
    cli(capsys, "import", str(out_file), "--db", f"sqlite:///{dst}")  # again: nothing changes
    assert _rows(dst) == before

    # stdin, through the real command
    piped = subprocess_cli("import", "-", "--db", f"sqlite:///{tmp_path}/piped.db", stdin=dump)
    assert piped.returncode == 0, piped.stderr
    assert _rows(tmp_path / "piped.db") == before


def test_import_bad_line_stores_nothing(tmp_path: Path) -> None:
    good = json.dumps({"id": "m1", "user_id": "u1", "content": "fine"})
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text(good + "\n{not json\n")
    db = tmp_path / "t.db"
    out = subprocess_cli("import", str(bad_file), "--db", f"sqlite:///{db}")
    assert out.returncode == 2
    assert out.stderr.strip().startswith(f"mnemoplug: {bad_file} line 2 is not valid JSON")
    assert not db.exists()
    bad_file.write_text(json.dumps({"id": "m1", "content": "no user"}) + "\n")
    out = subprocess_cli("import", str(bad_file), "--db", f"sqlite:///{db}")
    assert out.returncode == 2 and "lacks user_id" in out.stderr
    out = subprocess_cli("import", str(tmp_path / "nope.jsonl"), "--db", f"sqlite:///{db}")
    assert out.returncode == 2 and "no file" in out.stderr and not db.exists()


def test_forget_clears_sessions_and_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    sessions, checkpoints = f"sqlite:///{tmp_path}/s.db", f"sqlite:///{tmp_path}/c.db"
    db = f"sqlite:///{tmp_path}/m.db"

    async def seed() -> None:
        mem = mnemoplug.Memory(
            db, embedder=None, session=sessions, checkpoints=checkpoints, load_entry_points=False
        )
        async with mem:
            for user in ("u1", "u2"):
                await mem.add(user, f"{user} fact")
                await mem.session.add_message(
                    "s-" + user, {"role": "user", "content": "hi"}, user_id=user
                )
                await mem.checkpoints.save("run", {"step": 1}, user_id=user)

    asyncio.run(seed())
    counts = json.loads(
        cli(
            capsys,
            "forget",
            "u1",
            "--db",
            db,
            "--session-db",
            sessions,
            "--checkpoint-db",
            checkpoints,
            "--json",
        )
    )
    assert counts == {"memories": 1, "sessions": 1, "checkpoints": 1, "audit_entries": 0}
    assert cli(capsys, "count", "u2", "--db", db).strip() == "1"
    again = json.loads(cli(capsys, "forget", "u2", "--db", db, "--session-db", sessions, "--json"))
    assert again["memories"] == 1 and again["sessions"] == 1 and again["checkpoints"] == 0


def test_core_install_warns_in_one_line_and_python_m_cli_works(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['sentence_transformers'] = sys.modules['onnxruntime'] = None\n"
        "from mnemoplug.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    db = f"sqlite:///{tmp_path}/core.db"
    out = subprocess.run(
        [sys.executable, "-c", code, "add", "u1", "User likes tea", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines() == [
        "mnemoplug: LexicalOnlyWarning: onnxruntime and tokenizers are not installed, so "
        "mnemoplug uses lexical (BM25) retrieval only. For semantic search: "
        'pip install "mnemoplug[embeddings]"'
    ]
    count = subprocess.run(
        [sys.executable, "-m", "mnemoplug.cli", "count", "u1", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert count.returncode == 0 and count.stdout.strip() == "1"
