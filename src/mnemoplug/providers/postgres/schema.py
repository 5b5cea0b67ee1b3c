"""The PostgreSQL memory store's tables: names, DDL and the schema version.

Tables (``T`` is the ``table`` option, all in ``schema`` when given)::

    T          one row a memory: scope columns, content, JSONB metadata, float32 embedding
               bytes, epoch-second times, ``fts`` (a generated ``tsvector``, GIN-indexed) and,
               with pgvector, ``embedding_vec`` (see :mod:`.vector_index`)
    T_users    (tenant_id, user_id) -> generation, bumped by every write to the user in the
               same transaction as the write
    T_meta     key/value: ``schema_version`` (2) and the embedder name and dimension

The schema is created on first use under an advisory lock (``CREATE … IF NOT EXISTS`` races
otherwise); a newer ``schema_version`` is refused. Version 1 had no ``occurred_at``,
``speaker`` and ``seq`` columns: opening its tables adds them (``occurred_at`` NULL reads as
``created_at``), recomputes ``fts`` (which now covers ``"speaker: content"``) and records
version 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.errors import ProviderError
from ..sql.names import check_identifier

__all__ = ["SCHEMA_VERSION", "Tables", "create_schema"]

SCHEMA_VERSION = 2
#: columns added after version 1, with their declarations
_ADDED_COLUMNS = {
    "occurred_at": "DOUBLE PRECISION",
    "speaker": "TEXT",
    "seq": "INTEGER NOT NULL DEFAULT 0",
}
#: the longest suffix of a name derived from the table (``<table>_users_scope_idx``)
_SUFFIX_ROOM = len("_users_scope_idx")


@dataclass(frozen=True)
class Tables:
    """The table and schema options, checked, and the quoted names statements use."""

    table: str
    schema: str | None = None

    @classmethod
    def of(cls, table: Any, schema: Any) -> Tables:
        """Checked options: plain SQL identifiers, short enough for the derived names."""
        return cls(
            check_identifier(table, "table name", max_len=63 - _SUFFIX_ROOM),
            None if schema is None else check_identifier(schema, "schema name"),
        )

    def _q(self, name: str) -> str:
        return f'"{self.schema}"."{name}"' if self.schema else f'"{name}"'

    @property
    def memories(self) -> str:
        return self._q(self.table)

    @property
    def users(self) -> str:
        return self._q(f"{self.table}_users")

    @property
    def meta(self) -> str:
        return self._q(f"{self.table}_meta")

    def index(self, suffix: str) -> str:
        """An index name (indexes live in the table's schema)."""
        return f'"{self.table}_{suffix}"'


async def lock(conn: Any, tables: Tables) -> None:
    """Serialise schema changes of these tables (until the transaction ends)."""
    from sqlalchemy import text

    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"mnemoplug:{tables.memories}"}
    )


async def create_schema(
    conn: Any, tables: Tables, *, text_search_config: str, url: str, name: str
) -> None:
    """Create what is missing (in the caller's transaction) and record the schema version;
    ProviderError when the tables were written by a newer mnemoplug."""
    from sqlalchemy import text

    t, cfg = tables.memories, text_search_config
    # full text of each row's "speaker: content" (or content)
    fts = (
        f"TSVECTOR GENERATED ALWAYS AS (to_tsvector('{cfg}'::regconfig, "
        "coalesce(speaker || ': ', '') || content)) STORED"
    )
    fts_index = f"CREATE INDEX IF NOT EXISTS {tables.index('fts_idx')} ON {t} USING GIN (fts)"
    await lock(conn, tables)
    if tables.schema:
        await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{tables.schema}"')
    await conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {tables.meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    )
    version_sql = f"SELECT value FROM {tables.meta} WHERE key = 'schema_version'"
    row = (await conn.execute(text(version_sql))).first()
    if row is not None and int(row[0]) > SCHEMA_VERSION:
        raise ProviderError(
            f"table {t} at {url} was written by a newer mnemoplug (schema "
            f"version {row[0]} > {SCHEMA_VERSION}); upgrade mnemoplug to use it",
            provider=name,
            url=url,
        )
    for stmt in (
        f"""CREATE TABLE IF NOT EXISTS {t} (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL DEFAULT '',
            user_id TEXT NOT NULL,
            agent_id TEXT,
            session_id TEXT,
            role TEXT,
            content TEXT NOT NULL,
            metadata JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            embedding BYTEA,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION,
            occurred_at DOUBLE PRECISION,
            speaker TEXT,
            seq INTEGER NOT NULL DEFAULT 0,
            fts {fts}
        )""",
        f"CREATE INDEX IF NOT EXISTS {tables.index('scope_idx')} ON {t} "
        "(tenant_id, user_id, created_at)",
        f"CREATE INDEX IF NOT EXISTS {tables.index('agent_idx')} ON {t} "
        "(tenant_id, user_id, agent_id, session_id)",
        f"CREATE INDEX IF NOT EXISTS {tables.index('expires_idx')} ON {t} (expires_at) "
        "WHERE expires_at IS NOT NULL",
        fts_index,
        f"""CREATE TABLE IF NOT EXISTS {tables.users} (
            tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
            generation BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, user_id)
        )""",
    ):
        await conn.exec_driver_sql(stmt)
    if row is not None and int(row[0]) < SCHEMA_VERSION:
        for col, decl in _ADDED_COLUMNS.items():
            await conn.exec_driver_sql(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {col} {decl}")
        # the full text covers the speaker now: computed again (with its index)
        await conn.exec_driver_sql(f"ALTER TABLE {t} DROP COLUMN IF EXISTS fts")
        await conn.exec_driver_sql(f"ALTER TABLE {t} ADD COLUMN fts {fts}")
        await conn.exec_driver_sql(fts_index)
    await conn.execute(
        text(
            f"INSERT INTO {tables.meta} (key, value) VALUES ('schema_version', :v) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ),
        {"v": str(SCHEMA_VERSION)},
    )
