"""The measurement harness every benchmark here shares: the machine line, timing loops,
medians and 95th percentiles, markdown tables, and the results file.

    from harness import Table, machine_line, measure, write_result

    lat = measure(lambda: do_something(), n=200)            # or: await ameasure(coro_fn, n=200)
    t = Table("what", "p50", "p95")
    t.row("do_something", ms(lat.p50), ms(lat.p95))
    print(t.render())

Nothing here asserts on time: benchmarks print tables. The machine line carries the load
average, because on a shared machine every latency depends on it.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS",
    "Latencies",
    "Table",
    "ameasure",
    "machine_line",
    "measure",
    "ms",
    "pct",
    "write_result",
]

RESULTS = Path(__file__).resolve().parent / "results"


def pct(xs: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (linear interpolation), NaN for no data."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Latencies:
    """Wall-clock seconds of repeated calls, and the calling thread's CPU seconds for each."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.wall) if self.wall else float("nan")

    @property
    def p95(self) -> float:
        return pct(self.wall, 95)

    @property
    def cpu_p50(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)


def measure(fn: Callable[[], Any], n: int, *, warmup: int = 1) -> Latencies:
    """Time ``n`` calls of ``fn`` (after ``warmup`` untimed ones)."""
    for _ in range(warmup):
        fn()
    out = Latencies()
    for _ in range(n):
        c = time.thread_time()
        t = time.perf_counter()
        fn()
        out.add(time.perf_counter() - t, time.thread_time() - c)
    return out


async def ameasure(fn: Callable[[int], Awaitable[Any]], n: int, *, warmup: int = 1) -> Latencies:
    """Time ``n`` awaits of ``fn(i)`` (after ``warmup`` untimed ones, ``i`` < 0)."""
    for i in range(warmup):
        await fn(-1 - i)
    out = Latencies()
    for i in range(n):
        c = time.thread_time()
        t = time.perf_counter()
        await fn(i)
        out.add(time.perf_counter() - t, time.thread_time() - c)
    return out


def ms(seconds: float, digits: int = 2) -> str:
    return f"{seconds * 1000:.{digits}f} ms"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_line() -> str:
    """CPU, cores, load average, Python and the numeric libraries (versions from package
    metadata: nothing heavy is imported)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = "n/a"
    if hasattr(os, "getloadavg"):
        load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    libs = ", ".join(
        f"{name} {v}"
        for name in ("numpy", "onnxruntime", "torch")
        if (v := _version(name)) is not None
    )
    return (
        f"{cpu}, {os.cpu_count()} CPUs, load average {load} (1/5/15 min), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, {libs}"
    )


class Table:
    """A markdown table built row by row."""

    def __init__(self, *header: str) -> None:
        self.header = header
        self.rows: list[tuple[str, ...]] = []

    def row(self, *cells: Any) -> None:
        cells_s = tuple(str(c) for c in cells)
        self.rows.append(cells_s + ("",) * (len(self.header) - len(cells_s)))

    def render(self) -> str:
        lines = [
            "| " + " | ".join(self.header) + " |",
            "|" + "---|" * len(self.header),
            *("| " + " | ".join(r) + " |" for r in self.rows),
        ]
        return "\n".join(lines)


def write_result(name: str, text: str) -> Path:
    """Write ``benchmarks/results/<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path
