"""``mnemoplug rotate-key``: re-encrypt an ``EncryptedProvider``'s memories, session messages
and checkpoints with a new key (resumable: run it again after an interruption)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ._common import CommandError, existing_only

__all__ = ["register"]


def register(commands: Any) -> None:
    p = commands.add_parser(
        "rotate-key",
        help="re-encrypt an encrypted store with a new key (safe to re-run)",
        description="Re-encrypt every memory of --db (and every session message of "
        "--session-db, every checkpoint of --checkpoint-db) with the new key. Rows already "
        "under the new key are left alone, so an interrupted run is finished by running it "
        "again. Drop the old key only after it succeeded. Prints a JSON summary.",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        help="the memory store URL (default: the SQLite default file)",
    )
    p.add_argument(
        "--session-db", metavar="URL", help="also re-encrypt the session messages stored there"
    )
    p.add_argument(
        "--checkpoint-db", metavar="URL", help="also re-encrypt the checkpoints stored there"
    )
    p.add_argument(
        "--no-memories",
        action="store_true",
        help="leave the memory store alone (rotate only --session-db / --checkpoint-db)",
    )
    p.add_argument(
        "--new-key", metavar="KEY", help="the new Fernet key (or $MNEMOPLUG_NEW_ENCRYPTION_KEY)"
    )
    p.add_argument(
        "--old-key",
        action="append",
        metavar="KEY",
        help="a key the data is encrypted with now (repeatable; or $MNEMOPLUG_ENCRYPTION_KEY, "
        "comma-separated)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON (the default)")
    p.set_defaults(handler=_rotate_key)


async def _rotate_key(args: argparse.Namespace) -> int:
    from ..core.checkpoints import checkpoint_store_from_url
    from ..core.memory import provider_from_url
    from ..core.registry import store_by_name
    from ..core.session import session_memory_from_url
    from ..encryption import rotate

    new_key = args.new_key or os.environ.get("MNEMOPLUG_NEW_ENCRYPTION_KEY")
    if not new_key:
        raise CommandError(
            "rotate-key needs the new key: --new-key KEY or $MNEMOPLUG_NEW_ENCRYPTION_KEY", 2
        )
    old_keys = args.old_key or [
        k for k in os.environ.get("MNEMOPLUG_ENCRYPTION_KEY", "").split(",") if k.strip()
    ]
    targets: list[tuple[str, Any]] = []
    if not args.no_memories:
        store = provider_from_url(args.db) if args.db else store_by_name("memory", "sqlite")
        targets.append(("memories", store))
    if args.session_db:
        targets.append(("sessions", session_memory_from_url(args.session_db)))
    if args.checkpoint_db:
        targets.append(("checkpoints", checkpoint_store_from_url(args.checkpoint_db)))
    if not targets:
        raise CommandError("--no-memories needs --session-db or --checkpoint-db", 2)
    for kind, target in targets:
        existing_only(target, f"{kind} database")

    def progress(p: Any) -> None:
        unit = "sessions" if p.kind == "sessions" else "users"
        print(
            f"\rrotating {p.kind}: {p.users_done}/{p.users_total} {unit}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    summary: dict[str, int] = {}
    for kind, target in targets:
        async with target:
            result = await rotate(target, new_key, old_keys, progress=progress)
        print(file=sys.stderr)
        if kind == "memories":
            summary.update(users=result.users, rotated=result.rotated, unchanged=result.unchanged)
        elif kind == "sessions":
            summary.update(
                sessions=result.sessions,
                messages_rotated=result.messages_rotated,
                messages_unchanged=result.messages_unchanged,
            )
        else:
            summary.update(
                checkpoints_rotated=result.checkpoints_rotated,
                checkpoints_unchanged=result.checkpoints_unchanged,
            )
    print(json.dumps(summary))
    return 0
