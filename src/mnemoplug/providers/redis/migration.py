"""The memory store's schema 1 -> 2 migration: keys renamed into the hash-tagged layout.

Schema 1 (see :mod:`.keys`) wrote ``P:m:<id>``, ``P:u:<u>:ids``, ``P:u:<u>:gen`` and one
store-wide ``P:exp``. :func:`migrate_to_hash_tags` runs when a store opens and finds schema 1 in
``P:meta``:

1. every ``P:m:<id>`` (found by SCAN) moves to ``P:{<u>}:m:<id>``, ``<u>`` read from the
   memory's own JSON, together with its ``P:exp`` entry (and the user's ``P:due`` bound), in
   one Lua script per memory (:data:`~.scripts.MIGRATE_MEMORY`);
2. every ``P:u:<u>:ids`` and ``P:u:<u>:gen`` moves to ``P:{<u>}:ids`` / ``P:{<u>}:gen``
   (:data:`~.scripts.MIGRATE_USER_KEY`);
3. what is left of ``P:exp`` (entries of memories that were gone) is deleted, and ``P:meta``
   says schema 2.

Each step is atomic per key and does nothing for a key already moved, so a crash (or a second
process opening the store meanwhile) leaves a state the next open completes; the schema is
bumped last. ``P:users`` and ``P:epoch`` keep their names. Writers of an older mnemoplug must be
stopped first: they would keep writing the old names (a newer schema makes an older mnemoplug
refuse to open the store). Schema 1 only ever worked on a single server; on a cluster, old keys
are refused with a ConfigurationError (the renames would cross slots).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import ConfigurationError
from .codec import decode_memory, text
from .keys import MemoryKeys, glob_escape, member, parse_member
from .scripts import MIGRATE_MEMORY, MIGRATE_USER_KEY

__all__ = ["migrate_to_hash_tags"]

_BATCH = 500


async def _scan(client: Any, pattern: str) -> list[str]:
    return [text(k) async for k in client.scan_iter(match=pattern, count=_BATCH)]


async def migrate_to_hash_tags(client: Any, keys: MemoryKeys, *, cluster: bool, where: str) -> int:
    """Move schema 1 keys under ``keys.prefix`` to schema 2 (the module docstring); return how
    many keys moved. ``where`` names the store in errors."""
    p = glob_escape(keys.prefix)
    old_memories = await _scan(client, f"{p}:m:*")
    old_users = await _scan(client, f"{p}:u:*")
    if cluster and (old_memories or old_users):
        raise ConfigurationError(
            f"Redis store {where} holds memories in the layout of an older mnemoplug "
            f"(schema 1), which cannot be renamed in place on a Redis Cluster (the keys would "
            f"change slots). Open it once on a single server to migrate it, or copy the "
            f"memories with migrate_memory(); nothing was changed"
        )
    moved = 0
    old_exp = f"{keys.prefix}:exp"
    head = f"{keys.prefix}:m:"
    move_memory = client.register_script(MIGRATE_MEMORY)
    for i in range(0, len(old_memories), _BATCH):
        batch = old_memories[i : i + _BATCH]
        async with client.pipeline(transaction=False) as pipe:
            for k in batch:
                pipe.hget(k, "j")
            blobs = await pipe.execute()
        for k, blob in zip(batch, blobs, strict=True):
            m = decode_memory(blob) if blob else None
            if m is None or not k.startswith(head) or k[len(head) :] != m.id:
                continue  # not one of ours (or gone meanwhile): left as it is
            user = (m.tenant_id, m.user_id)
            moved += int(
                await move_memory(
                    keys=[
                        k,
                        keys.memory(user, m.id),
                        old_exp,
                        keys.user(user, "exp"),
                        keys.due,
                    ],
                    args=[m.id, member(user)],
                )
            )
    move_user_key = client.register_script(MIGRATE_USER_KEY)
    head = f"{keys.prefix}:u:"
    for k in old_users:
        user_part, _, what = k[len(head) :].rpartition(":")
        if what not in ("ids", "gen") or user_part.count(":") != 1:
            continue
        new_key = keys.user(parse_member(user_part), what)
        moved += int(await move_user_key(keys=[k, new_key], args=[]))
    await client.delete(old_exp)
    await client.hset(keys.meta, "schema", "2")
    return moved
