"""AA Kit's memory API on mnemoplug's session stores: change ``from aakit import ...`` to
``from mnemoplug.compat.aakit import ...`` and the code runs unchanged.

Every backend wraps one :class:`~mnemoplug.core.stores.SessionStore` (kept in ``.store``):

==========================  =====================================================
``InMemoryBackend``         :class:`~mnemoplug.providers.inprocess.InMemorySessionMemory`
``RedisBackend``            :class:`~mnemoplug.providers.redis.RedisSessionMemory`
``SQLiteBackend``           :class:`~mnemoplug.providers.sqlite.SQLiteSessionMemory`
``PostgreSQLBackend``       :class:`~mnemoplug.providers.postgres.PostgresSessionMemory`
==========================  =====================================================

Semantics (where AA Kit's reference leaves room):

* ``save(session_id, messages)`` **appends** ``messages`` to the session, atomically (all or
  none), keeping each message's id, timestamp and metadata; ``load(session_id, limit)`` returns
  the last ``limit`` messages, oldest first (``[]`` for an unknown session).
* ``clear(None)`` clears every session of the backend; ``clear_old_sessions(older_than=...)``
  takes a datetime cut-off — a *naive* datetime (``datetime.now() - timedelta(days=30)``) is
  read as local time, as AA Kit's examples write it — or a timedelta age; it returns how many
  sessions were deleted.
* :class:`Message` and :class:`SessionInfo` are mnemoplug's own (a superset of AA Kit's
  shapes: messages also carry an ``id``; infos ``user_id``/``tenant_id``).
* ``RedisBackend(client=...)`` takes a ``redis.asyncio.Redis`` as is. A synchronous
  ``redis.Redis`` (as AA Kit's examples pass) is not used for I/O: its address and credentials
  (host, port, db, username, password, TLS, timeouts, pool size) are copied into an async
  client the backend owns. Clients it cannot translate raise ConfigurationError.
"""

from __future__ import annotations

from ...core.session import Message, SessionInfo
from .base import MemoryBackend
from .factory import MemoryConfig, MigrationResult, create_memory, migrate_memory
from .sql import PostgreSQLBackend, SQLiteBackend
from .stores import InMemoryBackend, RedisBackend

__all__ = [
    "InMemoryBackend",
    "MemoryBackend",
    "MemoryConfig",
    "Message",
    "MigrationResult",
    "PostgreSQLBackend",
    "RedisBackend",
    "SQLiteBackend",
    "SessionInfo",
    "create_memory",
    "migrate_memory",
]
