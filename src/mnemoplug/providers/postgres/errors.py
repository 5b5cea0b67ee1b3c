"""Driver exceptions of the PostgreSQL stores (memories, sessions, checkpoints; SQLAlchemy,
asyncpg) as mnemoplug errors.

Lost connections, refused connects, pool and command timeouts become
:class:`~mnemoplug.core.errors.ProviderUnavailableError` naming PostgreSQL, the URL (password
hidden) and the timeouts; other database errors :class:`~mnemoplug.core.errors.ProviderError`
naming what was being done. Errors that are neither (bugs) pass unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ...core.errors import MnemoplugError, ProviderError, ProviderUnavailableError
from .url import import_asyncpg

__all__ = ["PostgresErrors", "first_line", "is_connection_error", "is_lost_connection"]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (asyncpg adds details and hints below)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) means the server is out of reach."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    asyncpg = import_asyncpg()
    kinds = (
        OSError,
        TimeoutError,
        asyncpg.PostgresConnectionError,  # SQLSTATE class 08
        asyncpg.ConnectionDoesNotExistError,
        asyncpg.CannotConnectNowError,
        asyncpg.QueryCanceledError,  # command_timeout
    )
    if isinstance(exc, (PoolTimeout, *kinds)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig: BaseException | None = exc.orig
        while orig is not None:
            if isinstance(orig, kinds):
                return True
            orig = orig.__cause__ or orig.__context__
    return False


def is_lost_connection(exc: BaseException) -> bool:
    """True when ``exc`` means the connection is gone (the server ended it, the network
    dropped it), not that a statement ran out of time."""
    asyncpg = import_asyncpg()
    timeouts = (TimeoutError, asyncpg.QueryCanceledError)
    return is_connection_error(exc) and not isinstance(exc, timeouts)


class PostgresErrors:
    """The error mapping of one store (its name, URL and timeouts go into the messages)."""

    def __init__(
        self, *, name: str, url: str, connect_timeout: float, command_timeout: float
    ) -> None:
        self.name = name
        self.url = url
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout

    def unavailable(
        self, exc: BaseException, *, committing: bool = False
    ) -> ProviderUnavailableError:
        outcome = (
            "The connection failed while committing, so the write may have been applied: "
            "check before retrying (a retry with the same ids is safe where the store "
            "documents it)."
            if committing
            else "The failed call was not committed; data stored before is kept."
        )
        return ProviderUnavailableError(
            f"PostgreSQL at {self.url} is unavailable: {first_line(exc)}. Check that the "
            f"PostgreSQL server is running and reachable at that URL "
            f"(connect_timeout={self.connect_timeout:g}s, "
            f"command_timeout={self.command_timeout:g}s). {outcome}",
            provider=self.name,
            url=self.url,
        )

    @contextlib.contextmanager
    def guard(self, what: str, *, committing: bool = False) -> Iterator[None]:
        """Map errors raised inside (``what``: the failed action, for the message;
        ``committing``: inside a COMMIT, so the write may have been applied)."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except MnemoplugError:
            raise
        except Exception as exc:
            if is_connection_error(exc):
                raise self.unavailable(exc, committing=committing) from exc
            if not isinstance(exc, SQLAlchemyError):
                if not (type(exc).__module__ or "").startswith("asyncpg"):
                    raise  # a bug, not a database error: keep it as it is
            detail = first_line(getattr(exc, "orig", None) or exc)
            maybe = " (while committing: it may have been applied)" if committing else ""
            raise ProviderError(
                f"PostgreSQL at {self.url} failed to {what}: {detail}{maybe}",
                provider=self.name,
                url=self.url,
            ) from exc
