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


def _spare_cores(cores: int) -> float:
    try:
        return cores - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): assume none spare
        return 0.0


class SingleTextSessions:
    """The sessions of one ONNX file for single texts. ``threads`` fixed (an int) always runs
    that many; None (automatic) runs one thread, and ``min(2, cores)`` while a core is spare:
    that session is built in the background after the first, so loading is not slower."""

    def __init__(self, make: Make, threads: int | None) -> None:
        self._cores = os.cpu_count() or 1
        wide = min(2, self._cores) if threads is None else 1
        self.narrow = make(threads or 1, (threads or 1) > 1)
        self.wide: Any = None
        if wide > 1:
            # not a daemon: the interpreter waits for it at exit (onnxruntime aborts the
            # process when it exits in the middle of building a session)
            threading.Thread(
                target=self._build_wide, args=(make, wide), name="mnemoplug-embed-load"
            ).start()

    def _build_wide(self, make: Make, threads: int) -> None:
        try:
            self.wide = make(threads, True)
        except Exception:  # the one-thread session keeps working
            pass

    def pick(self) -> Any:
        """The session for the next run."""
        wide = self.wide
        if wide is not None and _spare_cores(self._cores) > 0.5:
            return wide
        return self.narrow
