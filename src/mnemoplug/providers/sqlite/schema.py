"""The SQLite memory store's schema: tables, the FTS5 index and its triggers, and the schema
version (a file written by a newer mnemoplug is refused).

* ``mnemoplug_memories``: one row a memory (JSON metadata, float32 embedding blob) plus the
  per-user ``scope_token`` the FTS5 index is narrowed by;
* ``mnemoplug_fts``: external-content FTS5 index (``porter unicode61``) of each row's
  ``"speaker: content"`` (or content), kept in sync by triggers, and ``mnemoplug_fts_vocab`` over it (document frequencies);
* ``mnemoplug_users``: a generation counter per user, bumped by every write to the user;
* ``mnemoplug_meta``: ``schema_version`` and the embedder name and dimension.

Versions: 1 had no ``occurred_at``, ``speaker`` and ``seq`` columns; opening such a file adds
them (``occurred_at`` NULL reads as ``created_at``), replaces the triggers and records
version 2.
"""

from __future__ import annotations

import sqlite3

from ...core.errors import ProviderError

__all__ = ["SCHEMA", "SCHEMA_VERSION", "create_schema"]

SCHEMA_VERSION = 2
#: columns added after version 1, with their declarations
_ADDED_COLUMNS = {"occurred_at": "REAL", "speaker": "TEXT", "seq": "INTEGER NOT NULL DEFAULT 0"}

#: what the FTS5 index holds of a row (``new`` or ``old``): its content, said by its speaker
_INDEXED = "coalesce({r}.speaker || ': ', '') || {r}.content"
TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS mnemoplug_memories_ai AFTER INSERT ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(rowid, content, scope_token)
            VALUES (new.rowid, {_INDEXED.format(r="new")}, new.scope_token);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS mnemoplug_memories_ad AFTER DELETE ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(mnemoplug_fts, rowid, content, scope_token)
            VALUES ('delete', old.rowid, {_INDEXED.format(r="old")}, old.scope_token);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS mnemoplug_memories_au AFTER UPDATE OF content ON mnemoplug_memories BEGIN
        INSERT INTO mnemoplug_fts(mnemoplug_fts, rowid, content, scope_token)
            VALUES ('delete', old.rowid, {_INDEXED.format(r="old")}, old.scope_token);
        INSERT INTO mnemoplug_fts(rowid, content, scope_token)
            VALUES (new.rowid, {_INDEXED.format(r="new")}, new.scope_token);
    END""",
]

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS mnemoplug_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS mnemoplug_memories (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL DEFAULT '',
        user_id TEXT NOT NULL,
        agent_id TEXT,
        session_id TEXT,
        role TEXT,
        content TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        embedding BLOB,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        expires_at REAL,
        scope_token TEXT NOT NULL DEFAULT '',
        occurred_at REAL,
        speaker TEXT,
        seq INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE INDEX IF NOT EXISTS ix_mnemoplug_memories_scope
        ON mnemoplug_memories (tenant_id, user_id, created_at)""",
    """CREATE INDEX IF NOT EXISTS ix_mnemoplug_memories_expires
        ON mnemoplug_memories (expires_at) WHERE expires_at IS NOT NULL""",
    """CREATE TABLE IF NOT EXISTS mnemoplug_users (
        tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, user_id)
    )""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS mnemoplug_fts USING fts5(
        content, scope_token, content='mnemoplug_memories', content_rowid='rowid',
        tokenize='porter unicode61'
    )""",
    *TRIGGERS,
    """CREATE VIRTUAL TABLE IF NOT EXISTS mnemoplug_fts_vocab USING fts5vocab(mnemoplug_fts, 'row')""",
]


def create_schema(conn: sqlite3.Connection, *, where: str, name: str, url: str) -> None:
    """Create what is missing and record the schema version; refuse a newer one (in the
    caller's write transaction)."""
    for stmt in SCHEMA:
        conn.execute(stmt)
    row = conn.execute("SELECT value FROM mnemoplug_meta WHERE key='schema_version'").fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO mnemoplug_meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    elif int(row[0]) > SCHEMA_VERSION:
        raise ProviderError(
            f"{where} was written by a newer mnemoplug (schema {row[0]} > {SCHEMA_VERSION}); "
            f"upgrade mnemoplug",
            provider=name,
            url=url,
        )
    elif int(row[0]) < SCHEMA_VERSION:
        _migrate(conn)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a version-1 file to the current version (in the caller's transaction)."""
    info = conn.execute("SELECT name FROM pragma_table_info('mnemoplug_memories')")
    have = {str(r[0]) for r in info.fetchall()}
    for col, decl in _ADDED_COLUMNS.items():
        if col not in have:
            conn.execute(f"ALTER TABLE mnemoplug_memories ADD COLUMN {col} {decl}")
    # the triggers index the speaker now (version-1 rows have none: their entries stay right)
    for name in ("ai", "ad", "au"):
        conn.execute(f"DROP TRIGGER IF EXISTS mnemoplug_memories_{name}")
    for stmt in TRIGGERS:
        conn.execute(stmt)
    conn.execute(
        "UPDATE mnemoplug_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
    )
