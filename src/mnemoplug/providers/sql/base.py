"""What the SQL session and checkpoint stores share (:mod:`.stores`): the dialects of SQLite
and PostgreSQL, and :class:`SQLBase` — the engine's life cycle (lazy open with schema
creation, close), read and write transactions, and driver errors as mnemoplug errors (on
PostgreSQL through :class:`~mnemoplug.providers.postgres.errors.PostgresErrors`, with its
timeouts; a failure while committing says the write may have been applied).

SQLAlchemy is imported when a store first opens its engine, not with these modules: building
a ``Memory(session=..., checkpoints=...)`` stays cheap (cold start)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ...core.errors import MnemoplugError, ProviderError
from ...core.urls import redact_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = [
    "MAX_TABLE_CHARS",
    "POSTGRES",
    "RETRY_WINDOW",
    "SQLITE",
    "Dialect",
    "SQLBase",
    "text",
]


def text(sql: str) -> Any:
    """SQLAlchemy's ``text(sql)``, SQLAlchemy imported at the first call."""
    from sqlalchemy import text as sql_text

    return sql_text(sql)


def _driver_error(exc: Exception) -> bool:
    """True for the errors of the database drivers (through SQLAlchemy or not)."""
    if isinstance(exc, sqlite3.Error | OSError):
        return True
    from sqlalchemy.exc import DBAPIError, OperationalError  # imported: an engine raised

    return isinstance(exc, OperationalError | DBAPIError)


@dataclass(frozen=True)
class Dialect:
    name: str
    seq: str
    real: str
    blob: str
    for_update: str
    #: the message id inside a message row's JSON ``data``
    message_id: str


SQLITE = Dialect(
    "sqlite",
    "seq INTEGER PRIMARY KEY AUTOINCREMENT",
    "REAL",
    "BLOB",
    "",
    "json_extract(data, '$.id')",
)
POSTGRES = Dialect(
    "postgres",
    "seq BIGSERIAL PRIMARY KEY",
    "DOUBLE PRECISION",
    "BYTEA",
    " FOR UPDATE",
    "(data::json ->> 'id')",
)
#: how many of a session's last messages an append checks for the ids it brings (retries)
RETRY_WINDOW = 16


#: longest table option: derived names (``<table>_messages``, ``ix_<table>_owner``) must fit
MAX_TABLE_CHARS = 40


class SQLBase:
    """Engine life cycle: lazy open with schema creation, close, errors typed.

    Connections, the pool's queue and the locks belong to the event loop that made them. When
    the store is used from a new loop (a second ``asyncio.run``, another thread's loop), it
    opens a new engine and new locks there and drops the previous loop's, as the memory
    providers do; the data is in the database, so nothing is lost."""

    dialect: Dialect
    url: str
    name: ClassVar[str]

    def _init_sql(self, dialect: Dialect, make_engine: Callable[[], AsyncEngine]) -> None:
        self.dialect = dialect
        self._make_engine = make_engine
        self._engine: AsyncEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock: asyncio.Lock | None = None
        self._write_lock: asyncio.Lock | None = None

    def _schema(self) -> list[str]:
        raise NotImplementedError

    def _errors(self) -> Any:
        """The error mapping: :class:`~..postgres.errors.PostgresErrors` on PostgreSQL (set by
        the backend), else SQLite errors as ProviderError."""
        return getattr(self, "_pg_errors", None)

    @contextlib.contextmanager
    def _guard(self, what: str, *, committing: bool = False) -> Iterator[None]:
        """Driver errors inside as mnemoplug errors: ProviderUnavailableError when the server
        is out of reach (PostgreSQL), ProviderError otherwise. ``committing``: the error came
        while committing, so the write may have been applied (the message says so)."""
        pg = self._errors()
        if pg is not None:
            with pg.guard(what, committing=committing):
                yield
            return
        try:
            yield
        except MnemoplugError:
            raise
        except Exception as exc:
            if not _driver_error(exc):
                raise
            maybe = (
                " It may have been applied (the error came while committing)."
                if committing
                else " Nothing was changed."
            )
            raise ProviderError(
                f"the {self.name} store at {redact_url(self.url)} failed to {what}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}.{maybe}",
                provider=self.name,
                url=redact_url(self.url),
            ) from exc

    async def _check_loop(self) -> None:
        """Forget the engine and locks of a previous event loop (closing what can be)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        old, self._engine = self._engine, None
        self._loop = loop
        self._open_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        if old is not None:
            # aiosqlite connections run in their own threads and close from any loop;
            # asyncpg connections belong to the finished loop: only drop the pool
            await old.dispose(close=self.dialect is SQLITE)

    async def open(self) -> AsyncEngine:
        """Connect and create the tables when needed (idempotent; once per event loop)."""
        await self._check_loop()
        if self._engine is not None:
            return self._engine
        assert self._open_lock is not None
        async with self._open_lock:
            if self._engine is not None:
                return self._engine
            eng = self._make_engine()
            try:
                with self._guard("create its tables"):
                    async with asyncio.timeout(self._open_timeout()):
                        async with eng.begin() as conn:
                            if self.dialect is POSTGRES:  # CREATE … IF NOT EXISTS races
                                await conn.execute(
                                    text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                                    {"k": f"mnemoplug-schema:{getattr(self, 'table', '')}"},
                                )
                            for stmt in self._schema():
                                await conn.execute(text(stmt))
            except BaseException:
                await eng.dispose()
                raise
            self._engine = eng
            return eng

    def _open_timeout(self) -> float | None:
        pg = self._errors()
        return None if pg is None else pg.connect_timeout + 2 * pg.command_timeout

    async def close(self) -> None:
        eng, self._engine = self._engine, None
        same_loop = self._loop is asyncio.get_running_loop()
        self._loop = None
        if eng is not None:
            await eng.dispose(close=same_loop or self.dialect is SQLITE)

    @contextlib.asynccontextmanager
    async def _read(self, what: str = "read") -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction for reads; errors typed."""
        eng = await self.open()
        with self._guard(what):
            async with eng.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _write(self, what: str = "write") -> AsyncIterator[AsyncConnection]:
        """A write transaction under the store's write lock, committed on success. An error
        before the commit changed nothing (rolled back); one during the commit may have been
        applied, and the error says so."""
        eng = await self.open()
        async with self._wlock():
            with self._guard(what):
                async with eng.connect() as conn:
                    tx = await conn.begin()
                    try:
                        yield conn
                    except BaseException:
                        with contextlib.suppress(Exception):
                            await tx.rollback()
                        raise
                    with self._guard(what, committing=True):
                        await tx.commit()

    async def _erase_traces(self) -> None:
        """After an erasure on SQLite: empty the WAL, which still holds the deleted rows'
        frames (the file's deleted cells are zeroed by ``secure_delete``)."""
        if self.dialect is SQLITE:
            from ..sqlite.erasure import truncate_engine_wal

            eng = await self.open()
            async with self._wlock():
                with self._guard("truncate the write-ahead log"):
                    await truncate_engine_wal(eng)

    def _wlock(self) -> asyncio.Lock:
        """The write lock of the current loop (call after :meth:`open`)."""
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        return self._write_lock
