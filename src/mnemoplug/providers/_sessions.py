"""What the built-in session stores (in-process, SQLite, Redis, PostgreSQL) share: their common
arguments and the ownership error.

Every one of them takes:

* ``ttl_seconds`` (or its older name ``ttl``; a number of seconds or a timedelta; not both): a
  session not written for that long reads as absent (no messages, no info, not listed, free
  for a new owner) and is deleted — by the server (Redis) or lazily by the store;
* ``max_messages``: keep the last N messages of each session (None: all);
* ``url`` as a keyword (``RedisSessionMemory(url="redis://localhost:6379")``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..core.errors import ConfigurationError, SessionOwnershipError
from ._options import optional_positive_int

__all__ = ["MAX_SESSION_TTL", "max_messages_option", "ownership_error", "session_ttl"]

#: the longest session lifetime accepted, in seconds (1000 years; None means forever)
MAX_SESSION_TTL = 1000 * 365.25 * 86400


def session_ttl(
    ttl: float | timedelta | None, ttl_seconds: float | timedelta | None
) -> float | None:
    """The session lifetime in seconds after the last write (None: forever), from ``ttl`` or
    ``ttl_seconds``."""
    if ttl is not None and ttl_seconds is not None:
        raise ConfigurationError(
            "pass ttl_seconds or ttl, not both (ttl is the older name of the same setting)"
        )
    name, value = ("ttl", ttl) if ttl is not None else ("ttl_seconds", ttl_seconds)
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 < seconds <= MAX_SESSION_TTL
    ):
        raise ConfigurationError(
            f"{name} must be positive seconds (at most {MAX_SESSION_TTL:.0f}, 1000 years) or a "
            f"timedelta (None: sessions never expire), got {value!r}"
        )
    return float(seconds)


def max_messages_option(value: Any, name: str = "max_messages") -> int | None:
    """``max_messages`` checked: a positive integer, or None for no limit."""
    return optional_positive_int(name, value)


def ownership_error(session_id: str) -> SessionOwnershipError:
    """The error of a write to a session another user owns (nothing was stored)."""
    return SessionOwnershipError(
        f"session {session_id!r} belongs to another user; nothing was stored. Use a session id "
        f"of your own (conversation_id_for(user_id)) or the owner's user_id"
    )
