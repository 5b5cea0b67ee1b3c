"""Time helpers: all stored times are UTC epoch seconds; records expose aware datetimes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


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


def expiry_ts(
    expires_at: datetime | float | str | None, ttl: timedelta | float | None, now: float
) -> float | None:
    if expires_at is not None and ttl is not None:
        raise ValueError("pass either expires_at or ttl, not both")
    if ttl is not None:
        seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
        if seconds <= 0:
            raise ValueError(f"ttl must be positive, got {seconds} seconds")
        return now + seconds
    if expires_at is not None:
        return to_ts(expires_at)
    return None
