"""Time helpers: all stored times are UTC epoch seconds; records expose aware datetimes."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

#: the earliest expiry accepted: 1970-01-01T00:00:00Z (epoch 0)
MIN_EXPIRY_TS = 0.0
#: the latest expiry accepted: 9999-12-31T23:59:59Z, the last second a datetime can hold
MAX_EXPIRY_TS = 253_402_300_799.0


def now_ts() -> float:
    """Now, in epoch seconds rounded to the microsecond (what a datetime can hold), so that a
    record's ``created_at`` datetime compares equal to the stored value."""
    return round(time.time(), 6)


def to_ts(value: datetime | float | int | str) -> float:
    """Convert a datetime (naive = UTC), epoch number or ISO-8601 string to epoch seconds."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return round(value.timestamp(), 6)
    raise TypeError(f"expected a datetime, epoch seconds or ISO string, got {type(value).__name__}")


def to_dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def _check_expiry(ts: float, what: str) -> float:
    if not math.isfinite(ts) or not MIN_EXPIRY_TS <= ts <= MAX_EXPIRY_TS:
        raise ValueError(
            f"{what} is out of range; expiry must fall between 1970-01-01T00:00:00Z and "
            f"9999-12-31T23:59:59Z (epoch seconds {MIN_EXPIRY_TS:.0f} to {MAX_EXPIRY_TS:.0f}); "
            f"leave it None for a memory that never expires"
        )
    return ts


def expiry_ts(
    expires_at: datetime | float | str | None, ttl: timedelta | float | None, now: float
) -> float | None:
    """The expiry in epoch seconds, or None. Raises TypeError/ValueError/OverflowError for
    input that is not a finite time between 1970 and 9999 (``ttl``: positive, finite seconds
    or a timedelta, ``now + ttl`` in that range); nothing odd reaches a store."""
    if expires_at is not None and ttl is not None:
        raise ValueError("pass either expires_at or ttl, not both")
    if ttl is not None:
        if isinstance(ttl, bool):
            raise TypeError("ttl must be seconds or a timedelta, got a bool")
        if isinstance(ttl, timedelta):
            seconds = ttl.total_seconds()
        elif isinstance(ttl, int | float):
            seconds = float(ttl)
        else:
            raise TypeError(f"ttl must be seconds or a timedelta, got {type(ttl).__name__}")
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"ttl must be positive, finite seconds, got {ttl!r}")
        return _check_expiry(now + seconds, f"ttl={ttl!r} (now + ttl)")
    if expires_at is not None:
        return _check_expiry(to_ts(expires_at), f"expires_at={expires_at!r}")
    return None
