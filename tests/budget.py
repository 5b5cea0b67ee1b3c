"""Example budgets of the property and fuzz tests: each runs well under a minute by default;
``MNEMOPLUG_SLOW_TESTS=1`` runs them ten times longer (before a release, or overnight)."""

from __future__ import annotations

import os

SLOW = os.environ.get("MNEMOPLUG_SLOW_TESTS", "") not in ("", "0")


def examples(n: int) -> int:
    """``n`` examples, or ten times as many with ``MNEMOPLUG_SLOW_TESTS=1``."""
    return n * 10 if SLOW else n
