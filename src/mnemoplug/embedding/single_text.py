"""Which onnxruntime session runs a single text (a query, one memory): one thread, or two when
two are faster here and now.

A single text is ~30 small kernels. On two threads that let their workers spin between kernels
it runs in about 60% of the one-thread time on an idle 2-core machine (fp32 MiniLM, measured:
3.0 vs 5.0 ms p50), but when the other core is busy the run waits for a descheduled worker
(p95 up to 10+ ms). So both sessions exist and each run goes to the one that has been faster
lately: every run's time (per character of text, plus a fixed part) feeds a moving average per
session, and one run in :data:`EXPLORE_EVERY` goes to the other session to keep its average
current. (The load average, used before, counts this process's own spinning threads: in a tight
query loop it flipped to one thread although two were faster.)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["SingleTextSessions"]

Make = Callable[[int, bool], Any]  # (threads, spin) -> InferenceSession
T = TypeVar("T")

#: single texts run on one thread before the two-thread session is built
WIDE_AFTER = 8
#: one run in this many goes to the session that is not the faster one, to measure it again
EXPLORE_EVERY = 32
#: weight of a new run in a session's moving average
SMOOTHING = 0.25
#: a text of n characters costs about as much as n + this many characters of work
FIXED_CHARS = 40


class SingleTextSessions:
    """The sessions of one ONNX file for single texts. ``threads`` fixed (an int) always runs
    that many; None (automatic) runs one thread, and ``min(2, cores)`` when that is faster.
    That second session is built in the background once :data:`WIDE_AFTER` single texts ran:
    a short-lived process (a CLI call, a cold start) never pays for it."""

    def __init__(self, make: Make, threads: int | None) -> None:
        self._cores = os.cpu_count() or 1
        self._make = make
        self._wide_threads = min(2, self._cores) if threads is None else 1
        self.narrow = make(threads or 1, (threads or 1) > 1)
        self.wide: Any = None
        self._runs = 0
        self._lock = threading.Lock()
        #: moving average of seconds per (character + FIXED_CHARS), per session
        self.cost: dict[str, float] = {}

    def _count_run(self) -> None:
        with self._lock:
            self._runs += 1
            if self._runs != WIDE_AFTER:
                return
        # not a daemon: the interpreter waits for it at exit (onnxruntime aborts the process
        # when it exits in the middle of building a session)
        threading.Thread(target=self._build_wide, name="mnemoplug-embed-load").start()

    def _build_wide(self) -> None:
        try:
            self.wide = self._make(self._wide_threads, True)
        except Exception:  # the one-thread session keeps working
            pass

    def _choose(self) -> tuple[str, Any]:
        wide = self.wide
        if wide is None:
            if self._wide_threads > 1 and self._runs < WIDE_AFTER:
                self._count_run()
            return "narrow", self.narrow
        with self._lock:
            self._runs += 1
            explore = self._runs % EXPLORE_EVERY == 0
        cost = self.cost
        if "wide" not in cost:  # not measured yet: try it
            return "wide", wide
        faster = "wide" if cost["wide"] <= cost.get("narrow", float("inf")) else "narrow"
        if explore:
            faster = "narrow" if faster == "wide" else "wide"
        return faster, wide if faster == "wide" else self.narrow

    def pick(self) -> Any:
        """The session the next run would use (without running anything)."""
        wide, cost = self.wide, self.cost
        if wide is None or "wide" not in cost:
            return self.narrow if wide is None else wide
        return wide if cost["wide"] <= cost.get("narrow", float("inf")) else self.narrow

    def run(self, call: Callable[[Any], T], chars: int) -> T:
        """``call(session)`` on the session chosen for a text of ``chars`` characters; its time
        updates that session's average."""
        name, session = self._choose()
        start = time.perf_counter()
        out = call(session)
        self.observe(name, (time.perf_counter() - start) / (chars + FIXED_CHARS))
        return out

    def observe(self, name: str, cost: float) -> None:
        """Add one run's cost (seconds per character) to session ``name``'s average."""
        old = self.cost.get(name)
        self.cost[name] = cost if old is None else old + SMOOTHING * (cost - old)
