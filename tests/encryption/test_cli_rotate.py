"""``mnemoplug rotate-key`` re-encrypts a real SQLite store in a subprocess, resumably."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from mnemoplug import EncryptedProvider, SQLiteProvider


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


async def test_rotate_key_command(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db = tmp_path / "enc.db"
    mem = EncryptedProvider(provider=SQLiteProvider(db, embedder=None), encryption_key=old)
    for user in ("u1", "u2"):
        await mem.add(user, f"{user} keeps the code kiwi-{user}", {"tag": "secret"})
    await mem.close()
    env = {**os.environ, "MNEMOPLUG_ENCRYPTION_KEY": old, "MNEMOPLUG_NEW_ENCRYPTION_KEY": new}
    cmd = [sys.executable, "-m", "mnemoplug", "rotate-key", "--db", f"sqlite:///{db}"]
    first = await asyncio.to_thread(_run, cmd, env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"users": 2, "rotated": 2, "unchanged": 0}
    assert "2/2 users" in first.stderr
    again = await asyncio.to_thread(_run, cmd, env)
    assert json.loads(again.stdout) == {"users": 2, "rotated": 0, "unchanged": 2}
    only_new = EncryptedProvider(provider=SQLiteProvider(db, embedder=None), encryption_key=new)
    assert [r.content for r in await only_new.get_all("u2")] == ["u2 keeps the code kiwi-u2"]
    await only_new.close()
    env.pop("MNEMOPLUG_NEW_ENCRYPTION_KEY")
    missing = await asyncio.to_thread(_run, cmd, env)
    assert missing.returncode == 2 and "--new-key" in missing.stderr


async def test_rotate_key_command_covers_sessions_and_checkpoints(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db, sdb, cdb = (f"sqlite:///{tmp_path}/{n}.db" for n in ("mem", "sess", "cps"))

    def provider(key: str) -> EncryptedProvider:
        return EncryptedProvider(
            provider=SQLiteProvider(
                db.removeprefix("sqlite:///"), embedder=None, session=sdb, checkpoints=cdb
            ),
            encryption_key=key,
        )

    mem = provider(old)
    await mem.add("u1", "u1 keeps the code kiwi-1")
    await mem.session.add_messages(
        "s1",
        [{"role": "user", "content": "my locker is 4411"}, {"role": "assistant", "content": "ok"}],
        user_id="u1",
    )
    await mem.checkpoints.save("run-1", {"step": 3, "secret": "orchid"}, user_id="u1")
    await mem.close()
    env = {**os.environ, "MNEMOPLUG_ENCRYPTION_KEY": old}
    cmd = [
        *(sys.executable, "-m", "mnemoplug", "rotate-key", "--db", db),
        *("--session-db", sdb, "--checkpoint-db", cdb, "--new-key", new),
    ]
    first = await asyncio.to_thread(_run, cmd, env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {
        "users": 1,
        "rotated": 1,
        "unchanged": 0,
        "sessions": 1,
        "messages_rotated": 2,
        "messages_unchanged": 0,
        "checkpoints_rotated": 1,
        "checkpoints_unchanged": 0,
    }
    assert "rotating sessions: 1/1 sessions" in first.stderr
    again = json.loads((await asyncio.to_thread(_run, cmd, env)).stdout)
    assert again["messages_rotated"] == 0 and again["messages_unchanged"] == 2
    assert again["checkpoints_rotated"] == 0 and again["checkpoints_unchanged"] == 1

    fresh = provider(new)  # the new key alone reads everything
    assert [m.content for m in await fresh.session.get_messages("s1")] == [
        "my locker is 4411",
        "ok",
    ]
    cp = await fresh.checkpoints.load("run-1", user_id="u1")
    assert cp is not None and cp.state == {"step": 3, "secret": "orchid"}
    await fresh.close()

    only_sessions = [*cmd[:4], "--no-memories", "--session-db", sdb, "--new-key", new]
    out = await asyncio.to_thread(_run, only_sessions, {**env, "MNEMOPLUG_ENCRYPTION_KEY": new})
    assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout)) == {"sessions", "messages_rotated", "messages_unchanged"}

    missing = [*cmd[:4], "--db", db, "--session-db", f"sqlite:///{tmp_path}/nope.db"]
    out = await asyncio.to_thread(_run, [*missing, "--new-key", new], env)
    assert out.returncode == 1 and "no sessions database" in out.stderr
    assert not (tmp_path / "nope.db").exists()
