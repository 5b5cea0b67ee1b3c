"""A writer process for the kill -9 durability test: writes memories, session messages and
checkpoints in a loop, printing each one's id on stdout once the call returned (acknowledged).

    python -m tests.trust.durable_writer sqlite /path/dir   |   postgres <table-prefix>
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any


def _stores(kind: str, where: str) -> tuple[Any, Any, Any]:
    if kind == "sqlite":
        from mnemoplug.providers.sqlite import (
            SQLiteCheckpointStore,
            SQLiteMemoryStore,
            SQLiteSessionMemory,
        )

        d = Path(where)
        return (
            SQLiteMemoryStore(path=d / "memories.db"),
            SQLiteSessionMemory(path=d / "sessions.db"),
            SQLiteCheckpointStore(path=d / "checkpoints.db"),
        )
    from mnemoplug.providers.postgres import (
        PostgresCheckpointStore,
        PostgresMemoryStore,
        PostgresSessionMemory,
    )

    url = sys.argv[3]
    return (
        PostgresMemoryStore(url, table=f"{where}_mem"),
        PostgresSessionMemory(url, table=f"{where}_sess"),
        PostgresCheckpointStore(url, table=f"{where}_ckpt"),
    )


async def main(kind: str, where: str, writer: str) -> None:
    from mnemoplug import Memory

    store, sessions, checkpoints = _stores(kind, where)
    m = Memory(store, embedder=None, session=sessions, checkpoints=checkpoints,
               load_entry_points=False)  # fmt: skip
    await m.open()
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        mid = await m.add("u", f"durable fact {writer}-{i}", {"i": i})
        print(f"m {mid}", flush=True)
        msg = await sessions.add_message(
            f"sess-{writer}", {"role": "user", "content": f"message {i}"}, user_id="u"
        )
        print(f"s {msg.id}", flush=True)
        cp = await checkpoints.save(f"run-{writer}", {"i": i}, user_id="u")
        print(f"c {cp.checkpoint_id}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[4] if len(sys.argv) > 4 else "w"))
