"""Compatibility layers: code written against other libraries' memory APIs runs on mnemoplug's
session stores after changing only its import.

* :mod:`mnemoplug.compat.aakit` — AA Kit's ``MemoryBackend`` family (``InMemoryBackend``,
  ``RedisBackend``, ``SQLiteBackend``, ``PostgreSQLBackend``, ``create_memory``,
  ``migrate_memory``).
* :mod:`mnemoplug.compat.agentapi` — AgentAPI's per-conversation memories (``InMemoryMemory``,
  ``RedisMemory``, ``SQLiteMemory``, ``create_conversation_id``).

Each module is imported on its own (``from mnemoplug.compat.aakit import RedisBackend``); this
package imports neither, so importing one never pulls the other's dependencies.
"""

from __future__ import annotations

__all__: list[str] = []
