"""PostgreSQL URLs, the asyncpg driver and the memory store's connection pool, for every
PostgreSQL store (memories, sessions, checkpoints).

``postgresql+asyncpg://``, ``postgresql://`` and ``postgres://`` URLs all mean the asyncpg
driver; libpq's ``sslmode=`` query option is passed on as asyncpg's ``ssl=``. Without a URL,
``$MNEMOPLUG_POSTGRES_URL`` is used, else ``postgresql+asyncpg://postgres@localhost:5432/postgres``.
"""

from __future__ import annotations

import math
import os
import time
import weakref
from contextvars import ContextVar
from typing import Any

from ...core.errors import ConfigurationError
from ...core.urls import redact_url
from .._deps import import_optional
from .._options import split_url

__all__ = [
    "DEFAULT_URL",
    "FRESH_SECONDS",
    "SCHEMES",
    "FreshCheckout",
    "answered",
    "driver_url",
    "fresh_checkout",
    "import_asyncpg",
    "ping",
    "pooled_engine",
    "shown_url",
]

DEFAULT_URL = "postgresql+asyncpg://postgres@localhost:5432/postgres"
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def import_asyncpg(feature: str = "the 'postgres' provider") -> Any:
    """The asyncpg module, or MissingDependencyError naming the ``postgres`` extra."""
    return import_optional("asyncpg", feature=feature, extra="postgres", package="asyncpg")


def driver_url(url: str | None) -> Any:
    """A SQLAlchemy URL object using the asyncpg driver (None: the default URL)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = url or os.environ.get("MNEMOPLUG_POSTGRES_URL") or DEFAULT_URL
    split_url(
        url,
        SCHEMES,
        "PostgreSQL",
        "postgresql+asyncpg://user:password@host:5432/db (postgresql:// and postgres:// are "
        "accepted too; mnemoplug uses the asyncpg driver)",
    )
    try:
        parsed = make_url("postgresql+asyncpg://" + url.split("://", 1)[1])
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"malformed PostgreSQL URL {redact_url(url)!r}: {exc}") from exc
    if "sslmode" in parsed.query:  # libpq spelling; asyncpg takes the same values as ``ssl``
        mode = parsed.query["sslmode"]
        parsed = parsed.difference_update_query(["sslmode"]).update_query_dict({"ssl": mode})
    return parsed


def shown_url(parsed: Any) -> str:
    """A driver URL as shown in messages and ``repr`` (password hidden)."""
    return str(parsed.render_as_string(hide_password=True))


def pooled_engine(
    parsed: Any,
    *,
    pool_size: int,
    max_overflow: int,
    connect_timeout: float,
    command_timeout: float,
    application_name: str,
) -> Any:
    """An async engine whose pool pings connections before use (so it reconnects by itself
    once the server is back; one round trip, see :func:`ping`), with bounded connect and
    statement times."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=connect_timeout + command_timeout,
        pool_pre_ping=True,
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
            "server_settings": {"application_name": application_name},
        },
    )
    # this engine's own dialect object (the pool pings through it); SQLAlchemy's handling of
    # a failed ping (a fresh connection, older ones invalidated) stays as it is
    engine.sync_engine.dialect.do_ping = ping  # type: ignore[method-assign]
    return engine


#: a connection that answered less than this many seconds ago is taken without a ping where
#: the caller allows it (see :class:`FreshCheckout`)
FRESH_SECONDS = 5.0

#: when each asyncpg connection last answered (``time.monotonic()``)
_answered: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def answered(driver_connection: Any) -> None:
    """Note that the asyncpg connection just answered a statement."""
    _answered[driver_connection] = time.monotonic()


class FreshCheckout:
    """Set as :data:`fresh_checkout` around a checkout: :func:`ping` skips its round trip for
    a connection that answered less than :data:`FRESH_SECONDS` ago and that the driver has not
    seen closed, and says so in ``skipped``, so that the caller, should that connection turn
    out dead after all (the server ended it meanwhile), can run its statement again on a
    connection the pool pings. Only for reads that may run twice (the pgvector search)."""

    __slots__ = ("skipped",)

    def __init__(self) -> None:
        self.skipped = False


fresh_checkout: ContextVar[FreshCheckout | None] = ContextVar(
    "mnemoplug_postgres_fresh_checkout", default=None
)


def ping(dbapi_connection: Any) -> bool:
    """The pool's ping before a pooled connection is used: ``;`` outside a transaction, one
    round trip. SQLAlchemy's asyncpg ping wraps it in BEGIN and ROLLBACK (for PgBouncer's
    transaction mode, which the stores' autocommit reads do not support either): three round
    trips, ~1 ms of a 100,000-memory user's pgvector search, whose two statements each take a
    connection (``benchmarks/pgvector_scale.py``). No round trip at all for a connection that
    just answered, where the caller allows it (:class:`FreshCheckout`)."""
    raw = dbapi_connection.driver_connection
    fresh = fresh_checkout.get()
    if (
        fresh is not None
        and not raw.is_closed()
        and time.monotonic() - _answered.get(raw, -math.inf) < FRESH_SECONDS
    ):
        fresh.skipped = True
        return True
    was = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # local state of SQLAlchemy's adapter: no round trip
    try:
        dbapi_connection.ping()
    finally:
        dbapi_connection.autocommit = was
    answered(raw)
    return True
