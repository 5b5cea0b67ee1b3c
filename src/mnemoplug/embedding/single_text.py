"""Which onnxruntime session runs a single text (a query, one memory): one thread, or two while
the machine has a core to spare.

A single text is ~30 small kernels. On two threads that let their workers spin between kernels
it runs in about 60% of the one-thread time on an idle 2-core machine (fp32 MiniLM, measured:
3.0 vs 5.0 ms p50), but when the other core is busy the run waits for a descheduled worker
(p95 up to 10+ ms). So by default both sessions exist and each run picks by the 1-minute load
average (which counts this process's own running threads): the wide one while it is below
``cores - 0.5``, i.e. while about one core is idle.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SingleTextSessions"]

Make = Callable[[int, bool], Any]  # (threads, spin) -> InferenceSession

#: single texts run on one thread before the two-thread session is built
WIDE_AFTER = 8


def _spare_cores(cores: int) -> float:
    try:
        return cores - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): assume none spare
        return 0.0


class SingleTextSessions:
    """The sessions of one ONNX file for single texts. ``threads`` fixed (an int) always runs
    that many; None (automatic) runs one thread, and ``min(2, cores)`` while a core is spare.
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

    def pick(self) -> Any:
        """The session for the next run."""
        wide = self.wide
        if wide is not None:
            return wide if _spare_cores(self._cores) > 0.5 else self.narrow
        if self._wide_threads > 1 and self._runs < WIDE_AFTER:
            self._count_run()
        return self.narrow
