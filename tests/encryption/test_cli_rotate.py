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
