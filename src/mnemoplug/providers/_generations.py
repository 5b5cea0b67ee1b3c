"""The first generation of a user's counter (SQLite, PostgreSQL, Redis stores).

A store caches a user's memories for one generation of the user's counter, which every write
advances by one. ``forget`` deletes the counter with the user (nothing of them may remain), so
when the same user id is written again the counter starts anew — at :func:`first_generation`,
never at 1: a millisecond clock times 1024, larger than any
generation an earlier life of that user can have reached (that would take more than 1024
writes a millisecond to the one user, all along), so a cache entry of another process from
before the forget can never be mistaken for current. The values stay below 2**53, exact as
floats too (some queries carry them in a float column), until the year 2248.
"""

from __future__ import annotations

import time

__all__ = ["first_generation"]


def first_generation() -> int:
    """A new counter's first value; the number of writes since is ``generation % 1024`` (tests
    check that)."""
    return (time.time_ns() // 1_000_000) * 1024
